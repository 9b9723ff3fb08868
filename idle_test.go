package oauthrt_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// Keys no request has used for IdleKeyTimeout are dropped from the
// Transport, and their next request reads the store again; a key whose
// state is the only record of something is kept: a refreshed token the
// store refused, a grant known dead, an Invalidate not yet honoured.
func TestIdleKeysAreDropped(t *testing.T) {
	fx := newFleetFixture(t)
	iss := fx.newIssuer()
	var deadKey atomic.Bool
	iss.before = func(_ context.Context, tok *oauth2.Token) error {
		if tok.RefreshToken == "rt-flaky" {
			return &oauthrt.TransientError{Err: errBoom}
		}
		if deadKey.Load() {
			return deadGrant()
		}
		return nil
	}
	tr := fx.transport(t, iss)
	tr.IdleKeyTimeout = time.Minute
	plain := &MemoryStore{} // keeps no grant state: the dead grant is the Transport's to remember
	tr.Store = plain
	ctx := context.Background()
	const n = 50
	for i := range n {
		plain.Save(ctx, fmt.Sprintf("k%d", i), fx.token(1, time.Hour))
	}
	plain.Save(ctx, "dead", fx.token(1, -time.Minute))
	plain.Save(ctx, "invalidated", fx.token(1, time.Hour))
	plain.Save(ctx, "flaky", &oauth2.Token{AccessToken: "at-flaky", RefreshToken: "rt-flaky", Expiry: fx.clock.Now().Add(-time.Minute)})
	for i := range n {
		if err := fx.call(t, tr, fmt.Sprintf("k%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	deadKey.Store(true)
	if err := fx.call(t, tr, "dead"); !errors.Is(err, oauthrt.ErrReauthRequired) {
		t.Fatalf("dead: %v", err)
	}
	deadKey.Store(false)
	fx.call(t, tr, "invalidated")
	tr.Invalidate("invalidated")
	if err := fx.call(t, tr, "flaky"); err == nil {
		t.Fatal("flaky: the refresh succeeded")
	}
	if got := oauthrt.KeyStates(tr); got != n+3 {
		t.Fatalf("%d key states, want %d", got, n+3)
	}

	if got := oauthrt.DropIdle(tr, fx.clock.Now().Add(59*time.Second)); got != 0 {
		t.Errorf("dropped %d keys before the timeout", got)
	}
	fx.clock.Advance(time.Minute)
	if err := fx.call(t, tr, "k0"); err != nil { // used again: kept
		t.Fatal(err)
	}
	if got := oauthrt.DropIdle(tr, fx.clock.Now()); got != n-1 {
		t.Errorf("dropped %d keys, want %d: all idle ones but the dead, degraded and invalidated grants", got, n-1)
	}
	if got := oauthrt.KeyStates(tr); got != 4 {
		t.Errorf("%d key states left, want 4", got)
	}
	if st, err := tr.Status(ctx, "flaky"); err != nil || st.Health != oauthrt.HealthDegraded {
		t.Errorf("flaky after the sweep: %+v, %v; want degraded", st, err)
	}

	calls := iss.calls.Load()
	if err := fx.call(t, tr, "dead"); !errors.Is(err, oauthrt.ErrReauthRequired) {
		t.Errorf("dead after the sweep: %v, want ErrReauthRequired", err)
	}
	if iss.calls.Load() != calls {
		t.Error("the dead refresh token was presented again after the sweep")
	}
	if err := fx.call(t, tr, "invalidated"); err != nil {
		t.Fatal(err)
	}
	if iss.calls.Load() != calls+1 {
		t.Error("the invalidated key was not refreshed after the sweep")
	}
	if err := fx.call(t, tr, "k7"); err != nil { // dropped: read from the store again
		t.Errorf("a dropped key: %v", err)
	}
}

// A refreshed token the store refused is kept however long its key is
// idle: it holds the grant's only live refresh token.
func TestIdleKeyWithAnUnsavedTokenIsKept(t *testing.T) {
	f := newFixture(t)
	f.tr.IdleKeyTimeout = time.Minute
	f.store.failSaves(errBoom)
	f.clock.Advance(time.Hour)
	if code, _ := f.get(t); code != 200 {
		t.Fatal(code)
	}
	waitNoFlight(t, f.tr, "k")
	if got := oauthrt.DropIdle(f.tr, f.clock.Now().Add(time.Hour)); got != 0 {
		t.Errorf("dropped %d keys, want none: k's refreshed token is not saved", got)
	}
}

// After many keys each used once have gone idle, the Transport's heap
// returns to what it was before them.
func TestIdleKeysReleaseTheirMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("uses 20,000 keys")
	}
	const n = 20_000
	keys := tenantKeys(n)
	now := time.Now()
	tr, before, used := manyKeysInUse(t, keys, now)
	if got := oauthrt.DropIdle(tr, now.Add(time.Minute)); got != n {
		t.Fatalf("dropped %d keys, want %d", got, n)
	}
	after := heapInUse()
	perKey := float64(used-before) / n
	left := float64(after-before) / n
	t.Logf("heap: %.0f B per key while in use, %.0f B per key after they went idle", perKey, left)
	if left > 16 {
		t.Errorf("%.0f B per key still held after every key went idle, want under 16", left)
	}
	runtime.KeepAlive(keys) // the strings are the store's too: not the Transport's to count
}

// A Transport dropped without Close is collected, its timer of idle keys
// notwithstanding, as Close's doc promises: the timer holds it weakly.
func TestTransportDroppedWithoutCloseIsCollected(t *testing.T) {
	store := oauthrt.NewMemoryStore()
	store.Save(context.Background(), "k", validToken(1))
	collected := make(chan struct{})
	func() {
		tr := &oauthrt.Transport{Base: newCanned(), Store: store, Key: "k", Refresher: oauthrt.RefresherFunc(nil),
			IdleKeyTimeout: time.Hour}
		req, _ := http.NewRequest(http.MethodGet, "https://api.example/", nil)
		if _, err := tr.RoundTrip(req); err != nil { // a key: the timer is armed
			t.Fatal(err)
		}
		<-oauthrt.FlightDone(tr, "k")
		runtime.AddCleanup(tr, func(ch chan struct{}) { close(ch) }, collected)
	}()
	for range 100 {
		runtime.GC()
		select {
		case <-collected:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Error("a Transport dropped without Close was never collected")
}
