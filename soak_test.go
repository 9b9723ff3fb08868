package oauthrt_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

// chaos is a token endpoint and an API that fail at random. The token
// endpoint rotates refresh tokens and revokes the grant when one is used
// twice; its faults all happen before it rotates (a fault after rotation
// loses the new refresh token for any client, and is not what the soak
// tests).
type chaos struct {
	mu        sync.Mutex
	gen       int
	currentAT string
	currentRT string
	used      map[string]bool
	expiry    map[string]time.Time
	revoked   bool
	reused    int // invalid_grant answers to a reused refresh token
	refreshes int

	faults sync.Map // fault name → *atomic.Int64
	rng    func() float64
}

func (c *chaos) fault(name string) {
	v, _ := c.faults.LoadOrStore(name, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (c *chaos) issueLocked() (string, string) {
	c.gen++
	c.currentAT, c.currentRT = fmt.Sprintf("soak-at-%d", c.gen), fmt.Sprintf("soak-rt-%d", c.gen)
	c.expiry[c.currentAT] = time.Now().Add(time.Second)
	return c.currentAT, c.currentRT
}

// misbehave applies a random fault to w, and reports whether it did.
func (c *chaos) misbehave(where string, w http.ResponseWriter, p float64) bool {
	if c.rng() >= p {
		return false
	}
	switch n := c.rng(); {
	case n < 0.3:
		c.fault(where + ": 500")
		http.Error(w, "chaos", http.StatusInternalServerError)
	case n < 0.45:
		c.fault(where + ": 429")
		w.Header().Set("Retry-After", "0")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	case n < 0.65:
		c.fault(where + ": connection reset")
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			conn.Close()
		}
	case n < 0.8:
		c.fault(where + ": HTML page")
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>maintenance</html>")
	default:
		c.fault(where + ": slow (300ms)")
		time.Sleep(300 * time.Millisecond) // the fault itself: a slow answer
		return false
	}
	return true
}

func (c *chaos) token(w http.ResponseWriter, r *http.Request) {
	if c.misbehave("token endpoint", w, 0.15) {
		return
	}
	rt := r.PostFormValue("refresh_token")
	c.mu.Lock()
	defer c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if c.revoked || rt != c.currentRT {
		if c.used[rt] {
			c.reused++
			c.revoked = true
		}
		w.WriteHeader(400)
		io.WriteString(w, `{"error":"invalid_grant"}`)
		return
	}
	c.used[rt] = true
	c.refreshes++
	at, nrt := c.issueLocked()
	json.NewEncoder(w).Encode(map[string]any{"access_token": at, "refresh_token": nrt, "token_type": "Bearer", "expires_in": 1})
}

func (c *chaos) api(w http.ResponseWriter, r *http.Request) {
	if c.rng() < 0.03 {
		c.fault("API: spurious 401")
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "who are you", http.StatusUnauthorized)
		return
	}
	if c.misbehave("API", w, 0.05) {
		return
	}
	at := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	c.mu.Lock()
	exp, ok := c.expiry[at]
	ok = ok && !c.revoked && time.Now().Before(exp)
	c.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "expired", http.StatusUnauthorized)
		return
	}
	io.WriteString(w, "ok")
}

// chaosStore fails Loads and Saves at random while on.
type chaosStore struct {
	oauthrt.MemoryStore
	stepwise // so that every Load goes through the chaos
	on       atomic.Bool
	c        *chaos
}

var errStoreChaos = errors.New("store chaos")

func (s *chaosStore) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	if s.on.Load() && s.c.rng() < 0.02 {
		s.c.fault("store: Load fails")
		return nil, errStoreChaos
	}
	return s.MemoryStore.Load(ctx, key)
}

func (s *chaosStore) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	if s.on.Load() && s.c.rng() < 0.05 {
		s.c.fault("store: Save fails")
		return errStoreChaos
	}
	return s.MemoryStore.Save(ctx, key, tok)
}

// Commit fails like Save: the soak's store is a Committer, as the
// module's stores are, and its commits fail as its saves do.
func (s *chaosStore) Commit(ctx context.Context, key string, prev, tok *oauth2.Token) error {
	if s.on.Load() && s.c.rng() < 0.05 {
		s.c.fault("store: Commit fails")
		return errStoreChaos
	}
	return s.MemoryStore.Commit(ctx, key, prev, tok)
}

