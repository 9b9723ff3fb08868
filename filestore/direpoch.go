package filestore

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"slices"
	"strconv"

	"github.com/oauthrt/oauthrt"
)

// In the layout of Dir, a key's lease epoch lives in the key's lock file,
// Dir/locks/<name>, which no one removes, rather than in its record:
// raising it is then one write in place and one sync of a file that
// exists, where a record is replaced through a new file, a rename and a
// sync of the directory that every key's records share. Each lease taken
// costs that once, so the lease's share of a refresh stays small.
//
// The file holds two slots, at offsets 0 and epochSlot2, each empty or a
// line of fixed length: an epoch, in decimal, and the CRC-32 (IEEE, in
// hex) of what comes before it.
//
//	epoch 00000000000000000042 1dc3476b
//
// Epoch n goes to slot n%2, over epoch n-2, so the other slot keeps n-1
// while it is written: a crash that tears the write (the two slots lie
// in different disk sectors) leaves n-1, and n, which no lease was
// handed yet, is handed out next. The epoch is the greater of the two
// slots that read whole. A file with neither (damaged by hand) is an
// error wrapping [oauthrt.ErrCorruptToken], and is left as it is: its
// epoch cannot be guessed. An empty file, as a new lock file is, holds
// epoch 0, as does one whose first slot was never written (zero bytes)
// and whose second is torn: only epoch 1 was written there.

const (
	epochPrefix  = "epoch "
	epochLineLen = len(epochPrefix) + 20 + 1 + 8 + 1
	// epochSlot2 is the offset of the second slot, in another sector
	// than the first.
	epochSlot2 = 512
)

// epochSlotOffset is the offset of the slot that epoch n goes to.
func epochSlotOffset(n uint64) int64 { return int64(n%2) * epochSlot2 }

// appendEpochLine appends the slot line of epoch n.
func appendEpochLine(b []byte, n uint64) []byte {
	start := len(b)
	b = fmt.Appendf(b, "%s%020d", epochPrefix, n)
	return fmt.Appendf(b, " %08x\n", crc32.ChecksumIEEE(b[start:]))
}

// parseEpochLine returns the epoch in the slot line b, and false if b is
// not one whole line whose checksum matches.
func parseEpochLine(b []byte) (uint64, bool) {
	if len(b) != epochLineLen || string(b[:len(epochPrefix)]) != epochPrefix || b[epochLineLen-1] != '\n' {
		return 0, false
	}
	body := b[:len(epochPrefix)+20]
	n, err := strconv.ParseUint(string(body[len(epochPrefix):]), 10, 64)
	if err != nil || b[len(body)] != ' ' {
		return 0, false
	}
	sum, err := strconv.ParseUint(string(b[len(body)+1:epochLineLen-1]), 16, 32)
	if err != nil || uint32(sum) != crc32.ChecksumIEEE(body) {
		return 0, false
	}
	return n, true
}

// readEpochSlots returns the epoch that the lock file f holds. Its errors
// never quote the file.
func readEpochSlots(f *os.File, key string) (uint64, error) {
	b := make([]byte, epochSlot2+epochLineLen+1)
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("oauthrt: filestore: reading the lock file of key %q: %w", key, err)
	}
	b = b[:n]
	if len(b) == 0 {
		return 0, nil
	}
	if len(b) > epochSlot2+epochLineLen {
		return 0, fmt.Errorf("oauthrt: filestore: key %q: %w: its lock file is longer than two epoch slots; it was left as it is", key, oauthrt.ErrCorruptToken)
	}
	var epoch uint64
	found := false
	for _, at := range []int{0, epochSlot2} {
		if at >= len(b) {
			continue
		}
		if e, ok := parseEpochLine(b[at:min(at+epochLineLen, len(b))]); ok {
			epoch, found = max(epoch, e), true
		}
	}
	if found {
		return epoch, nil
	}
	// Epoch 1 goes to the second slot, and epoch 2 to the first: a file
	// whose first slot was never written had only epoch 1 written, whose
	// write was torn, and which no lease was handed.
	if first := b[:min(epochLineLen, len(b))]; !slices.ContainsFunc(first, func(c byte) bool { return c != 0 }) {
		return 0, nil
	}
	return 0, fmt.Errorf("oauthrt: filestore: key %q: %w: its lock file holds no whole epoch; it was left as it is", key, oauthrt.ErrCorruptToken)
}

// raiseLockEpoch raises the epoch in f, key's lock file, and returns it.
// Its caller holds the lock of f through f itself, and has just locked
// the key's lease file, so the epochs of one key are handed out in the
// order its leases are taken. The new epoch is synced before it is
// returned.
func raiseLockEpoch(f *os.File, key string) (uint64, error) {
	n, err := readEpochSlots(f, key)
	if err != nil {
		return 0, err
	}
	if n == math.MaxUint64 {
		return 0, fmt.Errorf("oauthrt: filestore: the lease epoch of key %q has reached its maximum", key)
	}
	n++
	if _, err := f.WriteAt(appendEpochLine(nil, n), epochSlotOffset(n)); err != nil {
		return 0, fmt.Errorf("oauthrt: filestore: writing the lease epoch of key %q: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("oauthrt: filestore: syncing the lease epoch of key %q: %w", key, err)
	}
	return n, nil
}
