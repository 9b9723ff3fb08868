package oauthrt_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

// The fleet protocol (protocol.go) against the real MemoryStore, which is
// a Committer, a GrantStateStore and a LeaseLocker of fenced leases.
// Several Transports sharing one store stand for several processes: each
// has a memory of its own, and learns what the others did only through
// the store. Each test names the statement of protocol.go it guards: with
// that statement gone, the test fails.

// fleetStore is the real oauthrt.MemoryStore with counters, and hooks
// into Commit and into its leases' Renew. The hooks are set before the
// store is used.
type fleetStore struct {
	*oauthrt.MemoryStore
	stepwise        // the steps one by one; see fleetOneTrip for them merged
	commits, leases atomic.Int32

	// onCommit, when set, runs in place of the n-th Commit (from 1), and
	// commit runs the real one.
	onCommit func(n int32, prev, tok *oauth2.Token, commit func() error) error
	// onRenew, when set, runs before the n-th renewal (from 1) of the
	// lease-th lease taken (from 1); an error it returns is Renew's, and
	// the lease is not renewed.
	onRenew func(lease, n int32) error
}

var _ interface {
	oauthrt.Committer
	oauthrt.GrantStateStore
	oauthrt.LeaseLocker
} = (*fleetStore)(nil)

func newFleetStore() *fleetStore {
	// A lease that outlives every test, so that no renewal but the
	// Transport's fence before each refresh happens while one runs.
	return &fleetStore{MemoryStore: &oauthrt.MemoryStore{LeaseTTL: time.Minute}}
}

func (s *fleetStore) Commit(ctx context.Context, key string, prev, tok *oauth2.Token) error {
	n := s.commits.Add(1)
	commit := func() error { return s.MemoryStore.Commit(ctx, key, prev, tok) }
	if s.onCommit != nil {
		return s.onCommit(n, prev, tok, commit)
	}
	return commit()
}

func (s *fleetStore) TakeLease(ctx context.Context, key string) (oauthrt.Lease, error) {
	l, err := s.MemoryStore.TakeLease(ctx, key)
	if err != nil {
		return nil, err
	}
	return &fleetLease{FencedLease: l.(oauthrt.FencedLease), s: s, n: s.leases.Add(1)}, nil
}

// fleetLease is a lease of a fleetStore.
type fleetLease struct {
	oauthrt.FencedLease
	s        *fleetStore
	n        int32 // which lease of the store it is, from 1
	renewals atomic.Int32
}

func (l *fleetLease) Renew(ctx context.Context) error {
	n := l.renewals.Add(1)
	if l.s.onRenew != nil {
		if err := l.s.onRenew(l.n, n); err != nil {
			return err
		}
	}
	return l.FencedLease.Renew(ctx)
}

// save stores tok under key as another process, or the application,
// would: straight into the MemoryStore.
func (s *fleetStore) save(t *testing.T, key string, tok *oauth2.Token) {
	t.Helper()
	if err := s.MemoryStore.Save(context.Background(), key, tok); err != nil {
		t.Error(err)
	}
}

func (s *fleetStore) mustLoad(t *testing.T, key string) *oauth2.Token {
	t.Helper()
	tok, err := s.MemoryStore.Load(context.Background(), key)
	if err != nil {
		t.Fatalf("store has no token under %q: %v", key, err)
	}
	return tok
}

