package endpoint_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/endpoint"
	"golang.org/x/oauth2"
)

const retryMax = 2

// fastClient retries like the default client, with waits short enough
// for tests.
func fastClient() *http.Client {
	return endpoint.NewRetryClient(retryMax, time.Millisecond, 5*time.Millisecond)
}

// countingServer serves h and counts the requests it gets.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func TestDoSendsForm(t *testing.T) {
	type seen struct {
		Method, ContentType, Accept, Authorization string
		Form                                       url.Values
	}
	var got seen
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("ParseForm: %v", err)
		}
		got = seen{r.Method, r.Header.Get("Content-Type"), r.Header.Get("Accept"), r.Header.Get("Authorization"), r.PostForm}
		writeJSON(w, 200, `{"access_token":"AT","refresh_token":"RT","token_type":"bearer"}`)
	})
	tok, err := endpoint.Do(context.Background(), fastClient(), endpoint.Request{
		URL:    srv.URL,
		Form:   url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"R T&+"}},
		Header: http.Header{"Authorization": {"Basic abc"}},
	})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if tok.AccessToken != "AT" || tok.RefreshToken != "RT" {
		t.Errorf("token = %+v", tok)
	}
	want := seen{
		Method:        http.MethodPost,
		ContentType:   "application/x-www-form-urlencoded",
		Accept:        "application/json",
		Authorization: "Basic abc",
		Form:          url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"R T&+"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
}

// closeCounter counts the Close calls on the bodies of the responses its
// base transport returns.
type closeCounter struct {
	base   http.RoundTripper
	closes atomic.Int32
}

func (c *closeCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if resp != nil {
		resp.Body = &countedBody{ReadCloser: resp.Body, n: &c.closes}
	}
	return resp, err
}

type countedBody struct {
	io.ReadCloser
	n *atomic.Int32
}

func (b *countedBody) Close() error {
	b.n.Add(1)
	return b.ReadCloser.Close()
}

func TestDoLargeBody(t *testing.T) {
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"AT","pad":"`)
		// A valid token, only too large: Do must refuse it for its size.
		chunk := strings.Repeat("a", 64<<10)
		for range (20 << 20) / len(chunk) {
			if _, err := io.WriteString(w, chunk); err != nil {
				return // the client hung up, as it should
			}
		}
		io.WriteString(w, `"}`)
	})
	cc := &closeCounter{base: fastClient().Transport}
	_, err := endpoint.Do(context.Background(), &http.Client{Transport: cc}, endpoint.Request{URL: srv.URL})
	if err == nil {
		t.Fatal("Do accepted a 20 MiB body")
	}
	checkResponseError(t, err, 200, "", false)
	if want := "oauthrt: token endpoint answered 200 OK: body larger than 1 MiB"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
	if n := cc.closes.Load(); n != 1 {
		t.Errorf("body closed %d times, want 1", n)
	}
}

func TestDoClosesBody(t *testing.T) {
	for _, status := range []int{200, 400} {
		srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, status, `{"access_token":"AT","error":"x"}`)
		})
		cc := &closeCounter{base: fastClient().Transport}
		endpoint.Do(context.Background(), &http.Client{Transport: cc}, endpoint.Request{URL: srv.URL})
		if n := cc.closes.Load(); n != 1 {
			t.Errorf("status %d: body closed %d times, want 1", status, n)
		}
	}
}

func TestDoConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	const secret = "SECRET-IN-URL"
	_, err = endpoint.Do(context.Background(), fastClient(), endpoint.Request{
		URL:     "http://" + addr + "/token?key=" + secret,
		Secrets: []string{secret},
	})
	if err == nil {
		t.Fatal("Do succeeded against a closed port")
	}
	if errors.Is(err, oauthrt.ErrReauthRequired) {
		t.Errorf("%v wraps ErrReauthRequired", err)
	}
	var te *oauthrt.TransientError
	if !errors.As(err, &te) || te.AnswerLost {
		t.Errorf("%v is no TransientError without AnswerLost: nothing was sent", err)
	}
	var rerr *endpoint.ResponseError
	if errors.As(err, &rerr) {
		t.Errorf("%v is a *ResponseError, but nothing answered", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("%v does not wrap the *net.OpError", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "oauthrt: token endpoint: ") || strings.Contains(msg, secret) {
		t.Errorf("Error() = %q", msg)
	}
}

// hangingServer answers nothing until the test ends; got receives a value
// for each request it holds.
func hangingServer(t *testing.T, h http.HandlerFunc) (srv *httptest.Server, got chan struct{}) {
	got = make(chan struct{}, 10)
	release := make(chan struct{})
	srv, _ = countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if h != nil {
			h(w, r)
		}
		got <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	return srv, got
}

func TestDoCanceled(t *testing.T) {
	srv, got := hangingServer(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-got
		cancel()
	}()
	_, err := endpoint.Do(ctx, fastClient(), endpoint.Request{URL: srv.URL})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Do = %v, want context.Canceled", err)
	}
	if !strings.HasPrefix(err.Error(), "oauthrt: token endpoint: ") {
		t.Errorf("Error() = %q", err)
	}
	if errors.Is(err, oauthrt.ErrReauthRequired) {
		t.Errorf("%v wraps ErrReauthRequired", err)
	}
	notTransient(t, err)
}

