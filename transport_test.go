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

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// Item 1: the hot path.

func TestValidTokenSentOnceAsBearer(t *testing.T) {
	f := newFixture(t)
	var sent atomic.Int32
	base := f.tr.Base
	f.tr.Base = roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		sent.Add(1)
		return base.RoundTrip(r)
	})
	code, body := f.get(t)
	if code != 200 || body != "hello" {
		t.Fatalf("got %d %q, want 200 hello", code, body)
	}
	if n := sent.Load(); n != 1 {
		t.Errorf("Base called %d times, want 1", n)
	}
	auths, _ := f.api.seen()
	if diff := cmp.Diff([]string{"Bearer at-1"}, auths); diff != "" {
		t.Errorf("Authorization headers (-want +got):\n%s", diff)
	}
	if n := f.issuer.calls.Load(); n != 0 {
		t.Errorf("refreshed %d times, want 0", n)
	}
}

func TestCallerRequestNotModified(t *testing.T) {
	f := newFixture(t)
	f.api.reject("at-1") // take the 401 path too
	req, err := http.NewRequest("POST", f.api.URL+"/x?q=1", strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Caller", "yes")
	wantHeader := req.Header.Clone()
	wantURL := req.URL.String()

	resp, err := f.tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200 after refresh", resp.StatusCode)
	}
	if diff := cmp.Diff(wantHeader, req.Header); diff != "" {
		t.Errorf("caller's headers changed (-want +got):\n%s", diff)
	}
	if got := req.URL.String(); got != wantURL {
		t.Errorf("caller's URL changed to %q", got)
	}
}

