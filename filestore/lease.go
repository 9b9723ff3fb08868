package filestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/lease"
)

// Lock takes the refresh lease of key as TakeLease does, and returns its
// Release.
func (s *Store) Lock(ctx context.Context, key string) (unlock func(), err error) {
	l, err := s.TakeLease(ctx, key)
	if err != nil {
		return nil, err
	}
	return l.Release, nil
}

// TakeLease takes the refresh lease of key: an exclusive OS lock (flock
// on Unix, LockFileEx on Windows) on the key's file in the directory
// Path + ".leases", held for as long as the lease is. It waits, with a
// bounded backoff, while another holder has it, until ctx ends.
//
// The kernel releases the lock when the process holding it exits, however
// it exits, so the lease of a process that died is free at once. The TTL
// is kept by the holder: the lock is released when LeaseTTL has passed
// since the lease was taken or last renewed. Renew after that fails with
// [oauthrt.ErrLeaseLost], as it does once a later lease of the key
// exists. Release releases the lock if the lease is still held; it may be
// called more than once.
//
// The lease is an [oauthrt.FencedLease]: every one taken on a key gets an
// epoch one greater than the one before, by any process, kept in the
// file Path + ".epochs" when the lease is released.
func (s *Store) TakeLease(ctx context.Context, key string) (oauthrt.Lease, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	ttl, err := lease.TTL("filestore", s.LeaseTTL)
	if err != nil {
		return nil, err
	}
	// The lease does not live in the token file, but a file this package
	// cannot write (corrupt, or of a newer layout) is refused here too,
	// before a refresh whose token could not be saved.
	if _, err := s.read(); err != nil {
		return nil, err
	}
	dir := s.Path + ".leases"
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("oauthrt: filestore: creating the lease directory: %w", err)
	}
	name := leaseFileName(key)
	path := filepath.Join(dir, name)
	var f *os.File
	err = lease.Wait(ctx, key, func(context.Context) (bool, error) {
		var err error
		f, err = lockLeaseFile(path)
		return f != nil, err
	})
	if err != nil {
		return nil, err
	}
	h := &fileLease{f: f, path: path, name: name, epochs: s.epochsPath(), ttl: ttl}
	// The epoch is raised while the lock is held, so that the next
	// holder, which can lock only after this one released, raises it
	// further.
	h.epoch, err = s.nextEpoch(ctx, name)
	if err != nil {
		h.unlockLocked()
		return nil, fmt.Errorf("oauthrt: filestore: taking the refresh lease of key %q: %w", key, err)
	}
	h.until = time.Now().Add(ttl)
	h.timer = time.AfterFunc(ttl, h.expire)
	return &fencedLease{Lease: lease.New(key, ttl, h.renew, h.release), epoch: h.epoch}, nil
}

// fencedLease is a lease with its epoch.
type fencedLease struct {
	oauthrt.Lease
	epoch uint64
}

var _ oauthrt.FencedLease = (*fencedLease)(nil)

// Epoch is the lease's fencing token: the number of leases taken on its
// key on this token file, this one included, as the epochs file counts
// them. It is never 0.
func (l *fencedLease) Epoch() uint64 { return l.epoch }

// leaseFileName is the name of key's lock file: the hex SHA-256 of the
// key's bytes, so that any key, whatever bytes it holds and however long
// it is, names one file of a fixed, portable name.
func leaseFileName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// lockLeaseFile opens path, creating it if needed, and takes its lock
// without waiting. It returns nil and no error when another holder has
// the lock, or when the file it locked is no longer at path: the holder
// before removed it on release, and a lock on a removed file excludes no
// one.
func lockLeaseFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("oauthrt: filestore: opening the lease file: %w", err)
	}
	ok, err := tryLock(f)
	if err != nil || !ok {
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("oauthrt: filestore: locking the lease file: %w", err)
		}
		return nil, nil
	}
	if sameFile(f, path) {
		return f, nil
	}
	unlockFile(f)
	f.Close()
	return nil, nil // try again: the next open finds or creates the file at path
}

// sameFile reports whether f is the file at path.
func sameFile(f *os.File, path string) bool {
	held, err := f.Stat()
	if err != nil {
		return false
	}
	now, err := os.Stat(path)
	return err == nil && os.SameFile(held, now)
}

// fileLease is one holding of a lease file's lock.
type fileLease struct {
	path   string // the lease file
	name   string // its name, the key's in the epochs file
	epochs string // the epochs file
	epoch  uint64
	ttl    time.Duration
	timer  *time.Timer

	mu    sync.Mutex
	f     *os.File  // nil once the lock is released
	until time.Time // when the lease lapses unless renewed
}

// expire runs when the timer fires: it releases the lock if the lease
// was not renewed meanwhile, and waits for the new deadline otherwise.
func (h *fileLease) expire() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.f == nil {
		return
	}
	if left := time.Until(h.until); left > 0 {
		h.timer.Reset(left)
		return
	}
	h.unlockLocked()
}

func (h *fileLease) renew(context.Context) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.f == nil {
		return false, nil
	}
	now := time.Now()
	if !now.Before(h.until) { // lapsed; the timer has not run yet
		h.unlockLocked()
		return false, nil
	}
	// The lock excludes every other holder while the lease file stays
	// where it is. Should it be removed from under this holder (by hand,
	// say), a later lease can be taken on a new file; the epoch it raised
	// shows it.
	e, err := readEpochs(h.epochs)
	if err != nil {
		return false, err
	}
	if e.Epochs[h.name] > h.epoch {
		h.unlockLocked()
		return false, nil
	}
	h.until = now.Add(h.ttl)
	return true, nil
}

func (h *fileLease) release(context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.timer.Stop()
	if h.f != nil {
		h.unlockLocked()
	}
}

// unlockLocked releases the lock; h.mu is held. The file is removed
// first, while it is still locked, so that lease files do not pile up;
// a taker that opened it before then finds, once it has the lock, that
// it is no longer at the path, and tries again. A file at the path that
// is not the one locked here is another holder's, and is left alone.
func (h *fileLease) unlockLocked() {
	if sameFile(h.f, h.path) {
		removeLocked(h.path)
	}
	unlockFile(h.f)
	h.f.Close()
	h.f = nil
}
