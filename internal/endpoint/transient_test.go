package endpoint_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/endpoint"
)

// An error answer is transient when another try may get a token: 429,
// 5xx but 501, or temporarily_unavailable; never when its code says the
// grant is dead. The TransientError wraps the ResponseError, whose message
// it keeps.
func TestDoTransientAnswers(t *testing.T) {
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name       string
		status     int
		retryAfter string
		body       string
		code       string // of the RetrieveError
		transient  bool
		wait       [2]time.Duration // RetryAfter's range, when transient
		dead       bool
	}{
		{name: "429 Retry-After seconds", status: 429, retryAfter: "7", body: `{"error":"slow_down"}`, code: "slow_down", transient: true, wait: [2]time.Duration{7 * time.Second, 7 * time.Second}},
		{name: "429 Retry-After date", status: 429, retryAfter: date, body: `{}`, transient: true, wait: [2]time.Duration{88 * time.Second, 90 * time.Second}},
		{name: "429 without Retry-After", status: 429, body: `{}`, transient: true},
		{name: "503 Retry-After", status: 503, retryAfter: "120", body: `{"error":"server_error"}`, code: "server_error", transient: true, wait: [2]time.Duration{2 * time.Minute, 2 * time.Minute}},
		{name: "503", status: 503, body: `{}`, transient: true},
		{name: "500", status: 500, body: `{"error":"server_error"}`, code: "server_error", transient: true},
		{name: "500 with Retry-After", status: 500, retryAfter: "5", body: `{}`, transient: true, wait: [2]time.Duration{5 * time.Second, 5 * time.Second}},
		{name: "502 HTML page", status: 502, body: `<html>Bad Gateway</html>`, transient: true},
		{name: "503 unreadable Retry-After", status: 503, retryAfter: "soon", body: `{}`, transient: true},
		{name: "503 Retry-After in the past", status: 503, retryAfter: time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat), body: `{}`, transient: true},
		{name: "400 temporarily_unavailable", status: 400, retryAfter: "3", body: `{"error":"temporarily_unavailable"}`, code: "temporarily_unavailable", transient: true, wait: [2]time.Duration{3 * time.Second, 3 * time.Second}},
		{name: "200 temporarily_unavailable", status: 200, body: `{"error":"temporarily_unavailable"}`, code: "temporarily_unavailable", transient: true},
		{name: "501", status: 501, retryAfter: "5", body: `{"error":"unsupported"}`, code: "unsupported"},
		{name: "400 invalid_grant", status: 400, body: `{"error":"invalid_grant"}`, code: "invalid_grant", dead: true},
		{name: "500 invalid_grant", status: 500, body: `{"error":"invalid_grant"}`, code: "invalid_grant", dead: true},
		{name: "503 bad_refresh_token", status: 503, retryAfter: "5", body: `{"error":"bad_refresh_token"}`, code: "bad_refresh_token", dead: true},
		{name: "400 invalid_request", status: 400, body: `{"error":"invalid_request"}`, code: "invalid_request"},
		{name: "401 without a code", status: 401, body: `{}`, dead: true},
		{name: "200 without a token", status: 200, body: `{"token_type":"bearer"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, calls := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				writeJSON(w, tt.status, tt.body)
			})
			_, err := endpoint.Do(context.Background(), fastClient(), endpoint.Request{URL: srv.URL})
			if n := calls.Load(); n != 1 {
				t.Errorf("server got %d calls, want 1: the client retries no answer", n)
			}
			checkResponseError(t, err, tt.status, tt.code, tt.dead)
			var te *oauthrt.TransientError
			if got := errors.As(err, &te); got != tt.transient {
				t.Fatalf("errors.As(%v, *TransientError) = %v, want %v", err, got, tt.transient)
			}
			if !tt.transient {
				return
			}
			if te.RetryAfter < tt.wait[0] || te.RetryAfter > tt.wait[1] {
				t.Errorf("RetryAfter = %v, want within [%v, %v]", te.RetryAfter, tt.wait[0], tt.wait[1])
			}
			if te.AnswerLost {
				t.Error("AnswerLost is set, but an answer came")
			}
			var rerr *endpoint.ResponseError
			errors.As(err, &rerr)
			if err.Error() != rerr.Error() {
				t.Errorf("Error() = %q, want the ResponseError's %q", err, rerr)
			}
		})
	}
}

// A body too large to read is an error answer, transient or not by its
// status.
func TestDoLargeBodyTransient(t *testing.T) {
	for status, transient := range map[int]bool{503: true, 400: false} {
		srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			io.WriteString(w, strings.Repeat("x", endpoint.MaxBody+1))
		})
		_, err := endpoint.Do(context.Background(), fastClient(), endpoint.Request{URL: srv.URL})
		checkResponseError(t, err, status, "", false)
		var te *oauthrt.TransientError
		if got := errors.As(err, &te); got != transient {
			t.Errorf("status %d: errors.As(%v, *TransientError) = %v, want %v", status, err, got, transient)
		}
	}
}

// hijack takes the connection of w and closes it, without an answer.
func hijack(t *testing.T, w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("Hijack: %v", err)
		return
	}
	conn.Close()
}

// A request the endpoint read whole, and whose answer never came, is a
// lost answer: the client does not send it again (the refresh token it
// carries may be rotated already), and says AnswerLost.
func TestDoAnswerLost(t *testing.T) {
	const secret = "REFRESH-TOKEN-SECRET"
	tests := []struct {
		name    string
		handler func(t *testing.T, w http.ResponseWriter, r *http.Request)
	}{
		{
			name: "closed after the request was read",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				if body, err := io.ReadAll(r.Body); err != nil || !strings.Contains(string(body), secret) {
					t.Errorf("the server read %q, %v", body, err)
				}
				hijack(t, w)
			},
		},
		{
			name: "closed in the middle of the body",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Length", "100")
				w.WriteHeader(http.StatusOK)
				io.WriteString(w, `{"access_token":"AT`)
				if err := http.NewResponseController(w).Flush(); err != nil {
					t.Errorf("Flush: %v", err)
				}
				hijack(t, w)
			},
		},
	}
	clients := map[string]func() *http.Client{
		"retry client":   fastClient,
		"default client": func() *http.Client { return nil },
		"plain client":   func() *http.Client { return &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()} },
	}
	for _, tt := range tests {
		for name, client := range clients {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				srv, calls := countingServer(t, func(w http.ResponseWriter, r *http.Request) { tt.handler(t, w, r) })
				_, err := endpoint.Do(context.Background(), client(), endpoint.Request{
					URL:     srv.URL,
					Form:    url.Values{"refresh_token": {secret}},
					Secrets: []string{secret},
				})
				if n := calls.Load(); n != 1 {
					t.Errorf("server got %d requests, want 1", n)
				}
				var te *oauthrt.TransientError
				if !errors.As(err, &te) || !te.AnswerLost {
					t.Fatalf("Do = %v, want a TransientError with AnswerLost", err)
				}
				var rerr *endpoint.ResponseError
				if errors.As(err, &rerr) {
					t.Errorf("%v is a ResponseError, but no answer came whole", err)
				}
				if msg := err.Error(); !strings.HasPrefix(msg, "oauthrt: token endpoint: ") || strings.Contains(msg, secret) {
					t.Errorf("Error() = %q", msg)
				}
			})
		}
	}
}

