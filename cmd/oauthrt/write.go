package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/sqlstore"
	"golang.org/x/oauth2"
)

// How import, migrate and rekey write a record into a store that
// services may be using at that very moment: as the library's refresh
// does, under the key's lease.
//
//  1. Take the key's lease (oauthrt.LeaseLocker). No process of the
//     fleet refreshes the key while it is held.
//  2. Read the key's current token and grant state.
//  3. Decide, from them, what to write; or write nothing.
//  4. Write the token with a conditional write (oauthrt.Committer's
//     Commit, from the token just read), or, when no grant state is to
//     be kept, with the lease's CommitRelease, which also lets it go.
//  5. A commit clears the key's grant state. When the record's state is
//     not zero (a dead grant, a degraded one), save it again before the
//     lease is released: a dead grant must never look healthy, even for
//     a moment, or a process could take the lease and present its dead
//     refresh token again.
//  6. Release the lease.
//
// A key whose lease stays busy is put aside and tried again at the end
// of the run (see retryBusy).

// firstLeaseWait bounds the wait for a key's lease on a first try: a key
// whose holder keeps it longer is tried again at the end of the run,
// rather than holding up every key behind it.
const firstLeaseWait = 2 * time.Second

// retryLeaseWait bounds the wait on a later try: long enough for the
// lease of a holder that died to lapse.
const retryLeaseWait = oauthrt.DefaultLeaseTTL + 5*time.Second

// busyRounds is how many times a busy key is tried again before it is
// reported.
const busyRounds = 3

// errUnreadable means a key's token could not be read with the store's
// key: nothing was written.
var errUnreadable = errors.New("its token cannot be read")

// errBusy means a key's lease stayed held by another process for the
// whole of the wait.
var errBusy = errors.New("its lease stayed held by another process")

// outcome is what a write did for one key.
type outcome int

const (
	// outWritten: the key held no token; the record was written.
	outWritten outcome = iota
	// outSame: the key already held the record's token (the same
	// Fingerprint); its grant state was made the record's.
	outSame
	// outConflict: the key held another token; nothing was written.
	outConflict
	// outOverwritten: the key held another token, and was given the
	// record's (--overwrite).
	outOverwritten
	// outResealed: the key's token was written again, unchanged, sealed
	// with the store's primary key.
	outResealed
)

// writer writes records into a store under the rule above.
type writer struct {
	name  string // the store's URL, redacted, for messages
	lock  oauthrt.LeaseLocker
	comm  oauthrt.Committer
	state oauthrt.GrantStateStore
	del   oauthrt.Deleter // nil when the store cannot delete
	// overwrite makes put write over a key that holds another token.
	overwrite bool
}

// newWriter returns a writer into s, which must take leases, commit
// conditionally and keep grant states; every store of this module does.
// With create, a SQL store's table is created when it does not exist
// yet (see sqlstore.Store.Migrate), so that grants can be moved into a
// new database.
func newWriter(ctx context.Context, s *store, create bool) (*writer, error) {
	if ss, ok := s.TokenStore.(*sqlstore.Store); ok && create {
		if err := ss.Migrate(ctx); err != nil {
			return nil, fmt.Errorf("store %s: %w", s.name, err)
		}
	}
	w := &writer{name: s.name}
	var ok1, ok2, ok3 bool
	w.lock, ok1 = s.TokenStore.(oauthrt.LeaseLocker)
	w.comm, ok2 = s.TokenStore.(oauthrt.Committer)
	w.state, ok3 = s.TokenStore.(oauthrt.GrantStateStore)
	w.del, _ = s.TokenStore.(oauthrt.Deleter)
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("store %s (%T) cannot be written safely while in use: it must take leases, commit conditionally and keep grant states", s.name, s.TokenStore)
	}
	return w, nil
}

// plan is what a write decided, under the lease, from what the key
// holds: prev is the token read (nil: none), tok the token to commit
// (nil: commit nothing), st the grant state the key must end with.
type plan struct {
	prev, tok *oauth2.Token
	st        oauthrt.GrantState
	out       outcome
}

// put writes tok with grant state st under key. The key holding no token
// is given them; the key holding the same token (by Fingerprint) keeps
// it and is given st; the key holding another token is a conflict, and
// is left alone unless w.overwrite. It returns errBusy, wrapped, when
// the lease stayed held for wait.
func (w *writer) put(ctx context.Context, key string, tok *oauth2.Token, st oauthrt.GrantState, wait time.Duration) (outcome, error) {
	return w.underLease(ctx, key, wait, func(cur *oauth2.Token, curSt oauthrt.GrantState, curErr error) (plan, error) {
		switch {
		case curErr != nil:
			return plan{}, curErr
		case cur == nil:
			return plan{tok: tok, st: st, out: outWritten}, nil
		case oauthrt.Fingerprint(cur) == oauthrt.Fingerprint(tok):
			return plan{prev: cur, st: st, out: outSame}, nil
		case w.overwrite:
			return plan{prev: cur, tok: tok, st: st, out: outOverwritten}, nil
		}
		return plan{prev: cur, st: curSt, out: outConflict}, nil
	})
}