// TestSoak runs 50 goroutines for a minute against 1-second tokens with
// faults at the token endpoint, the API and the store.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak runs for a minute; skipped with -short")
	}
	dur := time.Minute
	if d, err := time.ParseDuration(os.Getenv("OAUTHRT_SOAK_DURATION")); err == nil {
		dur = d // for trying changes locally; CI runs the full minute
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutinesBefore := runtime.NumGoroutine()

	var rngMu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	c := &chaos{used: map[string]bool{}, expiry: map[string]time.Time{}, rng: func() float64 {
		rngMu.Lock()
		defer rngMu.Unlock()
		return rng.Float64()
	}}
	tokenSrv := httptest.NewServer(http.HandlerFunc(c.token))
	apiSrv := httptest.NewServer(http.HandlerFunc(c.api))
	c.mu.Lock()
	at, rt := c.issueLocked()
	c.mu.Unlock()
	store := &chaosStore{c: c}
	store.Save(context.Background(), "k", &oauth2.Token{AccessToken: at, RefreshToken: rt, Expiry: time.Now().Add(time.Second)})
	store.on.Store(true)

	var saveErrs, aheadErrs atomic.Int64
	tr := &oauthrt.Transport{
		Base:      apiSrv.Client().Transport,
		Store:     store,
		Key:       "k",
		Refresher: &generic.Refresher{TokenURL: tokenSrv.URL, ClientID: "soak", ClientSecret: "soak-secret", HTTPClient: fastClient()},
		Leeway:    200 * time.Millisecond,
		OnError: func(_ string, err error) {
			var se *oauthrt.SaveError
			if errors.As(err, &se) {
				saveErrs.Add(1)
			} else {
				aheadErrs.Add(1)
			}
		},
	}
	client := &http.Client{Transport: tr}

	var ok, status, requests atomic.Int64
	var mu sync.Mutex
	failures := map[string]int{}
	var untyped []string
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				requests.Add(1)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				req, _ := http.NewRequestWithContext(ctx, "GET", apiSrv.URL, nil)
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 200 {
						ok.Add(1)
					} else {
						status.Add(1)
						mu.Lock()
						failures[fmt.Sprintf("API answered %d", resp.StatusCode)]++
						mu.Unlock()
					}
				} else {
					kind := classify(err)
					mu.Lock()
					failures[kind]++
					if kind == "untyped" && len(untyped) < 5 {
						untyped = append(untyped, err.Error())
					}
					mu.Unlock()
				}
				cancel()
				time.Sleep(10 * time.Millisecond) // pacing, not synchronization
			}
		})
	}
	wg.Wait()
	store.on.Store(false)
	if err := tr.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	tr.CloseIdleConnections()
	tokenSrv.Close()
	apiSrv.Close()

	c.mu.Lock()
	reused, refreshes, current, revoked := c.reused, c.refreshes, c.currentAT, c.revoked
	c.mu.Unlock()
	var faults []string
	total := int64(0)
	c.faults.Range(func(k, v any) bool {
		n := v.(*atomic.Int64).Load()
		total += n
		faults = append(faults, fmt.Sprintf("%s=%d", k, n))
		return true
	})
	sort.Strings(faults)
	var kinds []string
	for k, n := range failures {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(kinds)
	report := fmt.Sprintf("soak %v: requests=%d ok=%d refreshes=%d faults_injected=%d [%s] failures_by_kind=[%s] save_errors_reported=%d ahead_errors_reported=%d",
		dur, requests.Load(), ok.Load(), refreshes, total, strings.Join(faults, " "), strings.Join(kinds, " "), saveErrs.Load(), aheadErrs.Load())
	t.Log(report)
	if f := os.Getenv("OAUTHRT_SOAK_REPORT"); f != "" {
		os.WriteFile(f, []byte(report+"\n"), 0o644)
	}

	if reused != 0 || revoked {
		t.Errorf("%d refresh tokens were used twice; the grant was revoked: %t", reused, revoked)
	}
	if len(untyped) > 0 {
		t.Errorf("requests failed with untyped errors: %q", untyped)
	}
	if failures["reauth required"] != 0 {
		t.Errorf("%d requests saw the grant dead", failures["reauth required"])
	}
	// A liveness check, not a rate to meet: with 1-second tokens, each
	// refresh the endpoint fails leaves the key without a valid token for
	// the backoff that follows, and every request meanwhile fails fast.
	// How many fail depends on how the faults fall, in a row or apart,
	// which the machine's timing decides: 72% of the requests succeeded
	// in one CI run of 2026-12-01, 47% in another, on a machine loaded
	// with other tests. A quarter still shows that the Transport recovers
	// after every fault; the guarantees are the checks above.
	if ok.Load() < requests.Load()/4 {
		t.Errorf("only %d of %d requests succeeded", ok.Load(), requests.Load())
	}
	if tok, err := store.MemoryStore.Load(context.Background(), "k"); err != nil || tok.AccessToken != current {
		t.Errorf("store holds %v (%v), want the latest issued, %s", tok, err, current)
	}

	// Goroutines and heap return to where they were.
	var left int
	for range 100 {
		if left = runtime.NumGoroutine(); left <= goroutinesBefore {
			break
		}
		time.Sleep(20 * time.Millisecond) // lets exiting goroutines finish
	}
	if left > goroutinesBefore {
		t.Errorf("%d goroutines after the soak, %d before", left, goroutinesBefore)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 16<<20 {
		t.Errorf("heap grew by %d MiB over the soak", grown>>20)
	}
}

// classify names the kind of a request's error; "untyped" is one that no
// caller could branch on.
func classify(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // what the Transport returned, under net/http's wrapper
	}
	var re *oauth2.RetrieveError
	var oe *net.OpError
	switch {
	case errors.Is(err, oauthrt.ErrReauthRequired):
		return "reauth required"
	case errors.As(err, &re):
		return fmt.Sprintf("token endpoint answered %d", re.Response.StatusCode)
	case errors.Is(err, errStoreChaos):
		return "store failed"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	case errors.As(err, &oe):
		return "network"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	return "untyped"
}
