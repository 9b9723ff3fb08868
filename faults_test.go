package oauthrt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"go.uber.org/goleak"
	"golang.org/x/oauth2"
)

// Fault injection (issue 5, item 2). Each test breaks one thing the
// Transport depends on and checks the outcome: a clear error or a
// recovery, no token lost (the store keeps the last good token, and a
// rotated refresh token is kept), and no goroutine left once the
// Transport and the servers are closed.
//
//	token endpoint refused         TestFaultTokenEndpointRefused
//	token endpoint reset mid-body  TestFaultTokenEndpointResetMidBody
//	token endpoint never answers   TestFaultTokenEndpointStalls/never_answers
//	token endpoint trickles        TestFaultTokenEndpointStalls/trickles_a_byte_a_second
//	token endpoint sends 20 MiB    TestFaultTokenEndpointHugeBody
//	token endpoint redirects       TestFaultTokenEndpointRedirect
//	429 with Retry-After           TestFaultTokenEndpointRetryAfter
//	500 storms                     TestFaultTokenEndpoint500Storm
//	API refused, reset, silent     TestFaultAPI
//	API answers 401 forever        TestFaultAPIRejectsEveryToken
//	store Load fails               TestFaultStoreLoadFails
//	store Save fails               TestFaultStoreSaveFails
//	store Load hangs               TestFaultStoreLoadHangs
//	store Save hangs               TestFaultStoreSaveHangs

const (
	// faultDeadline is the deadline of a request meant to meet a stalled
	// server or store.
	faultDeadline = 300 * time.Millisecond

	// promptly bounds how long a request may run past its deadline, or
	// Close may take, where nothing should hold them up. It is generous:
	// a loaded machine is not a bug, but waiting for RefreshTimeout or
	// the 30-second attempt timeout is.
	promptly = 5 * time.Second
)

// tokenJSON is a healthy token endpoint's answer: at-2, with the refresh
// token rotated to rt-2.
const tokenJSON = `{"access_token":"at-2","token_type":"bearer","expires_in":3600,"refresh_token":"rt-2"}`

// noLeaks fails t if a goroutine started during the test still runs once
// the test's cleanups (its Transport's Close, its servers' Close) are
// done. Call it first, so that its check runs last.
func noLeaks(t *testing.T) {
	t.Helper()
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
}

// newEndpointFixture returns a fixture whose Transport refreshes through
// a generic.Refresher posting to tokenURL with client (nil: fastClient).
// Its clock starts at the real time, by which the endpoint dates its
// tokens, and moves only when the test advances it (past a backoff); its
// stored token at-1/rt-1 has expired.
func newEndpointFixture(t *testing.T, tokenURL string, client *http.Client) *fixture {
	t.Helper()
	if client == nil {
		client = fastClient()
	}
	f := newFixture(t)
	f.clock.mu.Lock()
	f.clock.now = time.Now()
	f.clock.mu.Unlock()
	f.tr.Refresher = &generic.Refresher{
		TokenURL:     tokenURL,
		ClientID:     "app",
		ClientSecret: "client-secret-value",
		AuthStyle:    oauth2.AuthStyleInHeader,
		HTTPClient:   client,
	}
	f.store.put(t, "k", &oauth2.Token{
		AccessToken:  "at-1",
		RefreshToken: "rt-1",
		TokenType:    "Bearer",
		Expiry:       f.clock.Now().Add(-time.Minute),
	})
	return f
}

// wantStored fails t unless the store holds the access token at and the
// refresh token rt under "k".
func wantStored(t *testing.T, f *fixture, at, rt string) {
	t.Helper()
	got := f.store.mustLoad(t, "k")
	if got.AccessToken != at || got.RefreshToken != rt {
		t.Errorf("store holds %s/%s, want %s/%s", got.AccessToken, got.RefreshToken, at, rt)
	}
}

// wantTransient fails t unless err is a failed refresh that leaves the
// grant alive, so that the next request tries the same refresh token.
func wantTransient(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if errors.Is(err, oauthrt.ErrReauthRequired) {
		t.Errorf("err = %v: a passing fault taken for a dead grant", err)
	}
	if !strings.Contains(err.Error(), `refreshing the token of key "k"`) {
		t.Errorf("err = %q does not say the refresh failed", err)
	}
}

