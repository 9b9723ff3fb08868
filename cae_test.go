package oauthrt_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

// caeClaims is what the API demands of a token, as Microsoft Entra ID's
// claims challenges do after a revocation event: a token issued after a
// time. The '>' and '?' make its standard base64 hold '+' and '/', so
// that the URL alphabet differs from it.
const caeClaims = `{"access_token":{"nbf":{"essential":true,"value":"1764460800"}},"x":">>>???"}`

// cae is a token endpoint and an API speaking Continuous Access
// Evaluation: the endpoint rotates refresh tokens and records, for each
// access token it issues, the claims parameter of its request; the API
// takes only a token issued for its claims, and answers any other with a
// 401 claims challenge.
type cae struct {
	endpoint, api *httptest.Server

	mu        sync.Mutex
	challenge string            // the API's WWW-Authenticate
	live      string            // the refresh token the endpoint takes
	n         int               // tokens issued
	issuedFor map[string]string // access token → the claims it was issued for
	forms     []url.Values      // the endpoint's requests
	bodies    []string          // the bodies the API got
	always    bool              // the API rejects every token
}

func newCAE(t *testing.T) *cae {
	t.Helper()
	c := &cae{live: "rt-0", issuedFor: map[string]string{}}
	c.challenge = `Bearer realm="", authorization_uri="https://login.example/common/oauth2/authorize", error="insufficient_claims", claims="` +
		base64.StdEncoding.EncodeToString([]byte(caeClaims)) + `"`
	c.endpoint = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("token endpoint: %v", err)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.forms = append(c.forms, r.PostForm)
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("refresh_token") != c.live {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"invalid_grant"}`)
			return
		}
		c.n++
		access := fmt.Sprintf("at-%d", c.n)
		c.live = fmt.Sprintf("rt-%d", c.n)
		c.issuedFor[access] = r.PostForm.Get("claims")
		json.NewEncoder(w).Encode(map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 3600, "refresh_token": c.live})
	}))
	t.Cleanup(c.endpoint.Close)
	c.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		c.mu.Lock()
		c.bodies = append(c.bodies, string(body))
		granted := c.issuedFor[tok] == caeClaims && !c.always
		challenge := c.challenge
		c.mu.Unlock()
		if r.URL.Path == "/plain" || granted {
			io.WriteString(w, "hello "+string(body))
			return
		}
		w.Header().Set("WWW-Authenticate", challenge)
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, "claims challenge")
	}))
	t.Cleanup(c.api.Close)
	return c
}

func (c *cae) refresher() *generic.Refresher {
	return &generic.Refresher{TokenURL: c.endpoint.URL, ClientID: "app", ClientSecret: "app-secret", AuthStyle: oauth2.AuthStyleInParams}
}

// refreshes returns the claims parameter of each request the token
// endpoint got ("-" for none).
func (c *cae) refreshes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, f := range c.forms {
		if !f.Has("claims") {
			out = append(out, "-")
			continue
		}
		out = append(out, f.Get("claims"))
	}
	return out
}

func (c *cae) seenBodies() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.bodies...)
}

// transport returns a Transport for the API over store, which holds
// at-0/rt-0 (a token the API's claims challenge rejects) under key "k".
func (c *cae) transport(t *testing.T, store oauthrt.TokenStore) *oauthrt.Transport {
	t.Helper()
	tr := &oauthrt.Transport{Base: c.api.Client().Transport, Store: store, Key: "k", Refresher: c.refresher()}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func seedCAE(t *testing.T, store oauthrt.TokenStore) {
	t.Helper()
	tok := &oauth2.Token{AccessToken: "at-0", RefreshToken: "rt-0", TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}
	if err := store.Save(context.Background(), "k", tok); err != nil {
		t.Fatal(err)
	}
}

// post sends payload to the API's path through tr, with a body that
// GetBody can replay, and returns the status and body of the answer.
func post(t *testing.T, tr http.RoundTripper, url, payload string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// A 401 claims challenge gets one refresh carrying the challenge's
// claims, decoded, then one resend with the body replayed; the refresh
// is reported with ReasonClaims. Every encoding of the claims the Azure
// SDKs accept is understood, and the challenge counts in the DPoP scheme
// too.
func TestClaimsChallengeRefreshesWithClaims(t *testing.T) {
	std := base64.StdEncoding.EncodeToString([]byte(caseClaimsOrFail(t)))
	encodings := map[string]string{
		"std padded":   std,
		"std unpadded": strings.TrimRight(std, "="),
		"url padded":   base64.URLEncoding.EncodeToString([]byte(caeClaims)),
		"url unpadded": base64.RawURLEncoding.EncodeToString([]byte(caeClaims)),
	}
	for name, enc := range encodings {
		for _, scheme := range []string{"Bearer", "DPoP"} {
			t.Run(name+" "+scheme, func(t *testing.T) {
				c := newCAE(t)
				c.challenge = scheme + ` error="insufficient_claims", claims="` + enc + `"`
				store := oauthrt.NewMemoryStore()
				seedCAE(t, store)
				tr := c.transport(t, store)
				events := make(chan oauthrt.RefreshEvent, 10)
				tr.OnRefresh = func(ev oauthrt.RefreshEvent) { events <- ev }

				code, body := post(t, tr, c.api.URL+"/cae", "payload")
				if code != 200 || body != "hello payload" {
					t.Fatalf("got %d %q, want 200 %q", code, body, "hello payload")
				}
				if diff := cmp.Diff([]string{caeClaims}, c.refreshes()); diff != "" {
					t.Errorf("claims parameters of the refreshes (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff([]string{"payload", "payload"}, c.seenBodies()); diff != "" {
					t.Errorf("bodies the API got (-want +got):\n%s", diff)
				}
				if ev := recv(t, events); ev.Reason != oauthrt.ReasonClaims || ev.Outcome != oauthrt.OutcomeRefreshed {
					t.Errorf("event %+v, want reason claims, outcome refreshed", ev)
				}
				if tok, _ := store.Load(context.Background(), "k"); tok.AccessToken != "at-1" || tok.RefreshToken != "rt-1" {
					t.Errorf("stored %s/%s, want at-1/rt-1", tok.AccessToken, tok.RefreshToken)
				}
			})
		}
	}
}

// caseClaimsOrFail returns caeClaims, failing the test unless its two
// base64 alphabets differ (else the test of both proves nothing).
func caseClaimsOrFail(t *testing.T) string {
	t.Helper()
	if base64.StdEncoding.EncodeToString([]byte(caeClaims)) == base64.URLEncoding.EncodeToString([]byte(caeClaims)) {
		t.Fatal("caeClaims encodes alike in both alphabets")
	}
	return caeClaims
}

// The claims refresh skips the cache: when another Transport (another
// process) has stored a newer token, not issued for the claims, the
// Transport still refreshes, from that token's refresh token (the only
// live one), rather than send the stored token.
func TestClaimsChallengeSkipsTheStoredToken(t *testing.T) {
	stores := map[string]func() oauthrt.TokenStore{
		"MemoryStore":            func() oauthrt.TokenStore { return oauthrt.NewMemoryStore() },
		"store without one-trip": func() oauthrt.TokenStore { return &MemoryStore{} },
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			c := newCAE(t)
			store := newStore()
			seedCAE(t, store)
			mine, other := c.transport(t, store), c.transport(t, store)
			if code, _ := post(t, mine, c.api.URL+"/plain", "a"); code != 200 {
				t.Fatalf("status %d", code) // mine now holds at-0 in memory
			}
			// The other process refreshes, and stores at-1/rt-1: rt-0 is
			// dead from now on.
			other.Invalidate("k")
			if code, _ := post(t, other, c.api.URL+"/plain", "b"); code != 200 {
				t.Fatalf("status %d", code)
			}

			code, body := post(t, mine, c.api.URL+"/cae", "c")
			if code != 200 || body != "hello c" {
				t.Fatalf("got %d %q, want 200", code, body)
			}
			if diff := cmp.Diff([]string{"-", caeClaims}, c.refreshes()); diff != "" {
				t.Errorf("claims parameters of the refreshes (-want +got):\n%s", diff)
			}
			c.mu.Lock()
			presented := c.forms[1].Get("refresh_token")
			c.mu.Unlock()
			if presented != "rt-1" {
				t.Errorf("the claims refresh presented %q, want the stored rt-1", presented)
			}
			if tok, _ := store.Load(context.Background(), "k"); tok.AccessToken != "at-2" {
				t.Errorf("stored %s, want at-2", tok.AccessToken)
			}
		})
	}
}

// A resend that meets a claims challenge again gets its 401 as it is,
// after one refresh: there is no loop.
func TestRepeatedClaimsChallengeIsReturned(t *testing.T) {
	c := newCAE(t)
	c.always = true
	store := oauthrt.NewMemoryStore()
	seedCAE(t, store)
	tr := c.transport(t, store)
	code, body := post(t, tr, c.api.URL+"/cae", "payload")
	if code != 401 || body != "claims challenge" {
		t.Fatalf("got %d %q, want the second 401 with its body", code, body)
	}
	if n := len(c.refreshes()); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
	if n := len(c.seenBodies()); n != 2 {
		t.Errorf("API called %d times, want 2", n)
	}
}

// A claims challenge whose claims are not base64 of a JSON object, or a
// request whose body cannot be replayed, gets the 401 as it is, and no
// refresh.
func TestClaimsChallengeLeftAsIs(t *testing.T) {
	for name, claims := range map[string]string{
		"not base64":   "%%%",
		"not JSON":     base64.StdEncoding.EncodeToString([]byte("not json")),
		"a JSON array": base64.StdEncoding.EncodeToString([]byte(`[{"access_token":{}}]`)),
		"empty":        "",
	} {
		t.Run(name, func(t *testing.T) {
			c := newCAE(t)
			c.challenge = `Bearer error="insufficient_claims", claims="` + claims + `"`
			store := oauthrt.NewMemoryStore()
			seedCAE(t, store)
			if code, body := post(t, c.transport(t, store), c.api.URL+"/cae", "payload"); code != 401 || body != "claims challenge" {
				t.Fatalf("got %d %q, want the 401", code, body)
			}
			if n := len(c.refreshes()); n != 0 {
				t.Errorf("%d refreshes, want 0", n)
			}
		})
	}
	t.Run("body not replayable", func(t *testing.T) {
		c := newCAE(t)
		store := oauthrt.NewMemoryStore()
		seedCAE(t, store)
		req, _ := http.NewRequest(http.MethodPost, c.api.URL+"/cae", nil)
		req.Body = io.NopCloser(strings.NewReader("payload")) // no GetBody
		resp, err := c.transport(t, store).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || len(c.refreshes()) != 0 {
			t.Errorf("status %d after %d refreshes, want the 401 and none", resp.StatusCode, len(c.refreshes()))
		}
	})
}

// Requests challenged at once for the same claims share one claims
// refresh: those that come after it ended take its token.
func TestClaimsChallengesShareOneRefresh(t *testing.T) {
	c := newCAE(t)
	store := oauthrt.NewMemoryStore()
	seedCAE(t, store)
	tr := c.transport(t, store)
	if code, _ := post(t, tr, c.api.URL+"/plain", "warm up"); code != 200 {
		t.Fatalf("status %d", code)
	}
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, c.api.URL+"/cae", strings.NewReader("x"))
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i, code := range codes {
		if code != 200 {
			t.Errorf("request %d: status %d", i, code)
		}
	}
	if diff := cmp.Diff([]string{caeClaims}, c.refreshes()); diff != "" {
		t.Errorf("refreshes (-want +got):\n%s", diff)
	}
}

// A claims refresh does not join a flight started for another reason (a
// refresh ahead of expiry, here), whose token was not asked for the
// claims: it waits for that flight to end, then runs its own.
func TestClaimsRefreshWaitsForAnotherFlight(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	var calls []string // the claims each refresh got
	forClaims := map[string]bool{}
	f.issuer.before = func(ctx context.Context, _ *oauth2.Token) error {
		claims := oauthrt.ClaimsChallenge(ctx)
		mu.Lock()
		calls = append(calls, claims)
		first := len(calls) == 1
		mu.Unlock()
		if first {
			// The refresh ahead of expiry holds on until the challenged
			// request waits for it.
			deadline := time.Now().Add(20 * time.Second)
			for oauthrt.FlightWaiters(f.tr, "k") < 1 {
				if time.Now().After(deadline) {
					t.Error("the claims request never waited for the refresh ahead of expiry")
					break
				}
				runtime.Gosched()
			}
		}
		return nil
	}
	f.tr.OnRefresh = func(ev oauthrt.RefreshEvent) {
		if ev.Reason == oauthrt.ReasonClaims {
			tok, _ := f.store.MemoryStore.Load(context.Background(), "k")
			mu.Lock()
			forClaims[tok.AccessToken] = true
			mu.Unlock()
		}
	}
	challenge := `Bearer error="insufficient_claims", claims="` + base64.RawURLEncoding.EncodeToString([]byte(caeClaims)) + `"`
	f.tr.Base = roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		ok := forClaims[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		mu.Unlock()
		if ok {
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
		}
		return &http.Response{StatusCode: 401, Header: http.Header{"Www-Authenticate": {challenge}}, Body: http.NoBody, Request: r}, nil
	})
	// Load at-1, then move into its refresh-ahead window.
	if _, err := f.tr.TokenSource(context.Background(), "k").Token(); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour - 30*time.Second)

	resp, err := f.client.Get("https://api.example/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %d, want 200 with the token refreshed for the claims", resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"", caeClaims}, calls); diff != "" {
		t.Errorf("claims of the refreshes (-want +got):\n%s", diff)
	}
}

// The claims reach the Refresher only for the refresh a claims challenge
// calls for: a request whose context carries claims of its own does not
// pass them to the refresh it starts.
func TestClaimsOnlyForTheClaimsRefresh(t *testing.T) {
	c := newCAE(t)
	store := oauthrt.NewMemoryStore()
	if err := store.Save(context.Background(), "k", &oauth2.Token{AccessToken: "at-0", RefreshToken: "rt-0", Expiry: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	tr := c.transport(t, store)
	ctx := oauthrt.WithClaimsChallenge(context.Background(), `{"id_token":{}}`)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.api.URL+"/plain", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if diff := cmp.Diff([]string{"-"}, c.refreshes()); diff != "" {
		t.Errorf("claims of the refreshes (-want +got):\n%s", diff)
	}
}