// refusingAddr returns an address that refuses the first connection, and
// starts srv there when it has: ctx carries a trace that starts the
// server in the dialer's ConnectDone, before the dial returns, so that the
// next attempt finds it. refused counts the refused connections.
func refusingAddr(t *testing.T, h http.HandlerFunc) (ctx context.Context, addr string, refused *atomic.Int32, calls *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = l.Addr().String()
	l.Close() // nothing listens there: a connection is refused
	refused, calls = new(atomic.Int32), new(atomic.Int32)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	ctx = httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		ConnectDone: func(_, _ string, err error) {
			if err == nil || refused.Add(1) > 1 {
				return
			}
			l, err := net.Listen("tcp", addr)
			if err != nil {
				t.Errorf("listening on %s again: %v", addr, err)
				return
			}
			srv.Listener.Close()
			srv.Listener = l
			srv.Start()
		},
	})
	return ctx, addr, refused, calls
}

// A connection refused never reached the endpoint: it is transient, the
// answer is not lost, and the retry client tries again.
func TestDoRetriesRefusedConnection(t *testing.T) {
	for name, client := range map[string]func() *http.Client{
		"retry client":   fastClient,
		"default client": func() *http.Client { return nil },
	} {
		t.Run(name, func(t *testing.T) {
			ctx, addr, refused, calls := refusingAddr(t, func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 200, `{"access_token":"AT"}`)
			})
			tok, err := endpoint.Do(ctx, client(), endpoint.Request{URL: "http://" + addr + "/token"})
			if err != nil || tok.AccessToken != "AT" {
				t.Fatalf("Do = %v, %v; want a token", tok, err)
			}
			if r, c := refused.Load(), calls.Load(); r != 1 || c != 1 {
				t.Errorf("%d connections refused, %d requests served; want 1 and 1", r, c)
			}
		})
	}
}

// With a client that does not retry, a refused connection comes back as a
// TransientError whose answer is not lost.
func TestDoRefusedIsNotLost(t *testing.T) {
	ctx, addr, refused, calls := refusingAddr(t, func(w http.ResponseWriter, r *http.Request) {})
	_, err := endpoint.Do(ctx, endpoint.NewRetryClient(0, 0, 0), endpoint.Request{URL: "http://" + addr + "/token"})
	var te *oauthrt.TransientError
	if !errors.As(err, &te) || te.AnswerLost || te.RetryAfter != 0 {
		t.Fatalf("Do = %v (%+v), want a TransientError, AnswerLost false", err, te)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("%v does not wrap the *net.OpError", err)
	}
	if r, c := refused.Load(), calls.Load(); r != 1 || c != 0 {
		t.Errorf("%d connections refused, %d requests served; want 1 and 0", r, c)
	}
}

// The default client returns a 503 at once, Retry-After or not: the
// Transport's backoff, shared by the fleet, does the waiting.
func TestDefaultClientSendsOnce(t *testing.T) {
	for _, retryAfter := range []string{"0", "1", ""} {
		srv, calls := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			writeJSON(w, 503, `{"error":"temporarily_unavailable"}`)
		})
		_, err := endpoint.Do(context.Background(), nil, endpoint.Request{URL: srv.URL})
		var te *oauthrt.TransientError
		if !errors.As(err, &te) {
			t.Errorf("Retry-After %q: Do = %v, want a TransientError", retryAfter, err)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("Retry-After %q: server got %d calls, want 1", retryAfter, n)
		}
	}
}

// The retry client knows by itself whether a request was written, also
// when it is used without Do.
func TestNewRetryClientAlone(t *testing.T) {
	ctx, addr, refused, calls := refusingAddr(t, func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		hijack(t, w)
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/token", strings.NewReader("refresh_token=RT"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := fastClient().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("the server answered, but it hangs up")
	}
	if r, c := refused.Load(), calls.Load(); r != 1 || c != 1 {
		t.Errorf("%d connections refused, %d requests served; want 1 (retried) and 1 (not resent)", r, c)
	}
}
