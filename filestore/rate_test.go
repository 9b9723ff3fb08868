package filestore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/filestore"
	"golang.org/x/oauth2"
)

// endpointDelay is how long the token endpoint of the rate checks takes
// to answer a refresh: about what a provider's takes over the Internet.
const endpointDelay = 50 * time.Millisecond

// rateWorkers is how many goroutines send requests at once through the
// one Transport of the rate checks.
const rateWorkers = 32

// refreshRig is a store of one layout filled with expired tokens, a token
// endpoint that answers after endpointDelay and rotates refresh tokens,
// and what that endpoint saw.
type refreshRig struct {
	tb     testing.TB
	layout string
	store  *filestore.Store
	keys   []string
	server *httptest.Server
	client *http.Client

	mu        sync.Mutex
	presented map[string]int    // refresh token → times presented
	seed      map[string]string // key → the refresh token it was last seeded with
	gen       int               // seeding round, in the seeded refresh tokens
}

// newRefreshRig fills a store of layout ("path" or "dir") with n keys,
// each with an expired token and a refresh token of its own.
func newRefreshRig(tb testing.TB, layout string, n int) *refreshRig {
	tb.Helper()
	r := &refreshRig{tb: tb, layout: layout, presented: map[string]int{}, seed: map[string]string{}}
	dir := tb.TempDir()
	switch layout {
	case "path":
		r.store = &filestore.Store{Path: filepath.Join(dir, "tokens.json")}
	case "dir":
		r.store = &filestore.Store{Dir: filepath.Join(dir, "tokens")}
	default:
		tb.Fatalf("no layout %q", layout)
	}
	for i := range n {
		r.keys = append(r.keys, fmt.Sprintf("tenant/%04d", i))
	}
	r.server = httptest.NewServer(http.HandlerFunc(r.token))
	r.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * rateWorkers}}
	tb.Cleanup(func() {
		r.server.Close()
		r.client.CloseIdleConnections()
	})
	r.seedAll()
	return r
}

