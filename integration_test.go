package oauthrt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"github.com/oauthrt/oauthrt/internal/endpoint"
	"github.com/oauthrt/oauthrt/vsts"
	"golang.org/x/oauth2"
)

// The Transport with the real refreshers, against loopback token
// endpoints that speak the protocol.

// tokenEndpoint is a loopback token endpoint. answer decides each reply
// from the posted form; calls counts them.
type tokenEndpoint struct {
	*httptest.Server
	calls  atomic.Int32
	mu     sync.Mutex
	forms  []map[string][]string
	answer func(w http.ResponseWriter, r *http.Request)
}

func newTokenEndpoint(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) *tokenEndpoint {
	e := &tokenEndpoint{answer: answer}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.calls.Add(1)
		r.ParseForm()
		e.mu.Lock()
		e.forms = append(e.forms, r.PostForm)
		e.mu.Unlock()
		e.answer(w, r)
	}))
	t.Cleanup(e.Close)
	return e
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// fastClient retries like the default client, without the waits.
func fastClient() *http.Client {
	return endpoint.NewRetryClient(3, time.Millisecond, 5*time.Millisecond)
}

// withGeneric makes f's Transport refresh through a generic.Refresher
// posting to e.
func withGeneric(f *fixture, e *tokenEndpoint) {
	f.tr.Refresher = &generic.Refresher{
		TokenURL:     e.URL,
		ClientID:     "app",
		ClientSecret: "client-secret-value",
		AuthStyle:    oauth2.AuthStyleInHeader,
		HTTPClient:   fastClient(),
	}
}

