package fleet_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"github.com/oauthrt/oauthrt/sqlstore"
	"golang.org/x/oauth2"
)

const (
	fleetKey   = "org-1"
	lifetime   = 2 * time.Second
	leeway     = 500 * time.Millisecond
	processes  = 4
	goroutines = 25
	// runFor is at least six token lifetimes.
	runFor = 6*lifetime + time.Second
	pace   = 25 * time.Millisecond // between one goroutine's requests
)

// childResult is what a child prints on its last line.
type childResult struct {
	OK       int
	Failures map[string]int
	Samples  []string
	// Slowest is the longest a request took, failed or not.
	Slowest time.Duration
	// SaveFailures and LeaseFailures count the Saves and the leases that
	// a store wrapped for a fault refused.
	SaveFailures  int `json:",omitempty"`
	LeaseFailures int `json:",omitempty"`
	// LeasesLost counts the leases the Transports reported lost while
	// they held them (oauthrt.ErrLeaseLost through OnError).
	LeasesLost int `json:",omitempty"`
}

const resultMark = "FLEET-RESULT "

// TestFleetChild is the body of a child process; run alone it skips.
func TestFleetChild(t *testing.T) {
	if os.Getenv("FLEET_CHILD") == "" {
		t.Skip("a child process of TestFleet; not a test on its own")
	}
	b := backend{name: os.Getenv("FLEET_BACKEND"), env: os.Getenv("FLEET_ENV")}
	ttl, _ := time.ParseDuration(os.Getenv("FLEET_TTL"))
	runFor, _ := time.ParseDuration(os.Getenv("FLEET_RUN_FOR"))
	workers, _ := strconv.Atoi(os.Getenv("FLEET_GOROUTINES"))
	leeway := leeway
	if l := os.Getenv("FLEET_LEEWAY"); l != "" {
		leeway, _ = time.ParseDuration(l)
	}
	store, closeStore, err := b.open(os.Getenv("FLEET_PLACE"), ttl)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	keys := []string{fleetKey}
	if n, _ := strconv.Atoi(os.Getenv("FLEET_KEYS")); n > 0 {
		keys = manyKeys(n)
	}
	if os.Getenv("FLEET_AWAIT_TOKEN") != "" {
		// The parent seeds the grants once every child is up, so that
		// all of them see their first tokens at once.
		fmt.Println("AWAITING-TOKEN")
		awaitToken(t, store, keys[len(keys)-1]) // seeded last
	}
	if s, ok := store.(*sqlstore.Store); ok && len(keys) > 1 {
		// Many keys can mean as many flights at once; a pool of a
		// production's size keeps the fleet within the server's
		// max_connections.
		s.DB.SetMaxOpenConns(10)
	}
	var outage *saveOutage
	if d := os.Getenv("FLEET_SAVE_OUTAGE"); d != "" {
		dur, _ := time.ParseDuration(d)
		outage = &saveOutage{outage: dur}
		if os.Getenv("FLEET_TOO_MANY_CLIENTS") != "" {
			outage.rate, outage.locks, outage.err = 0.5, true, errTooManyClients
		}
		store = outage.wrap(store)
	}

	var refresher oauthrt.Refresher = &generic.Refresher{
		TokenURL: os.Getenv("FLEET_TOKEN_URL"), ClientID: clientID, ClientSecret: clientSecret,
	}
	var leasesLost atomic.Int32
	onError := func(_ string, err error) {
		if errors.Is(err, oauthrt.ErrLeaseLost) {
			leasesLost.Add(1)
		}
	}
	var clients []*http.Client // one per key
	var transports []*oauthrt.Transport
	for _, key := range keys {
		tr := &oauthrt.Transport{Store: store, Key: key, Refresher: refresher, Leeway: leeway, OnError: onError}
		transports = append(transports, tr)
		clients = append(clients, &http.Client{Timeout: 30 * time.Second, Transport: tr})
	}
	api := os.Getenv("FLEET_API_URL")

	var mu sync.Mutex
	res := childResult{Failures: map[string]int{}}
	fail := func(kind, sample string) {
		mu.Lock()
		defer mu.Unlock()
		res.Failures[kind]++
		if len(res.Samples) < 5 {
			res.Samples = append(res.Samples, sample)
		}
	}
	deadline := time.Now().Add(runFor)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				start := time.Now()
				resp, err := clients[rand.IntN(len(clients))].Get(api)
				took := time.Since(start)
				mu.Lock()
				res.Slowest = max(res.Slowest, took)
				mu.Unlock()
				switch {
				case errors.Is(err, oauthrt.ErrReauthRequired):
					fail("reauth required", err.Error())
				case err != nil:
					fail("error", err.Error())
				default:
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						fail(fmt.Sprintf("status %d", resp.StatusCode), resp.Status)
					} else {
						mu.Lock()
						res.OK++
						mu.Unlock()
					}
				}
				time.Sleep(pace) // pacing the load, not synchronizing
			}
		})
	}
	wg.Wait()
	// A process that exits in the middle of a refresh (one ahead of
	// expiry, say) after the provider rotated the refresh token loses the
	// grant for the whole fleet; Close lets those refreshes end and save.
	var closing sync.WaitGroup
	for _, tr := range transports {
		closing.Go(func() {
			if err := tr.Close(); err != nil {
				fail("close", err.Error())
			}
		})
	}
	closing.Wait()
	if outage != nil {
		res.SaveFailures, res.LeaseFailures = outage.failures()
	}
	res.LeasesLost = int(leasesLost.Load())
	out, _ := json.Marshal(res)
	fmt.Println(resultMark + string(out))
}

