package oauthrt_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// leasingStore is a countingStore with an in-process oauthrt.Locker that
// records the order of store calls, lease calls and refreshes.
type leasingStore struct {
	*countingStore
	sem       chan struct{} // holds one value while the lease is taken
	lockErr   error
	onLock    func() // runs in Lock before the lease is granted
	onUnlock  func() // runs when the lease is released
	saveFails atomic.Int32

	mu     sync.Mutex
	events []string
}

func newLeasingStore(f *fixture) *leasingStore {
	s := &leasingStore{countingStore: f.store, sem: make(chan struct{}, 1)}
	f.tr.Store = s
	f.issuer.before = func(context.Context, *oauth2.Token) error { s.log("refresh"); return nil }
	return s
}

func (s *leasingStore) log(e string) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
}

func (s *leasingStore) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.events...)
}

func (s *leasingStore) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	s.log("load")
	return s.countingStore.Load(ctx, key)
}

func (s *leasingStore) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	if s.saveFails.Add(-1) >= 0 {
		s.log("save failed")
		return errBoom
	}
	s.log("save " + tok.AccessToken)
	return s.countingStore.Save(ctx, key, tok)
}

func (s *leasingStore) Lock(ctx context.Context, key string) (func(), error) {
	s.log("lock")
	if s.lockErr != nil {
		return nil, s.lockErr
	}
	if s.onLock != nil {
		s.onLock()
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			s.log("unlock")
			<-s.sem
			if s.onUnlock != nil {
				s.onUnlock()
			}
		})
	}, nil
}

func wantEvents(t *testing.T, s *leasingStore, want ...string) {
	t.Helper()
	if diff := cmp.Diff(want, s.seen()); diff != "" {
		t.Errorf("store and refresh calls (-want +got):\n%s", diff)
	}
}

func TestLockerRefreshesUnderTheLease(t *testing.T) {
	f := newFixture(t)
	s := newLeasingStore(f)
	f.clock.Advance(time.Hour)
	if code, _ := f.get(t); code != 200 {
		t.Fatalf("status %d", code)
	}
	// Read, take the lease, read again, refresh, save, and only then let
	// the other processes in.
	wantEvents(t, s, "load", "lock", "load", "refresh", "save at-2", "unlock")
}

func TestLockerAdoptsTokenAnotherProcessSaved(t *testing.T) {
	f := newFixture(t)
	s := newLeasingStore(f)
	f.clock.Advance(time.Hour)
	// While this process waits for the lease, another one refreshes.
	s.onLock = func() {
		f.store.put(t, "k", &oauth2.Token{AccessToken: "at-5", RefreshToken: "rt-5", Expiry: f.clock.Now().Add(time.Hour)})
	}
	if code, _ := f.get(t); code != 200 {
		t.Fatalf("status %d", code)
	}
	if n := f.issuer.calls.Load(); n != 0 {
		t.Errorf("refreshed %d times, want 0: the other process's token was fresh", n)
	}
	wantEvents(t, s, "load", "lock", "load", "unlock")
	if auths, _ := f.api.seen(); len(auths) != 1 || auths[0] != "Bearer at-5" {
		t.Errorf("API saw %q, want the other process's at-5", auths)
	}
}