// wantBackoff fails t unless err is the *oauthrt.BackoffError of a
// request that needed a refresh of key "k" while the key was backed off
// until next after a transient failure that this Transport saw: its Err
// is that failure (see wantTransient), and its message holds no secret.
// It returns the BackoffError.
func wantBackoff(t *testing.T, err error, next time.Time) *oauthrt.BackoffError {
	t.Helper()
	var be *oauthrt.BackoffError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want a *oauthrt.BackoffError", err)
	}
	if be.Key != "k" || !be.Next.Equal(next) {
		t.Errorf("BackoffError{Key: %q, Next: %v}, want key k backed off until %v", be.Key, be.Next, next)
	}
	if be.Err == nil {
		t.Error("BackoffError.Err is nil: the failure this Transport saw is not carried")
	}
	wantTransient(t, err)
	for _, secret := range []string{"at-1", "rt-1", "client-secret-value"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%q appears in the error %q", secret, err)
		}
	}
	return be
}

// wantStatus fails t unless err carries the token endpoint's answer with
// the given status, and names the status in its message.
func wantStatus(t *testing.T, err error, status int) *oauth2.RetrieveError {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		t.Fatalf("err = %v, want a *oauth2.RetrieveError inside", err)
	}
	if re.Response.StatusCode != status {
		t.Errorf("answer status %d, want %d", re.Response.StatusCode, status)
	}
	if !strings.Contains(err.Error(), strconv.Itoa(status)) {
		t.Errorf("err = %q does not name the status %d", err, status)
	}
	return re
}

// postedRefreshTokens returns the refresh_token of each call to e.
func postedRefreshTokens(e *tokenEndpoint) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, f := range e.forms {
		out = append(out, strings.Join(f["refresh_token"], ","))
	}
	return out
}

// closedAddr returns a loopback address nothing listens on: a port taken
// and given back.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// resetMidway answers w's request with raw (a status line, headers and
// the start of a body), gives the client time to read that much, then
// resets the connection: with SO_LINGER 0, Close sends a RST, not a FIN.
func resetMidway(t *testing.T, w http.ResponseWriter, raw string) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	buf.WriteString(raw)
	buf.Flush()
	time.Sleep(100 * time.Millisecond)
	conn.(*net.TCPConn).SetLinger(0)
	conn.Close()
}

// cutShort reports whether err says a connection ended in the middle of
// an answer.
func cutShort(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// getWithDeadline sends a GET to url through client with a deadline d,
// reads the answer, and returns how long that took and what failed. It
// fails the test if the request is still running promptly after d.
func getWithDeadline(t *testing.T, client *http.Client, url string, d time.Duration) (time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		done <- err
	}()
	timer := time.NewTimer(d + promptly)
	defer timer.Stop()
	select {
	case err := <-done:
		return time.Since(start), err
	case <-timer.C:
		t.Fatalf("the request was still running %v after its %v deadline", promptly, d)
		return 0, nil
	}
}

// An unreachable token endpoint fails the request at once and backs the
// key off; once the endpoint is back, the first request after the backoff
// step presents the same refresh token.
func TestFaultTokenEndpointRefused(t *testing.T) {
	noLeaks(t)
	addr := closedAddr(t)
	f := newEndpointFixture(t, "http://"+addr+"/token", nil)
	err := f.getErr(t)
	be := wantBackoff(t, err, f.clock.Now().Add(time.Second))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("err = %v, want ECONNREFUSED inside", err)
	}
	if n := f.api.calls.Load(); n != 0 {
		t.Errorf("API called %d times, want 0", n)
	}
	wantStored(t, f, "at-1", "rt-1")

	// The endpoint comes back on the same port: the same refresh token
	// still works, once the backoff step is over.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Logf("port taken meanwhile (%v): recovery not checked", err)
		return
	}
	posted := make(chan string, 10)
	e := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		posted <- r.PostForm.Get("refresh_token")
		writeJSON(w, 200, tokenJSON)
	}))
	e.Listener.Close()
	e.Listener = ln
	e.Start()
	t.Cleanup(e.Close)
	wantBackoff(t, f.getErr(t), be.Next) // still backed off: not called
	if len(posted) != 0 {
		t.Error("the token endpoint was called before the backoff step was over")
	}
	f.clock.Advance(be.Next.Sub(f.clock.Now()) + time.Millisecond)
	if code, _ := f.get(t); code != 200 {
		t.Fatalf("after recovery: status %d", code)
	}
	if rt := recv(t, posted); rt != "rt-1" {
		t.Errorf("posted refresh token %q, want rt-1", rt)
	}
	wantStored(t, f, "at-2", "rt-2")
}

