package filestore

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/lease"
	"golang.org/x/oauth2"
)

// This file holds the capabilities that merge the steps of a refresh
// into fewer calls of the store (see [oauthrt.SnapshotLoader],
// [oauthrt.LeaseLoader] and [oauthrt.CommitReleaser]), in the order a
// refresh takes them. Both layouts share them: what differs is what is
// read (the token file, or the key's record) and which lock the writes
// of the key hold (Path + ".lock", or the key's lock file), and a
// fileLease knows the latter as its lock.

var (
	_ oauthrt.SnapshotLoader = (*Store)(nil)
	_ oauthrt.LeaseLoader    = (*Store)(nil)
	_ oauthrt.CommitReleaser = (*fencedLease)(nil)
)

// OneTripStore returns s: its one-trip methods (LoadSnapshot,
// TakeLeaseIf, its leases' CommitRelease) act on s itself. A type that
// embeds a *Store gains this method too, and returns the embedded Store,
// so the Transport reaches such a wrapper through its own methods. See
// [oauthrt.SnapshotLoader].
func (s *Store) OneTripStore() oauthrt.TokenStore { return s }

// LoadSnapshot returns the token stored under key (nil when there is
// none) and the key's grant state, from one read of the token file (with
// Dir, of the key's record, after its VERSION), without locking, as
// Load does. A stored token that cannot be decrypted gives an error
// wrapping [oauthrt.ErrDecrypt], one that is not a token an error
// wrapping [oauthrt.ErrCorruptToken], as Load does. See
// [oauthrt.SnapshotLoader].
func (s *Store) LoadSnapshot(ctx context.Context, key string) (oauthrt.Snapshot, error) {
	if err := s.check(ctx); err != nil {
		return oauthrt.Snapshot{}, err
	}
	if s.Dir != "" {
		if _, err := s.checkVersion(); err != nil {
			return oauthrt.Snapshot{}, err
		}
	}
	return s.readSnapshot(key)
}

// readSnapshot reads key's token and grant state: from the token file,
// or, with Dir, from the key's record, whose directory's VERSION its
// caller has checked.
func (s *Store) readSnapshot(key string) (oauthrt.Snapshot, error) {
	var (
		raw json.RawMessage
		ok  bool
		gr  grantRecord
	)
	if s.Dir != "" {
		r, err := s.readRecord(key)
		if err != nil {
			return oauthrt.Snapshot{}, err
		}
		raw, ok, gr = r.Token, r.Token != nil, r.GrantState
	} else {
		doc, err := s.read()
		if err != nil {
			return oauthrt.Snapshot{}, err
		}
		raw, ok = doc.token(key)
		gr = doc.grantState(key)
	}
	snap := oauthrt.Snapshot{State: gr.state()}
	if ok {
		tok, err := s.decode(key, raw)
		if err != nil {
			return oauthrt.Snapshot{}, err
		}
		snap.Token = tok
	}
	return snap, nil
}

// TakeLeaseIf takes the refresh lease of key as TakeLease does (the OS
// lock on the key's lease file, the takeover of a lapsed holder, the
// key's next epoch) if the store holds prev under key: a token with
// prev's [oauthrt.Fingerprint], or, when prev is nil, no token. It
// returns the lease, an [oauthrt.FencedLease] and an
// [oauthrt.CommitReleaser], with the key's token and grant state, read
// once the lease file is locked and under the lock that every write of
// the key holds (Path + ".lock"; with Dir, the key's lock file), which
// it keeps until the lease is taken: no write comes between the read and
// the taking. When the store holds another token, it takes nothing (the
// lease file it locked is let go, and no epoch is raised), and returns a
// nil Lease with what it read. While another holder has the lease, it
// reads the key again (without a lock, as Load does) after each try, and
// returns as soon as the holder has stored another token, without the
// lease; otherwise it waits as TakeLease does, until ctx ends, and then
// the error wraps ctx.Err(). A stored token that cannot be decrypted or
// decoded is an error, and no lease is kept. See [oauthrt.LeaseLoader].
//
// It costs what TakeLease costs, but for the read of the token file (or
// record) that TakeLease makes before it tries, which TakeLeaseIf makes
// under the lock instead; a try that finds the lease held costs one more
// read of it.
func (s *Store) TakeLeaseIf(ctx context.Context, key string, prev *oauth2.Token) (oauthrt.Lease, oauthrt.Snapshot, error) {
	if err := s.check(ctx); err != nil {
		return nil, oauthrt.Snapshot{}, err
	}
	h, err := s.leaseOf(key, false)
	if err != nil {
		return nil, oauthrt.Snapshot{}, err
	}
	t := &taking{s: s, h: h, key: key, want: oauthrt.Fingerprint(prev)}
	h.admit = t.holdsPrev
	if err := lease.Wait(ctx, key, t.try); err != nil {
		return nil, oauthrt.Snapshot{}, err
	}
	if t.changed {
		return nil, t.snap, nil
	}
	return h.start(s, key), t.snap, nil
}