func TestTokenTypeSentAsBearer(t *testing.T) {
	for _, typ := range []string{"Bearer", "bearer", "BEARER", "jwt-bearer", ""} {
		t.Run(typ, func(t *testing.T) {
			f := newFixture(t)
			f.store.put(t, "k", &oauth2.Token{AccessToken: "at-1", TokenType: typ})
			if code, _ := f.get(t); code != 200 {
				t.Fatalf("status %d", code)
			}
			auths, _ := f.api.seen()
			if diff := cmp.Diff([]string{"Bearer at-1"}, auths); diff != "" {
				t.Errorf("Authorization (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestBodyClosedOnEveryErrorPath(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fixture)
	}{
		{"nil store", func(f *fixture) { f.tr.Store = nil }},
		{"nil refresher", func(f *fixture) { f.tr.Refresher = nil }},
		{"no token", func(f *fixture) { f.tr.Key = "nobody" }},
		{"store load fails", func(f *fixture) { f.store.failLoads(errBoom) }},
		{"refresh fails", func(f *fixture) {
			f.clock.Advance(2 * time.Hour)
			f.issuer.before = func(context.Context, *oauth2.Token) error { return errBoom }
		}},
		{"dead grant", func(f *fixture) {
			f.clock.Advance(2 * time.Hour)
			f.issuer.before = func(context.Context, *oauth2.Token) error { return oauthrt.ErrReauthRequired }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tt.setup(f)
			body := newCloseCounter("payload")
			req, _ := http.NewRequest("POST", f.api.URL, body)
			resp, err := f.tr.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
				t.Fatal("RoundTrip succeeded, want an error")
			}
			if n := body.closes.Load(); n != 1 {
				t.Errorf("body closed %d times, want 1", n)
			}
			if n := f.api.calls.Load(); n != 0 {
				t.Errorf("API called %d times, want 0", n)
			}
		})
	}
}

func TestRequestBodyClosedWhenRefreshAfter401Fails(t *testing.T) {
	f := newFixture(t)
	f.api.reject("at-1")
	f.issuer.before = func(context.Context, *oauth2.Token) error { return errBoom }
	retryBody := newCloseCounter("payload")
	req, _ := http.NewRequest("POST", f.api.URL, strings.NewReader("payload"))
	req.GetBody = func() (io.ReadCloser, error) { return retryBody, nil }
	_, err := f.tr.RoundTrip(req)
	if !errors.Is(err, errBoom) {
		t.Fatalf("err = %v, want the refresh error", err)
	}
	if n := retryBody.closes.Load(); n != 1 {
		t.Errorf("replayed body closed %d times, want 1", n)
	}
}

// Item 2: when the store is read.

func TestStoreReadOnFirstUseOnly(t *testing.T) {
	f := newFixture(t)
	for range 5 {
		if code, _ := f.get(t); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	if n := f.store.loads.Load(); n != 1 {
		t.Errorf("store read %d times for 5 requests, want 1", n)
	}
	if n := f.store.saves.Load(); n != 0 {
		t.Errorf("store written %d times, want 0", n)
	}
}

func TestStoreReadBeforeRefreshAdoptsNewerToken(t *testing.T) {
	f := newFixture(t)
	f.get(t) // caches at-1
	// Another process refreshes and saves at-7; then at-1 expires here.
	f.store.put(t, "k", &oauth2.Token{AccessToken: "at-7", RefreshToken: "rt-7", Expiry: f.clock.Now().Add(3 * time.Hour)})
	f.clock.Advance(2 * time.Hour)

	if code, _ := f.get(t); code != 200 {
		t.Fatalf("status %d", code)
	}
	auths, _ := f.api.seen()
	if got := auths[len(auths)-1]; got != "Bearer at-7" {
		t.Errorf("sent %q, want the stored token at-7", got)
	}
	if n := f.issuer.calls.Load(); n != 0 {
		t.Errorf("refreshed %d times, want 0: the store had a valid newer token", n)
	}
	if n := f.store.loads.Load(); n != 2 {
		t.Errorf("store read %d times, want 2 (first use, before refresh)", n)
	}
}

func TestStoreReadAfter401(t *testing.T) {
	f := newFixture(t)
	f.get(t)
	// Another process refreshed: its token is stored, at-1 is revoked.
	f.store.put(t, "k", &oauth2.Token{AccessToken: "at-7", RefreshToken: "rt-7", Expiry: f.clock.Now().Add(time.Hour)})
	f.api.reject("at-1")

	if code, _ := f.get(t); code != 200 {
		t.Fatalf("status %d", code)
	}
	auths, _ := f.api.seen()
	if diff := cmp.Diff([]string{"Bearer at-1", "Bearer at-1", "Bearer at-7"}, auths); diff != "" {
		t.Errorf("Authorization (-want +got):\n%s", diff)
	}
	if n := f.issuer.calls.Load(); n != 0 {
		t.Errorf("refreshed %d times, want 0", n)
	}
}

// Item 3: expiry.

func TestExpiredTokenRefreshedSavedThenSent(t *testing.T) {
	f := newFixture(t)
	var (
		mu     sync.Mutex
		events []string
	)
	record := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	f.issuer.before = func(context.Context, *oauth2.Token) error { record("refresh"); return nil }
	f.store.onSave = func(tok *oauth2.Token) { record("save " + tok.AccessToken) }
	base := f.tr.Base
	f.tr.Base = roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		record("send " + r.Header.Get("Authorization"))
		return base.RoundTrip(r)
	})
	f.clock.Advance(time.Hour) // at-1 expires

	if code, _ := f.get(t); code != 200 {
		t.Fatalf("status %d", code)
	}
	want := []string{"refresh", "save at-2", "send Bearer at-2"}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if got := f.store.mustLoad(t, "k"); got.AccessToken != "at-2" || got.RefreshToken != "rt-2" {
		t.Errorf("stored %q/%q, want at-2/rt-2", got.AccessToken, got.RefreshToken)
	}
}

func TestZeroExpiryNeverRefreshedProactively(t *testing.T) {
	f := newFixture(t)
	f.store.put(t, "k", &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-1"})
	f.clock.Advance(100 * 365 * 24 * time.Hour)
	for range 3 {
		if code, _ := f.get(t); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	if n := f.issuer.calls.Load(); n != 0 {
		t.Errorf("refreshed %d times, want 0", n)
	}
}

func TestLeeway(t *testing.T) {
	tests := []struct {
		leeway  time.Duration
		refresh bool
	}{
		{0, true}, // the 10s default covers a token expiring in 5s
		{-1, false},
		{time.Second, false},
		{5 * time.Second, true}, // Expiry-Leeway == now counts as expired
		{6 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.leeway.String(), func(t *testing.T) {
			f := newFixture(t)
			f.tr.Leeway = tt.leeway
			f.store.put(t, "k", &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-1", Expiry: f.clock.Now().Add(5 * time.Second)})
			f.get(t)
			if got := f.issuer.calls.Load() == 1; got != tt.refresh {
				t.Errorf("refreshed = %v, want %v", got, tt.refresh)
			}
		})
	}
}

func TestRefreshTokenKeptWhenNotRotated(t *testing.T) {
	f := newFixture(t)
	f.tr.Refresher = oauthrt.RefresherFunc(func(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
		return &oauth2.Token{AccessToken: "at-2", Expiry: f.clock.Now().Add(time.Hour)}, nil
	})
	f.clock.Advance(time.Hour)
	f.get(t)
	got := f.store.mustLoad(t, "k")
	if got.AccessToken != "at-2" || got.RefreshToken != "rt-1" {
		t.Errorf("stored %q/%q, want at-2 with the old refresh token rt-1", got.AccessToken, got.RefreshToken)
	}
}

// Item 4: 401.

func TestRetryAfter401WithNewTokenAndReplayedBody(t *testing.T) {
	f := newFixture(t)
	f.api.reject("at-1")
	// Base reads the body itself, as any RoundTripper may, so that only
	// GetBody can give the retry its body (net/http's Transport would
	// otherwise rewind it on its own).
	var sentBodies []string
	base := f.tr.Base
	f.tr.Base = roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		sentBodies = append(sentBodies, string(b))
		r.Body, r.GetBody = io.NopCloser(strings.NewReader(string(b))), nil
		return base.RoundTrip(r)
	})
	resp, err := f.client.Post(f.api.URL, "text/plain", strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	auths, bodies := f.api.seen()
	if diff := cmp.Diff([]string{"Bearer at-1", "Bearer at-2"}, auths); diff != "" {
		t.Errorf("Authorization (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"payload", "payload"}, sentBodies); diff != "" {
		t.Errorf("bodies sent (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"payload", "payload"}, bodies); diff != "" {
		t.Errorf("bodies received (-want +got):\n%s", diff)
	}
	if n := f.issuer.calls.Load(); n != 1 {
		t.Errorf("refreshed %d times, want 1", n)
	}
}

func TestRejected401BodyDrainedAndClosed(t *testing.T) {
	f := newFixture(t)
	rejection := newCloseCounter(strings.Repeat("x", 1000))
	f.tr.Base = roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if r.Header.Get("Authorization") == "Bearer at-1" {
			return &http.Response{StatusCode: 401, Header: http.Header{}, Body: rejection, Request: r}, nil
		}
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	resp, err := f.client.Get("https://api.example/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if n := rejection.closes.Load(); n != 1 {
		t.Errorf("401 body closed %d times, want 1", n)
	}
	if n := rejection.read.Load(); n != 1000 {
		t.Errorf("401 body drained %d bytes, want 1000", n)
	}
}

func TestNoRefreshFor401WithoutTokenRejection(t *testing.T) {
	for _, challenge := range []string{
		`Bearer realm="api", error="invalid_request"`,
		`DPoP algs="ES256", error="invalid_request"`,
		// A claims challenge whose claims are no JSON object is ignored.
		`Bearer error="insufficient_claims", claims="bm90IGpzb24="`,
		`Bearer error="insufficient_claims"`,
	} {
		t.Run(challenge, func(t *testing.T) {
			f := newFixture(t)
			f.api.reject("at-1")
			f.api.challenge = challenge
			if code, _ := f.get(t); code != 401 {
				t.Fatalf("status %d, want the 401 itself", code)
			}
			if n := f.issuer.calls.Load(); n != 0 {
				t.Errorf("refreshed %d times, want 0", n)
			}
			if n := f.api.calls.Load(); n != 1 {
				t.Errorf("API called %d times, want 1", n)
			}
		})
	}
}

func TestAtMostOneRetryPer401(t *testing.T) {
	f := newFixture(t)
	f.api.reject("at-1")
	f.api.reject("at-2") // the API rejects everything it is sent
	f.api.reject("at-3")
	code, body := f.get(t)
	if code != 401 || !strings.Contains(body, "rejected") {
		t.Fatalf("got %d %q, want the second 401 with its body", code, body)
	}
	if n := f.api.calls.Load(); n != 2 {
		t.Errorf("API called %d times, want 2", n)
	}
	if n := f.issuer.calls.Load(); n != 1 {
		t.Errorf("refreshed %d times, want 1", n)
	}
}

func TestUnreplayableBodyGets401Unchanged(t *testing.T) {
	f := newFixture(t)
	f.api.reject("at-1")
	req, _ := http.NewRequest("POST", f.api.URL, nil)
	req.Body = io.NopCloser(strings.NewReader("payload")) // no GetBody
	resp, err := f.tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 401 || !strings.Contains(string(b), "rejected") {
		t.Errorf("got %d %q, want the 401 with its body", resp.StatusCode, b)
	}
	if n := f.issuer.calls.Load(); n != 0 {
		t.Errorf("refreshed %d times, want 0", n)
	}
	if n := f.api.calls.Load(); n != 1 {
		t.Errorf("API called %d times, want 1", n)
	}
}

func TestNo401RefreshWhenCachedTokenAlreadyNewer(t *testing.T) {
	// While a request with at-1 is in flight, a nested request gets a 401,
	// refreshes and caches at-3. The outer request's 401 then finds the
	// cache already changed, and resends with at-3 without refreshing.
	f := newFixture(t)
	f.issuer.n.Store(1)
	f.api.reject("at-1")
	var nested atomic.Bool
	base := f.tr.Base
	f.tr.Base = roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if r.Header.Get("Authorization") == "Bearer at-1" && nested.CompareAndSwap(false, true) {
			if code, _ := f.get(t); code != 200 {
				t.Errorf("nested request: status %d", code)
			}
		}
		return base.RoundTrip(r)
	})
	if code, _ := f.get(t); code != 200 {
		t.Fatalf("status %d", code)
	}
	if n := f.issuer.calls.Load(); n != 1 {
		t.Errorf("refreshed %d times, want 1 (the nested request's)", n)
	}
	auths, _ := f.api.seen()
	want := []string{"Bearer at-1", "Bearer at-3", "Bearer at-1", "Bearer at-3"}
	if diff := cmp.Diff(want, auths); diff != "" {
		t.Errorf("Authorization (-want +got):\n%s", diff)
	}
}

func TestBaseAnsweringANilBody(t *testing.T) {
	f := newFixture(t)
	f.tr.Base = roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if r.Header.Get("Authorization") == "Bearer at-1" {
			return &http.Response{StatusCode: 401, Header: http.Header{}, Request: r}, nil
		}
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	req, _ := http.NewRequest("GET", "https://api.example/", nil)
	resp, err := f.tr.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("got %v, %v; want a 200 after the refresh", resp, err)
	}
}

func TestRefreshFailureAfter401ReturnsErrorAndClosesResponse(t *testing.T) {
	f := newFixture(t)
	rejection := newCloseCounter("nope")
	f.tr.Base = roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 401, Header: http.Header{}, Body: rejection, Request: r}, nil
	})
	f.issuer.before = func(context.Context, *oauth2.Token) error { return errBoom }
	req, _ := http.NewRequest("GET", "https://api.example/", nil)
	resp, err := f.tr.RoundTrip(req)
	if resp != nil || !errors.Is(err, errBoom) {
		t.Fatalf("got %v, %v; want nil and the refresh error", resp, err)
	}
	if n := rejection.closes.Load(); n != 1 {
		t.Errorf("401 body closed %d times, want 1", n)
	}
}

