package filestore

import (
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt/internal/lease"
)

// TestRecordRoundTripAndTornRecords: a record reads back as the deadline
// and holder written, to the nanosecond; changing any one byte of it, as
// a read that met a rewrite half done would, makes it no record at all.
func TestRecordRoundTripAndTornRecords(t *testing.T) {
	until := time.Date(2026, 1, 1, 0, 0, 0, 123456789, time.UTC)
	holder := lease.NewHolder()
	b := appendRecord(nil, until, holder)
	if len(b) > maxRecordLen {
		t.Fatalf("record %q has length %d, more than %d", b, len(b), maxRecordLen)
	}
	if got, h, ok := parseRecord(b); !ok || !got.Equal(until) || h != holder {
		t.Fatalf("parseRecord(%q) = %v, %q, %v; want %v, %q", b, got, h, ok, until, holder)
	}
	for i := range b {
		for _, c := range []byte("0123456789abcdef /\n") {
			if c == b[i] {
				continue
			}
			torn := append([]byte(nil), b...)
			torn[i] = c
			if got, h, ok := parseRecord(torn); ok {
				t.Errorf("parseRecord(%q), one byte changed, = %v, %q, true", torn, got, h)
			}
		}
	}
	for _, s := range []string{"", "\n", string(b[:len(b)-1]), string(b) + "x", string(b) + string(b)} {
		if got, h, ok := parseRecord([]byte(s)); ok {
			t.Errorf("parseRecord(%q) = %v, %q, true", s, got, h)
		}
	}
	// The longest holder id fits.
	long := strings.Repeat("h", 64)
	if _, h, ok := parseRecord(appendRecord(nil, until, long)); !ok || h != long {
		t.Errorf("the record of a holder id of 64 bytes reads as %q, %v", h, ok)
	}
}

// TestRecordOfThePreviousRelease: a record without a holder id, as the
// release before this one wrote, reads with its deadline and no holder.
func TestRecordOfThePreviousRelease(t *testing.T) {
	until := time.Date(2026, 1, 1, 0, 0, 0, 123456789, time.UTC)
	body := fmt.Sprintf("until %020d", until.UnixNano())
	b := fmt.Appendf(nil, "%s %08x\n", body, crc32.ChecksumIEEE([]byte(body)))
	if got, h, ok := parseRecord(b); !ok || !got.Equal(until) || h != "" {
		t.Errorf("parseRecord(%q) = %v, %q, %v; want %v, \"\", true", b, got, h, ok, until)
	}
}