func TestLockerSkippedWhileTokenFresh(t *testing.T) {
	f := newFixture(t)
	s := newLeasingStore(f)
	for range 3 {
		if code, _ := f.get(t); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	wantEvents(t, s, "load") // one read, no lease: nothing to refresh
}

func TestLockerAdoptsOnRejectionWhenAnotherProcessRefreshed(t *testing.T) {
	f := newFixture(t)
	s := newLeasingStore(f)
	if code, _ := f.get(t); code != 200 {
		t.Fatal(code)
	}
	// The API now rejects at-1: another process refreshed, and the
	// provider revoked at-1 when it rotated.
	f.api.reject("at-1")
	s.onLock = func() {
		f.store.put(t, "k", &oauth2.Token{AccessToken: "at-5", RefreshToken: "rt-5", Expiry: f.clock.Now().Add(time.Hour)})
	}
	if code, _ := f.get(t); code != 200 {
		t.Fatalf("status %d", code)
	}
	if n := f.issuer.calls.Load(); n != 0 {
		t.Errorf("refreshed %d times, want 0", n)
	}
	wantEvents(t, s, "load", "load", "lock", "load", "unlock")
}

func TestLockerFailureFailsRequestWithoutRefresh(t *testing.T) {
	f := newFixture(t)
	s := newLeasingStore(f)
	s.lockErr = errBoom
	f.clock.Advance(time.Hour)
	err := f.getErr(t)
	if !errors.Is(err, errBoom) || !strings.HasPrefix(err.Error(), "Get") || !strings.Contains(err.Error(), "oauthrt: key \"k\": taking the store's refresh lease") {
		t.Errorf("err = %v, want the lease error wrapped", err)
	}
	if n := f.issuer.calls.Load(); n != 0 {
		t.Errorf("refreshed %d times without the lease", n)
	}
	if n := f.api.calls.Load(); n != 0 {
		t.Errorf("the API got %d requests with an expired token", n)
	}
}

func TestLockerWaitEndsWithRequestContext(t *testing.T) {
	f := newFixture(t)
	s := newLeasingStore(f)
	s.sem <- struct{}{} // another process holds the lease
	waiting := make(chan struct{})
	s.onLock = func() { close(waiting) }
	f.clock.Advance(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", f.api.URL, nil)
	done := make(chan error, 1)
	go func() {
		resp, err := f.client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-waiting // the refresh waits for the lease
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	<-s.sem // the other process releases; the waiting refresh goes on
	if code, _ := f.get(t); code != 200 {
		t.Fatalf("status %d", code)
	}
	if n := f.issuer.calls.Load(); n != 1 {
		t.Errorf("refreshed %d times, want 1", n)
	}
}

// A refreshed token the store does not take keeps the lease held, so
// that no other process reads the rotated refresh token still stored and
// presents it: the save is tried again under the lease until the store
// takes it, and only then is the lease released. Each failed save is
// reported, also the ones a later try made good.
func TestLockerLeaseHeldUntilSaved(t *testing.T) {
	oauthrt.ShortSaveRetries(t)
	f := newFixture(t)
	s := newLeasingStore(f)
	reports := make(chan error, 10)
	f.tr.OnError = func(key string, err error) { reports <- err }
	unlocked := make(chan struct{})
	s.onUnlock = func() { close(unlocked) }
	s.saveFails.Store(2)
	f.clock.Advance(time.Hour)
	if code, _ := f.get(t); code != 200 {
		t.Fatalf("status %d", code)
	}
	recv(t, unlocked)
	waitNoFlight(t, f.tr, "k")
	wantEvents(t, s, "load", "lock", "load", "refresh", "save failed", "load", "save failed", "load", "save at-2", "unlock")
	for attempt := 1; attempt <= 2; attempt++ {
		var se *oauthrt.SaveError
		if err := recv(t, reports); !errors.As(err, &se) || se.Attempt != attempt || !errors.Is(err, errBoom) {
			t.Errorf("report %d = %v, want a *SaveError of attempt %d wrapping boom", attempt, err, attempt)
		}
	}
	if got := f.store.mustLoad(t, "k").AccessToken; got != "at-2" {
		t.Errorf("store holds %s, want at-2", got)
	}
}

func TestSaveErrorReportedAndRetriedOnLaterRequests(t *testing.T) {
	f := newFixture(t)
	type report struct {
		key string
		err *oauthrt.SaveError
	}
	reports := make(chan report, 10)
	f.tr.OnError = func(key string, err error) {
		var se *oauthrt.SaveError
		if !errors.As(err, &se) {
			t.Errorf("OnError got %v, want a *SaveError", err)
		}
		reports <- report{key, se}
	}
	saved := make(chan string, 10)
	f.store.onSave = func(tok *oauth2.Token) { saved <- tok.AccessToken }

	f.clock.Advance(time.Hour)
	f.store.failSaves(errBoom)
	if code, _ := f.get(t); code != 200 {
		t.Fatalf("status %d: the refreshed token must be used though Save failed", code)
	}
	r := recv(t, reports)
	if r.key != "k" || r.err.Key != "k" || r.err.Attempt != 1 || !errors.Is(r.err, errBoom) ||
		!r.err.Retry.Equal(f.clock.Now().Add(time.Second)) {
		t.Fatalf("report = %q %+v, want key k, attempt 1, retry in 1s, wrapping boom", r.key, r.err)
	}
	saves := f.store.saves.Load()

	// Within the backoff, requests do not touch the store.
	if code, _ := f.get(t); code != 200 {
		t.Fatal(code)
	}
	if n := f.store.saves.Load(); n != saves {
		t.Errorf("%d saves within the backoff, want none", n-saves)
	}

	// After it, a request starts one save in the background, and goes on.
	f.clock.Advance(time.Second)
	if code, _ := f.get(t); code != 200 {
		t.Fatal(code)
	}
	r = recv(t, reports)
	waitNoFlight(t, f.tr, "k")
	if r.err.Attempt != 2 || !r.err.Retry.Equal(f.clock.Now().Add(2*time.Second)) {
		t.Errorf("second report %+v, want attempt 2 and a backoff of 2s", r.err)
	}

	// The store recovers: the next request after the backoff saves at-2.
	f.store.saveErr.Store(nil)
	f.clock.Advance(2 * time.Second)
	if code, _ := f.get(t); code != 200 {
		t.Fatal(code)
	}
	if got := recv(t, saved); got != "at-2" {
		t.Fatalf("saved %q, want the unsaved at-2", got)
	}
	waitNoFlight(t, f.tr, "k")
	if got := f.store.mustLoad(t, "k").AccessToken; got != "at-2" {
		t.Errorf("store holds %q, want at-2", got)
	}
	saves = f.store.saves.Load()
	f.clock.Advance(time.Minute)
	for range 3 {
		f.get(t)
	}
	if n := f.store.saves.Load(); n != saves {
		t.Errorf("%d more saves once the token was saved, want none", n-saves)
	}
	if n := f.issuer.calls.Load(); n != 1 {
		t.Errorf("refreshed %d times, want 1: retrying the save must not refresh", n)
	}
	select {
	case r := <-reports:
		t.Errorf("unexpected report %+v", r.err)
	default:
	}
}

// waitNoFlight waits until the refresh under way for key, if any, ends.
func waitNoFlight(t *testing.T, tr *oauthrt.Transport, key string) {
	t.Helper()
	<-oauthrt.FlightDone(tr, key)
}

// recv receives from ch, failing the test if nothing comes for a long
// time (a broken feature, not a slow machine).
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatal("nothing received in 30s")
		panic("unreachable")
	}
}

func TestLockerUnsavedTokenIsTheOnePresented(t *testing.T) {
	oauthrt.ShortSaveRetries(t)
	f := newFixture(t)
	s := newLeasingStore(f)
	var presented []string
	f.issuer.before = func(_ context.Context, tok *oauth2.Token) error {
		presented = append(presented, tok.RefreshToken)
		return nil
	}
	s.saveFails.Store(1 << 20) // the store takes nothing
	f.clock.Advance(time.Hour)
	if code, _ := f.get(t); code != 200 {
		t.Fatal(code)
	}
	// The store still holds rt-1, already rotated; at the next expiry the
	// refresh under the lease must present rt-2, held in memory.
	f.clock.Advance(2 * time.Hour)
	if code, _ := f.get(t); code != 200 {
		t.Fatal(code)
	}
	if diff := cmp.Diff([]string{"rt-1", "rt-2"}, presented); diff != "" {
		t.Errorf("refresh tokens presented (-want +got):\n%s", diff)
	}
	if got := f.store.mustLoad(t, "k").RefreshToken; got != "rt-1" {
		t.Fatalf("store holds %q; the test needs the save to have failed", got)
	}
}

// saveFaultStore is a countingStore whose Save can fail outright, or
// store the token and then report a failure (a commit whose answer was
// lost).
type saveFaultStore struct {
	*countingStore
	mode atomic.Int32 // 0: works, 1: stores and fails, 2: fails
}

func (s *saveFaultStore) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	switch s.mode.Load() {
	case 1:
		s.countingStore.MemoryStore.Save(ctx, key, tok)
		return errBoom
	case 2:
		return errBoom
	}
	return s.countingStore.Save(ctx, key, tok)
}

