package scale_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

// An endpoint is a token endpoint that rotates refresh tokens: each
// refresh token it issued is good once. It counts the refreshes of each
// key, and fails the test (or, for a benchmark, records) when a refresh
// token is presented twice. Its tokens are "rt.KEY.N".
type endpoint struct {
	tb      testing.TB
	srv     *httptest.Server
	latency atomic.Int64 // a simulated latency, slept before each answer

	mu        sync.Mutex
	live      map[string]int // key: the N of its live refresh token
	presented map[string]bool
	refreshes map[string]int
	twice     int // refresh tokens presented again
}

func newEndpoint(tb testing.TB) *endpoint {
	e := &endpoint{tb: tb, live: map[string]int{}, presented: map[string]bool{}, refreshes: map[string]int{}}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	tb.Cleanup(e.srv.Close)
	return e
}

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) {
	if d := time.Duration(e.latency.Load()); d > 0 {
		time.Sleep(d) // the provider's latency, not a synchronization
	}
	rt := r.PostFormValue("refresh_token")
	parts := strings.Split(rt, ".")
	var n int
	var err error
	if len(parts) == 3 {
		n, err = strconv.Atoi(parts[2])
	}
	if len(parts) != 3 || parts[0] != "rt" || err != nil {
		e.tb.Errorf("the endpoint got a refresh token it never issued")
		http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
		return
	}
	key := parts[1]
	e.mu.Lock()
	again, live := e.presented[rt], e.live[key] == n
	e.presented[rt] = true
	if again {
		e.twice++
	} else if live {
		e.live[key] = n + 1
		e.refreshes[key]++
	}
	e.mu.Unlock()
	if again || !live {
		if _, bench := e.tb.(*testing.B); !bench { // a benchmark checks twice at its end
			e.tb.Errorf("key %s: refresh token %d presented again (or out of turn)", key, n)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_grant"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token":  fmt.Sprintf("at.%s.%d", key, n+1),
		"refresh_token": fmt.Sprintf("rt.%s.%d", key, n+1),
		"token_type":    "Bearer",
		"expires_in":    86400, // past every clock the tests move
	})
}

// seed saves a first token for each key, expiring at expiry, through s,
// and makes it the live one.
func (e *endpoint) seed(tb testing.TB, s oauthrt.TokenStore, keys []string, expiry time.Time) {
	tb.Helper()
	ctx := context.Background()
	for _, k := range keys {
		tok := &oauth2.Token{AccessToken: "at." + k + ".0", RefreshToken: "rt." + k + ".0", TokenType: "Bearer", Expiry: expiry}
		if err := s.Save(ctx, k, tok); err != nil {
			tb.Fatalf("seeding key %s: %v", k, err)
		}
		e.mu.Lock()
		e.live[k] = 0
		e.mu.Unlock()
	}
}

// refreshed returns how many keys were refreshed other than exactly once,
// and the refreshes of keys in all.
func (e *endpoint) refreshed(keys []string) (wrong []string, total int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, k := range keys {
		n := e.refreshes[k]
		total += n
		if n != 1 {
			wrong = append(wrong, fmt.Sprintf("%s: %d", k, n))
		}
	}
	return wrong, total
}

func (e *endpoint) presentedTwice() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.twice
}

// A clock is the Transports' time: real time moved on by an offset, so
// that tokens can be made to expire at once.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// newTransport returns a Transport on s that refreshes at e, whose API
// requests never leave the process, and registers its closing.
func newTransport(tb testing.TB, s oauthrt.TokenStore, e *endpoint, c *clock) *oauthrt.Transport {
	tr := &oauthrt.Transport{
		Base:      api{},
		Store:     s,
		Refresher: &generic.Refresher{TokenURL: e.srv.URL, ClientID: "scale"},
		Now:       c.now,
	}
	tb.Cleanup(func() { tr.Close() })
	return tr
}

// api answers every request 200 when it carries a token.
type api struct{}

func (api) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	status := http.StatusOK
	if !strings.HasPrefix(req.Header.Get("Authorization"), "Bearer at.") {
		status = http.StatusUnauthorized
	}
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

// get sends one API request for key through tr.
func get(tr *oauthrt.Transport, key string) error {
	req, err := http.NewRequestWithContext(oauthrt.WithKey(context.Background(), key), http.MethodGet, "https://api.example/", nil)
	if err != nil {
		return err
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("key %s: %w", key, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("key %s: the API answered %s", key, resp.Status)
	}
	return nil
}

// keyNames returns n key names under prefix.
func keyNames(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%05d", prefix, i)
	}
	return keys
}

// A fleet is several Transports, each on a handle of its own, sharing a
// clock and an endpoint.
type fleet struct {
	trs   []*oauthrt.Transport
	clock *clock
	m     *meter
}

func newFleet(tb testing.TB, s *site, e *endpoint, procs int) *fleet {
	f := &fleet{clock: &clock{}, m: &meter{callLevel: s.b.callLevel}}
	for range procs {
		f.trs = append(f.trs, newTransport(tb, s.open(tb, f.m), e, f.clock))
	}
	return f
}

// run has workers goroutines per Transport request keys through it, each
// Transport in the order order(i) gives, every worker taking the next key
// of its Transport's order, all starting at one moment, and returns the
// first error and the time they took.
func (f *fleet) run(workers int, order func(proc int) []string) (time.Duration, error) {
	var wg sync.WaitGroup
	var first error
	var once sync.Once
	start := make(chan struct{})
	for i, tr := range f.trs {
		keys := order(i)
		var next atomic.Int64
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for {
					j := next.Add(1) - 1
					if j >= int64(len(keys)) {
						return
					}
					if err := get(tr, keys[j]); err != nil {
						once.Do(func() { first = err })
					}
				}
			}()
		}
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	return time.Since(t0), first
}

// each has every Transport's workers request every key, all Transports in
// the same order.
func each(keys []string) func(int) []string { return func(int) []string { return keys } }
