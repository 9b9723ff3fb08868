package oauthrt_test

import (
	"context"
	"errors"
	"fmt"
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

// presented records the refresh tokens the fixture's issuer is given.
func presented(f *fixture) func() []string {
	var mu sync.Mutex
	var seen []string
	f.issuer.before = func(_ context.Context, tok *oauth2.Token) error {
		mu.Lock()
		seen = append(seen, tok.RefreshToken)
		mu.Unlock()
		return nil
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// panicSaveStore is a countingStore whose Save panics while panics is
// above zero, after the provider has already rotated the refresh token.
type panicSaveStore struct {
	*countingStore
	panics atomic.Int32
}

func (s *panicSaveStore) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	if s.panics.Add(-1) >= 0 {
		panic("the driver fell over holding " + tok.RefreshToken)
	}
	return s.countingStore.Save(ctx, key, tok)
}

// A Save that panics after the provider rotated the refresh token is a
// failed save: the rotated token is used, kept, saved later, and the old
// refresh token is never presented again. The panic's value, which here
// holds a token, appears nowhere.
func TestPanickingSaveKeepsTheRotatedToken(t *testing.T) {
	oauthrt.ShortSaveRetries(t)
	f := newFixture(t)
	seen := presented(f)
	s := &panicSaveStore{countingStore: f.store}
	s.panics.Store(1)
	f.tr.Store = s
	reports := make(chan error, 10)
	f.tr.OnError = func(_ string, err error) { reports <- err }
	saved := make(chan string, 10)
	f.store.onSave = func(tok *oauth2.Token) { saved <- tok.AccessToken }

	f.clock.Advance(time.Hour)
	if code, _ := f.get(t); code != 200 {
		t.Fatalf("status %d: the rotated token must be used though Save panicked", code)
	}
	err := recv(t, reports)
	var se *oauthrt.SaveError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("OnError got %v, want a *SaveError saying Save panicked", err)
	}
	if strings.Contains(err.Error(), "rt-2") {
		t.Errorf("the error %q holds the panic's token", err)
	}
	rotatedTokenKept(t, f, saved, seen)
}

// rotatedTokenKept checks that the store later took the rotated at-2,
// and that the next refresh presented its rt-2, never the rt-1 the
// store held before.
func rotatedTokenKept(t *testing.T, f *fixture, saved <-chan string, seen func() []string) {
	t.Helper()
	if got := recv(t, saved); got != "at-2" {
		t.Fatalf("saved %s later, want the rotated at-2", got)
	}
	waitNoFlight(t, f.tr, "k")
	f.clock.Advance(2 * time.Hour)
	if code, _ := f.get(t); code != 200 {
		t.Fatal(code)
	}
	if diff := cmp.Diff([]string{"rt-1", "rt-2"}, seen()); diff != "" {
		t.Errorf("refresh tokens presented (-want +got):\n%s", diff)
	}
}

// panicky is a store and Refresher whose methods panic where told to.
type panicky struct {
	*countingStore
	where string
}

func (p *panicky) at(where string) {
	if p.where == where {
		panic("boom at " + where)
	}
}

func (p *panicky) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	p.at("Load")
	return p.countingStore.Load(ctx, key)
}

func (p *panicky) TakeLease(ctx context.Context, key string) (oauthrt.Lease, error) {
	p.at("TakeLease")
	return panickyLease{p}, nil
}

func (p *panicky) Lock(ctx context.Context, key string) (func(), error) {
	p.at("TakeLease")
	return func() {}, nil
}

type panickyLease struct{ p *panicky }

func (l panickyLease) TTL() time.Duration {
	l.p.at("TTL")
	return time.Minute
}
func (l panickyLease) Renew(context.Context) error { l.p.at("Renew"); return nil }
func (l panickyLease) Release()                    { l.p.at("Release") }

type panickyRefresher struct {
	*issuer
	p *panicky
}

func (r panickyRefresher) Refresh(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
	r.p.at("Refresh")
	return r.issuer.Refresh(ctx, tok)
}

func (r panickyRefresher) PrepareRequest(*http.Request) { r.p.at("PrepareRequest") }

func (r panickyRefresher) TokenRejected(*http.Response) bool {
	r.p.at("TokenRejected")
	return false
}

