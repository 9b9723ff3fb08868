package oauthrt_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/dpop"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

// Helpers of the benchmarks in bench_test.go. Every benchmark compares the
// same work done by up to four RoundTrippers, named by the sub-benchmark
// key impl so that `benchstat -col /impl` sets them side by side:
//
//	base          the Base RoundTripper alone, with no token at all
//	oauthrt       an *oauthrt.Transport
//	oauthrt-dpop  an *oauthrt.Transport with a DPoP-bound token: a
//	              proof signed (ES256) for every request
//	xoauth2       an *oauth2.Transport over oauth2.ReuseTokenSource
const (
	implBase        = "base"
	implOauthrt     = "oauthrt"
	implOauthrtDPoP = "oauthrt-dpop"
	implXoauth2     = "xoauth2"
)

// benchBound bounds every wait of a benchmark: a run that hangs fails
// instead of stalling CI.
const benchBound = 30 * time.Second

// canned answers every request with the same response, so that only the
// middleware's cost is measured.
type canned struct{ resp *http.Response }

func (c canned) RoundTrip(*http.Request) (*http.Response, error) { return c.resp, nil }

func newCanned() canned { return canned{&http.Response{StatusCode: 200, Body: http.NoBody}} }

// validToken is a token good for an hour of the wall clock.
func validToken(n int) *oauth2.Token {
	return &oauth2.Token{
		AccessToken:  fmt.Sprintf("access-%d", n),
		RefreshToken: fmt.Sprintf("refresh-%d", n),
		TokenType:    "Bearer",
		Expiry:       time.Now().Add(time.Hour),
	}
}

// validDPoPToken is validToken(n) bound to a new ES256 key, of type DPoP.
func validDPoPToken(b *testing.B, n int) *oauth2.Token {
	b.Helper()
	key, err := dpop.NewKey()
	if err != nil {
		b.Fatal(err)
	}
	tok := validToken(n)
	tok.TokenType = dpop.TokenType
	bound, err := dpop.Bind(tok, key)
	if err != nil {
		b.Fatal(err)
	}
	return bound
}

// expiredToken is a token that expired an hour ago, so that the first
// request must refresh it.
func expiredToken() *oauth2.Token {
	return &oauth2.Token{
		AccessToken:  "expired-access",
		RefreshToken: "refresh-0",
		TokenType:    "Bearer",
		Expiry:       time.Now().Add(-time.Hour),
	}
}

// newOauthrt returns the oauthrt Transport of a benchmark, with Key "k".
// RefreshAhead is off, so that the valid tokens of the hot-path,
// loopback, many-keys and stall benchmarks are never refreshed in the
// background while they are measured, as they are not with x/oauth2.
// (Their tokens have an hour left, far outside the default window; this
// keeps it so whatever the default becomes.)
func newOauthrt(base http.RoundTripper, store oauthrt.TokenStore, r oauthrt.Refresher) *oauthrt.Transport {
	return &oauthrt.Transport{Base: base, Store: store, Key: "k", Refresher: r, RefreshAhead: -1}
}

// newXoauth2 returns an x/oauth2 Transport holding tok, refreshing it
// through conf with client (nil: http.DefaultClient), as x/oauth2 is
// used: one Transport, and so one TokenSource, per token.
func newXoauth2(base http.RoundTripper, conf *oauth2.Config, client *http.Client, tok *oauth2.Token) *oauth2.Transport {
	ctx := context.Background()
	if client != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, client)
	}
	return &oauth2.Transport{Base: base, Source: oauth2.ReuseTokenSource(nil, conf.TokenSource(ctx, tok))}
}

// unusedConf is the x/oauth2 configuration of benchmarks whose tokens
// stay valid: its endpoint is never called.
var unusedConf = &oauth2.Config{ClientID: "bench", ClientSecret: "secret", Endpoint: oauth2.Endpoint{TokenURL: "http://token.invalid/"}}

// memoryStore returns a MemoryStore holding toks under the given keys.
func memoryStore(b *testing.B, keys []string, toks []*oauth2.Token) *oauthrt.MemoryStore {
	b.Helper()
	store := oauthrt.NewMemoryStore()
	for i, k := range keys {
		if err := store.Save(context.Background(), k, toks[i]); err != nil {
			b.Fatal(err)
		}
	}
	return store
}

