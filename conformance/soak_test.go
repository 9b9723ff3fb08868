package conformance

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/filestore"
	"golang.org/x/oauth2"
)

// recordingStore is a filestore.Store, and so an oauthrt.Locker, that
// remembers every access token known to be in the file: those it saved,
// and those it loaded (which some Save wrote). The API checks that every
// token it accepts is one of them, that is, that no Transport used a
// refreshed token before saving it.
type recordingStore struct {
	*filestore.Store
	saved sync.Map // access token → struct{}
	saves atomic.Int64
}

func (s *recordingStore) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	err := s.Store.Save(ctx, key, tok)
	if err == nil {
		s.saved.Store(tok.AccessToken, struct{}{})
		s.saves.Add(1)
	}
	return err
}

// Commit records like Save: the Transport saves refreshed tokens with
// it, since a filestore.Store is an oauthrt.Committer.
func (s *recordingStore) Commit(ctx context.Context, key string, prev, tok *oauth2.Token) error {
	err := s.Store.Commit(ctx, key, prev, tok)
	if err == nil {
		s.saved.Store(tok.AccessToken, struct{}{})
		s.saves.Add(1)
	}
	return err
}

// Load records what it returns before returning it: another Transport
// may load a token after its Save wrote the file but before that Save
// returned and recorded it.
func (s *recordingStore) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	tok, err := s.Store.Load(ctx, key)
	if err == nil {
		s.saved.Store(tok.AccessToken, struct{}{})
	}
	return tok, err
}

func (s *recordingStore) has(accessToken string) bool {
	_, ok := s.saved.Load(accessToken)
	return ok
}

var (
	_ oauthrt.Locker    = (*recordingStore)(nil)
	_ oauthrt.Committer = (*recordingStore)(nil)
)

// soakDuration is how long TestFleetSoak runs: 25 seconds, or
// OAUTHRT_CONFORMANCE_DURATION.
func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("OAUTHRT_CONFORMANCE_DURATION")
	if v == "" {
		return 25 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("OAUTHRT_CONFORMANCE_DURATION=%q is not a positive duration", v)
	}
	return d
}