// A panic in any method of the Store, its lease or the Refresher is an
// error naming what panicked: the request fails, or (for what fails no
// request) OnError hears of it; the process goes on.
func TestPanicsBecomeErrors(t *testing.T) {
	for _, tt := range []struct {
		where     string
		failsCall bool // the request fails; otherwise OnError hears of it
		plain     bool // the store is a plain Locker, not a LeaseLocker
	}{
		{"Load", true, false},
		{"TakeLease", true, false},
		{"TTL", true, false},
		{"Refresh", true, false},
		{"PrepareRequest", true, false},
		{"Release", false, false},
		{"TokenRejected", false, false},
		{"Lock", true, true},
		{"unlock", false, true},
	} {
		t.Run(tt.where, func(t *testing.T) {
			f := newFixture(t)
			p := &panicky{countingStore: f.store, where: tt.where}
			f.tr.Store = p
			if tt.plain {
				f.tr.Store = panickyLocker{f.store, p}
			}
			f.tr.Refresher = panickyRefresher{f.issuer, p}
			reports := make(chan error, 10)
			f.tr.OnError = func(_ string, err error) { reports <- err }
			f.clock.Advance(time.Hour)
			if tt.where == "TokenRejected" {
				// A 403 goes to TokenRejected.
				f.tr.Base = roundTripperFunc(func(r *http.Request) (*http.Response, error) {
					return &http.Response{StatusCode: http.StatusForbidden, Body: http.NoBody, Request: r}, nil
				})
			}
			resp, err := f.client.Get(f.api.URL)
			if resp != nil {
				resp.Body.Close()
			}
			if !tt.failsCall {
				if err != nil {
					t.Fatalf("request: %v, want it to go through", err)
				}
				err = recv(t, reports)
			}
			if err == nil || !strings.Contains(err.Error(), "panicked") || !strings.Contains(err.Error(), tt.where) {
				t.Fatalf("err = %v, want one saying %s panicked", err, tt.where)
			}
			if strings.Contains(err.Error(), "boom at") {
				t.Errorf("the error %q holds the panic's value", err)
			}
		})
	}
}

// gatedLoads is a MemoryStore (so a LeaseLocker) shared by several
// Transports, counting its loads.
type gatedLoads struct {
	*oauthrt.MemoryStore
	mu    sync.Mutex
	loads int
	cond  *sync.Cond
}

func (g *gatedLoads) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	g.counted()
	return g.MemoryStore.Load(ctx, key)
}

// LoadSnapshot, which a Transport reads the store with before a refresh
// (MemoryStore is a SnapshotLoader), counts as a load.
func (g *gatedLoads) LoadSnapshot(ctx context.Context, key string) (oauthrt.Snapshot, error) {
	g.counted()
	return g.MemoryStore.LoadSnapshot(ctx, key)
}

// OneTripStore: the one-trip methods act on the MemoryStore gatedLoads
// wraps, and it counts the one that reads.
func (g *gatedLoads) OneTripStore() oauthrt.TokenStore { return g }

func (g *gatedLoads) counted() {
	g.mu.Lock()
	g.loads++
	g.cond.Broadcast()
	g.mu.Unlock()
}

// waitLoads waits until the store was read n times.
func (g *gatedLoads) waitLoads(n int) {
	g.mu.Lock()
	for g.loads < n {
		g.cond.Wait()
	}
	g.mu.Unlock()
}

