package oauthrt_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// A grant's life outside the requests: its health, a keep-alive refresh,
// Invalidate and Revoke.

// deadGrant is the error of a token endpoint that refused a refresh
// token for good.
func deadGrant() error {
	return fmt.Errorf("refused: %w: %w", oauthrt.ErrReauthRequired, &oauth2.RetrieveError{ErrorCode: "invalid_grant"})
}

// healthEvents makes tr send its HealthEvents to the returned channel.
func healthEvents(tr *oauthrt.Transport) <-chan oauthrt.HealthEvent {
	ch := make(chan oauthrt.HealthEvent, 100)
	tr.OnHealth = func(ev oauthrt.HealthEvent) { ch <- ev }
	return ch
}

// wantHealthEvent receives the next event and checks its change.
func wantHealthEvent(t *testing.T, ch <-chan oauthrt.HealthEvent, from, to oauthrt.Health) oauthrt.HealthEvent {
	t.Helper()
	ev := recv(t, ch)
	if ev.Key != "k" || ev.From != from || ev.To != to || ev.Status.Health != to {
		t.Errorf("event %+v, want k from %s to %s", ev, from, to)
	}
	return ev
}

// noHealthEvent fails t if an event is waiting.
func noHealthEvent(t *testing.T, ch <-chan oauthrt.HealthEvent) {
	t.Helper()
	select {
	case ev := <-ch:
		t.Errorf("unexpected event %+v", ev)
	default:
	}
}

func wantGrantStatus(t *testing.T, tr *oauthrt.Transport, want oauthrt.GrantStatus) {
	t.Helper()
	got, err := tr.Status(context.Background(), "k")
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
}

// A grant goes healthy, degraded, healthy, degraded (however long the
// provider is down, never dead), dead, and healthy again once the user
// authorizes anew: each change is one event, reported by the process that
// saw it, and every process's Status agrees, from the store.
func TestHealthFollowsTheGrant(t *testing.T) {
	fx := newFleetFixture(t)
	iss := fx.newIssuer()
	var fail atomic.Value // func() error
	fail.Store(func() error { return nil })
	iss.before = func(context.Context, *oauth2.Token) error { return fail.Load().(func() error)() }
	a, b := fx.transport(t, iss), fx.transport(t, iss)
	events := healthEvents(a)
	bEvents := healthEvents(b)
	down := func() error { return &oauthrt.TransientError{Err: errBoom} }

	wantGrantStatus(t, b, oauthrt.GrantStatus{Key: "k", Health: oauthrt.HealthHealthy})

	fail.Store(down)
	first := fx.clock.Now()
	fx.fails(t, a)
	ev := wantHealthEvent(t, events, oauthrt.HealthHealthy, oauthrt.HealthDegraded)
	if !errors.Is(ev.Err, errBoom) || !ev.Status.Since.Equal(first) || ev.Status.Attempts != 1 {
		t.Errorf("degraded event %+v, want since %v, attempt 1, the failure as Err", ev, first)
	}
	fx.clock.Advance(time.Second)
	fx.fails(t, a)
	noHealthEvent(t, events) // still degraded: no change
	wantGrantStatus(t, b, oauthrt.GrantStatus{Key: "k", Health: oauthrt.HealthDegraded, Since: first, Attempts: 2, NextAttempt: fx.clock.Now().Add(2 * time.Second)})

	fail.Store(func() error { return nil })
	fx.clock.Advance(2 * time.Second)
	fx.ok(t, b) // another process recovers the grant, and reports it
	wantHealthEvent(t, bEvents, oauthrt.HealthDegraded, oauthrt.HealthHealthy)
	noHealthEvent(t, events)
	wantGrantStatus(t, a, oauthrt.GrantStatus{Key: "k", Health: oauthrt.HealthHealthy})

	// The provider is down for a long time: 30 failures, a backoff step
	// apart, and the grant is degraded, never dead.
	fail.Store(down)
	fx.clock.Advance(2 * time.Hour) // the token refreshed by b has expired
	since := fx.clock.Now()
	for i := range 30 {
		fx.fails(t, a)
		fx.clock.Advance(time.Minute)
		if i == 0 {
			wantHealthEvent(t, events, oauthrt.HealthHealthy, oauthrt.HealthDegraded)
		}
	}
	noHealthEvent(t, events)
	st, err := b.Status(context.Background(), "k")
	if err != nil || st.Health != oauthrt.HealthDegraded || st.Attempts != 30 || !st.Since.Equal(since) {
		t.Errorf("after 30 transient failures: %+v, %v; want degraded since %v, 30 attempts", st, err, since)
	}

	fail.Store(deadGrant)
	fx.fails(t, a)
	ev = wantHealthEvent(t, events, oauthrt.HealthDegraded, oauthrt.HealthDead)
	if !errors.Is(ev.Err, oauthrt.ErrReauthRequired) || ev.Status.Code != "invalid_grant" {
		t.Errorf("dead event %+v, want the reauth error and code invalid_grant", ev)
	}
	wantGrantStatus(t, b, oauthrt.GrantStatus{Key: "k", Health: oauthrt.HealthDead, Since: fx.clock.Now(), Code: "invalid_grant"})

	// The user authorizes again.
	fail.Store(func() error { return nil })
	fx.store.save(t, "k", fx.token(7, time.Hour))
	fx.ok(t, a)
	wantHealthEvent(t, events, oauthrt.HealthDead, oauthrt.HealthHealthy)
	wantGrantStatus(t, b, oauthrt.GrantStatus{Key: "k", Health: oauthrt.HealthHealthy})
	noHealthEvent(t, bEvents)
}