func (s *fleetStore) grantState(t *testing.T, key string) oauthrt.GrantState {
	t.Helper()
	st, err := s.LoadGrantState(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// wantHeld fails t unless the store holds at/rt under "k".
func (s *fleetStore) wantHeld(t *testing.T, at, rt string) {
	t.Helper()
	if got := s.mustLoad(t, "k"); got.AccessToken != at || got.RefreshToken != rt {
		t.Errorf("store holds %s/%s, want %s/%s", got.AccessToken, got.RefreshToken, at, rt)
	}
}

// fleetFixture is a fleetStore holding at-1/rt-1 under "k", due for a
// refresh, an API accepting at-1..at-9, and a clock; its Transports stand
// for the processes of a fleet.
type fleetFixture struct {
	clock *clock
	store *fleetStore
	api   *api
}

func newFleetFixture(t *testing.T) *fleetFixture {
	t.Helper()
	fx := &fleetFixture{clock: newClock(), store: newFleetStore()}
	fx.api = newAPI(t, "at-1", "at-2", "at-3", "at-4", "at-5", "at-6", "at-7", "at-8", "at-9")
	fx.store.save(t, "k", fx.token(1, 0))
	return fx
}

// token returns at-n/rt-n expiring after life by the fixture's clock.
func (fx *fleetFixture) token(n int, life time.Duration) *oauth2.Token {
	return &oauth2.Token{
		AccessToken:  fmt.Sprintf("at-%d", n),
		RefreshToken: fmt.Sprintf("rt-%d", n),
		TokenType:    "Bearer",
		Expiry:       fx.clock.Now().Add(life),
	}
}

// transport returns a Transport of its own (a process of the fleet) on
// the fixture's store, refreshing with r.
func (fx *fleetFixture) transport(t *testing.T, r oauthrt.Refresher) *oauthrt.Transport {
	t.Helper()
	tr := &oauthrt.Transport{
		Base:      fx.api.Client().Transport,
		Store:     fx.store,
		Key:       "k",
		Refresher: r,
		Now:       fx.clock.Now,
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// newIssuer returns an issuer on the fixture's clock.
func (fx *fleetFixture) newIssuer() *issuer { return &issuer{clock: fx.clock} }

// recorder is a Refresher that records the refresh tokens presented to
// the one it wraps.
type recorder struct {
	oauthrt.Refresher
	mu   sync.Mutex
	seen []string
}

func (r *recorder) Refresh(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
	r.mu.Lock()
	r.seen = append(r.seen, tok.RefreshToken)
	r.mu.Unlock()
	return r.Refresher.Refresh(ctx, tok)
}

func (r *recorder) presented() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// call sends a GET through tr for key, and returns nil for a 200, or the
// Transport's error, or an error naming any other status. It may be
// called from any goroutine.
func (fx *fleetFixture) call(t *testing.T, tr *oauthrt.Transport, key string) error {
	t.Helper()
	req, err := http.NewRequestWithContext(oauthrt.WithKey(context.Background(), key), http.MethodGet, fx.api.URL, nil)
	if err != nil {
		return err
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// ok sends a GET through tr for "k" that must succeed.
func (fx *fleetFixture) ok(t *testing.T, tr *oauthrt.Transport) {
	t.Helper()
	if err := fx.call(t, tr, "k"); err != nil {
		t.Fatalf("GET: %v", err)
	}
}

// fails sends a GET through tr for "k" that must fail, and returns the
// error.
func (fx *fleetFixture) fails(t *testing.T, tr *oauthrt.Transport) error {
	t.Helper()
	err := fx.call(t, tr, "k")
	if err == nil {
		t.Fatal("GET succeeded, want an error")
	}
	return err
}

// lastAuth returns the Authorization header of the API's last call.
func (fx *fleetFixture) lastAuth(t *testing.T) string {
	t.Helper()
	auths, _ := fx.api.seen()
	if len(auths) == 0 {
		t.Fatal("the API was not called")
	}
	return auths[len(auths)-1]
}

// refreshEvents makes tr send its RefreshEvents to the returned channel.
func refreshEvents(tr *oauthrt.Transport) <-chan oauthrt.RefreshEvent {
	ch := make(chan oauthrt.RefreshEvent, 100)
	tr.OnRefresh = func(ev oauthrt.RefreshEvent) { ch <- ev }
	return ch
}

// wantOnce fails t if a refresh token was presented more than once.
func wantOnce(t *testing.T, presented []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, rt := range presented {
		if seen[rt] {
			t.Errorf("refresh token %s presented twice: %q", rt, presented)
		}
		seen[rt] = true
	}
}

// invalidGrant is what a Refresher returns for a refresh token the
// provider refused for good.
func invalidGrant() error {
	return fmt.Errorf("refresh: %w: %w", &oauth2.RetrieveError{ErrorCode: "invalid_grant"}, oauthrt.ErrReauthRequired)
}

// A process whose commit loses to another writer adopts the token the
// store holds, and never writes over it; its own refreshed token, whose
// refresh token the store never held, is dropped and never presented.
//
// Guards protocol.go, commit: the default case, `return stored, nil` (the
// stored token adopted), and refresh's `case stored != nil`.
func TestFleetCommitConflictAdoptsStoredToken(t *testing.T) {
	fx := newFleetFixture(t)
	fx.store.onCommit = func(n int32, prev, tok *oauth2.Token, commit func() error) error {
		if n == 1 {
			// Another process commits at-9/rt-9 over rt-1 first.
			if err := fx.store.MemoryStore.Commit(context.Background(), "k", prev, fx.token(9, time.Hour)); err != nil {
				t.Errorf("the other writer's commit: %v", err)
			}
		}
		return commit()
	}
	rec := &recorder{Refresher: fx.newIssuer()}
	a := fx.transport(t, rec)
	evs := refreshEvents(a)

	fx.ok(t, a)
	if got := fx.lastAuth(t); got != "Bearer at-9" {
		t.Errorf("the API got %q, want the stored at-9", got)
	}
	fx.store.wantHeld(t, "at-9", "rt-9")
	if ev := recv(t, evs); ev.Outcome != oauthrt.OutcomeLoaded || ev.Err != nil {
		t.Errorf("event %+v, want outcome %s", ev, oauthrt.OutcomeLoaded)
	}
	if n := fx.store.commits.Load(); n != 1 {
		t.Errorf("%d commits, want 1: a lost commit is not tried again over another's token", n)
	}

	// at-9 expires: the refresh presents the stored rt-9, never A's rt-2.
	fx.clock.Advance(2 * time.Hour)
	fx.ok(t, a)
	if got := rec.presented(); !cmp.Equal(got, []string{"rt-1", "rt-9"}) {
		t.Errorf("refresh tokens presented %q, want rt-1 then rt-9", got)
	}
	fx.store.wantHeld(t, "at-3", "rt-3")
}

// A commit that wrote and then failed (it timed out after the write) left
// the store holding a link of this process's chain without saying so. The
// chain goes on, unsaved, while the store is down; once it is back, the
// newest link is committed over that earlier one, which must not be
// adopted: its refresh token was rotated by the refresh after it.
//
// Guards protocol.go, commit: `prev = stored // an earlier link of this
// chain, stored after all`.
func TestFleetCommitOverOwnEarlierLink(t *testing.T) {
	fx := newFleetFixture(t)
	var down atomic.Bool
	type commitArgs struct{ prev, tok string }
	committed := make(chan commitArgs, 10)
	fx.store.onCommit = func(n int32, prev, tok *oauth2.Token, commit func() error) error {
		switch {
		case n == 1:
			if err := commit(); err != nil {
				t.Errorf("first commit: %v", err)
			}
			down.Store(true)
			return fmt.Errorf("fleet store: committing: %w", context.DeadlineExceeded)
		case down.Load():
			return fmt.Errorf("fleet store: %w", errBoom)
		}
		err := commit()
		if err == nil {
			committed <- commitArgs{prev.AccessToken, tok.AccessToken}
		}
		return err
	}
	rec := &recorder{Refresher: fx.newIssuer()}
	a := fx.transport(t, rec)

	fx.ok(t, a) // rt-1 → at-2, written by the commit that failed
	if got := fx.lastAuth(t); got != "Bearer at-2" {
		t.Fatalf("the API got %q, want at-2", got)
	}
	fx.store.wantHeld(t, "at-2", "rt-2")

	// Saves of at-2 run meanwhile, from the lease kept for it: let one
	// that read the clock before it moved end first, so that the next
	// request does not get its at-2.
	fx.clock.Advance(2 * time.Hour)
	waitNoFlight(t, a, "k")
	fx.ok(t, a) // rt-2 → at-3, not saved: the store is down
	if got := fx.lastAuth(t); got != "Bearer at-3" {
		t.Fatalf("the API got %q, want at-3", got)
	}

	down.Store(false)
	fx.clock.Advance(2 * time.Minute) // past every save backoff step
	fx.ok(t, a)                       // starts a save, if the held lease has not yet
	if got := recv(t, committed); got != (commitArgs{"at-2", "at-3"}) {
		t.Errorf("committed %s over %s, want at-3 over at-2", got.tok, got.prev)
	}
	waitNoFlight(t, a, "k")
	fx.store.wantHeld(t, "at-3", "rt-3")

	fx.clock.Advance(2 * time.Hour)
	fx.ok(t, a)
	if got := rec.presented(); !cmp.Equal(got, []string{"rt-1", "rt-2", "rt-3"}) {
		t.Errorf("refresh tokens presented %q, want rt-1, rt-2, rt-3", got)
	}
	wantOnce(t, rec.presented())
}

// The lease is renewed right before the refresh token is presented. A
// renewal refused with ErrLeaseLost proves a later holder: nothing is
// presented under that lease, and the flight takes the lease again and
// reads the store, where the later holder may have saved a new token.
//
// Guards protocol.go, fence: `case errors.Is(err, ErrLeaseLost)` returning
// not held, obtain's loop over leases (at most maxFences), and fence's
// last return, which fails the flight when the lease cannot be confirmed.
func TestFleetFenceBeforeRefresh(t *testing.T) {
	oauthrt.FenceEveryLease(t) // the lease is lost as soon as it is taken
	lost := fmt.Errorf("fleet store: renewing: %w", oauthrt.ErrLeaseLost)

	t.Run("another process refreshed meanwhile", func(t *testing.T) {
		fx := newFleetFixture(t)
		fx.store.onRenew = func(lease, n int32) error {
			if lease == 1 && n == 1 {
				fx.store.save(t, "k", fx.token(7, time.Hour)) // the later holder's token
				return lost
			}
			return nil
		}
		iss := fx.newIssuer()
		a := fx.transport(t, iss)
		evs := refreshEvents(a)
		fx.ok(t, a)
		if got := fx.lastAuth(t); got != "Bearer at-7" {
			t.Errorf("the API got %q, want the later holder's at-7", got)
		}
		if n := iss.calls.Load(); n != 0 {
			t.Errorf("%d refreshes, want 0", n)
		}
		if n := fx.store.leases.Load(); n != 2 {
			t.Errorf("%d leases taken, want 2", n)
		}
		if ev := recv(t, evs); ev.Outcome != oauthrt.OutcomeLoaded {
			t.Errorf("event %+v, want outcome %s", ev, oauthrt.OutcomeLoaded)
		}
		fx.store.wantHeld(t, "at-7", "rt-7")
	})

	t.Run("nobody refreshed meanwhile", func(t *testing.T) {
		fx := newFleetFixture(t)
		fx.store.onRenew = func(lease, n int32) error {
			if lease == 1 {
				return lost
			}
			return nil
		}
		iss := fx.newIssuer()
		var under atomic.Int32
		iss.before = func(context.Context, *oauth2.Token) error {
			under.Store(fx.store.leases.Load())
			return nil
		}
		a := fx.transport(t, iss)
		fx.ok(t, a)
		if n := iss.calls.Load(); n != 1 {
			t.Errorf("%d refreshes, want 1", n)
		}
		if n := under.Load(); n != 2 {
			t.Errorf("refreshed while lease %d was the latest, want under lease 2", n)
		}
		fx.store.wantHeld(t, "at-2", "rt-2")
	})

	t.Run("always lost", func(t *testing.T) {
		fx := newFleetFixture(t)
		fx.store.onRenew = func(int32, int32) error { return lost }
		iss := fx.newIssuer()
		a := fx.transport(t, iss)
		err := fx.fails(t, a)
		if !errors.Is(err, oauthrt.ErrLeaseLost) {
			t.Errorf("err = %v, want ErrLeaseLost inside", err)
		}
		if n := fx.store.leases.Load(); n < 1 || n > 3 {
			t.Errorf("%d leases taken, want at most 3", n)
		}
		if n := iss.calls.Load(); n != 0 {
			t.Errorf("%d refreshes, want 0", n)
		}
		fx.store.wantHeld(t, "at-1", "rt-1")
	})

	t.Run("store unreachable", func(t *testing.T) {
		fx := newFleetFixture(t)
		fx.store.onRenew = func(int32, int32) error { return fmt.Errorf("fleet store: renewing: %w", errBoom) }
		iss := fx.newIssuer()
		a := fx.transport(t, iss)
		err := fx.fails(t, a)
		if !errors.Is(err, errBoom) || errors.Is(err, oauthrt.ErrLeaseLost) || !strings.Contains(err.Error(), "confirming the refresh lease") {
			t.Errorf("err = %v, want the store's error, saying the lease could not be confirmed", err)
		}
		if n := iss.calls.Load(); n != 0 {
			t.Errorf("%d refreshes, want 0", n)
		}
		// A renewal that could not be answered may only have timed out
		// while this process was paused: the lease is taken again, up to
		// three times, before the flight gives up.
		if n := fx.store.leases.Load(); n != 3 {
			t.Errorf("%d leases taken, want 3", n)
		}
		fx.store.wantHeld(t, "at-1", "rt-1")
	})
}

// A refresh refused for good is a dead grant only if the store still
// holds the token it presented: when another process stored a newer one
// meanwhile, it won the refresh (the provider refused the refresh token
// as already used), and its token is used.
//
// Guards protocol.go, failed: the sibling check (`stored.RefreshToken !=
// base.RefreshToken && !s.ours[...]`, `rep.loaded = true`), and the
// GrantState recorded for a dead grant (`st = GrantState{DeadToken: ...}`,
// then SaveGrantState).
func TestFleetDeadGrantOrSiblingWon(t *testing.T) {
	t.Run("sibling won", func(t *testing.T) {
		fx := newFleetFixture(t)
		iss := fx.newIssuer()
		iss.before = func(context.Context, *oauth2.Token) error {
			fx.store.save(t, "k", fx.token(7, time.Hour)) // the sibling's
			return invalidGrant()
		}
		a := fx.transport(t, iss)
		evs := refreshEvents(a)
		fx.ok(t, a)
		if got := fx.lastAuth(t); got != "Bearer at-7" {
			t.Errorf("the API got %q, want the sibling's at-7", got)
		}
		if ev := recv(t, evs); ev.Outcome != oauthrt.OutcomeLoaded || ev.Err != nil {
			t.Errorf("event %+v, want outcome %s", ev, oauthrt.OutcomeLoaded)
		}
		if st := fx.store.grantState(t, "k"); !st.IsZero() {
			t.Errorf("grant state %+v recorded, want none", st)
		}
		fx.ok(t, a)
		if n := iss.calls.Load(); n != 1 {
			t.Errorf("%d refreshes, want 1", n)
		}
		fx.store.wantHeld(t, "at-7", "rt-7")
	})

	t.Run("dead", func(t *testing.T) {
		fx := newFleetFixture(t)
		iss := fx.newIssuer()
		iss.before = func(context.Context, *oauth2.Token) error { return invalidGrant() }
		a := fx.transport(t, iss)
		stored := fx.store.mustLoad(t, "k")
		err := fx.fails(t, a)
		if !errors.Is(err, oauthrt.ErrReauthRequired) {
			t.Fatalf("err = %v, want ErrReauthRequired", err)
		}
		want := oauthrt.GrantState{DeadToken: oauthrt.Fingerprint(stored), DeadCode: "invalid_grant", DeadAt: fx.clock.Now()}
		if diff := cmp.Diff(want, fx.store.grantState(t, "k")); diff != "" {
			t.Errorf("grant state (-want +got):\n%s", diff)
		}
		if n := fx.api.calls.Load(); n != 0 {
			t.Errorf("API called %d times, want 0", n)
		}
	})
}

// A grant one process found dead is dead for the fleet: another process
// (a Transport with a memory of its own) fails at once and never presents
// the refresh token, until the application saves a new authorization.
//
// Guards protocol.go, admit: `if st.DeadToken != "" && st.DeadToken ==
// Fingerprint(base) ...`, and failed's SaveGrantState of the dead grant.
func TestFleetDeadGrantPresentedOncePerFleet(t *testing.T) {
	fx := newFleetFixture(t)
	issA := fx.newIssuer()
	issA.before = func(context.Context, *oauth2.Token) error { return invalidGrant() }
	a := fx.transport(t, issA)
	issB := fx.newIssuer()
	recB := &recorder{Refresher: issB}
	b := fx.transport(t, recB)

	if err := fx.fails(t, a); !errors.Is(err, oauthrt.ErrReauthRequired) {
		t.Fatalf("A: err = %v, want ErrReauthRequired", err)
	}
	for range 3 {
		err := fx.fails(t, b)
		if !errors.Is(err, oauthrt.ErrReauthRequired) || !strings.Contains(err.Error(), "invalid_grant") {
			t.Errorf("B: err = %v, want ErrReauthRequired naming the code", err)
		}
	}
	if n := issB.calls.Load(); n != 0 {
		t.Errorf("B presented the dead refresh token %d times, want 0", n)
	}
	if n := issA.calls.Load(); n != 1 {
		t.Errorf("A presented it %d times, want 1", n)
	}

	// The user authorizes again: Save clears the grant state, and B
	// refreshes the new grant.
	fx.store.save(t, "k", fx.token(5, 0))
	if st := fx.store.grantState(t, "k"); !st.IsZero() {
		t.Errorf("grant state %+v after a Save, want none", st)
	}
	fx.ok(t, b)
	if got := recB.presented(); !cmp.Equal(got, []string{"rt-5"}) {
		t.Errorf("B presented %q, want rt-5", got)
	}
	fx.store.wantHeld(t, "at-2", "rt-2")
}

// A transient failure backs the key off for the whole fleet: no process
// calls the token endpoint before NextAttempt, the requests that need a
// refresh fail at once, and those whose token is still good go on. Once
// the backoff is over, one refresh serves the fleet.
//
// Guards protocol.go, failed: `st = GrantState{NextAttempt: ...,
// Failures: ...}` and its SaveGrantState; admit: `if
// now.Before(st.NextAttempt)` and `s.backoff.failures = st.Failures`.
func TestFleetBackoff(t *testing.T) {
	t.Run("Retry-After, then one refresh for the fleet", func(t *testing.T) {
		fx := newFleetFixture(t)
		fx.store.save(t, "k", fx.token(1, 2*time.Second))
		fx.store.save(t, "k2", fx.token(8, time.Hour))
		iss := fx.newIssuer()
		iss.before = func(context.Context, *oauth2.Token) error {
			if iss.calls.Load() == 1 {
				return &oauthrt.TransientError{Err: errBoom, RetryAfter: 5 * time.Second}
			}
			return nil
		}
		a := fx.transport(t, iss)
		a.Leeway = time.Minute // at-1 has expired for A, not for B
		b := fx.transport(t, iss)
		b.Leeway, b.RefreshAhead = -1, -1

		err := fx.fails(t, a)
		next := fx.clock.Now().Add(5 * time.Second)
		var be *oauthrt.BackoffError
		if !errors.As(err, &be) || !be.Next.Equal(next) || !errors.Is(be.Err, errBoom) {
			t.Fatalf("A: err = %v, want a *BackoffError until %v wrapping the failure", err, next)
		}
		if diff := cmp.Diff(oauthrt.GrantState{NextAttempt: next, Failures: 1, FailingSince: fx.clock.Now()}, fx.store.grantState(t, "k")); diff != "" {
			t.Errorf("grant state (-want +got):\n%s", diff)
		}

		fx.ok(t, b) // at-1 is good for B
		if err := fx.call(t, b, "k2"); err != nil {
			t.Errorf("B, another key: %v", err)
		}
		fx.clock.Advance(3 * time.Second) // at-1 has expired for B too
		for range 3 {
			err := fx.fails(t, b)
			if !errors.As(err, &be) || be.Key != "k" || !be.Next.Equal(next) || be.Err != nil {
				t.Errorf("B: err = %v, want a *BackoffError until %v learned from the store (nil Err)", err, next)
			}
		}
		if err := fx.call(t, b, "k2"); err != nil {
			t.Errorf("B, another key: %v", err)
		}
		if n := iss.calls.Load(); n != 1 {
			t.Fatalf("%d refreshes during the backoff, want only A's 1", n)
		}

		fx.clock.Advance(2 * time.Second) // at NextAttempt
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			tr := a
			if i%2 == 1 {
				tr = b
			}
			wg.Go(func() { errs <- fx.call(t, tr, "k") })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("after the backoff: %v", err)
			}
		}
		if n := iss.calls.Load(); n != 2 {
			t.Errorf("%d refreshes, want 2: one for the whole storm after the backoff", n)
		}
		fx.store.wantHeld(t, "at-2", "rt-2")
		if st := fx.store.grantState(t, "k"); !st.IsZero() {
			t.Errorf("grant state %+v after the refresh, want none", st)
		}
	})

	t.Run("steps grow across processes", func(t *testing.T) {
		fx := newFleetFixture(t)
		iss := fx.newIssuer()
		iss.before = func(context.Context, *oauth2.Token) error {
			return &oauthrt.TransientError{Err: errBoom}
		}
		// Each process learns the count of failures from the store alone,
		// once NextAttempt has passed: it was not refused meanwhile.
		trs := []*oauthrt.Transport{fx.transport(t, iss), fx.transport(t, iss)}
		since := fx.clock.Now() // the first failure's time, kept by every process
		for i, step := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
			tr := trs[i%2] // A, B, A, B
			err := fx.fails(t, tr)
			next := fx.clock.Now().Add(step)
			var be *oauthrt.BackoffError
			if !errors.As(err, &be) || !be.Next.Equal(next) {
				t.Errorf("failure %d: err = %v, want a *BackoffError until %v", i+1, err, next)
			}
			if diff := cmp.Diff(oauthrt.GrantState{NextAttempt: next, Failures: i + 1, FailingSince: since}, fx.store.grantState(t, "k")); diff != "" {
				t.Errorf("failure %d: grant state (-want +got):\n%s", i+1, diff)
			}
			if n := iss.calls.Load(); n != int32(i+1) {
				t.Fatalf("%d refreshes, want %d", n, i+1)
			}
			fx.clock.Advance(step)
		}
	})
}

// graceless is a Refresher whose provider keeps no rotation grace window.
type graceless struct{ oauthrt.Refresher }

func (graceless) RotationGrace() time.Duration { return 0 }

// An answer lost on the way (the provider may have rotated the refresh
// token) is asked for again at once with the same refresh token, while
// the provider's rotation grace window is open; without a window, the
// request fails and the key backs off.
//
// Guards protocol.go, call: the loop over attempts while `te.AnswerLost`
// and the window is open, and its fence before each attempt.
func TestFleetLostAnswer(t *testing.T) {
	lostAnswers := func(iss *issuer, n int32) {
		iss.before = func(context.Context, *oauth2.Token) error {
			if iss.calls.Load() <= n {
				return &oauthrt.TransientError{Err: errBoom, AnswerLost: true}
			}
			return nil
		}
	}

	t.Run("within the grace window", func(t *testing.T) {
		fx := newFleetFixture(t)
		iss := fx.newIssuer()
		lostAnswers(iss, 2)
		var renewals atomic.Int32
		fx.store.onRenew = func(int32, int32) error { renewals.Add(1); return nil }
		rec := &recorder{Refresher: iss}
		a := fx.transport(t, rec)
		fx.ok(t, a)
		if got := rec.presented(); !cmp.Equal(got, []string{"rt-1", "rt-1", "rt-1"}) {
			t.Errorf("refresh tokens presented %q, want rt-1 three times", got)
		}
		if n := renewals.Load(); n != 2 {
			t.Errorf("%d renewals of the lease, want 2: a fence before each attempt after the first, which runs under the lease just taken", n)
		}
		if got := fx.lastAuth(t); got != "Bearer at-2" {
			t.Errorf("the API got %q, want at-2", got)
		}
		if st := fx.store.grantState(t, "k"); !st.IsZero() {
			t.Errorf("grant state %+v, want none: no backoff", st)
		}
		fx.store.wantHeld(t, "at-2", "rt-2")
	})

	t.Run("no grace window", func(t *testing.T) {
		fx := newFleetFixture(t)
		iss := fx.newIssuer()
		lostAnswers(iss, 2)
		a := fx.transport(t, graceless{iss})
		err := fx.fails(t, a)
		var be *oauthrt.BackoffError
		var te *oauthrt.TransientError
		if !errors.As(err, &be) || !be.Next.Equal(fx.clock.Now().Add(time.Second)) || !errors.As(err, &te) || !te.AnswerLost {
			t.Errorf("err = %v, want a *BackoffError for a second wrapping the lost answer", err)
		}
		if n := iss.calls.Load(); n != 1 {
			t.Errorf("%d refreshes, want 1", n)
		}
		fx.store.wantHeld(t, "at-1", "rt-1")
	})

	// The provider rotates and then resets the connection: it read the
	// whole request, and its answer never left.
	for _, tt := range []struct {
		name  string
		grace time.Duration // generic.Refresher.RotationGraceWindow
	}{
		{"token endpoint: default grace window", 0},
		{"token endpoint: no grace window", -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			fx := newFleetFixture(t)
			var n atomic.Int32
			e := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					conn, _, err := http.NewResponseController(w).Hijack()
					if err != nil {
						t.Errorf("hijack: %v", err)
						return
					}
					conn.(*net.TCPConn).SetLinger(0)
					conn.Close()
					return
				}
				writeJSON(w, 200, tokenJSON)
			})
			a := fx.transport(t, &generic.Refresher{
				TokenURL:            e.URL,
				ClientID:            "app",
				ClientSecret:        "client-secret-value",
				AuthStyle:           oauth2.AuthStyleInHeader,
				HTTPClient:          fastClient(),
				RotationGraceWindow: tt.grace,
			})
			if tt.grace == 0 {
				fx.ok(t, a)
				if n := e.calls.Load(); n != 2 {
					t.Errorf("token endpoint called %d times, want 2", n)
				}
				fx.store.wantHeld(t, "at-2", "rt-2")
			} else {
				err := fx.fails(t, a)
				var te *oauthrt.TransientError
				if !errors.As(err, new(*oauthrt.BackoffError)) || !errors.As(err, &te) || !te.AnswerLost {
					t.Errorf("err = %v, want a *BackoffError wrapping a lost answer", err)
				}
				if n := e.calls.Load(); n != 1 {
					t.Errorf("token endpoint called %d times, want 1", n)
				}
				fx.store.wantHeld(t, "at-1", "rt-1")
			}
			for i, rt := range postedRefreshTokens(e) {
				if rt != "rt-1" {
					t.Errorf("call %d posted %q, want rt-1", i+1, rt)
				}
			}
		})
	}
}

