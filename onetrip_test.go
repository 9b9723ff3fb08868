package oauthrt_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// tripStore is a MemoryStore that records every call the Transport makes
// into it and into its leases, by name: with MemoryStore's one-trip
// methods, each call stands for one round trip of a store over a network.
type tripStore struct {
	*oauthrt.MemoryStore
	mu    sync.Mutex
	calls []string
}

var _ interface {
	oauthrt.LeaseLoader
	oauthrt.Committer
} = (*tripStore)(nil)

// OneTripStore says the one-trip methods act on the tripStore, which
// forwards each of them.
func (s *tripStore) OneTripStore() oauthrt.TokenStore { return s }

func (s *tripStore) record(call string) {
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
}

// take returns the calls recorded so far, and forgets them.
func (s *tripStore) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	calls := s.calls
	s.calls = nil
	return calls
}

func (s *tripStore) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	s.record("Load")
	return s.MemoryStore.Load(ctx, key)
}

func (s *tripStore) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	s.record("Save")
	return s.MemoryStore.Save(ctx, key, tok)
}

func (s *tripStore) Commit(ctx context.Context, key string, prev, tok *oauth2.Token) error {
	s.record("Commit")
	return s.MemoryStore.Commit(ctx, key, prev, tok)
}

func (s *tripStore) LoadGrantState(ctx context.Context, key string) (oauthrt.GrantState, error) {
	s.record("LoadGrantState")
	return s.MemoryStore.LoadGrantState(ctx, key)
}

func (s *tripStore) SaveGrantState(ctx context.Context, key string, st oauthrt.GrantState) error {
	s.record("SaveGrantState")
	return s.MemoryStore.SaveGrantState(ctx, key, st)
}

func (s *tripStore) LoadSnapshot(ctx context.Context, key string) (oauthrt.Snapshot, error) {
	s.record("LoadSnapshot")
	return s.MemoryStore.LoadSnapshot(ctx, key)
}

func (s *tripStore) Lock(ctx context.Context, key string) (func(), error) {
	s.record("Lock")
	return s.MemoryStore.Lock(ctx, key)
}

func (s *tripStore) TakeLease(ctx context.Context, key string) (oauthrt.Lease, error) {
	s.record("TakeLease")
	l, err := s.MemoryStore.TakeLease(ctx, key)
	if err != nil {
		return nil, err
	}
	return &tripLease{l.(oauthrt.CommitReleaser), s}, nil
}

func (s *tripStore) TakeLeaseIf(ctx context.Context, key string, prev *oauth2.Token) (oauthrt.Lease, oauthrt.Snapshot, error) {
	s.record("TakeLeaseIf")
	l, snap, err := s.MemoryStore.TakeLeaseIf(ctx, key, prev)
	if l == nil || err != nil {
		return nil, snap, err
	}
	return &tripLease{l.(oauthrt.CommitReleaser), s}, snap, nil
}

type tripLease struct {
	oauthrt.CommitReleaser
	s *tripStore
}

func (l *tripLease) Renew(ctx context.Context) error {
	l.s.record("Renew")
	return l.CommitReleaser.Renew(ctx)
}

func (l *tripLease) Release() {
	l.s.record("Release")
	l.CommitReleaser.Release()
}

func (l *tripLease) CommitRelease(ctx context.Context, prev, tok *oauth2.Token) error {
	l.s.record("CommitRelease")
	return l.CommitReleaser.CommitRelease(ctx, prev, tok)
}

// rotating is a Refresher that rotates refresh tokens, counts its
// refreshes, and fails the test when a refresh token is presented twice.
type rotating struct {
	t         *testing.T
	clk       *clock
	mu        sync.Mutex
	presented map[string]bool
	n         int
}

func (r *rotating) Refresh(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.presented[tok.RefreshToken] {
		r.t.Errorf("refresh token %q presented twice", tok.RefreshToken)
		return nil, oauthrt.ErrReauthRequired
	}
	r.presented[tok.RefreshToken] = true
	r.n++
	return &oauth2.Token{AccessToken: fmt.Sprintf("at-%d", r.n), RefreshToken: fmt.Sprintf("rt-%d", r.n), Expiry: r.clk.Now().Add(time.Hour)}, nil
}