// Item 5: one refresh per key. (Tests that need to see requests waiting
// on a refresh are in transport_internal_test.go.)

func TestDifferentKeysDoNotWaitForEachOther(t *testing.T) {
	f := newFixture(t)
	f.store.put(t, "slow", &oauth2.Token{AccessToken: "x", RefreshToken: "rt-slow", Expiry: f.clock.Now()})
	f.store.put(t, "fast", &oauth2.Token{AccessToken: "y", RefreshToken: "rt-fast", Expiry: f.clock.Now()})
	entered, release := make(chan struct{}), make(chan struct{})
	f.issuer.before = func(ctx context.Context, tok *oauth2.Token) error {
		if tok.RefreshToken == "rt-slow" {
			close(entered)
			<-release
		}
		return nil
	}
	slowDone := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(oauthrt.WithKey(context.Background(), "slow"), "GET", f.api.URL, nil)
		resp, err := f.client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		slowDone <- err
	}()
	<-entered
	// "slow" is refreshing and blocked; "fast" (expired too) and "k"
	// (valid) go through.
	for _, key := range []string{"fast", "k"} {
		req, _ := http.NewRequestWithContext(oauthrt.WithKey(context.Background(), key), "GET", f.api.URL, nil)
		resp, err := f.client.Do(req)
		if err != nil {
			t.Fatalf("key %s: %v", key, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("key %s: status %d", key, resp.StatusCode)
		}
	}
	close(release)
	if err := <-slowDone; err != nil {
		t.Errorf("slow key: %v", err)
	}
}