// A taking is the state of one TakeLeaseIf between its tries.
type taking struct {
	s    *Store
	h    *fileLease
	key  string
	want string // prev's fingerprint
	// What the last read found: the snapshot, and whether it holds
	// another token than prev.
	snap    oauthrt.Snapshot
	changed bool
}

// holdsPrev reads the key, and reports whether it holds prev: the admit
// of the lease, asked under its lock, and the check between tries.
func (t *taking) holdsPrev() (bool, error) {
	snap, err := t.s.readSnapshot(t.key)
	if err != nil {
		return false, err
	}
	t.snap, t.changed = snap, oauthrt.Fingerprint(snap.Token) != t.want
	return !t.changed, nil
}

// try is one try of lease.Wait: it reports done when it took the lease
// or found another token than prev.
func (t *taking) try(ctx context.Context) (bool, error) {
	took, err := t.h.try(ctx)
	if took || t.changed || err != nil {
		return took || t.changed, err
	}
	// Another holder has the lease: it may have stored its token
	// meanwhile, which ends the wait.
	held, err := t.holdsPrev()
	return err == nil && !held, err
}

// CommitRelease commits tok under the lease's key over prev, exactly as
// the Store's Commit does (and so clears the key's grant state), and
// releases the lease if it is still this holder's, under one holding of
// the lock that both take: the token file's Path + ".lock", or, with
// Dir, the key's lock file. It costs what Commit costs (a read of the
// token file or record and, unless it conflicts, its atomic rewrite),
// and what a release costs without its own lock: with Path, the removal
// of the lease file if it is still this holder's, and the unlocking of
// the lease file. See [oauthrt.CommitReleaser].
//
// A conflict stores nothing, returns an error wrapping
// [oauthrt.ErrCommitConflict], and releases the lease all the same. A
// lease that lapsed still commits, as Commit would, and releases only
// its own lease file's lock: a file that a taker put in its place is
// left alone, as Release leaves it. Any other error leaves the lease as
// it was: Release it, or let it lapse. A nil tok is an error.
func (l *fencedLease) CommitRelease(ctx context.Context, prev, tok *oauth2.Token) error {
	s, h := l.s, l.h
	if err := s.check(ctx); err != nil {
		return err
	}
	raw, err := s.encode(l.key, tok)
	if err != nil {
		return err
	}
	h.mu.Lock()
	err = h.commitRelease(ctx, func() error { return s.commitLocked(l.key, prev, raw) })
	h.mu.Unlock()
	if err == nil || errors.Is(err, oauthrt.ErrCommitConflict) {
		l.Release() // its lock is let go already: this stops its timer, and fails any Renew
	}
	return err
}

// commitRelease runs commit under h.lock, and then, unless it failed
// otherwise than with a conflict, lets go of the lease file's lock
// while h.lock is still held, as unlockHeld does; h.mu is held.
func (h *fileLease) commitRelease(ctx context.Context, commit func() error) error {
	unlock, err := lockFileAsHolder(ctx, h.lock, h.lockWhat)
	if err != nil {
		return err
	}
	defer unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	err = commit()
	if (err == nil || errors.Is(err, oauthrt.ErrCommitConflict)) && h.f != nil {
		h.unlockHeld()
	}
	return err
}