// Several Transports of one process sharing a MemoryStore refresh a key
// once between them. The refresh is held up until every Transport has
// read the expired token, so that without the MemoryStore's lease each
// would refresh with the same refresh token, and the provider, which
// rotates them, would revoke the grant.
func TestTransportsSharingAMemoryStoreRefreshOnce(t *testing.T) {
	const transports, goroutines = 3, 20
	clk := newClock()
	mem := oauthrt.NewMemoryStore()
	mem.Save(context.Background(), "k", &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-1", Expiry: clk.Now()})
	store := &gatedLoads{MemoryStore: mem}
	store.cond = sync.NewCond(&store.mu)
	api := newAPI(t, "at-2")

	var mu sync.Mutex
	current, revoked, refreshes := "rt-1", false, 0
	refresher := oauthrt.RefresherFunc(func(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
		store.waitLoads(transports)
		mu.Lock()
		defer mu.Unlock()
		refreshes++
		if revoked || tok.RefreshToken != current {
			revoked = true
			return nil, oauthrt.ErrReauthRequired
		}
		current = "rt-2"
		return &oauth2.Token{AccessToken: "at-2", RefreshToken: "rt-2", Expiry: clk.Now().Add(time.Hour)}, nil
	})

	var wg sync.WaitGroup
	var failed atomic.Int32
	for range transports {
		tr := &oauthrt.Transport{Base: api.Client().Transport, Store: store, Key: "k", Refresher: refresher, Now: clk.Now}
		t.Cleanup(func() { tr.Close() })
		client := &http.Client{Transport: tr}
		for range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := client.Get(api.URL)
				if err != nil {
					failed.Add(1)
					return
				}
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
				resp.Body.Close()
			}()
		}
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if refreshes != 1 || revoked || failed.Load() != 0 {
		t.Errorf("%d refreshes, revoked %t, %d of %d requests failed; want 1 refresh, no revocation, none failed",
			refreshes, revoked, failed.Load(), transports*goroutines)
	}
}

// slowLease is a LeaseLocker whose lease takes a while to get, and lasts
// ttl.
type slowLease struct {
	*countingStore
	ttl      time.Duration
	taken    time.Time // when TakeLease returned
	released atomic.Int32
}

func (s *slowLease) TakeLease(ctx context.Context, key string) (oauthrt.Lease, error) {
	time.Sleep(20 * time.Millisecond) // another process's refresh, ending
	s.taken = time.Now()
	return s, nil
}

func (s *slowLease) TTL() time.Duration          { return s.ttl }
func (s *slowLease) Renew(context.Context) error { return nil }
func (s *slowLease) Release()                    { s.released.Add(1) }

// RefreshTimeout bounds the refresh from when the lease is held: the wait
// for the lease does not use it up.
func TestRefreshTimeoutStartsOnceTheLeaseIsHeld(t *testing.T) {
	f := newFixture(t)
	s := &slowLease{countingStore: f.store, ttl: time.Minute}
	f.tr.Store = s
	var deadline time.Time
	f.issuer.before = func(ctx context.Context, _ *oauth2.Token) error {
		deadline, _ = ctx.Deadline()
		return nil
	}
	f.clock.Advance(time.Hour)
	if code, _ := f.get(t); code != 200 {
		t.Fatal(code)
	}
	if left := deadline.Sub(s.taken); left < oauthrt.RefreshTimeout {
		t.Errorf("the refresh had %v from when the lease was held, want RefreshTimeout (%v)", left, oauthrt.RefreshTimeout)
	}
}

// A lease shorter than MinLeaseTTL could lapse between two renewals: the
// Transport refuses it, releases it, and does not refresh under it.
func TestTransportRefusesALeaseShorterThanMinLeaseTTL(t *testing.T) {
	f := newFixture(t)
	s := &slowLease{countingStore: f.store, ttl: oauthrt.MinLeaseTTL / 2}
	f.tr.Store = s
	f.clock.Advance(time.Hour)
	err := f.getErr(t)
	if !strings.Contains(err.Error(), "MinLeaseTTL") {
		t.Errorf("err = %v, want one naming MinLeaseTTL", err)
	}
	if n := f.issuer.calls.Load(); n != 0 {
		t.Errorf("refreshed %d times under a lease too short", n)
	}
	if n := s.released.Load(); n != 1 {
		t.Errorf("the refused lease was released %d times, want 1", n)
	}
}

// blockingSource is a TokenSource that ignores every context: Token
// blocks until release is closed.
type blockingSource struct {
	entered chan struct{}
	release chan struct{}
}

func (b blockingSource) Token() (*oauth2.Token, error) {
	b.entered <- struct{}{}
	<-b.release
	return &oauth2.Token{AccessToken: "at-2"}, nil
}

