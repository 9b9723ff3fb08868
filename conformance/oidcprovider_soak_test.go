package conformance

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
)

// The fleet soak against oidc-provider: processes, each with several
// Transports per grant, each Transport with several goroutines, all on
// one encrypted token file, DPoP-bound grants of both clients, 3-second
// access tokens, nonces demanded everywhere, and rotation whose reuse
// revokes the grant.
const (
	oidcSoakChildren   = 3 // processes
	oidcSoakTransports = 2 // per grant, per process
	oidcSoakGoroutines = 4 // per Transport
	// oidcSoakMaxRequests bounds each goroutine's requests besides the
	// time, far above what a run reaches.
	oidcSoakMaxRequests = 1_000_000
	// oidcSoakPace is the pause between a goroutine's requests: it paces
	// the load on a single-threaded Node.js server sharing two cores with
	// the fleet, it synchronizes nothing.
	oidcSoakPace = 2 * time.Millisecond
	// oidcSoakResult marks a child's result line on its stdout.
	oidcSoakResult = "OIDC-SOAK-RESULT "
)

// oidcSoakGrant is one grant of the soak: its store key and its client.
type oidcSoakGrant struct{ key, client string }

var oidcSoakGrants = []oidcSoakGrant{
	{"alice/" + oidcConfidential, oidcConfidential},
	{"alice/" + oidcPublic, oidcPublic},
}

// oidcSoakChildResult is what a child prints, after oidcSoakResult, on
// its last line.
type oidcSoakChildResult struct {
	Requests int64    `json:"requests"`
	Failures int64    `json:"failures"`
	Samples  []string `json:"samples"` // the first failures' errors
	// OnError counts what the Transports reported without failing a
	// request: a failed save, a failed refresh ahead of expiry.
	OnError        int64    `json:"on_error"`
	OnErrorSamples []string `json:"on_error_samples"`
}

// oidcSoakDuration is how long TestOIDCProviderFleetSoak runs: 20
// seconds, or OAUTHRT_OIDC_SOAK.
func oidcSoakDuration(t testing.TB) time.Duration {
	v := os.Getenv("OAUTHRT_OIDC_SOAK")
	if v == "" {
		return 20 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("OAUTHRT_OIDC_SOAK=%q is not a positive duration", v)
	}
	return d
}