// An answer whose body breaks off is lost: the endpoint may have rotated
// the refresh token. Within the provider's rotation grace window the
// same refresh token is presented again at once; without one, the
// request fails and the key backs off, and the first request after the
// backoff step presents the same refresh token (a provider that did
// rotate refuses it, and the grant is reported dead).
func TestFaultTokenEndpointResetMidBody(t *testing.T) {
	for _, tt := range []struct {
		name   string
		grace  time.Duration // the Refresher's RotationGraceWindow
		resets int32         // how many answers break off, from the first
	}{
		{"within the rotation grace window", 0, 1},
		{"no rotation grace window", -1, 1 << 30},
	} {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			var healthy atomic.Bool
			var n atomic.Int32
			e := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
				if healthy.Load() || n.Add(1) > tt.resets {
					writeJSON(w, 200, tokenJSON)
					return
				}
				resetMidway(t, w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"+tokenJSON[:20])
			})
			f := newEndpointFixture(t, e.URL, nil)
			f.tr.Refresher.(*generic.Refresher).RotationGraceWindow = tt.grace

			if tt.grace >= 0 {
				if code, _ := f.get(t); code != 200 {
					t.Fatalf("status %d", code)
				}
				if n := e.calls.Load(); n != 2 {
					t.Errorf("token endpoint called %d times, want 2: the lost answer asked for again once", n)
				}
			} else {
				err := f.getErr(t)
				be := wantBackoff(t, err, f.clock.Now().Add(time.Second))
				if !cutShort(err) {
					t.Errorf("err = %v, want a reset or an unexpected EOF inside", err)
				}
				if n := e.calls.Load(); n != 1 {
					t.Errorf("token endpoint called %d times, want 1: no grace window to try again in", n)
				}
				if n := f.api.calls.Load(); n != 0 {
					t.Errorf("API called %d times, want 0", n)
				}
				wantStored(t, f, "at-1", "rt-1")

				healthy.Store(true)
				f.clock.Advance(be.Next.Sub(f.clock.Now()) + time.Millisecond)
				if code, _ := f.get(t); code != 200 {
					t.Fatalf("after recovery: status %d", code)
				}
				if n := e.calls.Load(); n != 2 {
					t.Errorf("token endpoint called %d times, want 2", n)
				}
			}
			wantStored(t, f, "at-2", "rt-2")
			for i, rt := range postedRefreshTokens(e) {
				if rt != "rt-1" {
					t.Errorf("call %d posted refresh token %q, want rt-1", i+1, rt)
				}
			}
		})
	}
}

// A request whose refresh stalls returns at its deadline, while the
// refresh goes on (it runs detached, bounded by RefreshTimeout): when the
// endpoint finally answers, the rotated token is saved.
func TestFaultTokenEndpointStalls(t *testing.T) {
	for _, tt := range []struct {
		name  string
		serve func(w http.ResponseWriter, r *http.Request, release <-chan struct{})
	}{
		{"never answers", func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
			select {
			case <-release:
				writeJSON(w, 200, tokenJSON)
			case <-r.Context().Done():
			}
		}},
		{"trickles a byte a second", func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(200)
			rc := http.NewResponseController(w)
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for i := range len(tokenJSON) {
				io.WriteString(w, tokenJSON[i:i+1])
				rc.Flush()
				select {
				case <-release:
					io.WriteString(w, tokenJSON[i+1:])
					return
				case <-r.Context().Done():
					return
				case <-tick.C:
				}
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			arrived := make(chan struct{}, 10)
			release := make(chan struct{})
			e := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
				arrived <- struct{}{}
				tt.serve(w, r, release)
			})
			letGo := sync.OnceFunc(func() { close(release) })
			t.Cleanup(letGo) // runs before the server's Close, should the test stop early
			f := newEndpointFixture(t, e.URL, nil)

			_, err := getWithDeadline(t, f.client, f.api.URL, faultDeadline)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want context.DeadlineExceeded", err)
			}
			recv(t, arrived)
			if oauthrt.FlightWaiters(f.tr, "k") < 0 {
				t.Error("no refresh under way once the request gave up")
			}

			letGo()
			recv(t, oauthrt.FlightDone(f.tr, "k"))
			wantStored(t, f, "at-2", "rt-2")
			if code, _ := f.get(t); code != 200 {
				t.Fatalf("next request: status %d", code)
			}
			if n := e.calls.Load(); n != 1 {
				t.Errorf("token endpoint called %d times, want 1", n)
			}
			if auths, _ := f.api.seen(); !cmp.Equal(auths, []string{"Bearer at-2"}) {
				t.Errorf("API saw %q, want only at-2", auths)
			}
		})
	}
}

