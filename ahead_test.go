package oauthrt_test

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// gatedIssuer makes f's issuer block in Refresh until the test opens the
// gate it returns; entered receives once per call.
func gatedIssuer(f *fixture) (entered chan struct{}, gate func() chan struct{}) {
	entered = make(chan struct{}, 100)
	var current chan struct{}
	gate = func() chan struct{} { current = make(chan struct{}); return current }
	gate()
	f.issuer.before = func(ctx context.Context, _ *oauth2.Token) error {
		g := current
		entered <- struct{}{}
		<-g
		return nil
	}
	return entered, gate
}

// getWithin sends a GET that must complete without waiting for anything
// the test holds back: it fails the test rather than hang.
func (f *fixture) getWithin(t *testing.T) (int, string) {
	t.Helper()
	type result struct {
		code int
		auth string
	}
	done := make(chan result, 1)
	go func() {
		resp, err := f.client.Get(f.api.URL)
		if err != nil {
			t.Error(err)
			done <- result{}
			return
		}
		resp.Body.Close()
		auths, _ := f.api.seen()
		done <- result{resp.StatusCode, auths[len(auths)-1]}
	}()
	select {
	case r := <-done:
		return r.code, r.auth
	case <-time.After(30 * time.Second):
		t.Fatal("the request waited on the token endpoint")
		return 0, ""
	}
}

func TestRefreshAheadKeepsRequestsOffTheEndpoint(t *testing.T) {
	f := newFixture(t)
	f.tr.RefreshAhead = 10 * time.Minute
	entered, gate := gatedIssuer(f)
	const expiries = 20
	for i := 10; i <= expiries+1; i++ {
		f.api.accept("at-" + strconv.Itoa(i))
	}
	for i := 1; i <= expiries; i++ {
		old := "Bearer at-" + strconv.Itoa(i)
		if code, auth := f.getWithin(t); code != 200 || auth != old {
			t.Fatalf("round %d: %d %q before the window, want 200 %q", i, code, auth, old)
		}
		f.clock.Advance(55 * time.Minute) // into the window, before expiry
		open := gate()
		// Requests in the window use the old token at once, while one
		// refresh waits on the (held back) token endpoint.
		for range 3 {
			if code, auth := f.getWithin(t); code != 200 || auth != old {
				t.Fatalf("round %d: %d %q in the window, want 200 %q", i, code, auth, old)
			}
		}
		recv(t, entered)
		if code, auth := f.getWithin(t); code != 200 || auth != old {
			t.Fatalf("round %d: %d %q during the refresh, want 200 %q", i, code, auth, old)
		}
		close(open)
		waitNoFlight(t, f.tr, "k")
	}
	if n := f.issuer.calls.Load(); n != expiries {
		t.Errorf("%d refreshes over %d expiries, want one each", n, expiries)
	}
	if got := f.store.mustLoad(t, "k").AccessToken; got != "at-"+strconv.Itoa(expiries+1) {
		t.Errorf("store holds %s, want the latest token", got)
	}
}

func TestRefreshAheadFailureFailsNothingAndBacksOff(t *testing.T) {
	f := newFixture(t)
	reports := make(chan error, 10)
	f.tr.OnError = func(key string, err error) { reports <- err }
	fail := true
	f.issuer.before = func(context.Context, *oauth2.Token) error {
		if fail {
			return errBoom
		}
		return nil
	}
	f.getWithin(t)
	f.clock.Advance(59 * time.Minute) // in the default 1-minute window
	if code, auth := f.getWithin(t); code != 200 || auth != "Bearer at-1" {
		t.Fatalf("%d %q, want 200 with the still-valid at-1", code, auth)
	}
	err := recv(t, reports)
	if !errors.Is(err, errBoom) || !strings.Contains(err.Error(), `oauthrt: refreshing the token of key "k"`) {
		t.Errorf("reported %v", err)
	}
	waitNoFlight(t, f.tr, "k")

	// Within the backoff step nothing is tried; after it, one more try.
	for range 5 {
		f.getWithin(t)
	}
	if n := f.issuer.calls.Load(); n != 1 {
		t.Fatalf("%d refreshes within the first backoff step, want 1", n)
	}
	f.clock.Advance(time.Second)
	f.getWithin(t)
	recv(t, reports)
	waitNoFlight(t, f.tr, "k")
	f.clock.Advance(time.Second) // the step is now 2s
	f.getWithin(t)
	waitNoFlight(t, f.tr, "k")
	if n := f.issuer.calls.Load(); n != 2 {
		t.Fatalf("%d refreshes, want 2: the second step is 2 seconds", n)
	}

	// The endpoint recovers: the next try succeeds and the new token is
	// used from then on.
	fail = false
	f.clock.Advance(time.Second)
	f.getWithin(t)
	waitNoFlight(t, f.tr, "k")
	if code, auth := f.getWithin(t); code != 200 || auth != "Bearer at-2" {
		t.Errorf("%d %q after the endpoint recovered, want at-2", code, auth)
	}
	select {
	case err := <-reports:
		t.Errorf("unexpected report: %v", err)
	default:
	}
}