// notTransient fails t if err, the error of a request whose caller gave
// up, is a TransientError: the endpoint did not fail.
func notTransient(t *testing.T, err error) {
	t.Helper()
	var te *oauthrt.TransientError
	if errors.As(err, &te) {
		t.Errorf("%v is a TransientError, but the caller's context ended it", err)
	}
}

func TestDoDeadline(t *testing.T) {
	srv, _ := hangingServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := endpoint.Do(ctx, fastClient(), endpoint.Request{URL: srv.URL})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do = %v, want context.DeadlineExceeded", err)
	}
	notTransient(t, err)
}

// The caller's context ends the body's read too, and that is no lost
// answer either.
func TestDoCanceledDuringBody(t *testing.T) {
	release := make(chan struct{})
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"access_token":`)
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base := fastClient().Transport
	// Cancelled once the headers are in: Do's read of the body waits.
	c := &http.Client{Transport: roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := base.RoundTrip(req)
		cancel()
		return resp, err
	})}
	_, err := endpoint.Do(ctx, c, endpoint.Request{URL: srv.URL})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "reading the answer") {
		t.Fatalf("Do = %v, want context.Canceled while reading the answer", err)
	}
	notTransient(t, err)
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// The wait between attempts after a refused connection ends with the
// caller's context.
func TestDoDeadlineDuringBackoff(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // every connection is refused, and retried after 25 s
	slow := endpoint.NewRetryClient(3, 25*time.Second, 25*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = endpoint.Do(ctx, slow, endpoint.Request{URL: "http://" + addr + "/token"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do = %v, want context.DeadlineExceeded", err)
	}
	notTransient(t, err)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Do returned after %v: the backoff wait ignored the context", d)
	}
}

func TestDoRefusesRedirects(t *testing.T) {
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		for name, client := range map[string]*http.Client{
			"retry client":        fastClient(),
			"client that follows": {},
		} {
			t.Run(http.StatusText(status)+"/"+name, func(t *testing.T) {
				other, otherCalls := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
					writeJSON(w, 200, `{"access_token":"STOLEN"}`)
				})
				srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, other.URL+"/token", status)
				})
				tok, err := endpoint.Do(context.Background(), client, endpoint.Request{
					URL:  srv.URL,
					Form: url.Values{"client_secret": {"CS"}},
				})
				if n := otherCalls.Load(); n != 0 {
					t.Errorf("the other server got %d requests", n)
				}
				if err == nil {
					t.Fatalf("Do = %v, want an error", tok)
				}
				checkResponseError(t, err, status, "", false)
			})
		}
	}
}

func TestNewRetryClientRefusesRedirects(t *testing.T) {
	other, otherCalls := countingServer(t, func(w http.ResponseWriter, r *http.Request) {})
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL, http.StatusTemporaryRedirect)
	})
	resp, err := fastClient().Post(srv.URL, "text/plain", strings.NewReader("secret"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || otherCalls.Load() != 0 {
		t.Errorf("status %d, other server got %d calls; want 307 and 0", resp.StatusCode, otherCalls.Load())
	}
}

func TestDefaultClient(t *testing.T) {
	if endpoint.DefaultClient() != endpoint.DefaultClient() {
		t.Error("DefaultClient returns a new client each time")
	}
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"access_token":"AT"}`)
	})
	tok, err := endpoint.Do(context.Background(), nil, endpoint.Request{URL: srv.URL})
	if err != nil || tok.AccessToken != "AT" {
		t.Errorf("Do with a nil client = %v, %v", tok, err)
	}
}

func TestKeepRefreshToken(t *testing.T) {
	rotated := &oauth2.Token{AccessToken: "AT", RefreshToken: "NEW"}
	if got := endpoint.KeepRefreshToken(rotated, "OLD"); got.RefreshToken != "NEW" {
		t.Errorf("rotated: RefreshToken = %q, want NEW", got.RefreshToken)
	}
	extra := map[string]any{"id_token": "IDT"}
	kept := (&oauth2.Token{AccessToken: "AT"}).WithExtra(extra)
	got := endpoint.KeepRefreshToken(kept, "OLD")
	if got.RefreshToken != "OLD" || got.AccessToken != "AT" || got.Extra("id_token") != "IDT" {
		t.Errorf("kept: %+v, Extra %v", got, got.Extra("id_token"))
	}
	if kept.RefreshToken != "" {
		t.Error("KeepRefreshToken modified its argument")
	}
	if endpoint.KeepRefreshToken(nil, "OLD") != nil {
		t.Error("KeepRefreshToken(nil) != nil")
	}
}