// A Retry-After of an hour is not waited out: the request fails at once
// with the backoff, recorded for the fleet, and the next request does not
// call the endpoint.
//
// Guards protocol.go, failed: `wait = min(te.RetryAfter, maxRetryAfter)`,
// and admit: `if now.Before(s.backoff.next)`.
func TestFleetRetryAfterNotWaited(t *testing.T) {
	noLeaks(t)
	fx := newFleetFixture(t)
	e := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		writeJSON(w, 503, `{"error":"temporarily_unavailable"}`)
	})
	a := fx.transport(t, &generic.Refresher{
		TokenURL: e.URL, ClientID: "app", ClientSecret: "client-secret-value",
		AuthStyle: oauth2.AuthStyleInHeader, HTTPClient: fastClient(),
	})
	next := fx.clock.Now().Add(time.Hour)
	for range 2 {
		err := fx.fails(t, a)
		var be *oauthrt.BackoffError
		if !errors.As(err, &be) || !be.Next.Equal(next) || !errors.As(err, new(*oauth2.RetrieveError)) {
			t.Errorf("err = %v, want a *BackoffError until %v wrapping the 503", err, next)
		}
	}
	if n := e.calls.Load(); n != 1 {
		t.Errorf("token endpoint called %d times, want 1", n)
	}
	if st := fx.store.grantState(t, "k"); !st.NextAttempt.Equal(next) {
		t.Errorf("grant state %+v, want NextAttempt %v", st, next)
	}
}

