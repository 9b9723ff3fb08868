package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// The one-trip checks hold the stores that merge a refresh's steps
// (oauthrt.SnapshotLoader, oauthrt.LeaseLoader, oauthrt.CommitReleaser)
// to the contracts of the steps they merge: a snapshot reads what Load
// and LoadGrantState read, TakeLeaseIf excludes as TakeLease does and
// takes nothing once the token changed, and CommitRelease commits as
// Commit does and lets go of the lease.

func snapshotLoader(t *testing.T, b Backend, o Options) oauthrt.SnapshotLoader {
	t.Helper()
	return openAs[oauthrt.SnapshotLoader](t, b, o, "reading a token and its grant state together")
}

func leaseLoader(t *testing.T, b Backend, o Options) oauthrt.LeaseLoader {
	t.Helper()
	return openAs[oauthrt.LeaseLoader](t, b, o, "taking a lease and reading the key together")
}

// takeIf calls TakeLeaseIf within longWait, and fails the test on an
// error.
func takeIf(t *testing.T, l oauthrt.LeaseLoader, key string, prev *oauth2.Token) (oauthrt.Lease, oauthrt.Snapshot) {
	t.Helper()
	ctx, cancel := ctxWithin(longWait)
	defer cancel()
	lease, snap, err := l.TakeLeaseIf(ctx, key, prev)
	if err != nil {
		t.Fatalf("TakeLeaseIf(%s, prev %s): %v", showKey(key), showPrev(prev), shorten(err))
	}
	return lease, snap
}

// sameSnapshot checks a snapshot against the token and state expected.
func sameSnapshot(t *testing.T, got oauthrt.Snapshot, tok *oauth2.Token, st oauthrt.GrantState, what string) {
	t.Helper()
	switch {
	case tok == nil && got.Token != nil:
		t.Errorf("%s: Snapshot.Token = %q, want nil", what, got.Token.AccessToken)
	case tok != nil && got.Token == nil:
		t.Errorf("%s: Snapshot.Token is nil, want %q", what, tok.AccessToken)
	case tok != nil:
		sameToken(t, got.Token, tok)
	}
	if st.IsZero() {
		if !got.State.IsZero() {
			t.Errorf("%s: Snapshot.State = %+v, want the zero GrantState", what, got.State)
		}
	} else if diff := sameState(got.State, st); diff != "" {
		t.Errorf("%s: Snapshot.State:%s", what, diff)
	}
}

// commitReleaser returns lease as a CommitReleaser, or skips.
func commitReleaser(t *testing.T, lease oauthrt.Lease) oauthrt.CommitReleaser {
	t.Helper()
	cr, ok := lease.(oauthrt.CommitReleaser)
	if !ok {
		lease.Release()
		t.Skip("the store's leases do not implement oauthrt.CommitReleaser: committing and releasing together not checked")
	}
	return cr
}