func TestClientRejected(t *testing.T) {
	parse := func(status int, body string) error {
		_, err := endpoint.Parse(answer(status, jsonType), []byte(body), nil)
		return err
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"invalid_client 400", parse(400, `{"error":"invalid_client"}`), true},
		{"401 without a code", parse(401, `{}`), true},
		{"unauthorized_client 400", parse(400, `{"error":"unauthorized_client"}`), true},
		{"invalid_client 401", parse(401, `{"error":"invalid_client"}`), true},
		{"401 not JSON", parse(401, "Unauthorized"), true},
		{"invalid_grant", parse(400, `{"error":"invalid_grant"}`), false},
		{"invalid_grant 401", parse(401, `{"error":"invalid_grant"}`), false},
		{"invalid_scope 401", parse(401, `{"error":"invalid_scope"}`), false},
		{"invalid_request 400", parse(400, `{"error":"invalid_request"}`), false},
		{"unknown code 401", parse(401, `{"error":"unauthorized"}`), false},
		{"500", parse(500, `{"error":"server_error"}`), false},
		{"wrapped", errors.Join(errors.New("x"), parse(401, "")), true},
		{"other", context.Canceled, false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := endpoint.ClientRejected(tt.err); got != tt.want {
				t.Errorf("ClientRejected(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// DoFresh builds each attempt anew, and tries again only what the
// default client would: a request the endpoint never got, not an answer
// (a 502 included), not a request refused before it was sent, and never
// with a client of the caller's.
func TestDoFreshBuildsEachAttempt(t *testing.T) {
	var builds []string
	build := func(u string) func() (endpoint.Request, error) {
		return func() (endpoint.Request, error) {
			builds = append(builds, fmt.Sprint(len(builds)))
			return endpoint.Request{URL: u, Form: url.Values{"n": {builds[len(builds)-1]}}}, nil
		}
	}

	var got []string
	ctx, addr, refused, calls := refusingAddr(t, func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.FormValue("n")) // one request at a time
		writeJSON(w, 200, `{"access_token":"at","token_type":"Bearer"}`)
	})
	if _, err := endpoint.DoFresh(ctx, nil, build("http://"+addr+"/token")); err != nil || len(builds) != 2 {
		t.Errorf("after a refused connection: err %v, %d builds, want success after 2", err, len(builds))
	}
	if r, c := refused.Load(), calls.Load(); r != 1 || c != 1 || len(got) != 1 || got[0] != "1" {
		t.Errorf("%d refused, %d served, the server saw attempts %q; want 1, 1 and the second", r, c, got)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	builds = nil
	_, err := endpoint.DoFresh(context.Background(), nil, build(srv.URL))
	var te *oauthrt.TransientError
	if !errors.As(err, &te) || len(builds) != 1 {
		t.Errorf("a 502: err %v, %d builds, want a TransientError after 1", err, len(builds))
	}

	builds = nil
	ctx, addr, _, _ = refusingAddr(t, func(w http.ResponseWriter, r *http.Request) {})
	if _, err := endpoint.DoFresh(ctx, endpoint.NewRetryClient(0, 0, 0), build("http://"+addr+"/token")); !errors.As(err, &te) || len(builds) != 1 {
		t.Errorf("with the caller's client: err %v, %d builds, want the refused connection after 1", err, len(builds))
	}

	builds = nil
	if _, err := endpoint.DoFresh(context.Background(), nil, build("http://token.example/")); !errors.Is(err, oauthrt.ErrInsecureURL) || len(builds) != 1 {
		t.Errorf("plain http: err %v, %d builds, want ErrInsecureURL after 1", err, len(builds))
	}

	failing := func() (endpoint.Request, error) { return endpoint.Request{}, errors.New("cannot sign") }
	if _, err := endpoint.DoFresh(context.Background(), nil, failing); err == nil || err.Error() != "cannot sign" {
		t.Errorf("a failing build: %v", err)
	}
}

// DoFresh does not send a written request again: its answer may be lost
// after the endpoint used the refresh token.
func TestDoFreshAnswerLost(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.ReadAll(r.Body)
		hijack(t, w)
	}))
	defer srv.Close()
	builds := 0
	_, err := endpoint.DoFresh(context.Background(), nil, func() (endpoint.Request, error) {
		builds++
		return endpoint.Request{URL: srv.URL}, nil
	})
	var te *oauthrt.TransientError
	if !errors.As(err, &te) || !te.AnswerLost || builds != 1 || calls.Load() != 1 {
		t.Errorf("DoFresh = %v, after %d builds and %d requests; want a lost answer after 1 and 1", err, builds, calls.Load())
	}
}
