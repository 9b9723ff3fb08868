//go:build unix

package keyring

import (
	"fmt"
	"io/fs"
)

// checkPerm refuses a key file its group or other users may read or
// write: whoever can read it can decrypt every token, and whoever can
// write it can make the stores seal with a key of theirs.
func checkPerm(path string, fi fs.FileInfo) error {
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("keyring: %s has mode %#o, open to its group or to others; make it 0600 or 0400 (chmod go-rwx)", path, perm)
	}
	return nil
}