func TestFaultTokenEndpointHugeBody(t *testing.T) {
	const huge = 20 << 20
	for _, tt := range []struct {
		name          string
		contentLength bool
	}{
		{"chunked", false},
		{"Content-Length", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			type sent struct {
				n   int
				err error
			}
			done := make(chan sent, 1)
			e := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if tt.contentLength {
					w.Header().Set("Content-Length", strconv.Itoa(huge))
				}
				w.WriteHeader(200)
				chunk := bytes.Repeat([]byte("x"), 32<<10)
				n, err := io.WriteString(w, `{"access_token":"at-2","padding":"`)
				for err == nil && n < huge {
					var m int
					m, err = w.Write(chunk[:min(len(chunk), huge-n)])
					n += m
				}
				done <- sent{n, err}
			})
			f := newEndpointFixture(t, e.URL, nil)
			err := f.getErr(t)
			wantTransient(t, err)
			wantStatus(t, err, 200)
			if !strings.Contains(err.Error(), "1 MiB") {
				t.Errorf("err = %q does not say the body was cut at 1 MiB", err)
			}
			s := recv(t, done)
			if s.err == nil || s.n >= huge {
				t.Errorf("the endpoint wrote %d bytes (error %v): the client read on", s.n, s.err)
			}
			t.Logf("the endpoint wrote %d KiB before: %v", s.n>>10, s.err)
			if n := e.calls.Load(); n != 1 {
				t.Errorf("token endpoint called %d times, want 1", n)
			}
			wantStored(t, f, "at-1", "rt-1")
		})
	}
}

// A 3xx from the token endpoint is its answer, never followed, whatever
// the Refresher's client: the refresh token and the client secret are
// never posted to where it points.
func TestFaultTokenEndpointRedirect(t *testing.T) {
	for _, code := range []int{301, 302, 303, 307, 308} {
		for _, follows := range []bool{false, true} {
			name := fmt.Sprintf("%d/retry client", code)
			if follows {
				name = fmt.Sprintf("%d/client following redirects", code)
			}
			t.Run(name, func(t *testing.T) {
				noLeaks(t)
				var elsewhere atomic.Int32
				other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					elsewhere.Add(1)
					writeJSON(w, 200, tokenJSON)
				}))
				t.Cleanup(other.Close)
				// The same machine by another name, so another host to
				// net/http, and another port.
				target := strings.Replace(other.URL, "127.0.0.1", "localhost", 1) + "/token"
				e := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, target, code)
				})
				var client *http.Client
				if follows {
					client = e.Client() // CheckRedirect nil: follows up to 10
				}
				f := newEndpointFixture(t, e.URL, client)

				err := f.getErr(t)
				wantTransient(t, err)
				wantStatus(t, err, code)
				if n := elsewhere.Load(); n != 0 {
					t.Errorf("the redirect target got %d requests: credentials posted there", n)
				}
				if n := e.calls.Load(); n != 1 {
					t.Errorf("token endpoint called %d times, want 1: a 3xx is not retried", n)
				}
				wantStored(t, f, "at-1", "rt-1")

				// The target was there to be reached all along.
				resp, err := other.Client().Post(target, "application/x-www-form-urlencoded", nil)
				if err != nil {
					t.Fatalf("the redirect target is unreachable, so the test proves nothing: %v", err)
				}
				resp.Body.Close()
				if n := elsewhere.Load(); n != 1 {
					t.Errorf("the redirect target counted %d requests, want 1", n)
				}
			})
		}
	}
}