// child is a running child process.
type child struct {
	cmd    *exec.Cmd
	lines  chan string // its stdout, line by line
	stderr strings.Builder
	done   chan error
}

// startChild starts a child process; extra is more of its environment,
// as NAME=value.
func startChild(t *testing.T, b backend, place string, p endpoints, ttl, runFor time.Duration, workers int, extra ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFleetChild$", "-test.v=false", "-test.count=1")
	cmd.Env = append(os.Environ(),
		"FLEET_CHILD=1",
		"FLEET_BACKEND="+b.name,
		"FLEET_ENV="+b.env,
		"FLEET_PLACE="+place,
		"FLEET_TTL="+ttl.String(),
		"FLEET_RUN_FOR="+runFor.String(),
		"FLEET_GOROUTINES="+strconv.Itoa(workers),
		"FLEET_TOKEN_URL="+p.tokenURL(),
		"FLEET_API_URL="+p.apiURL(),
	)
	cmd.Env = append(cmd.Env, extra...)
	c := &child{cmd: cmd, lines: make(chan string, 64), done: make(chan error, 1)}
	cmd.Stderr = &c.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
		c.done <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	return c
}

// result waits for the child to end and returns its result line.
func (c *child) result(t *testing.T) childResult {
	t.Helper()
	var res *childResult
	timeout := time.After(runFor + 2*time.Minute)
	for c.lines != nil {
		select {
		case line, ok := <-c.lines:
			if !ok {
				c.lines = nil // every line is read; done comes next
				continue
			}
			if s, found := strings.CutPrefix(line, resultMark); found {
				res = new(childResult)
				if err := json.Unmarshal([]byte(s), res); err != nil {
					t.Fatalf("child result %q: %v", s, err)
				}
			}
		case <-timeout:
			t.Fatal("a child ran far past its time")
		}
	}
	if err := <-c.done; err != nil || res == nil {
		t.Fatalf("child failed (%v); stderr:\n%s", err, c.stderr.String())
	}
	return *res
}

// waitFor waits for the child to print line.
func (c *child) waitFor(t *testing.T, line string) {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("child ended before printing %q; stderr:\n%s", line, c.stderr.String())
			}
			if l == line {
				return
			}
		case <-timeout:
			t.Fatalf("child did not print %q in a minute", line)
		}
	}
}

func requireServer(t *testing.T, b backend) {
	t.Helper()
	if b.env != "" && os.Getenv(b.env) == "" {
		t.Skipf("%s is not set: no %s to run the fleet against", b.env, b.name)
	}
}

