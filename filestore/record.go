package filestore

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// A held lease's file holds its record: the wall-clock time at which the
// lease lapses unless renewed, in nanoseconds since the Unix epoch, the
// holder's id (see lease.NewHolder), and a CRC-32 of what comes before
// it, in one line:
//
//	until 01767225600000000000 worker-7/4121/9f3c5e0a1b2d4c6e 5ec4e967
//
// The holder writes it in place, at offset 0, when it takes the lease
// and whenever it renews it, so that a waiter can tell a lease whose
// holder stopped renewing it (a process stopped by SIGSTOP, a paused VM)
// from one still in use, though the stopped holder keeps its lock, and
// an operator can tell who holds it. Its length is fixed for a holding,
// so a rewrite never leaves a tail of the record before; the checksum
// means a read that met a rewrite half done, which mixes digits of two
// records, is never taken for a deadline. A record without a holder id,
// as the release before this one wrote, reads with the holder "". The
// holder empties the file when it lets the lease go (see
// fileLease.drop), so a file that stays in place shows no lease.

const (
	recordPrefix = "until "
	// maxRecordLen bounds a record: its prefix, deadline, holder id (at
	// most 64 bytes, as the SQL stores' column) and checksum, with their
	// separators and newline.
	maxRecordLen = len(recordPrefix) + 20 + 1 + 64 + 1 + 8 + 1
)

// wallNow is the current time without its monotonic reading: the
// deadline in a record is compared, in other processes, with their wall
// clocks, so the holder compares its own deadline with the wall clock
// too.
func wallNow() time.Time { return time.Now().Round(0) }

// appendRecord appends the record of holder's lease that lapses at
// until.
func appendRecord(b []byte, until time.Time, holder string) []byte {
	start := len(b)
	b = fmt.Appendf(b, "%s%020d %s", recordPrefix, max(until.UnixNano(), 0), holder)
	return fmt.Appendf(b, " %08x\n", crc32.ChecksumIEEE(b[start:]))
}

// writeRecord writes the record of holder's lease that lapses at until
// into the lease file f, whose lock its caller holds, and returns its
// length.
func writeRecord(f *os.File, until time.Time, holder string) (int, error) {
	b := appendRecord(nil, until, holder)
	if _, err := f.WriteAt(b, 0); err != nil {
		return 0, fmt.Errorf("oauthrt: filestore: writing the lease file: %w", err)
	}
	return len(b), nil
}

// parseRecord returns the deadline and holder id in a lease file's
// contents b, and false if b is not one whole record whose checksum
// matches.
func parseRecord(b []byte) (until time.Time, holder string, ok bool) {
	line, found := bytes.CutSuffix(b, []byte("\n"))
	i := bytes.LastIndexByte(line, ' ')
	if !found || i < 0 || len(b) > maxRecordLen || !bytes.HasPrefix(line, []byte(recordPrefix)) {
		return time.Time{}, "", false
	}
	body := line[:i]
	sum, err := strconv.ParseUint(string(line[i+1:]), 16, 32)
	if err != nil || len(line)-i-1 != 8 || uint32(sum) != crc32.ChecksumIEEE(body) {
		return time.Time{}, "", false
	}
	digits, holder, _ := strings.Cut(string(body[len(recordPrefix):]), " ")
	ns, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || len(digits) != 20 || strings.ContainsAny(holder, " \n") {
		return time.Time{}, "", false
	}
	return time.Unix(0, ns), holder, true
}

// readRecord returns the record in the lease file at path: false when
// there is none (no file, an empty one, a damaged one).
func readRecord(path string) (until time.Time, holder string, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}, "", false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 2*int64(maxRecordLen)))
	if err != nil {
		return time.Time{}, "", false
	}
	return parseRecord(b)
}

// lapsed reads the lease file at path, and reports whether the lease
// in it has lapsed at now, with the file's identity. A file with a
// record has lapsed once the record's deadline has passed. An empty file
// has not: it is one a taker has just locked and not yet written, or one
// the previous release of this package locked, which writes no record
// and keeps its TTL itself. A file with anything else (a record damaged
// by hand) has lapsed once it has not been written for ttl.
func lapsed(path string, ttl time.Duration, now time.Time) (os.FileInfo, bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false
	}
	b, err := io.ReadAll(io.LimitReader(f, 2*int64(maxRecordLen)))
	switch {
	case err != nil, len(b) == 0:
		return fi, false
	}
	if until, _, ok := parseRecord(b); ok {
		return fi, now.After(until)
	}
	return fi, now.Sub(fi.ModTime()) > ttl
}