// TestOIDCProviderFleetSoak runs oidcSoakChildren processes against
// oidc-provider for OAUTHRT_OIDC_SOAK (20 seconds unless set; -short
// skips it). Each process has oidcSoakTransports Transports for each of
// two grants, one of dpop-client and one of dpop-public, each sending
// GET /me from oidcSoakGoroutines goroutines; every Transport has a
// filestore.Store of its own on one shared token file encrypted with
// AES-GCM, so that the grants' refresh tokens and DPoP keys move between
// the processes only through it. Half the Transports refresh ahead of
// expiry, half on expiry.
//
// Every request must succeed; the server must never answer invalid_grant
// (a refresh token presented twice, or with another key than its
// grant's) nor revoke a grant, nor refuse a proof as malformed; each
// grant must have been refreshed at least once per token lifetime less
// one; nonces must be asked for no more than once per process and grant
// at the token endpoint, and once per goroutine at the resource; and
// afterwards, the grants must refresh from what the store holds. The
// figures go to the log and, when OAUTHRT_CONFORMANCE_REPORT names a
// file, are appended there.
func TestOIDCProviderFleetSoak(t *testing.T) {
	issuer := oidcProvider(t)
	if testing.Short() {
		t.Skip("the soak runs for OAUTHRT_OIDC_SOAK (20s)")
	}
	duration := oidcSoakDuration(t)
	ep := discover(t, issuer)
	ctx := context.Background()
	const lifetime = 3 * time.Second // server.mjs's ACCESS_TOKEN_TTL

	path := filepath.Join(t.TempDir(), "tokens.json")
	aeadKey := randomKey(t)
	store := sealedStore(t, path, aeadKey)
	for _, g := range oidcSoakGrants {
		key, jkt := grantKey(t)
		code, verifier := authorize(t, issuer, g.client, withAuthParam("dpop_jkt", jkt))
		tok, err := oidcRefresher(t, ep, g.client).ExchangeBound(ctx, code, oidcRedirectURI, verifier, key)
		if err != nil {
			t.Fatalf("%s: code exchange: %v", g.client, err)
		}
		if tl := time.Until(tok.Expiry); tl <= 0 || tl > 2*lifetime {
			t.Fatalf("%s: the first token expires in %v, want about %v: is ACCESS_TOKEN_TTL set?", g.client, tl, lifetime)
		}
		save(t, store, g.key, tok)
		wantSealed(t, path, tok)
	}
	tokenEndpointSeen[issuer] = time.Now()
	resetStats(t, issuer)

	start := time.Now()
	children := make([]*oidcSoakChild, oidcSoakChildren)
	for i := range children {
		children[i] = startOIDCSoakChild(t, path, aeadKey, duration)
	}
	var results []oidcSoakChildResult
	for _, c := range children {
		results = append(results, c.result(t, duration))
	}
	elapsed := time.Since(start)
	run := stats(t, issuer)

	var requests, failures, onError int64
	var samples, onErrorSamples []string
	for _, r := range results {
		requests += r.Requests
		failures += r.Failures
		onError += r.OnError
		samples = append(samples, r.Samples...)
		onErrorSamples = append(onErrorSamples, r.OnErrorSamples...)
	}
	refreshes := run.Token.OK["refresh_token"]
	tokenNonces := run.Token.Errors["use_dpop_nonce"]
	resourceNonces := run.Resource.Errors["use_dpop_nonce"]
	invalidGrant := run.Token.Errors["invalid_grant"]
	goroutines := oidcSoakChildren * len(oidcSoakGrants) * oidcSoakTransports * oidcSoakGoroutines
	summary := fmt.Sprintf("oidc-provider %s DPoP fleet soak: %v, %d processes x %d transports x %d goroutines on %d grants (%s), one AES-GCM token file, %v tokens: "+
		"%d requests (%.0f/s), %d failed; %d refreshes; nonce retries: token endpoint %d, resource %d; "+
		"resource 401 invalid_token %d; invalid_grant %d; grants revoked %d",
		oidcProviderVersion(), elapsed.Round(time.Millisecond), oidcSoakChildren, len(oidcSoakGrants)*oidcSoakTransports, oidcSoakGoroutines,
		len(oidcSoakGrants), oidcConfidential+", "+oidcPublic, lifetime,
		requests, float64(requests)/elapsed.Seconds(), failures, refreshes, tokenNonces, resourceNonces,
		run.Resource.Errors["invalid_token"], invalidGrant, run.GrantsRevoked)
	t.Log(summary)
	t.Logf("/__stats of the run: %+v", run)
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

	// The grants are alive, and the store holds their live refresh tokens
	// and keys: a new Transport refreshes each with what it finds.
	for _, g := range oidcSoakGrants {
		tr := oidcTransport(sealedStore(t, path, aeadKey), oidcRefresher(t, ep, g.client), g.key)
		tr.Invalidate(g.key)
		if sub, err := meVia(tr, ep); err != nil || sub != oidcAccount {
			t.Errorf("after the run, %s: userinfo named %q, error %v", g.client, sub, err)
		}
		tr.Close()
	}
	tokenEndpointSeen[issuer] = time.Now()

	if failures != 0 {
		t.Errorf("%d of %d requests failed; the first: %q", failures, requests, samples)
	}
	if requests == 0 {
		t.Error("no request was sent")
	}
	if onError != 0 {
		t.Errorf("the Transports reported %d errors; the first: %q", onError, onErrorSamples)
	}
	if invalidGrant != 0 {
		t.Errorf("the token endpoint answered invalid_grant %d times: a refresh token came back twice, or with another key", invalidGrant)
	}
	if run.GrantsRevoked != 0 {
		t.Errorf("the server revoked %d grants", run.GrantsRevoked)
	}
	if least := len(oidcSoakGrants) * (int(elapsed/lifetime) - 1); refreshes < least {
		t.Errorf("%d refreshes in %v for %d grants of %v tokens, want at least %d", refreshes, elapsed, len(oidcSoakGrants), lifetime, least)
	}
	// Each process's Refresher holds the token endpoint's nonce from its
	// first answer on, and every answer renews it before it ages out; each
	// Transport holds the resource's from its first answers on, so only
	// the requests that its goroutines sent before that go without.
	if most := oidcSoakChildren * len(oidcSoakGrants); tokenNonces > most {
		t.Errorf("the token endpoint asked for a nonce %d times, want at most %d: once per process and grant", tokenNonces, most)
	}
	if resourceNonces > goroutines {
		t.Errorf("the resource asked for a nonce %d times, want at most %d: once per goroutine", resourceNonces, goroutines)
	}
	if other := otherCodes(run.Token.Errors, "use_dpop_nonce"); len(other) > 0 {
		t.Errorf("the token endpoint answered errors: %v", other)
	}
	// invalid_token is a token the server retired before the Transport
	// counted it expired, refreshed and sent again; anything else is a
	// request the server could not take at all.
	if other := otherCodes(run.Resource.Errors, "use_dpop_nonce", "invalid_token"); len(other) > 0 {
		t.Errorf("the resource answered errors: %v", other)
	}
	if run.Revocation.OK != 0 || len(run.Revocation.Errors) != 0 {
		t.Errorf("the revocation endpoint was called: %+v", run.Revocation)
	}
}