func TestGenericRefreshThroughTransport(t *testing.T) {
	f := newFixture(t)
	e := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"access_token":"at-2","token_type":"bearer","expires_in":"3600","refresh_token":"rt-2"}`)
	})
	withGeneric(f, e)
	f.clock.Advance(time.Hour)
	if code, _ := f.get(t); code != 200 {
		t.Fatalf("status %d", code)
	}
	if got := e.forms[0]["refresh_token"]; !cmp.Equal(got, []string{"rt-1"}) {
		t.Errorf("refresh_token posted %q, want rt-1", got)
	}
	got := f.store.mustLoad(t, "k")
	if got.AccessToken != "at-2" || got.RefreshToken != "rt-2" {
		t.Errorf("stored %s/%s, want at-2/rt-2", got.AccessToken, got.RefreshToken)
	}
}

func TestDeadGrantFromTokenEndpoint(t *testing.T) {
	for _, tt := range []struct {
		name     string
		status   int
		body     string
		wantCode string
	}{
		{"invalid_grant", 400, `{"error":"invalid_grant","error_description":"refresh token revoked"}`, "invalid_grant"},
		{"401", 401, `{"error":"access_denied"}`, "access_denied"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			e := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, tt.status, tt.body) })
			withGeneric(f, e)
			f.clock.Advance(time.Hour)
			err := f.getErr(t)
			if !errors.Is(err, oauthrt.ErrReauthRequired) {
				t.Fatalf("err = %v, want ErrReauthRequired", err)
			}
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a *oauth2.RetrieveError inside", err)
			}
			if re.ErrorCode != tt.wantCode {
				t.Errorf("ErrorCode = %q, want %q", re.ErrorCode, tt.wantCode)
			}
			if tt.name == "invalid_grant" && re.ErrorDescription != "refresh token revoked" {
				t.Errorf("ErrorDescription = %q", re.ErrorDescription)
			}
			for range 3 {
				if err := f.getErr(t); !errors.Is(err, oauthrt.ErrReauthRequired) {
					t.Errorf("later request: %v", err)
				}
			}
			if n := e.calls.Load(); n != 1 {
				t.Errorf("token endpoint called %d times, want 1: a rejected refresh token is never sent again", n)
			}
			if n := f.api.calls.Load(); n != 0 {
				t.Errorf("API called %d times, want 0", n)
			}
		})
	}
}

// A 401 that blames the client's credential (a wrong or expired client
// secret) is the application's to fix: the grant is not dead, and once
// the credential is fixed the same refresh token works.
func TestClientRejectedIsNotADeadGrant(t *testing.T) {
	f := newFixture(t)
	var fixed atomic.Bool
	e := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		if !fixed.Load() {
			writeJSON(w, 401, `{"error":"invalid_client","error_description":"client secret expired"}`)
			return
		}
		writeJSON(w, 200, `{"access_token":"at-2","refresh_token":"rt-2","expires_in":3600}`)
	})
	withGeneric(f, e)
	f.clock.Advance(time.Hour)
	err := f.getErr(t)
	var re *oauth2.RetrieveError
	if errors.Is(err, oauthrt.ErrReauthRequired) || !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Fatalf("err = %v, want invalid_client and not ErrReauthRequired", err)
	}
	fixed.Store(true)
	if code, _ := f.get(t); code != 200 {
		t.Fatalf("status %d after the credential was fixed", code)
	}
	if got := e.forms[len(e.forms)-1]["refresh_token"]; !cmp.Equal(got, []string{"rt-1"}) {
		t.Errorf("refresh_token posted %q, want the same rt-1", got)
	}
}

func TestNoRefreshTokenIsADeadGrant(t *testing.T) {
	f := newFixture(t)
	e := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) { t.Error("token endpoint called") })
	withGeneric(f, e)
	f.store.put(t, "k", &oauth2.Token{AccessToken: "at-1", Expiry: f.clock.Now()})
	if err := f.getErr(t); !errors.Is(err, oauthrt.ErrReauthRequired) {
		t.Fatalf("err = %v, want ErrReauthRequired", err)
	}
	if n := f.api.calls.Load(); n != 0 {
		t.Errorf("API called %d times, want 0", n)
	}
}

// A 503, a 429 or a 500 from the token endpoint is not retried within the
// refresh: the request fails at once, and the key backs off for a step
// that doubles from a second (a Retry-After of 0 does not shorten it).
// Requests meanwhile fail without calling the endpoint; the first one
// after the step calls it again.
func TestTokenEndpointFaultsBackedOff(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		header string
	}{
		{"503 Retry-After", 503, "0"},
		{"429 Retry-After", 429, "0"},
		{"500", 500, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			e := newTokenEndpoint(t, nil)
			e.answer = func(w http.ResponseWriter, r *http.Request) {
				if e.calls.Load() < 3 {
					if tt.header != "" {
						w.Header().Set("Retry-After", tt.header)
					}
					writeJSON(w, tt.status, `{"error":"temporarily_unavailable"}`)
					return
				}
				writeJSON(w, 200, `{"access_token":"at-2","expires_in":3600}`)
			}
			withGeneric(f, e)
			f.clock.Advance(time.Hour)
			for i, step := range []time.Duration{time.Second, 2 * time.Second} {
				err := f.getErr(t)
				var be *oauthrt.BackoffError
				var re *oauth2.RetrieveError
				if !errors.As(err, &be) || !be.Next.Equal(f.clock.Now().Add(step)) {
					t.Fatalf("err = %v, want a *oauthrt.BackoffError until %v", err, f.clock.Now().Add(step))
				}
				if !errors.As(be.Err, &re) || re.Response.StatusCode != tt.status {
					t.Errorf("BackoffError.Err = %v, want the %d answer", be.Err, tt.status)
				}
				f.clock.Advance(step - time.Millisecond)
				if err := f.getErr(t); !errors.As(err, &be) {
					t.Errorf("within the backoff: %v, want a *oauthrt.BackoffError", err)
				}
				if n := e.calls.Load(); n != int32(i+1) {
					t.Fatalf("token endpoint called %d times, want %d: once per backoff step", n, i+1)
				}
				f.clock.Advance(time.Millisecond)
			}
			if code, _ := f.get(t); code != 200 {
				t.Fatalf("status %d", code)
			}
			if n := e.calls.Load(); n != 3 {
				t.Errorf("token endpoint called %d times, want 3", n)
			}
		})
	}
}

func TestTokenEndpointOutageIsNotADeadGrant(t *testing.T) {
	f := newFixture(t)
	e := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 500, `oops`) })
	withGeneric(f, e)
	f.clock.Advance(time.Hour)
	err := f.getErr(t)
	var re *oauth2.RetrieveError
	if errors.Is(err, oauthrt.ErrReauthRequired) || !errors.As(err, &re) || re.Response.StatusCode != 500 {
		t.Fatalf("err = %v, want a transient RetrieveError with status 500", err)
	}
	if !strings.Contains(err.Error(), "500") {
		t.Errorf("err = %q does not name the status", err)
	}
	var be *oauthrt.BackoffError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want a *oauthrt.BackoffError", err)
	}
	// Once the endpoint recovers, the same refresh token works, from the
	// end of the backoff step on.
	e.answer = func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"access_token":"at-2","expires_in":3600}`)
	}
	f.clock.Advance(be.Next.Sub(f.clock.Now()))
	if code, _ := f.get(t); code != 200 {
		t.Fatalf("after recovery: status %d", code)
	}
	if n := e.calls.Load(); n != 2 {
		t.Errorf("token endpoint called %d times, want 2", n)
	}
	for i, rt := range postedRefreshTokens(e) {
		if rt != "rt-1" {
			t.Errorf("call %d posted refresh token %q, want rt-1", i+1, rt)
		}
	}
}