func TestWithKeySelectsTheToken(t *testing.T) {
	f := newFixture(t)
	f.store.put(t, "org-2", &oauth2.Token{AccessToken: "at-5", Expiry: f.clock.Now().Add(time.Hour)})
	req, _ := http.NewRequestWithContext(oauthrt.WithKey(context.Background(), "org-2"), "GET", f.api.URL, nil)
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	f.get(t) // Key "k"
	auths, _ := f.api.seen()
	if diff := cmp.Diff([]string{"Bearer at-5", "Bearer at-1"}, auths); diff != "" {
		t.Errorf("Authorization (-want +got):\n%s", diff)
	}
}

// Item 6: dead grants.

func TestDeadGrantFailsFastUntilReauthorized(t *testing.T) {
	f := newFixture(t)
	f.clock.Advance(time.Hour)
	f.issuer.before = func(ctx context.Context, tok *oauth2.Token) error {
		if tok.RefreshToken == "rt-1" {
			return fmt.Errorf("endpoint said invalid_grant: %w", oauthrt.ErrReauthRequired)
		}
		return nil
	}
	first := f.getErr(t)
	if !errors.Is(first, oauthrt.ErrReauthRequired) {
		t.Fatalf("err = %v, want ErrReauthRequired", first)
	}
	for range 3 {
		err := f.getErr(t)
		if !errors.Is(err, oauthrt.ErrReauthRequired) || err.Error() != first.Error() {
			t.Errorf("err = %v, want the same dead-grant error", err)
		}
	}
	if n := f.issuer.calls.Load(); n != 1 {
		t.Errorf("dead refresh token presented %d times, want 1", n)
	}
	if n := f.api.calls.Load(); n != 0 {
		t.Errorf("API called %d times, want 0", n)
	}
	// Once per request, once more under the MemoryStore's lease before
	// the refresh, and once after the endpoint refused it (to see whether
	// another process had refreshed first).
	if n := f.store.loads.Load(); n != 6 {
		t.Errorf("store read %d times, want 6 (once per request, again under the lease, and after the refusal)", n)
	}

	// A person authorizes again: the new token is saved and just works.
	f.store.put(t, "k", &oauth2.Token{AccessToken: "at-8", RefreshToken: "rt-8", Expiry: f.clock.Now().Add(time.Hour)})
	if code, _ := f.get(t); code != 200 {
		t.Fatalf("after re-authorization: status %d", code)
	}
	// And when it expires, its refresh token is used.
	f.clock.Advance(2 * time.Hour)
	if code, _ := f.get(t); code != 200 {
		t.Fatalf("after refresh: status %d", code)
	}
	if n := f.issuer.calls.Load(); n != 2 {
		t.Errorf("refreshed %d times in all, want 2", n)
	}
}