// otherCodes returns the counts of m whose code is not one of codes.
func otherCodes(m map[string]int, codes ...string) map[string]int {
	out := map[string]int{}
	for code, n := range m {
		if !slices.Contains(codes, code) && n != 0 {
			out[code] = n
		}
	}
	return out
}

// oidcProviderVersion is the version of oidc-provider that
// testdata/oidcprovider/package.json pins.
func oidcProviderVersion() string {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, _ := os.ReadFile("testdata/oidcprovider/package.json")
	if json.Unmarshal(b, &pkg) != nil || pkg.Dependencies["oidc-provider"] == "" {
		return "(unknown version)"
	}
	return pkg.Dependencies["oidc-provider"]
}

// oidcSoakChild is a running child process of the soak.
type oidcSoakChild struct {
	cmd    *exec.Cmd
	lines  chan string // its stdout, line by line
	stderr strings.Builder
	done   chan error
}

// startOIDCSoakChild starts a process of the soak: this test binary,
// running TestOIDCProviderSoakChild for runFor on the token file at path.
func startOIDCSoakChild(t *testing.T, path string, aeadKey []byte, runFor time.Duration) *oidcSoakChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOIDCProviderSoakChild$", "-test.v=false", "-test.count=1")
	cmd.Env = append(os.Environ(),
		"OIDC_SOAK_CHILD=1",
		"OIDC_SOAK_STORE="+path,
		"OIDC_SOAK_AEAD_KEY="+hex.EncodeToString(aeadKey),
		"OIDC_SOAK_RUN_FOR="+runFor.String(),
	)
	c := &oidcSoakChild{cmd: cmd, lines: make(chan string, 16), done: make(chan error, 1)}
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
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
		c.done <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	return c
}