// Close returns within its bound even when a Refresher or TokenSource
// ignores its context, and says which refresh it left running.
func TestCloseIsBoundedWhenARefreshIgnoresItsContext(t *testing.T) {
	for _, name := range []string{"Refresher", "TokenSourceRefresher"} {
		t.Run(name, func(t *testing.T) {
			oauthrt.ShortCloseWait(t, 50*time.Millisecond)
			f := newFixture(t)
			b := blockingSource{entered: make(chan struct{}, 1), release: make(chan struct{})}
			if name == "Refresher" {
				f.tr.Refresher = oauthrt.RefresherFunc(func(context.Context, *oauth2.Token) (*oauth2.Token, error) { return b.Token() })
			} else {
				f.tr.Refresher = oauthrt.TokenSourceRefresher{Source: b}
			}
			defer waitNoFlight(t, f.tr, "k")
			defer close(b.release) // then the refresh ends, before the test does

			f.clock.Advance(time.Hour)
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "GET", f.api.URL, nil)
			gaveUp := make(chan error, 1)
			go func() {
				_, err := f.client.Do(req)
				gaveUp <- err
			}()
			recv(t, b.entered)
			cancel()
			recv(t, gaveUp)

			closed := make(chan error, 1)
			go func() { closed <- f.tr.Close() }()
			err := recv(t, closed)
			if err == nil || !strings.Contains(err.Error(), `"k"`) || !strings.Contains(err.Error(), "still running") {
				t.Errorf("Close: %v, want an error naming key k's refresh still running", err)
			}
		})
	}
}

// panickyLocker is a store that is a plain Locker (no LeaseLocker),
// whose Lock or unlock panics where told to.
type panickyLocker struct {
	oauthrt.TokenStore
	p *panicky
}

func (l panickyLocker) Lock(context.Context, string) (func(), error) {
	l.p.at("Lock")
	return func() { l.p.at("unlock") }, nil
}

// renewingStore is a LeaseLocker whose leases last MinLeaseTTL and
// report each renewal.
type renewingStore struct {
	*countingStore
	renewals chan struct{}
	renewErr error // what Renew returns after a lease's first renewal (the fence); set before use
	released chan struct{}
	closing  atomic.Bool // renewals from now on are also counted in closeRenewals
	closeRen chan struct{}
}

func newRenewingStore(f *fixture) *renewingStore {
	s := &renewingStore{countingStore: f.store, renewals: make(chan struct{}, 100), released: make(chan struct{}), closeRen: make(chan struct{}, 100)}
	f.tr.Store = s
	return s
}

func (s *renewingStore) TakeLease(context.Context, string) (oauthrt.Lease, error) {
	return &renewingLease{s: s}, nil
}

type renewingLease struct {
	s    *renewingStore
	once sync.Once
	n    atomic.Int32 // renewals
}

func (l *renewingLease) TTL() time.Duration { return oauthrt.MinLeaseTTL }

func (l *renewingLease) Renew(context.Context) error {
	l.s.renewals <- struct{}{}
	if l.s.closing.Load() {
		l.s.closeRen <- struct{}{}
	}
	if l.n.Add(1) == 1 {
		return nil // the fence right before the refresh
	}
	return l.s.renewErr
}

func (l *renewingLease) Release() { l.once.Do(func() { close(l.s.released) }) }

// The Transport renews a LeaseLocker's lease while it holds it: here the
// refresh lasts two renewals, longer than a third of the lease's TTL.
func TestLeaseRenewedWhileTheRefreshRuns(t *testing.T) {
	f := newFixture(t)
	s := newRenewingStore(f)
	f.issuer.before = func(context.Context, *oauth2.Token) error {
		for range 2 {
			select {
			case <-s.renewals:
			case <-time.After(30 * time.Second):
				return errors.New("the lease was not renewed")
			}
		}
		return nil
	}
	f.clock.Advance(time.Hour)
	if code, _ := f.get(t); code != 200 {
		t.Fatal(code)
	}
	recv(t, s.released)
}

// While the store does not take a refreshed token, its lease stays held
// and renewed; once the store takes it, the lease is released.
func TestLeaseKeptAndRenewedUntilTheTokenIsSaved(t *testing.T) {
	oauthrt.ShortSaveRetries(t)
	f := newFixture(t)
	s := newRenewingStore(f)
	f.store.failSaves(errBoom)
	f.clock.Advance(time.Hour)
	if code, _ := f.get(t); code != 200 {
		t.Fatal(code)
	}
	recv(t, s.renewals)
	recv(t, s.renewals) // two thirds of the TTL after the refresh
	select {
	case <-s.released:
		t.Fatal("the lease was released while the store had not taken the token")
	default:
	}
	f.store.saveErr.Store(nil)
	recv(t, s.released)
	waitNoFlight(t, f.tr, "k")
	if got := f.store.mustLoad(t, "k").AccessToken; got != "at-2" {
		t.Errorf("store holds %s, want at-2", got)
	}
}

