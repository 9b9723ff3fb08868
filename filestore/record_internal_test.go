package filestore

import (
	"testing"
	"time"
)

// TestRecordRoundTripAndTornRecords: a record reads back as the deadline
// written, to the nanosecond; changing any one byte of it, as a read
// that met a rewrite half done would, makes it no record at all.
func TestRecordRoundTripAndTornRecords(t *testing.T) {
	until := time.Date(2026, 1, 1, 0, 0, 0, 123456789, time.UTC)
	b := appendRecord(nil, until)
	if len(b) != recordLen {
		t.Fatalf("record %q has length %d, want %d", b, len(b), recordLen)
	}
	if got, ok := parseRecord(b); !ok || !got.Equal(until) {
		t.Fatalf("parseRecord(%q) = %v, %v; want %v", b, got, ok, until)
	}
	for i := range b {
		for _, c := range []byte("0123456789abcdef \n") {
			if c == b[i] {
				continue
			}
			torn := append([]byte(nil), b...)
			torn[i] = c
			if got, ok := parseRecord(torn); ok {
				t.Errorf("parseRecord(%q), one byte changed, = %v, true", torn, got)
			}
		}
	}
	for _, s := range []string{"", "\n", string(b[:recordLen-1]), string(b) + "x"} {
		if got, ok := parseRecord([]byte(s)); ok {
			t.Errorf("parseRecord(%q) = %v, true", s, got)
		}
	}
}
