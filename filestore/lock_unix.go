//go:build unix

package filestore

import (
	"errors"
	"os"
	"syscall"
)

// tryLock takes an exclusive flock on f without waiting, and reports
// whether it did. A flock belongs to the open file description, so two
// opens of one file in one process exclude each other too.
func tryLock(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EINTR) {
		return false, nil
	}
	return err == nil, err
}

func unlockFile(f *os.File) { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

// removeLocked removes a lease file its caller has locked. A failure
// leaves the file for the next taker, which locks it as it is.
func removeLocked(path string) { os.Remove(path) }

// canTakeOver says that a taker may replace the file of a lapsed lease
// whose holder still holds its lock: Unix removes a file that another
// process has open.
const canTakeOver = true