// TestFleetSoak runs a fleet of four Transports, sharing one file store,
// against fosite's two-second access tokens for two users, with 32
// goroutines sending requests as fast as they can for about 25 seconds.
// The members differ in how they treat expiry (a refresh ahead of it, no
// leeway at all, clocks off by 300ms either way), so that tokens are
// refreshed in the background, on expiry, and after fosite refused them
// (expired at its edge, or revoked because another member rotated them).
//
// Every request must succeed; fosite must never answer invalid_grant, or
// any error; every token the API accepts must have been saved first; the
// grants must be alive at the end; and the refreshes of each grant must
// be spaced as the members' settings allow, never closer: two members
// refreshing the same token one after the other would show as a gap far
// shorter than any token's life.
func TestFleetSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the long run takes about 25 seconds")
	}
	duration := soakDuration(t)
	const (
		lifespan   = 2 * time.Second
		goroutines = 32
		// A bound on the count besides the time, far above what a run
		// reaches, in case the requests get much cheaper.
		maxRequestsPerGoroutine = 2_000_000
	)
	ctx := context.Background()
	app := client{id: "fleet-app", method: methodBasic, secret: "fleet-" + randomHex(16)}
	store := &recordingStore{Store: &filestore.Store{Path: filepath.Join(t.TempDir(), "tokens.json")}}
	s := newAuthServer(t, serverOptions{accessTokenLifespan: lifespan, clients: []client{app}, saved: store.has})
	keys := []string{"alice", "bob"}
	for _, key := range keys {
		save(t, store, key, s.authorize(t, app, key))
	}
	seedSaves := store.saves.Load()
	seedCalls := s.mark()

	var onError atomic.Int64
	var firstOnError atomic.Value
	skewed := func(d time.Duration) func() time.Time {
		return func() time.Time { return time.Now().Add(d) }
	}
	base := baseTransport(t)
	member := func(leeway, ahead time.Duration, now func() time.Time) *oauthrt.Transport {
		return &oauthrt.Transport{
			Store: store, Refresher: s.refresher(app), Base: base,
			Leeway: leeway, RefreshAhead: ahead, Now: now,
			OnError: func(key string, err error) {
				onError.Add(1)
				firstOnError.CompareAndSwap(nil, fmt.Sprintf("%s: %v", key, err))
			},
		}
	}
	fleet := []struct {
		name string
		tr   *oauthrt.Transport
	}{
		// Refreshes in the background 500ms before expiry.
		{"ahead", member(300*time.Millisecond, 200*time.Millisecond, nil)},
		// Uses a token to its last instant, then waits for the refresh.
		{"edge", member(-1, -1, nil)},
		// Its clock is 300ms behind: fosite refuses its tokens first.
		{"slow clock", member(-1, 200*time.Millisecond, skewed(-300*time.Millisecond))},
		// Its clock is 300ms ahead, with a leeway of 250ms.
		{"fast clock", member(250*time.Millisecond, -1, skewed(300*time.Millisecond))},
	}
	// The earliest any member refreshes a token after it was issued, for a
	// token fosite announces as living one second (the least it announces
	// for two): the fast clock's 300ms plus its leeway of 250ms before the
	// expiry. Every refresh before that would be a wasted one.
	const earliest = time.Second - 550*time.Millisecond
	const slack = 50 * time.Millisecond

	var (
		requests, failures atomic.Int64
		firstFailure       atomic.Value
		wg                 sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(duration)
	for g := range goroutines {
		m := fleet[g%len(fleet)]
		key := keys[g/len(fleet)%len(keys)]
		hc := &http.Client{Transport: m.tr, Timeout: time.Minute}
		wg.Go(func() {
			reqCtx := oauthrt.WithKey(ctx, key)
			for i := 0; i < maxRequestsPerGoroutine && time.Now().Before(deadline); i++ {
				requests.Add(1)
				req, _ := http.NewRequestWithContext(reqCtx, http.MethodGet, s.apiURL, nil)
				resp, err := hc.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("API answered %s", resp.Status)
					}
				}
				if err != nil {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("%s, %s: %v", m.name, key, err))
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, m := range fleet {
		if err := m.tr.Close(); err != nil {
			t.Errorf("closing %s: %v", m.name, err)
		}
	}

	runCalls := s.callsSince(seedCalls)

	// The grants are alive, and the store holds their live refresh
	// tokens: a new Transport whose clock is an hour ahead refreshes each
	// with what it finds there.
	checkCalls := s.mark()
	last := member(0, 0, skewed(time.Hour))
	for _, key := range keys {
		req, _ := http.NewRequestWithContext(oauthrt.WithKey(ctx, key), http.MethodGet, s.apiURL, nil)
		resp, err := (&http.Client{Transport: last}).Do(req)
		if err != nil {
			t.Errorf("after the run, %s: %v", key, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("after the run, %s: API answered %s", key, resp.Status)
		}
	}
	last.Close()
	if calls := s.callsSince(checkCalls); len(calls) != len(keys) {
		t.Errorf("after the run, %d token endpoint calls for %d grants: %+v", len(calls), len(keys), calls)
	}

	// What fosite saw during the run.
	byFamily := map[string][]time.Time{}
	announced := 0 // seconds of token life announced by the refreshes
	for _, c := range runCalls {
		if c.grant == "refresh_token" && c.status == http.StatusOK {
			byFamily[c.family] = append(byFamily[c.family], c.at)
			announced += c.expiresIn
		}
	}
	refreshes := 0
	var gaps []time.Duration
	for _, times := range byFamily {
		refreshes += len(times)
		for i := 1; i < len(times); i++ {
			gaps = append(gaps, times[i].Sub(times[i-1]))
		}
	}
	slices.Sort(gaps)
	errs := map[string]int{}
	for _, c := range runCalls {
		if c.status != http.StatusOK {
			errs[c.error]++
		}
	}
	var errNames []string
	for code, n := range errs {
		errNames = append(errNames, fmt.Sprintf("%s×%d", code, n))
	}
	sort.Strings(errNames)
	var minGap, medianGap time.Duration
	if len(gaps) > 0 {
		minGap, medianGap = gaps[0], gaps[len(gaps)/2]
	}
	summary := fmt.Sprintf("fosite %s fleet soak: %v, %d transports, %d grants, %d goroutines, %v tokens: "+
		"%d requests (%.0f/s), %d failed; %d refreshes (%.2f per announced expiry; gaps min %v, median %v); "+
		"%d API 401s retried; %d invalid_grant; token endpoint errors: [%s]",
		fositeVersion(), elapsed.Round(time.Millisecond), len(fleet), len(keys), goroutines, lifespan,
		requests.Load(), float64(requests.Load())/elapsed.Seconds(), failures.Load(),
		refreshes, perExpiry(refreshes, announced, len(keys), elapsed),
		minGap.Round(time.Millisecond), medianGap.Round(time.Millisecond),
		s.apiRejected.Load(), errs["invalid_grant"], strings.Join(errNames, " "))
	t.Log(summary)
	if path := os.Getenv("OAUTHRT_CONFORMANCE_REPORT"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			_, err = fmt.Fprintln(f, time.Now().UTC().Format(time.RFC3339)+" "+summary)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			t.Errorf("writing the report: %v", err)
		}
	}

	if n := failures.Load(); n != 0 {
		t.Errorf("%d of %d requests failed; the first: %v", n, requests.Load(), firstFailure.Load())
	}
	if n := errs["invalid_grant"]; n != 0 {
		t.Errorf("fosite answered invalid_grant %d times: a refresh token was presented twice", n)
	}
	if len(errs) != 0 {
		t.Errorf("the token endpoint answered errors: %v", errNames)
	}
	if n := onError.Load(); n != 0 {
		t.Errorf("OnError was called %d times; the first: %v", n, firstOnError.Load())
	}
	if n := s.unsaved.Load(); n != 0 {
		t.Errorf("the API accepted %d tokens that the store had not taken yet", n)
	}
	if got, want := store.saves.Load()-seedSaves, int64(refreshes+len(keys)); got != want {
		t.Errorf("the store took %d tokens, want %d: one for each refresh (%d during the run, %d after it)", got, want, refreshes, len(keys))
	}
	if len(byFamily) != len(keys) {
		t.Errorf("refreshes were made for %d token families, want %d", len(byFamily), len(keys))
	}
	// A grant's chain of tokens must cover the whole run, and fosite's
	// tokens live at most lifespan+500ms (it rounds their expiry to the
	// second): so many refreshes at least.
	maxLife := lifespan + 500*time.Millisecond
	if least := len(keys) * (int(elapsed/maxLife) - 1); refreshes < least {
		t.Errorf("%d refreshes in %v for %d grants, want at least %d", refreshes, elapsed, len(keys), least)
	}
	if len(gaps) > 0 && minGap < earliest-slack {
		t.Errorf("two refreshes of one grant %v apart, sooner than any member refreshes (%v): a token was refreshed twice", minGap, earliest)
	}
	if s.apiRejected.Load() == 0 {
		t.Error("fosite never refused a token: the 401 path went untested")
	}
}

// fositeVersion is the version of fosite that go.mod asks for.
func fositeVersion() string {
	b, _ := os.ReadFile("go.mod")
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/ory/fosite" {
			return f[1]
		}
	}
	return "(unknown version)"
}

// perExpiry is how many refreshes there were for each expiry of a token
// in a run of elapsed over grants grants, taking a token to live, on
// average, what fosite announced for the refreshed ones (announced
// seconds over refreshes): 1 when every token was refreshed just as it
// expired, more when refreshed ahead of expiry.
func perExpiry(refreshes, announced, grants int, elapsed time.Duration) float64 {
	if refreshes == 0 || announced == 0 {
		return 0
	}
	meanLife := time.Duration(announced) * time.Second / time.Duration(refreshes)
	return float64(refreshes) / (float64(grants) * float64(elapsed) / float64(meanLife))
}