// A request refused by the backoff tried no refresh, and reports no
// RefreshEvent: metrics count refreshes, not the requests a backoff
// turned away.
func TestFleetRefusalIsNoRefreshEvent(t *testing.T) {
	fx := newFleetFixture(t)
	r := &failingIssuer{err: &oauthrt.TransientError{Err: errors.New("503"), RetryAfter: time.Minute}}
	a := fx.transport(t, r)
	events := refreshEvents(a)
	fx.fails(t, a) // the refresh, which fails
	if ev := recv(t, events); ev.Outcome != oauthrt.OutcomeFailed {
		t.Fatalf("event %+v, want the failed refresh", ev)
	}
	for range 3 {
		fx.fails(t, a) // refused in this Transport's memory
	}
	b := fx.transport(t, r)
	bEvents := refreshEvents(b)
	fx.fails(t, b) // refused by the store's grant state
	if n := r.calls.Load(); n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
	// Close waits for every flight, and so for the events they report.
	a.Close()
	b.Close()
	select {
	case ev := <-events:
		t.Errorf("a refused request reported %+v", ev)
	case ev := <-bEvents:
		t.Errorf("a request refused by the fleet's backoff reported %+v", ev)
	default:
	}
}

// failingIssuer is an Issuer whose every Issue (and Refresh) fails with
// err, counted.
type failingIssuer struct {
	calls atomic.Int32
	err   error
}