func TestTokenEndpointHangingRespectsContext(t *testing.T) {
	f := newFixture(t)
	arrived := make(chan struct{}, 1)
	unblock := make(chan struct{})
	e := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-unblock
		writeJSON(w, 500, `{}`)
	})
	defer close(unblock)
	withGeneric(f, e)
	f.clock.Advance(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.api.URL, nil)
	_, err := f.tr.RoundTrip(req)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// Item 9: a whole scenario, checked for every secret it used.
func TestNoSecretInErrorsOrLogs(t *testing.T) {
	secrets := []string{"at-1", "rt-1", "client-secret-value", "at-new-secret", "rt-new-secret"}
	var logs bytes.Buffer
	f := newFixture(t)
	f.tr.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var mode atomic.Int32
	e := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		echo := fmt.Sprintf("got %s with %s", r.PostForm.Get("refresh_token"), r.Header.Get("Authorization"))
		switch mode.Load() {
		case 0: // echoes what it was sent, in an error
			writeJSON(w, 400, fmt.Sprintf(`{"error":"invalid_grant","error_description":%q}`, echo))
		case 1: // an HTML page with the echo
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, "<html>%s</html>", echo)
		case 2: // new tokens inside an error
			writeJSON(w, 200, `{"error":"server_error","access_token":"at-new-secret","refresh_token":"rt-new-secret"}`)
		case 3: // success, but the store fails to save
			writeJSON(w, 200, `{"access_token":"at-new-secret","refresh_token":"rt-new-secret","expires_in":60}`)
		}
	})
	withGeneric(f, e)
	var out []string
	for m := range int32(4) {
		mode.Store(m)
		key := fmt.Sprint("key-", m) // a fresh key each time: a dead grant is remembered
		f.store.put(t, key, &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-1", Expiry: f.clock.Now()})
		if m == 3 {
			f.store.failSaves(errBoom)
		}
		req, _ := http.NewRequestWithContext(oauthrt.WithKey(context.Background(), key), "GET", f.api.URL, nil)
		resp, err := f.client.Do(req)
		if err != nil {
			out = append(out, fmt.Sprintf("%v|%+v|%#v", err, err, err))
			var re *oauth2.RetrieveError
			if errors.As(err, &re) {
				out = append(out, re.Error(), string(re.Body))
			}
			continue
		}
		resp.Body.Close()
	}
	if len(out) < 3 {
		t.Fatalf("only %d failures, want 3", len(out))
	}
	f.tr.Close() // the refreshes log as they end, after their requests went on
	if !strings.Contains(logs.String(), "saving the refreshed token failed") {
		t.Errorf("the failed save was not logged: %s", logs.String())
	}
	out = append(out, logs.String(), fmt.Sprintf("%v %+v %#v", f.tr, f.tr, f.tr),
		fmt.Sprintf("%v %+v %#v", f.tr.Refresher, f.tr.Refresher, f.tr.Refresher))
	for _, s := range out {
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Errorf("%q appears in %q", secret, s)
			}
		}
	}
}

// Item 11: Azure DevOps through the Transport.
func TestVSTSThroughTransport(t *testing.T) {
	f := newFixture(t)
	e := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"access_token":"at-2","token_type":"jwt-bearer","expires_in":"3599","refresh_token":"rt-2"}`)
	})
	f.tr.Refresher = &vsts.Refresher{
		ClientSecret: "vsts-client-secret",
		RedirectURL:  "https://app.example/callback",
		TokenURL:     e.URL,
		HTTPClient:   fastClient(),
	}
	// Azure DevOps: a rejected token gets a 203 sign-in page unless the
	// request says X-TFS-FedAuthRedirect: Suppress.
	var suppress []string
	var mu sync.Mutex
	devops := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		suppress = append(suppress, r.Header.Get("X-TFS-FedAuthRedirect"))
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer at-2" {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNonAuthoritativeInfo)
			io.WriteString(w, "<html>Sign in</html>")
			return
		}
		io.WriteString(w, `{"count":0}`)
	}))
	defer devops.Close()
	resp, err := f.client.Get(devops.URL + "/_apis/projects")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"count":0}` {
		t.Fatalf("got %d %q, want 200 after refreshing on the 203", resp.StatusCode, body)
	}
	if diff := cmp.Diff([]string{"Suppress", "Suppress"}, suppress); diff != "" {
		t.Errorf("X-TFS-FedAuthRedirect (-want +got):\n%s", diff)
	}
	if n := e.calls.Load(); n != 1 {
		t.Errorf("token endpoint called %d times, want 1", n)
	}
	if got := e.forms[0]["assertion"]; !cmp.Equal(got, []string{"rt-1"}) {
		t.Errorf("assertion posted %q, want rt-1", got)
	}
}