func TestDeadGrantAfter401DoesNotResendRejectedToken(t *testing.T) {
	f := newFixture(t)
	f.api.reject("at-1")
	f.issuer.before = func(context.Context, *oauth2.Token) error { return oauthrt.ErrReauthRequired }
	for range 3 {
		if err := f.getErr(t); !errors.Is(err, oauthrt.ErrReauthRequired) {
			t.Fatalf("err = %v, want ErrReauthRequired", err)
		}
	}
	if n := f.api.calls.Load(); n != 1 {
		t.Errorf("API called %d times, want 1: the rejected token is not sent again", n)
	}
	if n := f.issuer.calls.Load(); n != 1 {
		t.Errorf("refreshed %d times, want 1", n)
	}
}

// Item 7: the request's context bounds the wait; the refresh itself
// survives the caller giving up.

func TestCancelledContextReturnsPromptlyAndRefreshStillSaved(t *testing.T) {
	for _, tt := range []struct {
		name string
		want error
		// ctx returns the request's context, and what to do once the
		// refresh has started.
		ctx func() (context.Context, context.CancelFunc, func())
	}{
		{"cancel", context.Canceled, func() (context.Context, context.CancelFunc, func()) {
			ctx, cancel := context.WithCancel(context.Background())
			return ctx, cancel, cancel
		}},
		{"deadline", context.DeadlineExceeded, func() (context.Context, context.CancelFunc, func()) {
			// The refresh is held until after RoundTrip returns, so the
			// deadline is certain to pass first.
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			return ctx, cancel, func() {}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.clock.Advance(time.Hour)
			entered, release := make(chan struct{}), make(chan struct{})
			f.issuer.before = func(context.Context, *oauth2.Token) error {
				close(entered)
				<-release
				return nil
			}
			ctx, cancel, started := tt.ctx()
			defer cancel()
			go func() { <-entered; started() }()
			req, _ := http.NewRequestWithContext(ctx, "GET", f.api.URL, nil)
			_, err := f.tr.RoundTrip(req)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			close(release)
			// The refresh finished in the background and was saved; the
			// next request uses it without refreshing again.
			if code, _ := f.get(t); code != 200 {
				t.Fatalf("status %d", code)
			}
			if n := f.issuer.calls.Load(); n != 1 {
				t.Errorf("refreshed %d times, want 1", n)
			}
			if got := f.store.mustLoad(t, "k").AccessToken; got != "at-2" {
				t.Errorf("stored %q, want at-2", got)
			}
		})
	}
}

