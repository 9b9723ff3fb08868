//go:build unix

package filestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockFile takes an exclusive flock on path, creating it if needed, and
// returns its release. It polls rather than blocks, so that ctx can end
// the wait.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	if err := os.MkdirAll(dirOf(path), 0o700); err != nil {
		return nil, fmt.Errorf("oauthrt: filestore: creating the token directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("oauthrt: filestore: opening the lock file: %w", err)
	}
	wait := time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("oauthrt: filestore: locking the token file: %w", err)
		}
		if !sleep(ctx, wait) {
			f.Close()
			return nil, fmt.Errorf("oauthrt: filestore: waiting for the token file's lock: %w", ctx.Err())
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// processAlive reports whether a process with this pid exists. A pid of
// another host or a reused pid can only make a lease last until its TTL.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
