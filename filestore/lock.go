package filestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/oauthrt/oauthrt/internal/lease"
)

// lockFile takes an exclusive lock on path (flock on Unix, LockFileEx on
// Windows), creating it if needed, and returns its release. It polls
// rather than blocks, so that ctx can end the wait; the critical sections
// it guards are short, so it polls often. what names what the lock
// guards in errors ("token file").
//
// The lock belongs to the open file, which lockFile opens anew: a
// goroutine that holds it and calls lockFile on path again waits for
// itself until ctx ends.
func lockFile(ctx context.Context, path, what string) (unlock func(), err error) {
	_, unlock, err = lockOpen(ctx, path, what)
	return unlock, err
}

// lockFileAsHolder is lockFile for the holder of a lease that must
// renew it, or commit and release it, before it lapses: it tries again
// every millisecond rather than back off to 50 ms as the others do, so
// that when many processes contend for one lock (every key's, in the
// layout of Path) the holder, which the rest of the fleet waits for,
// gets it first. A holder kept from its lock for a whole TTL would lose
// its lease while its refresh token is already spent.
func lockFileAsHolder(ctx context.Context, path, what string) (unlock func(), err error) {
	_, unlock, err = lockOpenPaced(ctx, path, what, time.Millisecond)
	return unlock, err
}

// lockOpen is lockFile, and returns the locked file too, open for
// reading and writing, for a caller that reads or writes what the lock
// file holds (in the layout of Dir, the key's epoch) while it holds the
// lock: through the handle that holds it, which spares an open, and
// which Windows requires for the locked range.
func lockOpen(ctx context.Context, path, what string) (lf *os.File, unlock func(), err error) {
	return lockOpenPaced(ctx, path, what, 50*time.Millisecond)
}

// lockOpenAsHolder is lockOpen at lockFileAsHolder's pace.
func lockOpenAsHolder(ctx context.Context, path, what string) (lf *os.File, unlock func(), err error) {
	return lockOpenPaced(ctx, path, what, time.Millisecond)
}

// lockOpenPaced is lockOpen, whose tries are at most most apart.
func lockOpenPaced(ctx context.Context, path, what string, most time.Duration) (lf *os.File, unlock func(), err error) {
	f, err := openOrCreate(path, true)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, nil, fmt.Errorf("oauthrt: filestore: creating the token directory: %w", err)
		}
		f, err = openOrCreate(path, true)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("oauthrt: filestore: opening the lock file: %w", err)
	}
	err = lease.Poll(ctx, time.Millisecond, most, func(context.Context) (bool, error) {
		return tryLock(f)
	})
	switch {
	case err == nil:
		return f, func() {
			unlockFile(f)
			f.Close()
		}, nil
	case ctx.Err() != nil:
		f.Close()
		return nil, nil, fmt.Errorf("oauthrt: filestore: waiting for the %s's lock: %w", what, ctx.Err())
	}
	f.Close()
	return nil, nil, fmt.Errorf("oauthrt: filestore: locking the %s: %w", what, err)
}

// openOrCreate opens the file at path for reading and writing, creating
// it (mode 0600) if it does not exist, and then, when durable is set,
// syncing its directory, so that the file outlives a crash (a lock file
// of Dir holds its key's lease epoch). It opens an existing file without
// O_CREATE, which takes the directory's lock on Linux, so that the
// processes of a busy store do not wait on each other for a file that is
// there already.
func openOrCreate(path string, durable bool) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if !errors.Is(err, fs.ErrNotExist) {
		return f, err
	}
	f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err == nil && durable {
		syncDir(filepath.Dir(path))
	}
	return f, err
}