// A renewal that finds the lease lost is reported, and the lease is no
// longer counted on.
func TestLostLeaseIsReported(t *testing.T) {
	f := newFixture(t)
	s := newRenewingStore(f)
	s.renewErr = fmt.Errorf("%w: taken by another", oauthrt.ErrLeaseLost)
	reports := make(chan error, 100)
	f.tr.OnError = func(_ string, err error) { reports <- err }
	f.store.failSaves(errBoom)
	f.clock.Advance(time.Hour)
	if code, _ := f.get(t); code != 200 {
		t.Fatal(code)
	}
	for {
		err := recv(t, reports)
		if errors.Is(err, oauthrt.ErrLeaseLost) {
			if !strings.Contains(err.Error(), `"k"`) {
				t.Errorf("report %q does not name the key", err)
			}
			break
		}
	}
}

// Close waits for a refresh under way, and keeps renewing its lease
// meanwhile: a lease let lapse there would let another process refresh
// with the refresh token this one is exchanging.
func TestCloseKeepsRenewingTheLeaseOfARefreshItWaitsFor(t *testing.T) {
	f := newFixture(t)
	s := newRenewingStore(f)
	entered := make(chan struct{})
	renewedDuringClose := make(chan bool, 1)
	f.issuer.before = func(context.Context, *oauth2.Token) error {
		close(entered)
		for range 2 {
			select {
			case <-s.closeRen:
			case <-time.After(30 * time.Second):
				renewedDuringClose <- false
				return nil
			}
		}
		renewedDuringClose <- true
		return nil
	}
	f.clock.Advance(time.Hour)
	got := make(chan int, 1)
	go func() {
		code, _ := f.get(t)
		got <- code
	}()
	<-entered
	s.closing.Store(true)
	if err := f.tr.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !<-renewedDuringClose {
		t.Error("the lease was not renewed while Close waited for the refresh")
	}
	if code := <-got; code != 200 {
		t.Errorf("status %d", code)
	}
	recv(t, s.released)
}

// A panicking OnError, reporting a failed save, does not undo what the
// Transport set down about the rotated token: it is still the one kept
// and presented next, never the one the store still holds.
func TestPanickingOnErrorKeepsTheRotatedToken(t *testing.T) {
	oauthrt.ShortSaveRetries(t)
	f := newFixture(t)
	seen := presented(f)
	var panics atomic.Int32
	panics.Store(1)
	f.tr.OnError = func(string, error) {
		if panics.Add(-1) >= 0 {
			panic("OnError fell over")
		}
	}
	saved := make(chan string, 10)
	f.store.onSave = func(tok *oauth2.Token) { saved <- tok.AccessToken }
	f.store.failSaves(errBoom)
	f.clock.Advance(time.Hour)
	if code, _ := f.get(t); code != 200 {
		t.Fatalf("status %d", code)
	}
	f.store.saveErr.Store(nil)
	rotatedTokenKept(t, f, saved, seen)
}

// With the store down altogether (saves and renewals fail), the lease
// lapses; the Transport then keeps saving at a brisk pace, so that the
// store takes the rotated token as soon as it is back, before other
// processes read the old one.
func TestSavesGoOnBrisklyOnceTheLeaseIsLost(t *testing.T) {
	oauthrt.ShortSaveRetries(t)
	f := newFixture(t)
	s := newRenewingStore(f)
	s.renewErr = errBoom
	reports := make(chan error, 1000)
	f.tr.OnError = func(_ string, err error) { reports <- err }
	saved := make(chan string, 10)
	f.store.onSave = func(tok *oauth2.Token) { saved <- tok.AccessToken }
	f.store.failSaves(errBoom)
	f.clock.Advance(time.Hour)
	if code, _ := f.get(t); code != 200 {
		t.Fatal(code)
	}
	for {
		if err := recv(t, reports); errors.Is(err, oauthrt.ErrLeaseLost) {
			break
		}
	}
	f.store.saveErr.Store(nil) // the store is back; no request comes
	if got := recv(t, saved); got != "at-2" {
		t.Fatalf("saved %s, want at-2", got)
	}
}