// With a store that keeps no grant state, Status is what the Transport
// itself saw.
func TestStatusWithoutGrantStateStore(t *testing.T) {
	f := newFixture(t)
	f.clock.Advance(time.Hour)
	fail := atomic.Bool{}
	f.issuer.before = func(context.Context, *oauth2.Token) error {
		if fail.Load() {
			return deadGrant()
		}
		return &oauthrt.TransientError{Err: errBoom}
	}
	f.getErr(t)
	got, err := f.tr.Status(context.Background(), "k")
	if err != nil || got.Health != oauthrt.HealthDegraded || got.Attempts != 1 || !got.Since.Equal(f.clock.Now()) {
		t.Errorf("Status = %+v, %v; want degraded since now, 1 attempt", got, err)
	}
	fail.Store(true)
	f.clock.Advance(time.Minute)
	f.getErr(t)
	got, err = f.tr.Status(context.Background(), "k")
	if err != nil || got.Health != oauthrt.HealthDead || got.Code != "invalid_grant" || !got.Since.Equal(f.clock.Now()) {
		t.Errorf("Status = %+v, %v; want dead (invalid_grant) since now", got, err)
	}
	if _, err := f.tr.Status(context.Background(), "nobody"); !errors.Is(err, oauthrt.ErrNoToken) {
		t.Errorf("Status of a key without a token: %v, want ErrNoToken", err)
	}
}

func TestListStatuses(t *testing.T) {
	ctx := context.Background()
	s := oauthrt.NewMemoryStore()
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, k := range []string{"gh:a", "gh:b", "gh:c", "gh:d", "jira:e"} {
		if err := s.Save(ctx, k, &oauth2.Token{AccessToken: "at-" + k, RefreshToken: "rt-" + k}); err != nil {
			t.Fatal(err)
		}
	}
	degraded := oauthrt.GrantState{Failures: 3, FailingSince: at, NextAttempt: at.Add(time.Minute)}
	dead := oauthrt.GrantState{DeadToken: "fp", DeadCode: "invalid_grant", DeadAt: at}
	for k, st := range map[string]oauthrt.GrantState{"gh:b": degraded, "gh:c": dead, "jira:e": dead} {
		if err := s.SaveGrantState(ctx, k, st); err != nil {
			t.Fatal(err)
		}
	}
	all := func(healths ...oauthrt.Health) []oauthrt.GrantStatus {
		var out []oauthrt.GrantStatus
		cursor := ""
		for range 20 {
			page, next, err := oauthrt.ListStatuses(ctx, s, "gh:", cursor, 1, healths...)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, page...)
			if cursor = next; cursor == "" {
				return out
			}
		}
		t.Fatal("the walk did not end")
		return nil
	}
	a := oauthrt.GrantStatus{Key: "gh:a", Health: oauthrt.HealthHealthy}
	b := oauthrt.GrantStatus{Key: "gh:b", Health: oauthrt.HealthDegraded, Since: at, Attempts: 3, NextAttempt: at.Add(time.Minute)}
	c := oauthrt.GrantStatus{Key: "gh:c", Health: oauthrt.HealthDead, Since: at, Code: "invalid_grant"}
	d := oauthrt.GrantStatus{Key: "gh:d", Health: oauthrt.HealthHealthy}
	for _, tt := range []struct {
		healths []oauthrt.Health
		want    []oauthrt.GrantStatus
	}{
		{nil, []oauthrt.GrantStatus{a, b, c, d}},
		{[]oauthrt.Health{oauthrt.HealthHealthy}, []oauthrt.GrantStatus{a, d}},
		{[]oauthrt.Health{oauthrt.HealthDegraded}, []oauthrt.GrantStatus{b}},
		{[]oauthrt.Health{oauthrt.HealthDead, oauthrt.HealthDegraded}, []oauthrt.GrantStatus{b, c}},
	} {
		if diff := cmp.Diff(tt.want, all(tt.healths...)); diff != "" {
			t.Errorf("healths %v (-want +got):\n%s", tt.healths, diff)
		}
	}
	if _, _, err := oauthrt.ListStatuses(ctx, &MemoryStore{}, "", "", 0); err == nil {
		t.Error("a store without grant states listed statuses")
	}
}