// result waits for the child to end and returns its result.
func (c *oidcSoakChild) result(t *testing.T, runFor time.Duration) oidcSoakChildResult {
	t.Helper()
	var res *oidcSoakChildResult
	var other []string
	timeout := time.After(runFor + 2*time.Minute)
	for c.lines != nil {
		select {
		case line, ok := <-c.lines:
			if !ok {
				c.lines = nil // every line is read; done comes next
				continue
			}
			s, found := strings.CutPrefix(line, oidcSoakResult)
			if !found {
				other = append(other, line)
				continue
			}
			res = new(oidcSoakChildResult)
			if err := json.Unmarshal([]byte(s), res); err != nil {
				t.Fatalf("child result %q: %v", s, err)
			}
		case <-timeout:
			t.Fatal("a child ran far past its time")
		}
	}
	if err := <-c.done; err != nil || res == nil {
		t.Fatalf("child failed (%v); stdout:\n%s\nstderr:\n%s", err, strings.Join(other, "\n"), c.stderr.String())
	}
	return *res
}

// TestOIDCProviderSoakChild is the body of a process of
// TestOIDCProviderFleetSoak; run alone, it skips.
func TestOIDCProviderSoakChild(t *testing.T) {
	if os.Getenv("OIDC_SOAK_CHILD") == "" {
		t.Skip("a child process of TestOIDCProviderFleetSoak; not a test on its own")
	}
	issuer := oidcProvider(t)
	ep := discover(t, issuer)
	path := os.Getenv("OIDC_SOAK_STORE")
	aeadKey, err := hex.DecodeString(os.Getenv("OIDC_SOAK_AEAD_KEY"))
	if err != nil {
		t.Fatalf("OIDC_SOAK_AEAD_KEY: %v", err)
	}
	runFor, err := time.ParseDuration(os.Getenv("OIDC_SOAK_RUN_FOR"))
	if err != nil {
		t.Fatalf("OIDC_SOAK_RUN_FOR: %v", err)
	}
	deadline := time.Now().Add(runFor)

	var (
		res   oidcSoakChildResult
		mu    sync.Mutex // guards res's samples
		count atomic.Int64
		fails atomic.Int64
		errs  atomic.Int64
	)
	sample := func(to *[]string, s string) {
		mu.Lock()
		defer mu.Unlock()
		if len(*to) < 5 {
			*to = append(*to, s)
		}
	}
	base := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}
	defer base.CloseIdleConnections()
	var transports []*oauthrt.Transport
	var wg sync.WaitGroup
	for _, g := range oidcSoakGrants {
		for i := range oidcSoakTransports {
			tr := oidcTransport(sealedStore(t, path, aeadKey), oidcRefresher(t, ep, g.client), g.key)
			tr.Base = base
			if i%2 == 0 {
				tr.RefreshAhead = 0 // the default: ahead of expiry, in the background
			}
			tr.OnError = func(key string, err error) {
				errs.Add(1)
				sample(&res.OnErrorSamples, key+": "+err.Error())
			}
			transports = append(transports, tr)
			name := g.client + " transport " + strconv.Itoa(i)
			for range oidcSoakGoroutines {
				wg.Go(func() {
					for n := 0; n < oidcSoakMaxRequests && time.Now().Before(deadline); n++ {
						count.Add(1)
						sub, err := meVia(tr, ep)
						if err == nil && sub != oidcAccount {
							err = fmt.Errorf("userinfo names %q", sub)
						}
						if err != nil {
							fails.Add(1)
							sample(&res.Samples, name+": "+err.Error())
						}
						time.Sleep(oidcSoakPace) // pacing the load, not synchronizing
					}
				})
			}
		}
	}
	wg.Wait()
	// A refresh under way when the run ends must still commit its token,
	// or the grant goes with the process.
	for _, tr := range transports {
		if err := tr.Close(); err != nil {
			errs.Add(1)
			sample(&res.OnErrorSamples, "Close: "+err.Error())
		}
	}
	res.Requests, res.Failures, res.OnError = count.Load(), fails.Load(), errs.Load()
	out, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(oidcSoakResult + string(out))
}
