package filestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
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
// Path + ".leases" (with Dir, Dir/leases), held for as long as the lease
// is. It waits, with a
// bounded backoff, while another holder has it, until ctx ends.
//
// The kernel releases the lock when the process holding it exits, however
// it exits, so the lease of a process that died is free at once. The
// holder writes in the file when the lease lapses unless renewed:
// LeaseTTL after it was taken or last renewed. Once that time has
// passed, on Unix, a taker replaces the file with a new one and takes
// the lease, though the holder still holds its lock on the old file: so
// a holder that is alive but stopped (by SIGSTOP, in a paused VM) holds
// up the others for about LeaseTTL, not until it runs again. A holder
// also releases the lock itself once the lease lapsed. Renew after that
// fails with [oauthrt.ErrLeaseLost], as it does once a later lease of
// the key exists or the file was replaced. Release releases the lock if
// the lease is still held, and never removes a file that is not its
// own; it may be called more than once.
//
// The lease is an [oauthrt.FencedLease]: every one taken on a key gets an
// epoch one greater than the one before, by any process, kept in the
// file Path + ".epochs" (with Dir, in the key's lock file) when the lease
// is released. The lease is also an [oauthrt.CommitReleaser].
func (s *Store) TakeLease(ctx context.Context, key string) (oauthrt.Lease, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	h, err := s.leaseOf(key, true)
	if err != nil {
		return nil, err
	}
	if err := lease.Wait(ctx, key, h.try); err != nil {
		return nil, err
	}
	return h.start(s, key), nil
}

// leaseOf returns the lease of key in the store's layout, not yet taken.
// With check, the token file (with Dir, the key's record) is read first:
// one this package cannot write is refused before a refresh whose token
// could not be saved. TakeLeaseIf, which reads it under the lock anyway,
// leaves check unset.
func (s *Store) leaseOf(key string, check bool) (*fileLease, error) {
	ttl, err := lease.TTL("filestore", s.LeaseTTL)
	if err != nil {
		return nil, err
	}
	var h *fileLease
	if s.Dir != "" {
		h, err = s.dirLease(key, check)
	} else {
		h, err = s.pathLease(key, check)
	}
	if err != nil {
		return nil, err
	}
	h.ttl, h.holder = ttl, lease.NewHolder()
	return h, nil
}

// start hands out h, just taken on key: its timer lets it go once it
// lapses unrenewed.
func (h *fileLease) start(s *Store, key string) *fencedLease {
	h.timer = time.AfterFunc(h.until.Sub(wallNow()), h.expire)
	return &fencedLease{Lease: lease.New(key, h.ttl, h.renew, h.release), epoch: h.epoch, h: h, s: s, key: key}
}

// pathLease returns the lease of key in the layout of Path, not yet
// taken: its file is in Path + ".leases", the lock of its checks is the
// token file's, and its epochs are in Path + ".epochs". check reads the
// token file first, as leaseOf says.
func (s *Store) pathLease(key string, check bool) (*fileLease, error) {
	// The lease does not live in the token file, but a file this package
	// cannot write (corrupt, or of a newer layout) is refused here too,
	// before a refresh whose token could not be saved.
	if check {
		if _, err := s.read(); err != nil {
			return nil, err
		}
	}
	dir := s.Path + ".leases"
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("oauthrt: filestore: creating the lease directory: %w", err)
	}
	name := keyFileName(key)
	epochs := s.epochsPath()
	return &fileLease{
		path:     filepath.Join(dir, name),
		lock:     s.Path + ".lock",
		lockWhat: "token file",
		raise:    func(*os.File) (uint64, error) { return raiseEpoch(epochs, name) },
		latest: func(*os.File) (uint64, error) {
			e, err := readEpochs(epochs)
			if err != nil {
				return 0, err
			}
			return e.Epochs[name], nil
		},
	}, nil
}

// try takes the lease if it is free, or if its holder let it lapse, and
// reports whether it did.
func (h *fileLease) try(ctx context.Context) (bool, error) {
	f, err := lockLeaseFile(h.path)
	if err != nil {
		return false, err
	}
	if f == nil {
		return h.takeOver(ctx)
	}
	// The record goes in at once, before the wait for h.lock, so that the file shows a live lease as soon as it can: a
	// record left by an earlier holder whose file was not removed says
	// that lease lapsed. A taker that replaces the file meanwhile is
	// found out below.
	if _, err := writeRecord(f, wallNow().Add(h.ttl), h.holder); err != nil {
		unlockFile(f)
		f.Close()
		return false, err
	}
	lf, unlock, err := lockOpen(ctx, h.lock, h.lockWhat)
	if err != nil {
		unlockFile(f)
		f.Close()
		return false, err
	}
	defer unlock()
	if !sameFile(f, h.path) { // replaced by a taker that found it lapsed
		unlockFile(f)
		f.Close()
		return false, nil
	}
	if ok, err := h.admits(); !ok || err != nil {
		h.f = f
		h.unlockHeld()
		return false, err
	}
	return h.claim(f, lf)
}