// Invalidate makes the next request refresh a token that has not
// expired, once; a refresh under way when it is called does not leave
// its token in use.
func TestInvalidate(t *testing.T) {
	t.Run("fresh token", func(t *testing.T) {
		fx := newFleetFixture(t)
		fx.store.save(t, "k", fx.token(1, time.Hour))
		iss := fx.newIssuer()
		tr := fx.transport(t, iss)
		events := refreshEvents(tr)
		fx.ok(t, tr)
		tr.Invalidate("k")
		fx.ok(t, tr)
		fx.ok(t, tr)
		if n := iss.calls.Load(); n != 1 {
			t.Errorf("%d refreshes, want 1", n)
		}
		if ev := recv(t, events); ev.Reason != oauthrt.ReasonInvalidated || ev.Outcome != oauthrt.OutcomeRefreshed {
			t.Errorf("event %+v, want an invalidated refresh", ev)
		}
		if got := fx.lastAuth(t); got != "Bearer at-2" {
			t.Errorf("API got %q, want the new token", got)
		}
	})
	t.Run("refresh under way", func(t *testing.T) {
		fx := newFleetFixture(t)
		iss := fx.newIssuer()
		entered, release := make(chan struct{}), make(chan struct{})
		iss.before = func(context.Context, *oauth2.Token) error {
			if iss.calls.Load() == 1 {
				close(entered)
				<-release
			}
			return nil
		}
		tr := fx.transport(t, iss)
		done := make(chan error)
		go func() { done <- fx.call(t, tr, "k") }()
		<-entered
		tr.Invalidate("k")
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err) // the request that waited gets the token it waited for
		}
		fx.ok(t, tr)
		if n := iss.calls.Load(); n != 2 {
			t.Errorf("%d refreshes, want 2: the token of the refresh under way was invalidated", n)
		}
		if got := fx.lastAuth(t); got != "Bearer at-3" {
			t.Errorf("API got %q, want at-3", got)
		}
	})
}

// Refresh, a keep-alive sweep's call, refreshes the token it was shown
// once, however many Transports of the fleet are asked at once, and not
// at all once the store holds another.
func TestRefreshForKeepAlive(t *testing.T) {
	fx := newFleetFixture(t)
	fx.store.save(t, "k", fx.token(1, time.Hour)) // idle, not expired
	iss := fx.newIssuer()
	rec := &recorder{Refresher: iss}
	seen := fx.store.mustLoad(t, "k")
	const procs = 6
	outcomes := make(chan oauthrt.RefreshOutcome, procs)
	var wg sync.WaitGroup
	var trs []*oauthrt.Transport
	for range procs {
		tr := fx.transport(t, rec)
		trs = append(trs, tr)
		wg.Go(func() {
			out, err := tr.Refresh(context.Background(), "k", seen)
			if err != nil {
				t.Error(err)
			}
			outcomes <- out
		})
	}
	wg.Wait()
	close(outcomes)
	count := map[oauthrt.RefreshOutcome]int{}
	for o := range outcomes {
		count[o]++
	}
	if diff := cmp.Diff(map[oauthrt.RefreshOutcome]int{oauthrt.OutcomeRefreshed: 1, oauthrt.OutcomeLoaded: procs - 1}, count); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"rt-1"}, rec.presented()); diff != "" {
		t.Errorf("refresh tokens presented (-want +got):\n%s", diff)
	}
	fx.store.wantHeld(t, "at-2", "rt-2")

	events := refreshEvents(trs[0])
	if out, err := trs[0].Refresh(context.Background(), "k", fx.store.mustLoad(t, "k")); err != nil || out != oauthrt.OutcomeRefreshed {
		t.Errorf("Refresh of the stored token: %v, %v", out, err)
	}
	if ev := recv(t, events); ev.Reason != oauthrt.ReasonKeepAlive {
		t.Errorf("event %+v, want reason keepalive", ev)
	}
	if _, err := trs[0].Refresh(context.Background(), "k", nil); err == nil {
		t.Error("Refresh without a token seen succeeded")
	}
}