// reseal writes key's token again, unchanged, with its grant state, so
// that the store seals it with its AEAD's primary key. A key that holds
// no token any more is left alone (outSame).
func (w *writer) reseal(ctx context.Context, key string, wait time.Duration) (outcome, error) {
	return w.underLease(ctx, key, wait, func(cur *oauth2.Token, curSt oauthrt.GrantState, curErr error) (plan, error) {
		switch {
		case curErr != nil:
			return plan{}, curErr
		case cur == nil:
			return plan{out: outSame}, nil
		}
		return plan{prev: cur, tok: cur, st: curSt, out: outResealed}, nil
	})
}

// underLease runs steps 1 to 6 for key: decide gets what the key holds
// (curErr when its token cannot be read) and returns the plan.
func (w *writer) underLease(ctx context.Context, key string, wait time.Duration, decide func(cur *oauth2.Token, st oauthrt.GrantState, curErr error) (plan, error)) (outcome, error) {
	lctx, cancel := context.WithTimeout(ctx, wait)
	lease, err := w.lock.TakeLease(lctx, key)
	cancel()
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return 0, errBusy
		}
		return 0, fmt.Errorf("taking its lease: %w", err)
	}
	released := false
	defer func() {
		if !released {
			lease.Release()
		}
	}()

	cur, curErr := w.comm.Load(ctx, key)
	if errors.Is(curErr, oauthrt.ErrNoToken) {
		cur, curErr = nil, nil
	}
	var curSt oauthrt.GrantState
	if curErr == nil {
		if curSt, err = w.state.LoadGrantState(ctx, key); err != nil {
			return 0, fmt.Errorf("reading its grant state: %w", err)
		}
	} else {
		curErr = fmt.Errorf("%w: %w", errUnreadable, curErr)
	}
	p, err := decide(cur, curSt, curErr)
	if err != nil {
		return 0, err
	}

	if p.tok != nil {
		cr, oneStep := lease.(oauthrt.CommitReleaser)
		if oneStep && p.st.IsZero() {
			released = true // CommitRelease lets go whatever it returns
			err = cr.CommitRelease(ctx, p.prev, p.tok)
		} else {
			err = w.comm.Commit(ctx, key, p.prev, p.tok)
		}
		if errors.Is(err, oauthrt.ErrCommitConflict) {
			// Someone wrote the key without its lease (an application
			// saving a new authorization): read it again later.
			return 0, fmt.Errorf("%w (it was written meanwhile without its lease)", errBusy)
		}
		if err != nil {
			return 0, fmt.Errorf("writing its token: %w", err)
		}
		if released {
			return p.out, nil
		}
		if p.st.IsZero() {
			return p.out, nil // the commit cleared the state
		}
		return p.out, w.restoreState(ctx, key, p.st)
	}
	if p.out != outConflict && !sameState(p.st, curSt) {
		if err := w.state.SaveGrantState(ctx, key, p.st); err != nil {
			return 0, fmt.Errorf("saving its grant state: %w", err)
		}
	}
	return p.out, nil
}

// restoreState saves st as key's grant state after a commit cleared it,
// while the lease is still held, trying a few times. When st is dead and
// cannot be saved, the token just written is deleted rather than left to
// look healthy: a process would present its dead refresh token again.
func (w *writer) restoreState(ctx context.Context, key string, st oauthrt.GrantState) error {
	var err error
	for range 3 {
		if err = w.state.SaveGrantState(ctx, key, st); err == nil {
			return nil
		}
	}
	if st.DeadToken == "" {
		return fmt.Errorf("the token was written, but its grant state (degraded) was not: %w", err)
	}
	if w.del != nil {
		if derr := w.del.Delete(ctx, key); derr == nil {
			return fmt.Errorf("its dead grant state could not be saved, so the token just written was deleted again: %w", err)
		}
	}
	return fmt.Errorf("its dead grant state could not be saved, and the token just written now looks healthy: delete it (oauthrt revoke or the store's tools): %w", err)
}

// tally counts the outcomes of a run's writes, and the keys that failed.
type tally struct {
	written, same, conflicts, overwritten, resealed int
	busyThenDone                                    int // keys whose lease was busy at first, then written
	failed                                          int // keys that could not be written
}

// add counts o.
func (t *tally) add(o outcome) {
	switch o {
	case outWritten:
		t.written++
	case outSame:
		t.same++
	case outConflict:
		t.conflicts++
	case outOverwritten:
		t.overwritten++
	case outResealed:
		t.resealed++
	}
}

// retryBusy tries again the keys whose lease was busy, up to busyRounds
// times, each waiting up to retryLeaseWait for the lease: try returns
// errBusy (wrapped) while the lease stays held. done is called with
// each key's result once it has one; the keys still busy after the last
// round are returned.
func retryBusy(ctx context.Context, keys []string, try func(key string) (outcome, error), done func(key string, o outcome, err error)) []string {
	for round := 0; round < busyRounds && len(keys) > 0 && ctx.Err() == nil; round++ {
		var again []string
		for _, k := range keys {
			o, err := try(k)
			if errors.Is(err, errBusy) {
				again = append(again, k)
				continue
			}
			done(k, o, err)
		}
		keys = again
	}
	return keys
}

// sameState reports whether a and b record the same grant state, their
// times compared as instants.
func sameState(a, b oauthrt.GrantState) bool {
	return a.DeadToken == b.DeadToken && a.DeadCode == b.DeadCode && a.DeadAt.Equal(b.DeadAt) &&
		a.NextAttempt.Equal(b.NextAttempt) && a.Failures == b.Failures && a.FailingSince.Equal(b.FailingSince)
}