// admits reports whether h.admit lets the lease be taken; h.lock is
// held. Without h.admit, it does.
func (h *fileLease) admits() (bool, error) {
	if h.admit == nil {
		return true, nil
	}
	return h.admit()
}

// takeOver takes the lease from a holder that let it lapse, and reports
// whether it did. Under h.lock, which every taker and
// every renewal holds while it checks that the lease file is still its
// own, it checks that the file it found lapsed is still at the path and
// still lapsed, and replaces it with a new file, which it locks. The
// holder's lock, on the removed file, then excludes no one, and its
// Renew fails: the file at the path is no longer the one it locked.
func (h *fileLease) takeOver(ctx context.Context) (bool, error) {
	if !canTakeOver {
		return false, nil
	}
	found, ok := lapsed(h.path, h.ttl, wallNow())
	if !ok {
		return false, nil
	}
	lf, unlock, err := lockOpen(ctx, h.lock, h.lockWhat)
	if err != nil {
		return false, err
	}
	defer unlock()
	now, ok := lapsed(h.path, h.ttl, wallNow())
	if !ok || !os.SameFile(found, now) {
		return false, nil
	}
	if ok, err := h.admits(); !ok || err != nil {
		return false, err // nothing taken: the lapsed file stays as it is
	}
	if err := os.Remove(h.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("oauthrt: filestore: removing a lapsed lease's file: %w", err)
	}
	f, err := os.OpenFile(h.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil // another taker created it first, and locks it
	}
	if err != nil {
		return false, fmt.Errorf("oauthrt: filestore: creating the lease file: %w", err)
	}
	if ok, err := tryLock(f); err != nil || !ok {
		f.Close() // another taker opened it and locked it first
		if err != nil {
			return false, fmt.Errorf("oauthrt: filestore: locking the lease file: %w", err)
		}
		return false, nil
	}
	return h.claim(f, lf)
}

// claim makes f, the locked lease file at h.path, h's, with the key's
// next epoch; h.lock is held, by lf.
func (h *fileLease) claim(f, lf *os.File) (bool, error) {
	h.f = f
	var err error
	if h.epoch, err = h.raise(lf); err != nil {
		h.unlockHeld()
		return false, err
	}
	h.until = wallNow().Add(h.ttl)
	n, err := writeRecord(f, h.until, h.holder)
	if err != nil {
		h.unlockHeld()
		return false, err
	}
	// A file that was left with other contents is cut to the record.
	if err := f.Truncate(int64(n)); err != nil {
		h.unlockHeld()
		return false, fmt.Errorf("oauthrt: filestore: writing the lease file: %w", err)
	}
	return true, nil
}

// fencedLease is a lease with its epoch, and what its CommitRelease
// needs: the holding and the store and key it was taken on.
type fencedLease struct {
	oauthrt.Lease
	epoch uint64
	h     *fileLease
	s     *Store
	key   string
}

var _ oauthrt.FencedLease = (*fencedLease)(nil)

// Epoch is the lease's fencing token: the number of leases taken on its
// key on this token file (or directory), this one included, as the
// epochs file (or the key's lock file) counts them. It is never 0.
func (l *fencedLease) Epoch() uint64 { return l.epoch }