// A 429 fails the request at once, however long its Retry-After: the key
// is backed off until then, requests needing a refresh fail without
// calling the endpoint, and the first one after it presents the same
// refresh token.
func TestFaultTokenEndpointRetryAfter(t *testing.T) {
	t.Run("1s then success", func(t *testing.T) {
		noLeaks(t)
		var n atomic.Int32
		e := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.Header().Set("Retry-After", "1")
				writeJSON(w, 429, `{"error":"slow_down"}`)
				return
			}
			writeJSON(w, 200, tokenJSON)
		})
		f := newEndpointFixture(t, e.URL, nil)
		err := f.getErr(t)
		be := wantBackoff(t, err, f.clock.Now().Add(time.Second))
		wantStatus(t, err, 429)

		f.clock.Advance(be.Next.Sub(f.clock.Now()) - time.Millisecond)
		wantBackoff(t, f.getErr(t), be.Next)
		if n := e.calls.Load(); n != 1 {
			t.Fatalf("token endpoint called %d times before the Retry-After was over, want 1", n)
		}

		f.clock.Advance(2 * time.Millisecond)
		if code, _ := f.get(t); code != 200 {
			t.Fatalf("after the Retry-After: status %d", code)
		}
		if n := e.calls.Load(); n != 2 {
			t.Fatalf("token endpoint called %d times, want 2", n)
		}
		if n := f.store.saves.Load(); n != 1 {
			t.Errorf("%d saves, want 1", n)
		}
		wantStored(t, f, "at-2", "rt-2")
		for i, rt := range postedRefreshTokens(e) {
			if rt != "rt-1" {
				t.Errorf("call %d posted refresh token %q, want rt-1", i+1, rt)
			}
		}
	})

	t.Run("an hour, not waited for", func(t *testing.T) {
		noLeaks(t)
		e := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3600")
			writeJSON(w, 429, `{"error":"slow_down"}`)
		})
		f := newEndpointFixture(t, e.URL, nil)
		// A request that waited on the Retry-After would hold the test up
		// for an hour; the backoff it starts says the hour was heard.
		err := f.getErr(t)
		wantBackoff(t, err, f.clock.Now().Add(time.Hour))
		re := wantStatus(t, err, 429)
		if !strings.Contains(err.Error(), "slow_down") {
			t.Errorf("err = %q does not carry the error code", err)
		}
		if got := re.Response.Header.Get("Retry-After"); got != "3600" {
			t.Errorf("Retry-After in the error's response = %q, want 3600 for the caller to see", got)
		}
		f.clock.Advance(59 * time.Minute)
		wantBackoff(t, f.getErr(t), f.clock.Now().Add(time.Minute))
		if n := e.calls.Load(); n != 1 {
			t.Errorf("token endpoint called %d times, want 1", n)
		}
		wantStored(t, f, "at-1", "rt-1")
	})
}

// A token endpoint answering 500 is called once per backoff step (1s,
// 2s, 4s, …), however many requests need the refresh meanwhile: each of
// those fails at once. The same refresh token is presented once the
// endpoint is over its trouble, and the store is untouched until then.
func TestFaultTokenEndpoint500Storm(t *testing.T) {
	t.Run("over within three steps", func(t *testing.T) {
		noLeaks(t)
		var n atomic.Int32
		const failures = 3
		e := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) <= failures {
				writeJSON(w, 500, `{"error":"server_error"}`)
				return
			}
			writeJSON(w, 200, tokenJSON)
		})
		f := newEndpointFixture(t, e.URL, nil)
		for i, step := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
			err := f.getErr(t)
			be := wantBackoff(t, err, f.clock.Now().Add(step))
			wantStatus(t, err, 500)
			if n := e.calls.Load(); n != int32(i+1) {
				t.Fatalf("token endpoint called %d times, want %d", n, i+1)
			}
			f.clock.Advance(be.Next.Sub(f.clock.Now()))
		}
		if code, _ := f.get(t); code != 200 {
			t.Fatalf("status %d", code)
		}
		if n := e.calls.Load(); n != failures+1 {
			t.Errorf("token endpoint called %d times, want %d", n, failures+1)
		}
		if n := f.store.saves.Load(); n != 1 {
			t.Errorf("%d saves, want exactly 1", n)
		}
		wantStored(t, f, "at-2", "rt-2")
	})

	t.Run("for ever, then over", func(t *testing.T) {
		noLeaks(t)
		var healthy atomic.Bool
		e := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
			if healthy.Load() {
				writeJSON(w, 200, tokenJSON)
				return
			}
			writeJSON(w, 500, `{"error":"server_error"}`)
		})
		f := newEndpointFixture(t, e.URL, nil)
		const requests = 5 // per backoff step
		steps := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
		for i, step := range steps {
			err := f.getErr(t)
			be := wantBackoff(t, err, f.clock.Now().Add(step))
			wantStatus(t, err, 500)
			for range requests - 1 {
				f.clock.Advance(step / requests)
				wantBackoff(t, f.getErr(t), be.Next)
			}
			if n := e.calls.Load(); n != int32(i+1) {
				t.Fatalf("after step %d: token endpoint called %d times, want %d: once per step", i+1, n, i+1)
			}
			f.clock.Advance(be.Next.Sub(f.clock.Now()))
		}
		if n := f.store.saves.Load(); n != 0 {
			t.Errorf("%d saves during the storm, want 0", n)
		}
		if n := f.api.calls.Load(); n != 0 {
			t.Errorf("API called %d times, want 0", n)
		}
		wantStored(t, f, "at-1", "rt-1")

		healthy.Store(true)
		for range 2 {
			if code, _ := f.get(t); code != 200 {
				t.Fatalf("after the storm: status %d", code)
			}
		}
		if n := e.calls.Load(); n != int32(len(steps)+1) {
			t.Errorf("token endpoint called %d times, want %d", n, len(steps)+1)
		}
		if n := f.store.saves.Load(); n != 1 {
			t.Errorf("%d saves, want 1", n)
		}
		wantStored(t, f, "at-2", "rt-2")
		for i, rt := range postedRefreshTokens(e) {
			if rt != "rt-1" {
				t.Errorf("call %d posted refresh token %q, want rt-1", i+1, rt)
			}
		}
	})
}

