package filestore

import (
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"time"
)

// A held lease's file holds its record: the wall-clock time at which the
// lease lapses unless renewed, in nanoseconds since the Unix epoch, and
// a CRC-32 of what comes before it, in one line of fixed length:
//
//	until 01767225600000000000 b1392fae
//
// The holder writes it in place, at offset 0, when it takes the lease
// and whenever it renews it, so that a waiter can tell a lease whose
// holder stopped renewing it (a process stopped by SIGSTOP, a paused VM)
// from one still in use, though the stopped holder keeps its lock. The
// fixed length means a rewrite never leaves a tail of the record before;
// the checksum means a read that met a rewrite half done, which mixes
// digits of two records, is never taken for a deadline.

const (
	recordPrefix = "until "
	recordLen    = len(recordPrefix) + 20 + 1 + 8 + 1
)

// wallNow is the current time without its monotonic reading: the
// deadline in a record is compared, in other processes, with their wall
// clocks, so the holder compares its own deadline with the wall clock
// too.
func wallNow() time.Time { return time.Now().Round(0) }

// appendRecord appends the record of a lease that lapses at until.
func appendRecord(b []byte, until time.Time) []byte {
	start := len(b)
	b = fmt.Appendf(b, "%s%020d", recordPrefix, max(until.UnixNano(), 0))
	return fmt.Appendf(b, " %08x\n", crc32.ChecksumIEEE(b[start:]))
}

// writeRecord writes the record of a lease that lapses at until into the
// lease file f, whose lock its caller holds.
func writeRecord(f *os.File, until time.Time) error {
	if _, err := f.WriteAt(appendRecord(nil, until), 0); err != nil {
		return fmt.Errorf("oauthrt: filestore: writing the lease file: %w", err)
	}
	return nil
}

// parseRecord returns the deadline in a lease file's contents b, and
// false if b is not one whole record whose checksum matches.
func parseRecord(b []byte) (time.Time, bool) {
	if len(b) != recordLen || string(b[:len(recordPrefix)]) != recordPrefix || b[recordLen-1] != '\n' {
		return time.Time{}, false
	}
	body := b[:len(recordPrefix)+20]
	ns, err := strconv.ParseInt(string(body[len(recordPrefix):]), 10, 64)
	if err != nil || b[len(body)] != ' ' {
		return time.Time{}, false
	}
	sum, err := strconv.ParseUint(string(b[len(body)+1:recordLen-1]), 16, 32)
	if err != nil || uint32(sum) != crc32.ChecksumIEEE(body) {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
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
	b, err := io.ReadAll(io.LimitReader(f, 2*int64(recordLen)))
	switch {
	case err != nil, len(b) == 0:
		return fi, false
	}
	if until, ok := parseRecord(b); ok {
		return fi, now.After(until)
	}
	return fi, now.Sub(fi.ModTime()) > ttl
}