// testSnapshot reads a key with a token, with a grant state, with both
// and with neither, and odd keys, and checks each snapshot against what
// Load and LoadGrantState read.
func testSnapshot(t *testing.T, b Backend) {
	s := snapshotLoader(t, b, Options{})
	ctx := context.Background()
	if own := s.OneTripStore(); own != oauthrt.TokenStore(s) {
		t.Errorf("OneTripStore() = %T, not the store itself: the Transport would never use its one-trip methods", own)
	}
	tok := fullToken()
	save(t, s, "token", tok)
	dead := deadState(pair("at-dead", "rt-dead"))
	save(t, s, "both", tok)
	saveState(t, s, "both", dead)
	saveState(t, s, "state", backoffState(3))

	for _, tc := range []struct {
		key string
		tok *oauth2.Token
		st  oauthrt.GrantState
	}{
		{"token", tok, oauthrt.GrantState{}},
		{"both", tok, dead},
		{"state", nil, backoffState(3)},
		{"neither", nil, oauthrt.GrantState{}},
	} {
		snap, err := s.LoadSnapshot(ctx, tc.key)
		if err != nil {
			t.Errorf("LoadSnapshot(%q): %v", tc.key, shorten(err))
			continue
		}
		sameSnapshot(t, snap, tc.tok, tc.st, fmt.Sprintf("LoadSnapshot(%q)", tc.key))
	}

	for i, key := range oddKeyGroups()[1] {
		want := pair(fmt.Sprintf("at-odd-%d", i), "rt-odd")
		if err := s.Save(ctx, key, want); err != nil {
			continue // refused, as testOddKeys allows
		}
		snap, err := s.LoadSnapshot(ctx, key)
		if err != nil {
			t.Errorf("LoadSnapshot(%s): %v", showKey(key), shorten(err))
			continue
		}
		sameSnapshot(t, snap, want, oauthrt.GrantState{}, "LoadSnapshot("+showKey(key)+")")
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.LoadSnapshot(cancelled, "token"); !errors.Is(err, context.Canceled) {
		t.Errorf("LoadSnapshot with a cancelled context: err = %v, want context.Canceled", err)
	}
}

// testSnapshotUnreadable checks that a snapshot of a token the store
// cannot read fails as Load does.
func testSnapshotUnreadable(t *testing.T, b Backend) {
	if !b.NoEncryption {
		sealed := snapshotLoader(t, b, Options{AEAD: newAEAD(t, 1)})
		save(t, sealed, "k", fullToken())
		other := snapshotLoader(t, b, Options{AEAD: newAEAD(t, 2)})
		if _, err := other.LoadSnapshot(context.Background(), "k"); !errors.Is(err, oauthrt.ErrDecrypt) {
			t.Errorf("LoadSnapshot with the wrong key: err = %v, want oauthrt.ErrDecrypt", err)
		}
	}
	if b.Put != nil {
		s := snapshotLoader(t, b, Options{})
		if err := b.Put("corrupt", []byte(`{"refresh_token":"rt-secret"}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LoadSnapshot(context.Background(), "corrupt"); !errors.Is(err, oauthrt.ErrCorruptToken) {
			t.Errorf("LoadSnapshot of a corrupt token: err = %v, want oauthrt.ErrCorruptToken", err)
		}
	}
}

// testTakeLeaseIfMatch takes the lease over the token stored, and checks
// that it excludes others, is fenced above the leases before it, and
// comes with the key's snapshot.
func testTakeLeaseIfMatch(t *testing.T, b Backend) {
	o := Options{LeaseTTL: time.Minute}
	l, other := leaseLoader(t, b, o), leaseLoader(t, b, o)
	prev := pair("at-1", "rt-1")
	save(t, l, "k", prev)
	saveState(t, l, "k", backoffState(2))
	before := take(t, l, "k")
	var epoch uint64
	if f, ok := before.(oauthrt.FencedLease); ok {
		epoch = f.Epoch()
	}
	before.Release()

	lease, snap := takeIf(t, l, "k", prev)
	if lease == nil {
		t.Fatal("TakeLeaseIf over the stored token returned no lease")
	}
	defer lease.Release()
	sameSnapshot(t, snap, prev, backoffState(2), "TakeLeaseIf over the stored token")
	if f, ok := lease.(oauthrt.FencedLease); ok && f.Epoch() <= epoch {
		t.Errorf("TakeLeaseIf's lease has epoch %d, not above the earlier lease's %d", f.Epoch(), epoch)
	}
	mustBeHeld(t, other, "k", "while TakeLeaseIf's lease is held")
	ctx, cancel := ctxWithin(shortWait)
	defer cancel()
	if got, _, err := other.TakeLeaseIf(ctx, "k", prev); !errors.Is(err, context.DeadlineExceeded) {
		if got != nil {
			got.Release()
		}
		t.Errorf("a second TakeLeaseIf while the lease is held: err = %v, want one wrapping context.DeadlineExceeded", err)
	}
	if err := lease.Renew(context.Background()); err != nil {
		t.Errorf("Renew of TakeLeaseIf's lease: %v", err)
	}
	lease.Release()
	mustBeFree(t, other, "k", "after TakeLeaseIf's lease was released")
}

// testTakeLeaseIfChanged checks that TakeLeaseIf takes nothing when the
// store holds another token than prev, or any token when prev is nil,
// and returns what it holds.
func testTakeLeaseIfChanged(t *testing.T, b Backend) {
	o := Options{LeaseTTL: time.Minute}
	l, other := leaseLoader(t, b, o), leaseLoader(t, b, o)
	stored := pair("at-2", "rt-2")
	save(t, l, "k", stored)
	for _, prev := range []*oauth2.Token{pair("at-1", "rt-1"), pair("at-2", "rt-1"), pair("at-1", "rt-2"), nil} {
		lease, snap := takeIf(t, l, "k", prev)
		if lease != nil {
			lease.Release()
			t.Errorf("TakeLeaseIf(prev %s) took the lease over another stored token", showPrev(prev))
		}
		sameSnapshot(t, snap, stored, oauthrt.GrantState{}, fmt.Sprintf("TakeLeaseIf(prev %s) over another token", showPrev(prev)))
		mustBeFree(t, other, "k", fmt.Sprintf("after TakeLeaseIf(prev %s) found another token", showPrev(prev)))
	}

	// An empty key: nil matches, a token does not.
	saveState(t, l, "empty", backoffState(1))
	lease, snap := takeIf(t, l, "empty", stored)
	if lease != nil {
		lease.Release()
		t.Error("TakeLeaseIf with a token took the lease of a key without one")
	}
	sameSnapshot(t, snap, nil, backoffState(1), "TakeLeaseIf with a token, of a key without one")
	lease, snap = takeIf(t, l, "empty", nil)
	if lease == nil {
		t.Fatal("TakeLeaseIf(prev nil) of a key without a token took no lease")
	}
	sameSnapshot(t, snap, nil, backoffState(1), "TakeLeaseIf(prev nil) of a key without a token")
	mustBeHeld(t, other, "empty", "while TakeLeaseIf(prev nil)'s lease is held")
	lease.Release()
}

// testTakeLeaseIfWaits has TakeLeaseIf wait for a holder that refreshes
// and commits: it must then take nothing, and return the new token; and
// a wait must end with its context.
func testTakeLeaseIfWaits(t *testing.T, b Backend) {
	o := Options{LeaseTTL: time.Minute}
	holder, waiter := leaseLoader(t, b, o), leaseLoader(t, b, o)
	prev, next := pair("at-1", "rt-1"), pair("at-2", "rt-2")
	save(t, holder, "k", prev)
	held := take(t, holder, "k")

	ctx, cancel := ctxWithin(shortWait)
	_, _, err := waiter.TakeLeaseIf(ctx, "k", prev)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("TakeLeaseIf while the lease is held, until a deadline: err = %v, want one wrapping context.DeadlineExceeded", err)
	}

	type result struct {
		lease oauthrt.Lease
		snap  oauthrt.Snapshot
		err   error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := ctxWithin(longWait)
		defer cancel()
		lease, snap, err := waiter.TakeLeaseIf(ctx, "k", prev)
		done <- result{lease, snap, err}
	}()
	if c, ok := holder.(oauthrt.Committer); ok {
		commit(t, c, "k", prev, next)
	} else {
		save(t, holder, "k", next)
	}
	held.Release()
	r := <-done
	if r.err != nil {
		t.Fatalf("TakeLeaseIf that waited for the holder: %v", shorten(r.err))
	}
	if r.lease != nil {
		r.lease.Release()
		t.Error("TakeLeaseIf that waited for a holder who committed a new token took the lease")
	}
	sameSnapshot(t, r.snap, next, oauthrt.GrantState{}, "TakeLeaseIf that waited for the holder")
}

// testTakeLeaseIfConcurrent has handles race for one key's lease over the
// same token, each refreshing and committing when it wins: one refresh
// only, and every other handle ends with the refreshed token.
func testTakeLeaseIfConcurrent(t *testing.T, b Backend) {
	const handles = 6
	o := Options{LeaseTTL: time.Minute}
	first := leaseLoader(t, b, o)
	prev := pair("at-0", "rt-0")
	save(t, first, "k", prev)
	var (
		mu        sync.Mutex
		refreshed []string
		wg        sync.WaitGroup
	)
	errs := make(chan error, handles)
	for i := range handles {
		l := first
		if i > 0 {
			l = leaseLoader(t, b, o)
		}
		wg.Go(func() {
			ctx, cancel := ctxWithin(longWait)
			defer cancel()
			lease, snap, err := l.TakeLeaseIf(ctx, "k", prev)
			if err != nil {
				errs <- fmt.Errorf("handle %d: TakeLeaseIf: %w", i, err)
				return
			}
			if lease == nil {
				if snap.Token == nil || snap.Token.AccessToken == prev.AccessToken {
					errs <- fmt.Errorf("handle %d: TakeLeaseIf took no lease, and returned no new token", i)
				}
				return
			}
			defer lease.Release()
			next := pair(fmt.Sprintf("at-%d", i+1), fmt.Sprintf("rt-%d", i+1))
			mu.Lock()
			refreshed = append(refreshed, next.AccessToken)
			mu.Unlock()
			if c, ok := l.(oauthrt.Committer); ok {
				err = c.Commit(ctx, "k", prev, next)
			} else {
				err = l.Save(ctx, "k", next)
			}
			if err != nil {
				errs <- fmt.Errorf("handle %d: committing: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(shorten(err))
	}
	if len(refreshed) != 1 {
		t.Errorf("%d handles took the lease over the same token (%v), want 1", len(refreshed), refreshed)
	}
}

// testCommitRelease commits under a lease and lets go of it in one step:
// the token is stored, the grant state cleared, and the lease free.
func testCommitRelease(t *testing.T, b Backend) {
	o := Options{LeaseTTL: time.Minute}
	l, other := leaseLoader(t, b, o), leaseLoader(t, b, o)
	prev, next := pair("at-1", "rt-1"), pair("at-2", "rt-2")
	save(t, l, "k", prev)
	saveState(t, l, "k", backoffState(2))
	lease, _ := takeIf(t, l, "k", prev)
	if lease == nil {
		t.Fatal("TakeLeaseIf over the stored token returned no lease")
	}
	cr := commitReleaser(t, lease)
	if err := cr.CommitRelease(context.Background(), prev, next); err != nil {
		t.Fatalf("CommitRelease: %v", shorten(err))
	}
	if got := load(t, l, "k"); got.AccessToken != next.AccessToken || got.RefreshToken != next.RefreshToken {
		t.Errorf("after CommitRelease the store holds %q, want %q", got.AccessToken, next.AccessToken)
	}
	wantState(t, l, "k", oauthrt.GrantState{}, "after CommitRelease")
	mustBeFree(t, other, "k", "after CommitRelease")
	cr.Release() // again: harmless
	if err := cr.Renew(context.Background()); !errors.Is(err, oauthrt.ErrLeaseLost) {
		t.Errorf("Renew after CommitRelease: err = %v, want one wrapping oauthrt.ErrLeaseLost", err)
	}

	// A conflict stores nothing, and releases the lease all the same.
	lease, _ = takeIf(t, l, "k", next)
	if lease == nil {
		t.Fatal("TakeLeaseIf over the committed token returned no lease")
	}
	cr = commitReleaser(t, lease)
	saveState(t, l, "k", backoffState(1))
	err := cr.CommitRelease(context.Background(), prev, pair("at-3", "rt-3"))
	wantConflict(t, err, "CommitRelease over a token the store no longer holds", prev, next)
	if got := load(t, l, "k"); got.AccessToken != next.AccessToken {
		t.Errorf("a CommitRelease that conflicted stored %q", got.AccessToken)
	}
	wantState(t, l, "k", backoffState(1), "after a CommitRelease that conflicted")
	mustBeFree(t, other, "k", "after a CommitRelease that conflicted")

	// Into an empty key, with prev nil.
	lease, _ = takeIf(t, l, "fresh", nil)
	if lease == nil {
		t.Fatal("TakeLeaseIf(prev nil) of an empty key returned no lease")
	}
	cr = commitReleaser(t, lease)
	if err := cr.CommitRelease(context.Background(), nil, next); err != nil {
		t.Fatalf("CommitRelease into an empty key: %v", shorten(err))
	}
	if got := load(t, l, "fresh"); got.AccessToken != next.AccessToken {
		t.Errorf("CommitRelease into an empty key stored %q, want %q", got.AccessToken, next.AccessToken)
	}
	mustBeFree(t, other, "fresh", "after CommitRelease into an empty key")
}

// testCommitReleaseAfterTakeover commits with a lease that lapsed and that
// another holder took since: the commit still goes by the stored token,
// and the other holder's lease is left alone.
func testCommitReleaseAfterTakeover(t *testing.T, b Backend) {
	o := Options{LeaseTTL: oauthrt.MinLeaseTTL}
	first, next, third := leaseLoader(t, b, o), leaseLoader(t, b, o), leaseLoader(t, b, o)
	prev, tok := pair("at-1", "rt-1"), pair("at-2", "rt-2")
	save(t, first, "k", prev)
	lease, _ := takeIf(t, first, "k", prev)
	if lease == nil {
		t.Fatal("TakeLeaseIf over the stored token returned no lease")
	}
	stale := commitReleaser(t, lease)
	fresh := take(t, next, "k") // waits for the first lease to lapse
	defer fresh.Release()
	if err := stale.CommitRelease(context.Background(), prev, tok); err != nil {
		t.Fatalf("CommitRelease with a lapsed lease, over the token still stored: %v", shorten(err))
	}
	if got := load(t, first, "k"); got.AccessToken != tok.AccessToken {
		t.Errorf("CommitRelease with a lapsed lease stored %q, want %q", got.AccessToken, tok.AccessToken)
	}
	mustBeHeld(t, third, "k", "after a lapsed holder's CommitRelease, while another holder has the lease")
	ctx, cancel := ctxWithin(longWait)
	defer cancel()
	if err := fresh.Renew(ctx); err != nil {
		t.Errorf("Renew by the holder that took the lapsed lease, after the lapsed holder's CommitRelease: %v", err)
	}
}