// A token the application saved while the store was failing here (the
// user authorized again) is newer than the refreshed token kept in
// memory: it is used, and never written over.
func TestUnsavedTokenYieldsToANewAuthorization(t *testing.T) {
	f := newFixture(t)
	f.store.failSaves(errBoom)
	f.clock.Advance(time.Hour)
	if _, auth := f.getWithin(t); auth != "Bearer at-2" {
		t.Fatalf("API got %q, want the refreshed at-2", auth)
	}
	f.store.saveErr.Store(nil)
	f.store.put(t, "k", &oauth2.Token{AccessToken: "at-7", RefreshToken: "rt-7", Expiry: f.clock.Now().Add(time.Hour)})
	f.clock.Advance(time.Second) // past the save's backoff: a request starts the save
	f.getWithin(t)
	waitNoFlight(t, f.tr, "k")
	if got := f.store.mustLoad(t, "k"); got.AccessToken != "at-7" {
		t.Fatalf("store holds %s, want the new authorization's at-7", got.AccessToken)
	}
	if _, auth := f.getWithin(t); auth != "Bearer at-7" {
		t.Errorf("API got %q, want at-7", auth)
	}
	if err := f.tr.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if got := f.store.mustLoad(t, "k"); got.AccessToken != "at-7" {
		t.Errorf("after Close the store holds %s, want at-7", got.AccessToken)
	}
}