func (i *failingIssuer) Refresh(ctx context.Context, _ *oauth2.Token) (*oauth2.Token, error) {
	return i.Issue(ctx)
}

func (i *failingIssuer) Issue(context.Context) (*oauth2.Token, error) {
	i.calls.Add(1)
	return nil, i.err
}

// The backoff is the fleet's also for a key the store holds no token
// for, whose first token an Issuer gets: the failed Issue records it, and
// another process must not call the endpoint before NextAttempt.
//
// Guards protocol.go, admit: the store's GrantState must be read when
// base is nil too (`if !ok || base == nil { return nil }` skips it).
func TestFleetBackoffBeforeFirstToken(t *testing.T) {
	fx := newFleetFixture(t)
	iss := &failingIssuer{err: &oauthrt.TransientError{Err: errBoom, RetryAfter: 5 * time.Second}}
	a, b := fx.transport(t, iss), fx.transport(t, iss)
	next := fx.clock.Now().Add(5 * time.Second)

	err := fx.call(t, a, "cc")
	var be *oauthrt.BackoffError
	if !errors.As(err, &be) || !be.Next.Equal(next) {
		t.Fatalf("A: err = %v, want a *BackoffError until %v", err, next)
	}
	if st := fx.store.grantState(t, "cc"); !st.NextAttempt.Equal(next) {
		t.Errorf("grant state %+v, want NextAttempt %v", st, next)
	}
	err = fx.call(t, b, "cc")
	if !errors.As(err, &be) || !be.Next.Equal(next) || be.Err != nil {
		t.Errorf("B: err = %v, want a *BackoffError until %v learned from the store", err, next)
	}
	if n := iss.calls.Load(); n != 1 {
		t.Errorf("the Issuer was called %d times during the fleet's backoff, want 1 (A's)", n)
	}
}