// Faults of the API itself are Base's errors: returned as they are,
// refreshing nothing and losing no token.
func TestFaultAPI(t *testing.T) {
	for _, tt := range []struct {
		name     string
		url      func(t *testing.T) string
		deadline time.Duration
		want     func(error) bool
	}{
		{
			"connection refused",
			func(t *testing.T) string { return "http://" + closedAddr(t) + "/" },
			promptly,
			func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) },
		},
		{
			"reset mid-body",
			func(t *testing.T) string {
				s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					resetMidway(t, w, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhel")
				}))
				t.Cleanup(s.Close)
				return s.URL
			},
			promptly,
			cutShort,
		},
		{
			"never answers",
			func(t *testing.T) string {
				s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					<-r.Context().Done() // the client hung up
				}))
				t.Cleanup(s.Close)
				return s.URL
			},
			faultDeadline,
			func(err error) bool { return errors.Is(err, context.DeadlineExceeded) },
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			f := newFixture(t)
			_, err := getWithDeadline(t, f.client, tt.url(t), tt.deadline)
			if err == nil || !tt.want(err) {
				t.Errorf("err = %v", err)
			}
			if n := f.issuer.calls.Load(); n != 0 {
				t.Errorf("%d refreshes, want 0: a broken API is no rejected token", n)
			}
			wantStored(t, f, "at-1", "rt-1")
			if code, _ := f.get(t); code != 200 {
				t.Errorf("a healthy API afterwards: status %d", code)
			}
		})
	}
}

// An API that rejects every token costs each request two API calls and
// one refresh, and the caller gets the 401.
func TestFaultAPIRejectsEveryToken(t *testing.T) {
	noLeaks(t)
	var issued atomic.Int32
	e := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		n := issued.Add(1) + 1
		writeJSON(w, 200, fmt.Sprintf(`{"access_token":"at-%d","token_type":"bearer","expires_in":3600,"refresh_token":"rt-%d"}`, n, n))
	})
	f := newEndpointFixture(t, e.URL, nil)
	f.store.put(t, "k", &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-1", TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)})
	deaf := newAPI(t) // accepts no token
	f.tr.Base = deaf.Client().Transport

	const requests = 3
	for i := 1; i <= requests; i++ {
		before := deaf.calls.Load()
		req, err := http.NewRequest(http.MethodPost, deaf.URL, strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := f.client.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v, want the 401 and no error", i, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || err != nil || !strings.Contains(string(body), "rejected") {
			t.Errorf("request %d: got %d %q (%v), want the API's 401", i, resp.StatusCode, body, err)
		}
		if hits := deaf.calls.Load() - before; hits != 2 {
			t.Errorf("request %d reached the API %d times, want 2", i, hits)
		}
		if n := e.calls.Load(); n != int32(i) {
			t.Errorf("after request %d: %d refreshes, want %d", i, n, i)
		}
	}
	auths, bodies := deaf.seen()
	want := []string{"Bearer at-1", "Bearer at-2", "Bearer at-2", "Bearer at-3", "Bearer at-3", "Bearer at-4"}
	if diff := cmp.Diff(want, auths); diff != "" {
		t.Errorf("tokens sent (-want +got):\n%s", diff)
	}
	for i, b := range bodies {
		if b != "payload" {
			t.Errorf("API call %d got body %q, want it replayed", i+1, b)
		}
	}
	wantStored(t, f, "at-4", "rt-4")
}