// revoker is a Refresher that can revoke, and records what it revoked.
type revoker struct {
	*issuer
	mu      sync.Mutex
	revoked []string
	err     error
}

func (r *revoker) Revoke(ctx context.Context, tok *oauth2.Token) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.revoked = append(r.revoked, tok.RefreshToken)
	return nil
}

func TestRevoke(t *testing.T) {
	ctx := context.Background()
	t.Run("revoked and deleted", func(t *testing.T) {
		fx := newFleetFixture(t)
		rv := &revoker{issuer: fx.newIssuer()}
		tr := fx.transport(t, rv)
		events := healthEvents(tr)
		fx.ok(t, tr) // refreshes at-1 to at-2
		if err := tr.Revoke(ctx, "k"); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if diff := cmp.Diff([]string{"rt-2"}, rv.revoked); diff != "" {
			t.Errorf("revoked (-want +got):\n%s", diff)
		}
		if _, err := fx.store.Load(ctx, "k"); !errors.Is(err, oauthrt.ErrNoToken) {
			t.Errorf("store after Revoke: %v, want ErrNoToken", err)
		}
		if err := fx.fails(t, tr); !errors.Is(err, oauthrt.ErrNoToken) {
			t.Errorf("request after Revoke: %v, want ErrNoToken", err)
		}
		wantHealthEvent(t, events, oauthrt.HealthHealthy, oauthrt.HealthRevoked)
	})
	t.Run("the provider refuses", func(t *testing.T) {
		fx := newFleetFixture(t)
		rv := &revoker{issuer: fx.newIssuer(), err: errBoom}
		tr := fx.transport(t, rv)
		if err := tr.Revoke(ctx, "k"); !errors.Is(err, errBoom) {
			t.Errorf("Revoke: %v, want the provider's error", err)
		}
		fx.store.wantHeld(t, "at-1", "rt-1") // kept, to be revoked again
	})
	t.Run("no revocation endpoint", func(t *testing.T) {
		fx := newFleetFixture(t)
		tr := fx.transport(t, fx.newIssuer())
		if err := tr.Revoke(ctx, "k"); !errors.Is(err, oauthrt.ErrRevokeUnsupported) {
			t.Errorf("Revoke: %v, want ErrRevokeUnsupported", err)
		}
		fx.store.wantHeld(t, "at-1", "rt-1")
	})
	t.Run("the store cannot delete", func(t *testing.T) {
		f := newFixture(t)
		rv := &revoker{issuer: f.issuer}
		f.tr.Refresher = rv
		if err := f.tr.Revoke(ctx, "k"); err == nil || len(rv.revoked) != 0 {
			t.Errorf("Revoke: %v, revoked %q; want an error before anything is revoked", err, rv.revoked)
		}
	})
	t.Run("no token", func(t *testing.T) {
		fx := newFleetFixture(t)
		tr := fx.transport(t, &revoker{issuer: fx.newIssuer()})
		if err := tr.Revoke(ctx, "nobody"); !errors.Is(err, oauthrt.ErrNoToken) {
			t.Errorf("Revoke: %v, want ErrNoToken", err)
		}
	})
}

// A token the store did not take holds the grant's live refresh token,
// and the lease, kept for its save: Revoke revokes that token, under that
// lease rather than waiting on itself, and no save brings it back.
func TestRevokeAnUnsavedToken(t *testing.T) {
	fx := newFleetFixture(t)
	var fail atomic.Bool
	fail.Store(true)
	fx.store.onCommit = func(_ int32, _, _ *oauth2.Token, commit func() error) error {
		if fail.Load() {
			return errBoom
		}
		return commit()
	}
	rv := &revoker{issuer: fx.newIssuer()}
	tr := fx.transport(t, rv)
	fx.ok(t, tr) // refreshes at-1 to at-2, which the store refuses
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Revoke(ctx, "k"); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if diff := cmp.Diff([]string{"rt-2"}, rv.revoked); diff != "" {
		t.Errorf("revoked (-want +got):\n%s", diff)
	}
	fail.Store(false)
	if _, err := fx.store.Load(context.Background(), "k"); !errors.Is(err, oauthrt.ErrNoToken) {
		t.Errorf("store after Revoke: %v, want ErrNoToken", err)
	}
	if err := tr.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := fx.store.Load(context.Background(), "k"); !errors.Is(err, oauthrt.ErrNoToken) {
		t.Errorf("store after Close: %v, want ErrNoToken: the revoked token was saved again", err)
	}
}