func TestAlreadyCancelledContextStartsNoRefresh(t *testing.T) {
	f := newFixture(t)
	f.clock.Advance(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.api.URL, nil)
	if _, err := f.tr.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := f.issuer.calls.Load(); n != 0 {
		t.Errorf("refreshed %d times for a request already gone, want 0", n)
	}
}

// Save failures must not lose the rotated refresh token.

func TestSaveFailureKeepsNewTokenAndSavesItLater(t *testing.T) {
	f := newFixture(t)
	f.clock.Advance(time.Hour)
	f.store.failSaves(errBoom)
	if code, _ := f.get(t); code != 200 {
		t.Fatalf("status %d: the refreshed token should be used though Save failed", code)
	}
	if got := f.store.mustLoad(t, "k").AccessToken; got != "at-1" {
		t.Fatalf("store has %q, want the old at-1 (save failed)", got)
	}
	// Next expiry: the store works again. The unsaved token is saved
	// first and its refresh token (rt-2), not the stored rt-1, is used.
	f.store.saveErr.Store(nil)
	var used []string
	f.issuer.before = func(ctx context.Context, tok *oauth2.Token) error {
		used = append(used, tok.RefreshToken)
		return nil
	}
	f.clock.Advance(2 * time.Hour)
	if code, _ := f.get(t); code != 200 {
		t.Fatalf("status %d", code)
	}
	if diff := cmp.Diff([]string{"rt-2"}, used); diff != "" {
		t.Errorf("refresh tokens presented (-want +got):\n%s", diff)
	}
	if got := f.store.mustLoad(t, "k").AccessToken; got != "at-3" {
		t.Errorf("store has %q, want at-3", got)
	}
}

// Item 9: no token to another host.

func TestRedirectToAnotherHostCarriesNoToken(t *testing.T) {
	f := newFixture(t)
	var otherAuth atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherAuth.Store(r.Header.Get("Authorization"))
		fmt.Fprint(w, "other")
	}))
	defer other.Close()
	// The API on 127.0.0.1 redirects to "localhost": another host by
	// net/http's rule, though the same machine.
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/final":
			otherAuth.Store("same host: " + r.Header.Get("Authorization"))
		default:
			http.Redirect(w, r, otherURL+"/landing", http.StatusFound)
		}
	}))
	defer redirector.Close()
	f.tr.Base = http.DefaultTransport

	resp, err := f.client.Get(redirector.URL + "/away")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := otherAuth.Load(); got != "" {
		t.Errorf("other host got Authorization %q, want none", got)
	}
	resp, err = f.client.Get(redirector.URL + "/same")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := otherAuth.Load(); got != "same host: Bearer at-1" {
		t.Errorf("same-host redirect got %q, want the token", got)
	}
}