func TestFaultStoreLoadFails(t *testing.T) {
	for _, tt := range []struct {
		name    string
		expired bool // a token is cached, and expires before Load fails
	}{
		{"first read", false},
		{"read before a refresh", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			f := newFixture(t)
			if tt.expired {
				f.get(t)
				f.clock.Advance(time.Hour)
			}
			sent := f.api.calls.Load()
			f.store.failLoads(errBoom)
			err := f.getErr(t)
			if !errors.Is(err, errBoom) || !strings.Contains(err.Error(), `loading the token of key "k"`) {
				t.Errorf("err = %v, want the store's error wrapped", err)
			}
			if n := f.api.calls.Load() - sent; n != 0 {
				t.Errorf("API called %d times, want 0", n)
			}
			if n := f.issuer.calls.Load(); n != 0 {
				t.Errorf("%d refreshes without reading the store, want 0", n)
			}

			f.store.loadErr.Store(nil)
			if code, _ := f.get(t); code != 200 {
				t.Fatalf("after the store recovered: status %d", code)
			}
			if tt.expired {
				wantStored(t, f, "at-2", "rt-2")
			} else {
				wantStored(t, f, "at-1", "rt-1")
			}
		})
	}
}

// A store that fails to take a refreshed token fails no request: the
// token is kept in memory and used, its rotated refresh token is never
// lost while the process lives, and it is saved once the store takes it
// again, or by Close.
func TestFaultStoreSaveFails(t *testing.T) {
	for _, heal := range []string{"on a later request", "by Close", "never"} {
		t.Run(heal, func(t *testing.T) {
			noLeaks(t)
			f := newFixture(t)
			reported := make(chan error, 10)
			f.tr.OnError = func(key string, err error) { reported <- err }
			f.store.failSaves(errBoom)
			f.clock.Advance(time.Hour)
			for range 2 {
				if code, _ := f.get(t); code != 200 {
					t.Fatalf("status %d", code)
				}
			}
			if auths, _ := f.api.seen(); !cmp.Equal(auths, []string{"Bearer at-2", "Bearer at-2"}) {
				t.Errorf("API saw %q, want the unsaved at-2 twice", auths)
			}
			var se *oauthrt.SaveError
			if err := recv(t, reported); !errors.As(err, &se) || !errors.Is(err, errBoom) || se.Key != "k" || se.Attempt != 1 {
				t.Errorf("reported %v, want a first *SaveError for k wrapping the store's error", err)
			}
			if n := f.issuer.calls.Load(); n != 1 {
				t.Errorf("%d refreshes, want 1: rt-1 was rotated", n)
			}
			wantStored(t, f, "at-1", "rt-1")

			switch heal {
			case "on a later request":
				f.store.saveErr.Store(nil)
				f.clock.Advance(2 * time.Second) // past the first backoff step
				if code, _ := f.get(t); code != 200 {
					t.Fatalf("status %d", code)
				}
				recv(t, oauthrt.FlightDone(f.tr, "k"))
				wantStored(t, f, "at-2", "rt-2")
				if err := f.tr.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			case "by Close":
				f.store.saveErr.Store(nil)
				if err := f.tr.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
				wantStored(t, f, "at-2", "rt-2")
			case "never":
				err := f.tr.Close()
				if !errors.As(err, &se) || se.Key != "k" {
					t.Errorf("Close: %v, want the *SaveError of the token lost with the process", err)
				}
				if err := recv(t, reported); !errors.Is(err, errBoom) {
					t.Errorf("Close's last save reported %v, want the store's error", err)
				}
				wantStored(t, f, "at-1", "rt-1")
			}
			if n := f.issuer.calls.Load(); n != 1 {
				t.Errorf("%d refreshes, want 1", n)
			}
		})
	}
}

// stallingStore is a fixture's store behind a gate: while stallLoad or
// stallSave is set, Load or Save blocks until its context ends or the
// test opens the gate, then goes on.
type stallingStore struct {
	*countingStore
	stallLoad, stallSave atomic.Bool
	entered              chan context.Context // the context of each call that stalls
	ended                chan error           // how each stall ended: its context's error, or nil
	gate                 chan struct{}
	open                 func()
}

func newStallingStore(t *testing.T, f *fixture) *stallingStore {
	s := &stallingStore{
		countingStore: f.store,
		entered:       make(chan context.Context, 10),
		ended:         make(chan error, 10),
		gate:          make(chan struct{}),
	}
	s.open = sync.OnceFunc(func() { close(s.gate) })
	t.Cleanup(s.open) // before the Transport's Close, should the test stop early
	f.tr.Store = s
	return s
}

