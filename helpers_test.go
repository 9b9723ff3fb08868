package oauthrt_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// roundTripperFunc adapts a function to http.RoundTripper.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// closeCounter is a request or response body that counts its Close calls
// and how much was read from it.
type closeCounter struct {
	io.Reader
	closes atomic.Int32
	read   atomic.Int64
}

func newCloseCounter(s string) *closeCounter { return &closeCounter{Reader: strings.NewReader(s)} }

func (c *closeCounter) Read(p []byte) (int, error) {
	n, err := c.Reader.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *closeCounter) Close() error { c.closes.Add(1); return nil }

// clock is a settable time source for Transport.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// MemoryStore is an oauthrt.MemoryStore with only the methods of a
// store of before the fleet protocol: a TokenStore and a LeaseLocker,
// but not a Committer or a GrantStateStore. The tests written for that
// path (Save, this process's own memory of dead grants and backoffs)
// keep testing it, as third-party stores still take it; fleetStore adds
// the rest.
type MemoryStore struct{ mem oauthrt.MemoryStore }

func (m *MemoryStore) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	return m.mem.Load(ctx, key)
}

func (m *MemoryStore) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	return m.mem.Save(ctx, key, tok)
}

func (m *MemoryStore) Lock(ctx context.Context, key string) (func(), error) {
	return m.mem.Lock(ctx, key)
}

func (m *MemoryStore) TakeLease(ctx context.Context, key string) (oauthrt.Lease, error) {
	return m.mem.TakeLease(ctx, key)
}

// stepwise, embedded in a test store beside an *oauthrt.MemoryStore, at
// the same depth, hides the MemoryStore's one-trip methods (LoadSnapshot,
// TakeLeaseIf): each name is then ambiguous, so neither is promoted, and
// the store is no SnapshotLoader or LeaseLoader. The Transport then takes
// the protocol's steps one by one, through the methods the test store
// counts or hooks, as it does with a third-party store that has only
// those.
type stepwise struct{}

func (stepwise) LoadSnapshot() {}
func (stepwise) TakeLeaseIf()  {}
func (stepwise) OneTripStore() {}

// countingStore wraps a MemoryStore, counting calls, and fails them on
// demand.
type countingStore struct {
	MemoryStore
	loads, saves atomic.Int32
	loadErr      atomic.Pointer[error]
	saveErr      atomic.Pointer[error]
	onSave       func(tok *oauth2.Token)
}

func (s *countingStore) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	s.loads.Add(1)
	if err := s.loadErr.Load(); err != nil {
		return nil, *err
	}
	return s.MemoryStore.Load(ctx, key)
}

func (s *countingStore) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	s.saves.Add(1)
	if err := s.saveErr.Load(); err != nil {
		return *err
	}
	if s.onSave != nil {
		s.onSave(tok)
	}
	return s.MemoryStore.Save(ctx, key, tok)
}

func (s *countingStore) failLoads(err error) { s.loadErr.Store(&err) }
func (s *countingStore) failSaves(err error) { s.saveErr.Store(&err) }

func (s *countingStore) mustLoad(t *testing.T, key string) *oauth2.Token {
	t.Helper()
	tok, err := s.MemoryStore.Load(context.Background(), key)
	if err != nil {
		t.Fatalf("store has no token under %q: %v", key, err)
	}
	return tok
}

func (s *countingStore) put(t *testing.T, key string, tok *oauth2.Token) {
	t.Helper()
	if err := s.MemoryStore.Save(context.Background(), key, tok); err != nil {
		t.Fatal(err)
	}
}

// issuer is a Refresher that hands out numbered tokens ("at-1", "rt-1",
// "at-2", …) valid for an hour of the clock, and counts its calls.
type issuer struct {
	clock  *clock
	calls  atomic.Int32
	n      atomic.Int32
	before func(ctx context.Context, tok *oauth2.Token) error // runs first; a non-nil error is returned
}

func (i *issuer) Refresh(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
	i.calls.Add(1)
	if i.before != nil {
		if err := i.before(ctx, tok); err != nil {
			return nil, err
		}
	}
	n := i.n.Add(1) + 1
	return &oauth2.Token{
		AccessToken:  fmt.Sprintf("at-%d", n),
		RefreshToken: fmt.Sprintf("rt-%d", n),
		TokenType:    "Bearer",
		Expiry:       i.clock.Now().Add(time.Hour),
	}, nil
}

// api is a loopback API server that accepts the access tokens in valid,
// records what it was sent, and answers 401 to any other token.
type api struct {
	*httptest.Server
	mu     sync.Mutex
	valid  map[string]bool
	auths  []string
	bodies []string
	calls  atomic.Int32
	// challenge, when set, is the WWW-Authenticate header of a 401.
	challenge string
}

func newAPI(t *testing.T, valid ...string) *api {
	a := &api{valid: map[string]bool{}}
	for _, v := range valid {
		a.valid[v] = true
	}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

func (a *api) serve(w http.ResponseWriter, r *http.Request) {
	a.calls.Add(1)
	body, _ := io.ReadAll(r.Body)
	auth := r.Header.Get("Authorization")
	a.mu.Lock()
	a.auths = append(a.auths, auth)
	a.bodies = append(a.bodies, string(body))
	ok := a.valid[strings.TrimPrefix(auth, "Bearer ")]
	challenge := a.challenge
	a.mu.Unlock()
	if !ok {
		if challenge == "" {
			challenge = `Bearer error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
		http.Error(w, "rejected", http.StatusUnauthorized)
		return
	}
	fmt.Fprint(w, "hello")
}

func (a *api) accept(tokens ...string) {
	a.mu.Lock()
	for _, v := range tokens {
		a.valid[v] = true
	}
	a.mu.Unlock()
}

func (a *api) reject(token string) {
	a.mu.Lock()
	delete(a.valid, token)
	a.mu.Unlock()
}

func (a *api) seen() (auths, bodies []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.auths...), append([]string(nil), a.bodies...)
}

// fixture is a Transport wired to a counting store, an issuer and a
// loopback API that accepts "at-1".."at-9", with "at-1"/"rt-1" stored
// under key "k" and valid for an hour.
type fixture struct {
	clock  *clock
	store  *countingStore
	issuer *issuer
	api    *api
	tr     *oauthrt.Transport
	client *http.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clock: newClock(), store: &countingStore{}}
	f.issuer = &issuer{clock: f.clock}
	f.api = newAPI(t, "at-1", "at-2", "at-3", "at-4", "at-5", "at-6", "at-7", "at-8", "at-9")
	f.store.put(t, "k", &oauth2.Token{
		AccessToken:  "at-1",
		RefreshToken: "rt-1",
		TokenType:    "Bearer",
		Expiry:       f.clock.Now().Add(time.Hour),
	})
	f.tr = &oauthrt.Transport{
		Base:      f.api.Client().Transport,
		Store:     f.store,
		Key:       "k",
		Refresher: f.issuer,
		Now:       f.clock.Now,
	}
	f.client = &http.Client{Transport: f.tr}
	// Waits for the Transport's background work, so that no test leaves
	// goroutines behind for the next one to trip over.
	t.Cleanup(func() { f.tr.Close() })
	return f
}

// get sends a GET to the API and returns the status and body.
func (f *fixture) get(t *testing.T) (int, string) {
	t.Helper()
	resp, err := f.client.Get(f.api.URL)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// getErr sends a GET that must fail and returns the error.
func (f *fixture) getErr(t *testing.T) error {
	t.Helper()
	resp, err := f.client.Get(f.api.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET: status %d, want an error", resp.StatusCode)
	}
	return err
}

var errBoom = errors.New("boom")