// keyFileName is the name of key's files (its lease file; in the layout
// of Dir, its record and its lock file too): the hex SHA-256 of the
// key's bytes, so that any key, whatever bytes it holds and however long
// it is, names one file of a fixed, portable name.
func keyFileName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// lockLeaseFile opens path, creating it if needed, and takes its lock
// without waiting. It returns nil and no error when another holder has
// the lock, or when the file it locked is no longer at path: the holder
// before removed it on release, and a lock on a removed file excludes no
// one.
func lockLeaseFile(path string) (*os.File, error) {
	f, err := openOrCreate(path, false)
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
	path string // the lease file
	// lock is the lock file that every check of whether the lease file
	// is still a holder's holds, with every raise of the key's epoch: the
	// token file's in the layout of Path, the key's own in that of Dir.
	// lockWhat names it in errors.
	lock, lockWhat string
	// raise raises the key's epoch and returns it; latest returns it as
	// it is. Both are called with lock held, and given the open file
	// that holds it.
	raise, latest func(lf *os.File) (uint64, error)
	// admit, when set, is asked with lock held, once the lease is free
	// to take and before it is taken, whether to take it: TakeLeaseIf's
	// check of the stored token. false, or an error, leaves the lease
	// untaken.
	admit func() (bool, error)
	// keep leaves the lease file in place when the lease is released,
	// for the next lease of the key, rather than removing it: the layout
	// of Dir keeps one per key, as it keeps one lock file per key,
	// which spares each lease the creation and the removal of a file in
	// a directory that every key's leases share. (The key's first
	// record creates it: see placeLeaseFile.)
	keep bool
	// holder is the id that the lease file's record names the holder
	// with, for operators (see Inspect).
	holder string
	epoch  uint64
	ttl    time.Duration
	timer  *time.Timer

	mu    sync.Mutex
	f     *os.File  // nil once the lock is released
	until time.Time // when the lease lapses unless renewed, on the wall clock, as in the file
}

// expire runs when the timer fires: it releases the lock if the lease
// was not renewed meanwhile, and waits for the new deadline otherwise.
func (h *fileLease) expire() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.f == nil {
		return
	}
	if left := h.until.Sub(wallNow()); left > 0 {
		h.timer.Reset(left)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), lease.ReleaseTimeout)
	defer cancel()
	h.unlock(ctx)
}

// renew extends the lease to a full TTL from now, and writes the new
// deadline in the lease file, if the lease has not lapsed and its file
// is still the one at the path. It holds h.lock, as a
// taker does while it checks that a file it found lapsed still is, so
// that no taker replaces the file between the check here and the write.
func (h *fileLease) renew(ctx context.Context) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.f == nil {
		return false, nil
	}
	lf, unlock, err := lockOpenAsHolder(ctx, h.lock, h.lockWhat)
	if err != nil {
		return false, err
	}
	defer unlock()
	now := wallNow()
	// A lapsed lease's file may have been replaced by a taker (its
	// holder was stopped, say), or removed by hand; a later lease may
	// have been taken on a new file then, and its epoch shows that too.
	if !now.Before(h.until) || !sameFile(h.f, h.path) {
		h.unlockHeld()
		return false, nil
	}
	latest, err := h.latest(lf)
	if err != nil {
		return false, err
	}
	if latest > h.epoch {
		h.unlockHeld()
		return false, nil
	}
	until := now.Add(h.ttl)
	if _, err := writeRecord(h.f, until, h.holder); err != nil {
		return false, err
	}
	h.until = until
	return true, nil
}

func (h *fileLease) release(ctx context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.timer.Stop()
	if h.f != nil {
		h.unlock(ctx)
	}
}

// unlock releases the lock; h.mu is held. It takes h.lock to remove the
// lease file, as unlockHeld does, unless h.keep says the file stays; if
// it cannot, within ctx, it leaves the file, which the next taker locks
// as it is.
func (h *fileLease) unlock(ctx context.Context) {
	if h.keep {
		h.drop()
		return
	}
	if unlock, err := lockFile(ctx, h.lock, h.lockWhat); err == nil {
		defer unlock()
		h.unlockHeld()
		return
	}
	h.drop()
}

// unlockHeld releases the lock; h.mu and h.lock are held. Unless h.keep
// says the file stays, it is removed first, while it is still locked, so
// that lease files do not pile up; a taker that opened it before then
// finds, once it has the lock, that it is no longer at the path, and
// tries again. A file at the path that is not the one locked here (a
// taker replaced it once the lease lapsed) is another holder's, and is
// left alone: h.lock keeps a taker from replacing it between the check
// and the removal.
func (h *fileLease) unlockHeld() {
	if !h.keep && sameFile(h.f, h.path) {
		removeLocked(h.path)
	}
	h.drop()
}

// drop empties the lease file, so that one left in place (by the layout
// of Dir, on Windows, after a failed removal) shows no lease, and
// releases its lock; h.mu is held. The file is still locked: only its
// holder writes it. An empty file that is not locked is free to take.
func (h *fileLease) drop() {
	_ = h.f.Truncate(0) // on failure, the record lapses at its deadline
	unlockFile(h.f)
	h.f.Close()
	h.f = nil
}