// leakyRefresher is a user's Refresher with a secret and no String method.
type leakyRefresher struct {
	secret string
	*issuer
}

func TestNoTokenOrSecretInFormattedValues(t *testing.T) {
	f := newFixture(t)
	f.tr.Refresher = leakyRefresher{"user-refresher-secret", f.issuer}
	f.get(t)
	f.clock.Advance(2 * time.Hour)
	f.get(t)
	out := fmt.Sprintf("%v %+v %#v %s", f.tr, f.tr, f.tr, f.tr) +
		fmt.Sprintf("%v %+v %#v", &f.store.MemoryStore, &f.store.MemoryStore, &f.store.MemoryStore)
	for _, secret := range []string{"at-1", "rt-1", "at-2", "rt-2", "user-refresher-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("formatted output contains %q: %s", secret, out)
		}
	}
}

// Item 12: errors of use.

func TestErrorsOfUse(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(f *fixture)
		want   string
		wantIs error
	}{
		{"nil store", func(f *fixture) { f.tr.Store = nil }, "Store is nil", nil},
		{"nil refresher", func(f *fixture) { f.tr.Refresher = nil }, "Refresher is nil", nil},
		{"no token", func(f *fixture) { f.tr.Key = "nobody" }, `"nobody"`, oauthrt.ErrNoToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tt.setup(f)
			req, _ := http.NewRequest("GET", f.api.URL, nil)
			resp, err := f.tr.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "oauthrt: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want an oauthrt error naming %q", err, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.wantIs)
			}
			if n := f.api.calls.Load(); n != 0 {
				t.Errorf("API called %d times, want 0", n)
			}
		})
	}
}

func TestStoreFailureIsReturnedWrapped(t *testing.T) {
	f := newFixture(t)
	f.store.failLoads(errBoom)
	err := f.getErr(t)
	if !errors.Is(err, errBoom) || !strings.Contains(err.Error(), "oauthrt: loading the token") {
		t.Errorf("err = %v, want the store error wrapped", err)
	}
}

func TestCloseIdleConnectionsReachesBase(t *testing.T) {
	var closed atomic.Int32
	tr := &oauthrt.Transport{Base: closeIdleRecorder{&closed}}
	tr.CloseIdleConnections()
	if closed.Load() != 1 {
		t.Error("Base.CloseIdleConnections not called")
	}
	(&oauthrt.Transport{Base: roundTripperFunc(nil)}).CloseIdleConnections() // no method: no panic
}

type closeIdleRecorder struct{ n *atomic.Int32 }

func (closeIdleRecorder) RoundTrip(*http.Request) (*http.Response, error) { return nil, errBoom }
func (c closeIdleRecorder) CloseIdleConnections()                         { c.n.Add(1) }

func TestMemoryStore(t *testing.T) {
	var s oauthrt.MemoryStore // the zero value works
	ctx := context.Background()
	if _, err := s.Load(ctx, "a"); !errors.Is(err, oauthrt.ErrNoToken) {
		t.Fatalf("Load of nothing: %v, want ErrNoToken", err)
	}
	tok := &oauth2.Token{AccessToken: "a", RefreshToken: "r", Expiry: time.Unix(1e9, 0)}
	if err := s.Save(ctx, "a", tok); err != nil {
		t.Fatal(err)
	}
	tok.AccessToken = "changed by caller"
	got, err := s.Load(ctx, "a")
	if err != nil || got.AccessToken != "a" || got.RefreshToken != "r" || !got.Expiry.Equal(time.Unix(1e9, 0)) {
		t.Errorf("Load = %+v, %v; want the saved copy", got, err)
	}
	if err := s.Save(ctx, "a", nil); err == nil {
		t.Error("Save(nil) succeeded")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Load(cancelled, "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("Load with cancelled context: %v", err)
	}
	if err := s.Save(cancelled, "a", tok); !errors.Is(err, context.Canceled) {
		t.Errorf("Save with cancelled context: %v", err)
	}
}