// send sends req through rt and drains and closes the response body,
// as a client that reuses its connections does.
func send(rt http.RoundTripper, req *http.Request) error {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// slowEndpoint is a loopback token endpoint that takes delay to answer
// each refresh and, when it is held, also waits until it is released. It
// counts its calls and signals each one's arrival on arrived.
type slowEndpoint struct {
	*httptest.Server
	calls   atomic.Int64
	arrived chan struct{}
	delay   time.Duration
	hold    chan struct{} // nil: not held
	release func()        // closes hold, once
	client  *http.Client  // the client the refreshers use
}

// newSlowEndpoint starts a token endpoint answering after delay (and
// after its release, if held), and the client to reach it: a keep-alive
// transport that keeps up to conns idle connections, so that a burst of
// refreshes does not run out of them.
func newSlowEndpoint(delay time.Duration, held bool, conns int) *slowEndpoint {
	e := &slowEndpoint{arrived: make(chan struct{}, 64), delay: delay, release: func() {}}
	if held {
		e.hold = make(chan struct{})
		e.release = sync.OnceFunc(func() { close(e.hold) })
	}
	e.Server = httptest.NewServer(http.HandlerFunc(e.serve))
	e.client = &http.Client{
		Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns},
		Timeout:   benchBound,
	}
	return e
}

func (e *slowEndpoint) serve(w http.ResponseWriter, r *http.Request) {
	n := e.calls.Add(1)
	select {
	case e.arrived <- struct{}{}:
	default:
	}
	timer := time.NewTimer(e.delay) // the endpoint's latency
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-r.Context().Done():
		return
	}
	if e.hold != nil {
		select {
		case <-e.hold:
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":"fresh-%d","token_type":"Bearer","expires_in":3600,"refresh_token":"refresh-%d"}`, n, n)
}

// close releases the requests held, waits for every request to end, and
// shuts the server and its client down.
func (e *slowEndpoint) close() {
	e.release()
	e.Close()
	e.client.CloseIdleConnections()
}

// refresher is an oauthrt Refresher of the endpoint.
func (e *slowEndpoint) refresher() *generic.Refresher {
	return &generic.Refresher{TokenURL: e.URL, ClientID: "bench", ClientSecret: "secret", HTTPClient: e.client}
}

// conf is the x/oauth2 configuration of the endpoint.
func (e *slowEndpoint) conf() *oauth2.Config {
	return &oauth2.Config{ClientID: "bench", ClientSecret: "secret", Endpoint: oauth2.Endpoint{TokenURL: e.URL}}
}

// awaitArrival waits until a refresh reaches the endpoint.
func (e *slowEndpoint) awaitArrival(b *testing.B) {
	b.Helper()
	await(b, e.arrived, "a refresh to reach the token endpoint")
}

// await waits for ch to yield or be closed, failing b after benchBound.
func await[T any](b *testing.B, ch <-chan T, what string) {
	b.Helper()
	timer := time.NewTimer(benchBound)
	defer timer.Stop()
	select {
	case <-ch:
	case <-timer.C:
		b.Fatalf("gave up after %v waiting for %s", benchBound, what)
	}
}

// goErr runs f on a new goroutine and returns a channel yielding its error.
func goErr(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

// awaitErr waits for the error of a goErr, failing b if it is not nil.
func awaitErr(b *testing.B, ch <-chan error, what string) {
	b.Helper()
	timer := time.NewTimer(benchBound)
	defer timer.Stop()
	select {
	case err := <-ch:
		if err != nil {
			b.Fatalf("%s: %v", what, err)
		}
	case <-timer.C:
		b.Fatalf("gave up after %v waiting for %s", benchBound, what)
	}
}

// copyToken returns a copy of tok with strings of its own, as a token
// read from a database is.
func copyToken(tok *oauth2.Token) *oauth2.Token {
	cp := *tok
	cp.AccessToken = strings.Clone(tok.AccessToken)
	cp.TokenType = strings.Clone(tok.TokenType)
	cp.RefreshToken = strings.Clone(tok.RefreshToken)
	return &cp
}

// copyingStore is a store whose Load returns a new copy of the token at
// each call, as a store that decodes what it read does.
type copyingStore struct{ oauthrt.TokenStore }

func (s copyingStore) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	tok, err := s.TokenStore.Load(ctx, key)
	if err != nil {
		return nil, err
	}
	return copyToken(tok), nil
}

// heapInUse returns the bytes of live heap objects after a full
// collection.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC() // a second cycle frees what finalizers of the first released
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