func (s *stallingStore) stall(ctx context.Context) error {
	s.entered <- ctx
	var err error
	select {
	case <-ctx.Done():
		err = ctx.Err()
	case <-s.gate:
	}
	s.ended <- err
	if err != nil {
		return fmt.Errorf("stalled store: %w", err)
	}
	return nil
}

func (s *stallingStore) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	if s.stallLoad.Load() {
		if err := s.stall(ctx); err != nil {
			return nil, err
		}
	}
	return s.countingStore.Load(ctx, key)
}

func (s *stallingStore) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	if s.stallSave.Load() {
		if err := s.stall(ctx); err != nil {
			return err
		}
	}
	return s.countingStore.Save(ctx, key, tok)
}

// A Load that hangs holds the request up to its deadline only, and the
// Transport's Close ends it at once.
func TestFaultStoreLoadHangs(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	s := newStallingStore(t, f)
	s.stallLoad.Store(true)
	_, err := getWithDeadline(t, f.client, f.api.URL, faultDeadline)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	recv(t, s.entered)

	start := time.Now()
	if err := f.tr.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if took := time.Since(start); took > promptly {
		t.Errorf("Close took %v with a Load hanging, want it ended at once", took)
	}
	if err := recv(t, s.ended); !errors.Is(err, context.Canceled) {
		t.Errorf("the hanging Load ended with %v, want Close's cancellation", err)
	}
	if err := f.getErr(t); !errors.Is(err, oauthrt.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	if n := f.api.calls.Load(); n != 0 {
		t.Errorf("API called %d times, want 0", n)
	}
	wantStored(t, f, "at-1", "rt-1")
}

// The context of a store read carries the values of the request that
// started the flight, ends no sooner than RefreshTimeout after the flight
// started (and less than waitGrain later), is not the request's (whose
// deadline is short), and ends with Close, as do contexts derived from it.
func TestStoreReadContext(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	s := newStallingStore(t, f)
	s.stallLoad.Store(true)
	type traceKey struct{}
	reqCtx, cancel := context.WithTimeout(context.WithValue(context.Background(), traceKey{}, "span-7"), faultDeadline)
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, f.api.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	go func() {
		if resp, err := f.client.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	ctx := recv(t, s.entered)
	if got := ctx.Value(traceKey{}); got != "span-7" {
		t.Errorf("the store read's context has value %v, want the request's", got)
	}
	dl, ok := ctx.Deadline()
	if !ok || dl.Before(start.Add(oauthrt.RefreshTimeout)) || dl.After(time.Now().Add(oauthrt.RefreshTimeout+2*time.Second)) {
		t.Errorf("the store read's deadline is %v after the request started (%t), want RefreshTimeout (%v) to within a second or two", dl.Sub(start), ok, oauthrt.RefreshTimeout)
	}
	derived, stop := context.WithCancel(ctx)
	defer stop()
	recv(t, reqCtx.Done()) // the request gives up; the read goes on
	if err := ctx.Err(); err != nil {
		t.Fatalf("the store read ended (%v) with the request that started it", err)
	}
	if err := f.tr.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := recv(t, s.ended); !errors.Is(err, context.Canceled) {
		t.Errorf("the hanging Load ended with %v, want Close's cancellation", err)
	}
	recv(t, derived.Done())
}

// A Save that hangs after a refresh holds the request up to its deadline
// only. Close waits for it rather than cut it off, since the refresh token
// it saves has been rotated: here until the test lets it go, well within
// RefreshTimeout.
func TestFaultStoreSaveHangs(t *testing.T) {
	noLeaks(t)
	f := newFixture(t)
	s := newStallingStore(t, f)
	s.stallSave.Store(true)
	f.clock.Advance(time.Hour)
	_, err := getWithDeadline(t, f.client, f.api.URL, faultDeadline)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	ctx := recv(t, s.entered)
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > oauthrt.RefreshTimeout {
		t.Errorf("the Save's context has deadline %v (%t), want one within RefreshTimeout", dl, ok)
	}

	closed := make(chan error, 1)
	go func() { closed <- f.tr.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while the Save of a rotated token ran", err)
	case <-time.After(200 * time.Millisecond): // only gives Close time to be wrong
	}
	if err := ctx.Err(); err != nil {
		t.Errorf("the Save's context ended (%v) while Close waited", err)
	}
	s.open()
	if err := recv(t, closed); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := recv(t, s.ended); err != nil {
		t.Errorf("the hanging Save ended with %v, want it let go", err)
	}
	wantStored(t, f, "at-2", "rt-2")
	if n := f.issuer.calls.Load(); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
}
