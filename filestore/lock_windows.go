//go:build windows

package filestore

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// tryLock takes an exclusive LockFileEx lock on f without waiting, and
// reports whether it did. The lock belongs to the handle, so two opens of
// one file in one process exclude each other too.
func tryLock(f *os.File) (bool, error) {
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, new(windows.Overlapped))
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return false, nil
	}
	return err == nil, err
}

func unlockFile(f *os.File) {
	windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, new(windows.Overlapped))
}

// removeLocked leaves the lease file in place: Windows does not delete
// a file that another process has open, and the files are few (one per
// key).
func removeLocked(string) {}

// canTakeOver says that a taker may not replace the file of a lapsed
// lease whose holder still holds its lock: Windows does not remove a
// file that another process has open, and refuses to read the locked
// range of it, so a stopped holder holds its lease until it runs again.
const canTakeOver = false