// But a token of the Transport's own chain in the store (a save that
// went through though it reported a failure) is older than the one in
// memory, whose refresh token replaced it: that one is saved over it.
func TestUnsavedTokenWinsOverItsOwnChain(t *testing.T) {
	f := newFixture(t)
	s := &saveFaultStore{countingStore: f.store}
	f.tr.Store = s
	s.mode.Store(1) // at-2 reaches the store, but the Transport hears of a failure
	f.clock.Advance(time.Hour)
	f.getWithin(t)
	s.mode.Store(2) // at-3 does not reach it
	f.clock.Advance(time.Hour)
	f.getWithin(t)
	if got := f.store.mustLoad(t, "k").AccessToken; got != "at-2" {
		t.Fatalf("store holds %s, want at-2 for this test", got)
	}
	s.mode.Store(0)
	f.clock.Advance(time.Minute)
	if _, auth := f.getWithin(t); auth != "Bearer at-3" {
		t.Errorf("API got %q, want at-3: at-2's refresh token was rotated away", auth)
	}
	waitNoFlight(t, f.tr, "k")
	if got := f.store.mustLoad(t, "k"); got.AccessToken != "at-3" || got.RefreshToken != "rt-3" {
		t.Errorf("store holds %s/%s, want at-3/rt-3", got.AccessToken, got.RefreshToken)
	}
}

// TakeLease makes leasingStore's own lease the one the Transport takes,
// rather than the MemoryStore's it embeds.
func (s *leasingStore) TakeLease(ctx context.Context, key string) (oauthrt.Lease, error) {
	unlock, err := s.Lock(ctx, key)
	if err != nil {
		return nil, err
	}
	return releaseLease(unlock), nil
}

// releaseLease is a Lease that lasts a minute, renews without asking
// anyone, and releases through its func.
type releaseLease func()

func (releaseLease) TTL() time.Duration          { return time.Minute }
func (releaseLease) Renew(context.Context) error { return nil }
func (l releaseLease) Release()                  { l() }