func TestRefreshAheadDisabled(t *testing.T) {
	f := newFixture(t)
	f.tr.RefreshAhead = -1
	f.clock.Advance(59*time.Minute + 49*time.Second) // 1s before Expiry-Leeway
	f.getWithin(t)
	waitNoFlight(t, f.tr, "k")
	if n := f.issuer.calls.Load(); n != 0 {
		t.Errorf("%d refreshes of a token not yet expired, with RefreshAhead off", n)
	}
}

func TestRefreshAheadWindowIsAtMostHalfTheLife(t *testing.T) {
	f := newFixture(t)
	// A token with 2 minutes left: Expiry-Leeway is 110s away, so the
	// default 1-minute window shrinks to 55s and opens 55s from now.
	f.store.put(t, "k", &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-1", Expiry: f.clock.Now().Add(2 * time.Minute)})
	f.getWithin(t)
	f.clock.Advance(54 * time.Second)
	f.getWithin(t)
	waitNoFlight(t, f.tr, "k")
	if n := f.issuer.calls.Load(); n != 0 {
		t.Fatalf("refreshed %ds into a 110s life", 54)
	}
	f.clock.Advance(2 * time.Second)
	f.getWithin(t)
	waitNoFlight(t, f.tr, "k")
	if n := f.issuer.calls.Load(); n != 1 {
		t.Fatalf("%d refreshes after half the life, want 1", n)
	}
}

func TestRefreshAheadTakesTheLease(t *testing.T) {
	f := newFixture(t)
	s := newLeasingStore(f)
	f.getWithin(t)
	f.clock.Advance(59 * time.Minute)
	f.getWithin(t)
	waitNoFlight(t, f.tr, "k")
	wantEvents(t, s, "load", "load", "lock", "load", "refresh", "save at-2", "unlock")
}

func TestRefreshAheadAdoptsAnotherProcesssToken(t *testing.T) {
	f := newFixture(t)
	s := newLeasingStore(f)
	f.getWithin(t)
	f.clock.Advance(59 * time.Minute)
	// Another process already refreshed ahead, and saved.
	f.store.put(t, "k", &oauth2.Token{AccessToken: "at-5", RefreshToken: "rt-5", Expiry: f.clock.Now().Add(time.Hour)})
	f.getWithin(t)
	waitNoFlight(t, f.tr, "k")
	wantEvents(t, s, "load", "load")
	if code, auth := f.getWithin(t); code != 200 || auth != "Bearer at-5" {
		t.Errorf("%d %q, want the other process's at-5", code, auth)
	}
}

// ourGoroutines returns the stacks of goroutines running this module's
// code, but for the caller's.
// ourGoroutines lists the goroutines of this package still running. A
// goroutine that has just told Close it is done still has its deferred
// bookkeeping to return from, so the list is taken again, for up to a
// second, until it is empty; as goleak does, it is the steady state that
// counts, not one instant.
func ourGoroutines() []string {
	deadline := time.Now().Add(time.Second)
	for {
		ours := ourGoroutinesNow()
		if len(ours) == 0 || time.Now().After(deadline) {
			return ours
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

func ourGoroutinesNow() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var ours []string
	for _, g := range strings.Split(string(buf), "\n\n")[1:] {
		if strings.Contains(g, "github.com/oauthrt/oauthrt.") {
			ours = append(ours, g)
		}
	}
	return ours
}

func TestCloseWaitsForARefreshUnderWayAndLeavesNoGoroutine(t *testing.T) {
	f := newFixture(t)
	entered, gate := gatedIssuer(f)
	open := gate()
	f.getWithin(t)
	f.clock.Advance(59 * time.Minute)
	f.getWithin(t)
	recv(t, entered) // a background refresh is talking to the endpoint
	closed := make(chan error, 1)
	go func() { closed <- f.tr.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while a refresh was under way")
	case <-time.After(50 * time.Millisecond): // only gives Close time to be wrong
	}
	close(open)
	if err := recv(t, closed); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if g := ourGoroutines(); len(g) != 0 {
		t.Errorf("goroutines outlived Close:\n%s", strings.Join(g, "\n\n"))
	}
	if got := f.store.mustLoad(t, "k").AccessToken; got != "at-2" {
		t.Errorf("store holds %s: the refresh under way was not saved", got)
	}
}

func TestCloseEndsLeaseWaits(t *testing.T) {
	f := newFixture(t)
	s := newLeasingStore(f)
	s.sem <- struct{}{} // another process holds the lease, and never lets go
	waiting := make(chan struct{})
	s.onLock = func() { close(waiting) }
	f.clock.Advance(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", f.api.URL, nil)
	gaveUp := make(chan error, 1)
	go func() {
		resp, err := f.client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		gaveUp <- err
	}()
	<-waiting
	cancel() // the request gives up; its refresh goes on waiting
	if err := recv(t, gaveUp); !errors.Is(err, context.Canceled) {
		t.Fatalf("request: %v, want context.Canceled", err)
	}
	closed := make(chan error, 1)
	go func() { closed <- f.tr.Close() }()
	if err := recv(t, closed); err != nil { // fails if Close waits out RefreshTimeout
		t.Fatalf("Close: %v", err)
	}
	if g := ourGoroutines(); len(g) != 0 {
		t.Errorf("goroutines outlived Close:\n%s", strings.Join(g, "\n\n"))
	}
	if n := f.issuer.calls.Load(); n != 0 {
		t.Errorf("refreshed %d times without the lease", n)
	}
}

// A refresh ahead of expiry that Close ends, here while it waits for a
// lease another process holds, did not fail: OnError hears nothing of it.
func TestCloseEndingARefreshAheadReportsNothing(t *testing.T) {
	f := newFixture(t)
	s := newLeasingStore(f)
	s.sem <- struct{}{} // another process holds the lease, and never lets go
	waiting := make(chan struct{})
	s.onLock = func() { close(waiting) }
	reports := make(chan error, 10)
	f.tr.OnError = func(_ string, err error) { reports <- err }
	f.getWithin(t)
	f.clock.Advance(59 * time.Minute) // in the default 1-minute window
	if code, auth := f.getWithin(t); code != 200 || auth != "Bearer at-1" {
		t.Fatalf("%d %q, want 200 with the still-valid at-1", code, auth)
	}
	recv(t, waiting) // the refresh ahead waits for the lease
	if err := f.tr.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Close waited for the flight, which reports before it ends.
	select {
	case err := <-reports:
		t.Errorf("OnError got %v from the refresh Close ended", err)
	default:
	}
	if n := f.issuer.calls.Load(); n != 0 {
		t.Errorf("refreshed %d times without the lease", n)
	}
}

func TestAfterClose(t *testing.T) {
	f := newFixture(t)
	f.getWithin(t)
	if err := f.tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.tr.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if code, _ := f.getWithin(t); code != 200 {
		t.Errorf("a fresh token after Close: status %d, want 200", code)
	}
	f.clock.Advance(time.Hour)
	if err := f.getErr(t); !errors.Is(err, oauthrt.ErrClosed) {
		t.Errorf("an expired token after Close: err = %v, want ErrClosed", err)
	}
	if n := f.issuer.calls.Load(); n != 0 {
		t.Errorf("refreshed %d times after Close", n)
	}
}

func TestCloseSavesWhatTheStoreDidNotTake(t *testing.T) {
	for _, recovers := range []bool{true, false} {
		f := newFixture(t)
		f.store.failSaves(errBoom)
		f.clock.Advance(time.Hour)
		f.getWithin(t)
		if recovers {
			f.store.saveErr.Store(nil)
		}
		err := f.tr.Close()
		var se *oauthrt.SaveError
		switch {
		case recovers && err != nil:
			t.Errorf("Close: %v, want nil once the store works", err)
		case recovers && f.store.mustLoad(t, "k").AccessToken != "at-2":
			t.Errorf("Close did not save the unsaved at-2")
		case !recovers && (!errors.As(err, &se) || se.Key != "k"):
			t.Errorf("Close with a broken store: err = %v, want a *SaveError for key k", err)
		}
		if !recovers && strings.Contains(err.Error(), "at-2") {
			t.Errorf("Close's error %q holds the token", err)
		}
	}
}