func (r *rotating) refreshes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// With a store that has the one-trip capabilities, a refresh of a token
// that expired in memory costs two calls into the store: the lease taken
// over the expired token along with the key's snapshot, and the commit
// that lets go of the lease. The lease, taken a moment before the
// refresh token is presented, is not renewed in between (fenceTaken). A
// key not in memory yet costs one Load more, the one read that a key
// with a good token costs.
func TestOneTripRefresh(t *testing.T) {
	clk := newClock()
	store := &tripStore{MemoryStore: &oauthrt.MemoryStore{LeaseTTL: time.Minute}}
	store.MemoryStore.Save(context.Background(), "k", &oauth2.Token{AccessToken: "at-0", RefreshToken: "rt-0", Expiry: clk.Now().Add(-time.Minute)})
	ref := &rotating{t: t, clk: clk, presented: map[string]bool{}}
	tr := &oauthrt.Transport{Base: okTransport(), Store: store, Key: "k", Refresher: ref, Now: clk.Now}
	defer tr.Close()
	client := &http.Client{Transport: tr}
	get := func() {
		t.Helper()
		resp, err := client.Get("https://api.example/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	get()
	if got, want := store.take(), []string{"Load", "TakeLeaseIf", "CommitRelease"}; !slices.Equal(got, want) {
		t.Errorf("a key not in memory: store calls %v, want %v", got, want)
	}
	get()
	if got := store.take(); len(got) != 0 {
		t.Errorf("a valid token in memory: store calls %v, want none", got)
	}
	clk.Advance(2 * time.Hour)
	get()
	if got, want := store.take(), []string{"TakeLeaseIf", "CommitRelease"}; !slices.Equal(got, want) {
		t.Errorf("a token that expired in memory: store calls %v, want %v", got, want)
	}
	if n := ref.refreshes(); n != 2 {
		t.Errorf("%d refreshes, want 2", n)
	}
}

// Transports standing for processes, each with a memory of its own and
// the store in common, all find the same key's token expired at once:
// one refreshes, in two calls, and the others each learn of its token in
// one call, from the lease they asked for over the expired token.
func TestOneTripFleetRefresh(t *testing.T) {
	const transports, goroutines = 4, 8
	clk := newClock()
	store := &tripStore{MemoryStore: &oauthrt.MemoryStore{LeaseTTL: time.Minute}}
	store.MemoryStore.Save(context.Background(), "k", &oauth2.Token{AccessToken: "at-0", RefreshToken: "rt-0", Expiry: clk.Now().Add(time.Minute)})
	ref := &rotating{t: t, clk: clk, presented: map[string]bool{}}
	var clients []*http.Client
	for range transports {
		tr := &oauthrt.Transport{Base: okTransport(), Store: store, Key: "k", Refresher: ref, Now: clk.Now}
		t.Cleanup(func() { tr.Close() })
		clients = append(clients, &http.Client{Transport: tr})
	}
	run := func() {
		var wg sync.WaitGroup
		for _, c := range clients {
			for range goroutines {
				wg.Go(func() {
					resp, err := c.Get("https://api.example/")
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
				})
			}
		}
		wg.Wait()
	}
	run() // every Transport reads the key once, and keeps its token
	store.take()
	clk.Advance(time.Hour)
	run()
	calls := store.take()
	if n := ref.refreshes(); n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
	count := map[string]int{}
	for _, c := range calls {
		count[c]++
	}
	want := map[string]int{"TakeLeaseIf": transports, "CommitRelease": 1}
	if len(calls) > transports+1 || count["TakeLeaseIf"] != transports || count["CommitRelease"] != 1 || len(count) != 2 {
		t.Errorf("%d Transports refreshing one key: store calls %v (%d), want %v (%d): one lease ask per Transport, one commit",
			transports, count, len(calls), want, transports+1)
	}
}

// okTransport answers every request with 200, from memory.
func okTransport() http.RoundTripper {
	return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
	})
}

// holdSpy is a MemoryStore that records, for each lease asked of it,
// what oauthrt.ExpectedHold says of the context it was asked with.
type holdSpy struct {
	*oauthrt.MemoryStore
	mu    sync.Mutex
	holds []time.Duration // 0: none
}