// seedAll stores an expired token under every key. A token file of many
// keys is written in one go, in the layout the package documents: a
// Save per key would rewrite the whole file once per key. A directory
// takes its records through Save, from rateWorkers goroutines.
func (r *refreshRig) seedAll() {
	r.tb.Helper()
	r.gen++
	toks := map[string]*oauth2.Token{}
	for _, k := range r.keys {
		toks[k] = r.expired(k)
	}
	if r.layout == "path" {
		tokens := map[string]any{}
		for k, tok := range toks {
			tokens[k] = map[string]any{"access_token": tok.AccessToken, "refresh_token": tok.RefreshToken, "expiry": tok.Expiry}
		}
		b, err := json.Marshal(map[string]any{"version": 1, "tokens": tokens})
		if err != nil {
			r.tb.Fatal(err)
		}
		if err := os.WriteFile(r.store.Path, b, 0o600); err != nil {
			r.tb.Fatal(err)
		}
		return
	}
	work := make(chan string)
	errs := make(chan error, rateWorkers)
	var wg sync.WaitGroup
	for range rateWorkers {
		wg.Go(func() {
			for k := range work {
				if err := r.store.Save(ctx(), k, toks[k]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for _, k := range r.keys {
		work <- k
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		r.tb.Fatal(err)
	}
}

// reseed stores an expired token under each of keys, one Save each.
func (r *refreshRig) reseed(keys []string) {
	r.tb.Helper()
	r.gen++
	for _, k := range keys {
		if err := r.store.Save(ctx(), k, r.expired(k)); err != nil {
			r.tb.Fatal(err)
		}
	}
}

// expired returns an expired token for key with a refresh token no
// seeding gave before, and records it.
func (r *refreshRig) expired(key string) *oauth2.Token {
	rt := fmt.Sprintf("rt-%s-%d", key, r.gen)
	r.mu.Lock()
	r.seed[key] = rt
	r.mu.Unlock()
	return &oauth2.Token{AccessToken: "at-seed", RefreshToken: rt, Expiry: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// token is the token endpoint. It counts each refresh token it is
// given, refuses one given before as a rotating provider does, and
// otherwise answers, after endpointDelay, with the refresh token's
// successor.
func (r *refreshRig) token(w http.ResponseWriter, req *http.Request) {
	rt := req.PostFormValue("refresh_token")
	r.mu.Lock()
	r.presented[rt]++
	again := r.presented[rt] > 1
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if again {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_grant"}`)
		return
	}
	select {
	case <-time.After(endpointDelay): // the provider's latency, not a synchronization
	case <-req.Context().Done():
		return
	}
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": "at-" + rt, "refresh_token": "next-" + rt,
		"token_type": "Bearer", "expires_in": 3600,
	})
}

// refresh is the Refresher: a refresh-token grant at the rig's endpoint.
func (r *refreshRig) refresh(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.server.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    int64  `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &oauth2.RetrieveError{Response: resp, ErrorCode: "invalid_grant"}
	}
	return &oauth2.Token{
		AccessToken: body.AccessToken, RefreshToken: body.RefreshToken, TokenType: body.TokenType,
		Expiry: time.Now().Add(time.Duration(body.ExpiresIn) * time.Second),
	}, nil
}

// roundTripFunc is an http.RoundTripper that is a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// rateResult is what one run of refreshes measured.
type rateResult struct {
	refreshes int
	elapsed   time.Duration // wall time of the run
	latency   time.Duration // the requests' time, summed
}

func (m *rateResult) add(o rateResult) {
	m.refreshes += o.refreshes
	m.elapsed += o.elapsed
	m.latency += o.latency
}

// perSecond is the number of refreshes a second of the run.
func (m rateResult) perSecond() float64 { return float64(m.refreshes) / m.elapsed.Seconds() }

// cost is the mean time a request that needed a refresh took.
func (m rateResult) cost() time.Duration { return m.latency / time.Duration(m.refreshes) }

// run sends one request for each of keys through a new Transport over
// the store, from min(rateWorkers, len(keys)) goroutines; each key's
// expired token is refreshed on the way. It checks that every request
// carried its key's refreshed token.
func (r *refreshRig) run(keys []string) rateResult {
	r.tb.Helper()
	var bad atomic.Value
	tr := &oauthrt.Transport{
		Store:     r.store,
		Refresher: oauthrt.RefresherFunc(r.refresh),
		Base: roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if !strings.HasPrefix(req.Header.Get("Authorization"), "Bearer at-rt-") {
				bad.Store("a request went without a refreshed token")
			}
			return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
		}),
	}
	defer tr.Close()
	work := make(chan string, len(keys))
	for _, k := range keys {
		work <- k
	}
	close(work)
	var latency atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range min(rateWorkers, len(keys)) {
		wg.Go(func() {
			for k := range work {
				req, err := http.NewRequestWithContext(oauthrt.WithKey(ctx(), k), http.MethodGet, "http://127.0.0.1/api", nil)
				if err != nil {
					bad.Store(err.Error())
					return
				}
				t0 := time.Now()
				resp, err := tr.RoundTrip(req)
				latency.Add(int64(time.Since(t0)))
				if err != nil {
					bad.Store(fmt.Sprintf("request of key %q: %v", k, err))
					continue
				}
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if msg := bad.Load(); msg != nil {
		r.tb.Fatal(msg)
	}
	return rateResult{refreshes: len(keys), elapsed: elapsed, latency: time.Duration(latency.Load())}
}

// check fails unless every refresh token the endpoint was given was
// given once, and every one of keys holds the successor of the refresh
// token it was last seeded with: each was refreshed, once.
func (r *refreshRig) check(keys []string) {
	r.tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for rt, n := range r.presented {
		if n != 1 {
			r.tb.Errorf("refresh token %q was presented %d times", rt, n)
		}
	}
	for _, k := range keys {
		tok, err := r.store.Load(ctx(), k)
		if err != nil {
			r.tb.Fatal(err)
		}
		if want := "next-" + r.seed[k]; tok.RefreshToken != want {
			r.tb.Errorf("key %q holds refresh token %q, want %q", k, tok.RefreshToken, want)
		}
		if r.presented[r.seed[k]] != 1 {
			r.tb.Errorf("key %q: its refresh token was presented %d times, want once", k, r.presented[r.seed[k]])
		}
	}
}

// measureRefresh measures refreshes through a store of layout holding n
// keys: rounds of a refresh of each of the first batch keys, the store
// seeded again between rounds, rounds*batch in all.
func measureRefresh(t *testing.T, layout string, n, batch, rounds int) rateResult {
	t.Helper()
	r := newRefreshRig(t, layout, n)
	keys := r.keys[:batch]
	var m rateResult
	for i := range rounds {
		if i > 0 {
			r.reseed(keys)
		}
		m.add(r.run(keys))
		r.check(keys)
	}
	return m
}

// TestDirRefreshRateStaysFlat refreshes through a directory store of 10
// and of 1,000 keys, and through a token file of each: every key is
// refreshed once, no refresh token is presented twice, and every request
// carries its key's new token. The rates are logged (and appended to the
// file named by OAUTHRT_FILESTORE_REPORT, when set) for the eye and for
// BENCHMARKS.md, not asserted: a test does not time the machine, whose
// load can halve them (BenchmarkRefreshManyKeys measures them).
func TestDirRefreshRateStaysFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("measures refreshes for some seconds")
	}
	type run struct {
		layout              string
		keys, batch, rounds int
		result              rateResult
	}
	runs := []*run{
		{layout: "dir", keys: 10, batch: 10, rounds: 10},
		{layout: "dir", keys: 1000, batch: 1000, rounds: 1},
		{layout: "path", keys: 10, batch: 10, rounds: 10},
		// Every refresh rewrites the whole file: a few batches of the
		// thousand keys show its rate without taking half a minute.
		{layout: "path", keys: 1000, batch: 5 * rateWorkers, rounds: 1},
	}
	var report strings.Builder
	for _, r := range runs {
		r.result = measureRefresh(t, r.layout, r.keys, r.batch, r.rounds)
		line := fmt.Sprintf("layout=%s keys=%d: %d refreshes in %v: %.0f refreshes/s, %v per refresh (%d at once, token endpoint %v)",
			r.layout, r.keys, r.result.refreshes, r.result.elapsed.Round(time.Millisecond), r.result.perSecond(),
			r.result.cost().Round(time.Millisecond), min(rateWorkers, r.batch), endpointDelay)
		t.Log(line)
		report.WriteString(line + "\n")
	}
	if name := os.Getenv("OAUTHRT_FILESTORE_REPORT"); name != "" {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.WriteString(f, report.String())
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkRefreshManyKeys measures refreshes through a store of 10 or
// 1,000 keys in each layout, rateWorkers at once against a token
// endpoint that takes endpointDelay, and reports refreshes/s. Each
// iteration refreshes a batch of rateWorkers keys (all 10 of the small
// store), seeded again, outside the timer, when they were refreshed
// before; -benchtime=1x runs one batch.
func BenchmarkRefreshManyKeys(b *testing.B) {
	for _, layout := range []string{"path", "dir"} {
		for _, n := range []int{10, 1000} {
			b.Run(fmt.Sprintf("layout=%s/keys=%d", layout, n), func(b *testing.B) {
				r := newRefreshRig(b, layout, n)
				batch := min(rateWorkers, n)
				perPass := n / batch
				var m rateResult
				b.ResetTimer()
				for i := range b.N {
					j := i % perPass
					keys := r.keys[j*batch : (j+1)*batch]
					if i >= perPass { // refreshed in an earlier pass
						b.StopTimer()
						r.reseed(keys)
						b.StartTimer()
					}
					m.add(r.run(keys))
					b.StopTimer()
					r.check(keys)
					b.StartTimer()
				}
				b.StopTimer()
				b.ReportMetric(m.perSecond(), "refreshes/s")
				b.ReportMetric(float64(m.cost().Milliseconds()), "ms/refresh")
			})
		}
	}
}