// seed stores the provider's first grant, as a user authorizing the
// application would.
func seed(t *testing.T, b backend, place string, p *provider, expired bool) oauthrt.TokenStore {
	t.Helper()
	store, closeStore, err := b.open(place, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeStore)
	at, rt, exp := p.seed(expired)
	if err := store.Save(context.Background(), fleetKey, &oauth2.Token{AccessToken: at, RefreshToken: rt, TokenType: "Bearer", Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	return store
}

// check asserts what every fleet run must show, and reports its counts.
func check(t *testing.T, name string, store oauthrt.TokenStore, p *provider, results []childResult, dur time.Duration) {
	t.Helper()
	c := p.counts()
	ok, failed := 0, 0
	kinds := map[string]int{}
	for _, r := range results {
		ok += r.OK
		for k, n := range r.Failures {
			failed += n
			kinds[k] += n
		}
		for _, s := range r.Samples {
			t.Logf("failure sample: %s", s)
		}
	}
	// Tokens are refreshed ahead of expiry, halfway through the time
	// before Expiry-Leeway: that is one token window.
	window := (lifetime - leeway) / 2
	line := fmt.Sprintf("%-28s processes=%d requests_ok=%d requests_failed=%d refreshes=%d token_windows=%.1f invalid_grant=%d early_refreshes=%d api_401=%d",
		name, len(results), ok, failed, c.Refreshes, dur.Seconds()/window.Seconds(), c.InvalidGrant, c.Early, c.API401)
	writeReport(t, line)
	if c.InvalidGrant != 0 || c.Revoked {
		t.Errorf("invalid_grant %d times (revoked: %t): a refresh token was used twice", c.InvalidGrant, c.Revoked)
	}
	if failed != 0 {
		t.Errorf("%d API requests failed: %v", failed, kinds)
	}
	if ok == 0 {
		t.Error("no API request succeeded")
	}
	// One refresh per expiry: none while the token had time left, and
	// no more than the run's token windows.
	if c.Early != 0 {
		t.Errorf("%d refreshes happened while the token was still fresh", c.Early)
	}
	if max := int(dur/window) + 2; c.Refreshes > max || c.Refreshes == 0 {
		t.Errorf("%d refreshes in %v, want 1..%d: one per token window", c.Refreshes, dur, max)
	}
	tok, err := store.Load(context.Background(), fleetKey)
	if err != nil {
		t.Fatalf("loading the final token: %v", err)
	}
	if tok.AccessToken != c.CurrentAT {
		t.Errorf("the store holds %s, want the latest issued, %s", tok.AccessToken, c.CurrentAT)
	}
}

// writeReport logs a run's figures, and appends them to the file that
// OAUTHRT_FLEET_REPORT names, if any.
func writeReport(t *testing.T, line string) {
	t.Helper()
	t.Log(line)
	if f := os.Getenv("OAUTHRT_FLEET_REPORT"); f != "" {
		if fh, err := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(fh, line)
			fh.Close()
		}
	}
}

// awaitToken waits until the store holds a token for key.
func awaitToken(t *testing.T, store oauthrt.TokenStore, key string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := store.Load(context.Background(), key)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no token was seeded in a minute: %v", err)
		}
		time.Sleep(5 * time.Millisecond) // polling the store, which has no signal
	}
}

// TestFleet runs processes × goroutines requests against one shared
// store for six token lifetimes, on every backend.
func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("the fleet runs for over a minute; skipped with -short")
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			requireServer(t, b)
			p := newProvider(t, lifetime, leeway)
			place := b.place(t)
			store := seed(t, b, place, p, false)
			start := time.Now()
			var children []*child
			for range processes {
				children = append(children, startChild(t, b, place, p, 10*time.Second, runFor, goroutines))
			}
			var results []childResult
			for _, c := range children {
				results = append(results, c.result(t))
			}
			check(t, "fleet/"+b.name, store, p, results, time.Since(start))
		})
	}
}