func (s *holdSpy) OneTripStore() oauthrt.TokenStore { return s }

func (s *holdSpy) TakeLeaseIf(ctx context.Context, key string, prev *oauth2.Token) (oauthrt.Lease, oauthrt.Snapshot, error) {
	d, ok := oauthrt.ExpectedHold(ctx)
	if !ok {
		d = 0
	}
	s.mu.Lock()
	s.holds = append(s.holds, d)
	s.mu.Unlock()
	return s.MemoryStore.TakeLeaseIf(ctx, key, prev)
}

// A Transport tells the store it asks for a lease how long it expects
// the holder to keep it: nothing before its first refresh, and then about
// as long as its refreshes took, so that a store polling for a held lease
// waits that long rather than asking again and again during a refresh.
func TestLeaseAskCarriesTheExpectedHold(t *testing.T) {
	clk := newClock()
	store := &holdSpy{MemoryStore: &oauthrt.MemoryStore{}}
	store.MemoryStore.Save(context.Background(), "k", &oauth2.Token{AccessToken: "at-0", RefreshToken: "rt-0", Expiry: clk.Now().Add(-time.Minute)})
	ref := &rotating{t: t, clk: clk, presented: map[string]bool{}}
	tr := &oauthrt.Transport{Base: okTransport(), Store: store, Key: "k", Refresher: ref, Now: clk.Now}
	defer tr.Close()
	for range 2 {
		resp, err := (&http.Client{Transport: tr}).Get("https://api.example/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		clk.Advance(2 * time.Hour)
	}
	if len(store.holds) != 2 {
		t.Fatalf("%d leases asked, want 2", len(store.holds))
	}
	if store.holds[0] != 0 {
		t.Errorf("the first lease ask, before any refresh, carried an expected hold of %v", store.holds[0])
	}
	if store.holds[1] <= 0 {
		t.Error("the lease ask after a refresh carried no expected hold")
	}
	if _, ok := oauthrt.ExpectedHold(context.Background()); ok {
		t.Error("ExpectedHold of a context no Transport passed says ok")
	}
}

// failingCommits embeds a MemoryStore and fails every Commit: a wrapper
// written before the one-trip capabilities, which overrides the methods
// it knew of. It gains MemoryStore's one-trip methods by embedding, and
// they would go around its Commit.
type failingCommits struct {
	*oauthrt.MemoryStore
	commits atomic.Int32
}

func (s *failingCommits) Commit(ctx context.Context, key string, prev, tok *oauth2.Token) error {
	s.commits.Add(1)
	return errors.New("the wrapper refuses every commit")
}

// A store that embeds a one-trip store is reached through its own
// methods: its Commit is called, and fails, and the refreshed token is
// kept unsaved and reported, as the wrapper's author meant; the embedded
// store's CommitRelease, which would have stored it behind the
// wrapper's back, is not used.
func TestWrapperEmbeddingAOneTripStoreIsUsedThroughItsOwnMethods(t *testing.T) {
	clk := newClock()
	store := &failingCommits{MemoryStore: &oauthrt.MemoryStore{}}
	store.MemoryStore.Save(context.Background(), "k", &oauth2.Token{AccessToken: "at-0", RefreshToken: "rt-0", Expiry: clk.Now().Add(-time.Minute)})
	var saveErrs atomic.Int32
	tr := &oauthrt.Transport{
		Base: okTransport(), Store: store, Key: "k", Now: clk.Now,
		Refresher: &rotating{t: t, clk: clk, presented: map[string]bool{}},
		OnError: func(key string, err error) {
			var se *oauthrt.SaveError
			if errors.As(err, &se) {
				saveErrs.Add(1)
			}
		},
	}
	resp, err := (&http.Client{Transport: tr}).Get("https://api.example/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tr.Close()
	if store.commits.Load() == 0 {
		t.Error("the wrapper's Commit was never called")
	}
	if saveErrs.Load() == 0 {
		t.Error("no SaveError reported for the commit the wrapper refused")
	}
	if got, _ := store.MemoryStore.Load(context.Background(), "k"); got.AccessToken != "at-0" {
		t.Errorf("the embedded store holds %q: the refreshed token went around the wrapper", got.AccessToken)
	}
}
