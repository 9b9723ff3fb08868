package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

// rotatingServer is a token endpoint that rotates refresh tokens: each
// one is good once, and presenting one again (or one it never issued)
// is counted and refused with invalid_grant, as a provider that detects
// reuse revokes the grant.
type rotatingServer struct {
	mu      sync.Mutex
	live    map[string]string // grant → its live refresh token
	grantOf map[string]string // every refresh token issued → its grant
	issued  int
	reused  []string // grants whose rotated refresh token came back
	unknown int

	// waits are closed once issued reaches their count.
	waits map[int]chan struct{}
}

func newRotatingServer() *rotatingServer {
	return &rotatingServer{live: map[string]string{}, grantOf: map[string]string{}, waits: map[int]chan struct{}{}}
}

// grant registers a grant with its first refresh token.
func (s *rotatingServer) grant(g, rt string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live[g], s.grantOf[rt] = rt, g
}

// after returns a channel closed once the server has issued n tokens.
func (s *rotatingServer) after(n int) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	if s.issued >= n {
		close(ch)
		return ch
	}
	s.waits[n] = ch
	return ch
}

func (s *rotatingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "refresh_token" {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	rt := r.PostForm.Get("refresh_token")
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grantOf[rt]
	switch {
	case !ok:
		s.unknown++
	case s.live[g] != rt:
		s.reused = append(s.reused, g)
	}
	if !ok || s.live[g] != rt {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_grant"}`)
		return
	}
	s.issued++
	next := fmt.Sprintf("%s-rt-%d", g, s.issued)
	s.live[g], s.grantOf[next] = next, g
	for n, ch := range s.waits {
		if s.issued >= n {
			close(ch)
			delete(s.waits, n)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token":  fmt.Sprintf("%s-at-%d", g, s.issued),
		"token_type":    "Bearer",
		"refresh_token": next,
		"expires_in":    1,
	})
}

// waitFor waits for ch, failing the test after a generous bound: the
// fleet should get there in a few seconds.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(2 * time.Minute):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// rekey rewrites every record with the new key while a fleet of
// Transports keeps refreshing the same store, tokens of a second's
// lifetime, with a provider that rotates refresh tokens: no refresh
// token is presented twice, no token is lost, and none is left on the
// old key.
func TestRekeyDuringFleet(t *testing.T) {
	const (
		grants     = 50
		idle       = 10
		transports = 2
		workers    = 8
		maxReqs    = 200000 // per worker: a bound; the test stops them long before
	)
	keys := newKeys(t, "new", "old")
	both := keys.file(t, "new", "old")
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			srv := newRotatingServer()
			tokenURL := httptest.NewServer(srv)
			defer tokenURL.Close()
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
					w.WriteHeader(http.StatusUnauthorized)
				}
			}))
			defer api.Close()

			// The fleet's grants expire one after the other, from a
			// second on, so that the fleet's refreshes go on while rekey
			// runs; the idle grants, which no request uses, only rekey
			// rewrites.
			seed := openedSealed(t, b, keys.ring(t, "old"))
			names := make([]string, grants)
			base := time.Now().Add(time.Second)
			for i := range grants + idle {
				key := fmt.Sprintf("idle/%02d", i-grants)
				expiry := base.Add(time.Hour)
				if i < grants {
					key = fmt.Sprintf("fleet/%02d", i)
					names[i] = key
					expiry = base.Add(time.Duration(i) * 30 * time.Millisecond)
				}
				rt := secret(t, "rt0")
				srv.grant(key, rt)
				tok := &oauth2.Token{AccessToken: secret(t, "at0"), RefreshToken: rt, TokenType: "Bearer", Expiry: expiry}
				if err := seed.Save(ctx, key, tok); err != nil {
					t.Fatal(err)
				}
			}
			if out := mustRun(t, nil, "keys", "--store", b.url, "--keys-file", both, "--json"); !strings.Contains(out, fmt.Sprintf(`{"id":"old","primary":false,"records":%d}`, grants+idle)) {
				t.Fatalf("before rekey, keys printed %s; want %d records on old", out, grants+idle)
			}

			// The fleet.
			var (
				stop     atomic.Bool
				wg       sync.WaitGroup
				failures atomic.Int64
				firstErr atomic.Value
			)
			for i := range transports {
				tr := &oauthrt.Transport{
					Store:        openedSealed(t, b, keys.ring(t, "new", "old")).TokenStore,
					Refresher:    &generic.Refresher{TokenURL: tokenURL.URL, ClientID: "fleet"},
					Leeway:       300 * time.Millisecond,
					RefreshAhead: -1,
				}
				defer tr.Close()
				client := &http.Client{Transport: tr}
				for w := range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for n := 0; n < maxReqs && !stop.Load(); n++ {
							key := names[(n*7+w*13+i*29)%grants]
							req, _ := http.NewRequestWithContext(oauthrt.WithKey(ctx, key), http.MethodGet, api.URL, nil)
							resp, err := client.Do(req)
							if err == nil {
								io.Copy(io.Discard, resp.Body)
								resp.Body.Close()
								if resp.StatusCode != http.StatusOK {
									err = fmt.Errorf("status %d", resp.StatusCode)
								}
							}
							if err != nil {
								failures.Add(1)
								firstErr.CompareAndSwap(nil, fmt.Sprintf("key %s: %v", key, err))
							}
						}
					}()
				}
			}
			stopped := false
			stopFleet := func() {
				if !stopped {
					stopped = true
					stop.Store(true)
					wg.Wait()
				}
			}
			defer stopFleet()

			// Rekey once the fleet has made its first refreshes, then let
			// it refresh every grant about once more.
			waitFor(t, srv.after(3), "the fleet's first refreshes")
			r := mustCLI(t, nil, "rekey", "--store", b.url, "--keys-file", both, "--json")
			got := summary(t, r.stdout)
			if n := grants + idle; got["records"] != n || got["rewritten"]+got["current"] != n || got["rewritten"] < idle || got["unreadable"]+got["busy"]+got["failed"] != 0 {
				t.Errorf("rekey reported %v; want all %d records rewritten or current, at least the %d idle ones rewritten", got, n, idle)
			}
			srv.mu.Lock()
			more := srv.issued + grants
			srv.mu.Unlock()
			waitFor(t, srv.after(more), "the fleet's refreshes after rekey")
			stopFleet()

			srv.mu.Lock()
			defer srv.mu.Unlock()
			if len(srv.reused) > 0 || srv.unknown > 0 {
				t.Errorf("the token endpoint saw %d rotated refresh tokens again (grants %v) and %d it never issued", len(srv.reused), srv.reused, srv.unknown)
			}
			if n := failures.Load(); n > 0 {
				t.Errorf("%d requests of the fleet failed; the first: %v", n, firstErr.Load())
			}
			t.Logf("%d refreshes; rekey: %v", srv.issued, got)

			// Every grant holds its live refresh token, and reads with the
			// new key alone.
			newOnly := openedSealed(t, b, keys.ring(t, "new"))
			for k := range srv.live {
				tok, err := newOnly.Load(ctx, k)
				if err != nil {
					t.Errorf("key %s does not load with the new key alone: %v", k, err)
					continue
				}
				if tok.RefreshToken != srv.live[k] {
					t.Errorf("key %s holds another refresh token than its live one: a token was lost", k)
				}
			}
			out := mustRun(t, nil, "keys", "--store", b.url, "--keys-file", both, "--json")
			if !strings.Contains(out, `{"id":"old","primary":false,"records":0}`) || !strings.Contains(out, `"unreadable":0`) {
				t.Errorf("after rekey, keys printed %s; want 0 records on old", out)
			}
			r = mustCLI(t, nil, "rekey", "--store", b.url, "--keys-file", both, "--json")
			if got := summary(t, r.stdout); got["rewritten"] != 0 || got["current"] != grants+idle {
				t.Errorf("rekey run again reported %v; want nothing rewritten", got)
			}
		})
	}
}

// rekey leaves a record that no key of the ring opens as it is, names it
// and fails; records in the clear too. A record sealed before the ring
// by the bare AEAD of the primary's secret is rewritten, and the grant
// states of the records rewritten are kept.
func TestRekeyUnreadable(t *testing.T) {
	keys := newKeys(t, "new", "old", "lost")
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			seedGrants(t, openedSealed(t, b, keys.ring(t, "old")), "a", 4)
			seedGrants(t, openedSealed(t, b, keys.ring(t, "lost")), "b", 1)
			seedGrants(t, openedSealed(t, b, nil), "c", 1)
			seedGrants(t, openedSealed(t, b, keys.bare(t, "new")), "d", 1)
			lost := readable(t, openedSealed(t, b, keys.ring(t, "lost")))
			if len(readable(t, openedSealed(t, b, keys.bare(t, "new")))) != 1 {
				t.Fatal("the record sealed by the bare AEAD of new does not open with it")
			}
			r := cli(t, nil, "rekey", "--store", b.url, "--keys-file", keys.file(t, "new", "old"), "--json")
			if r.code != exitFailed || !strings.Contains(r.stderr, `"b000"`) || !strings.Contains(r.stderr, `"c000"`) {
				t.Errorf("rekey with an unreadable record: exit %d, stderr %q; want exit 1 naming b000 and c000", r.code, r.stderr)
			}
			if got := summary(t, r.stdout); got["rewritten"] != 5 || got["unreadable"] != 2 {
				t.Errorf("rekey reported %v; want 5 rewritten and 2 unreadable", got)
			}
			// The bare AEAD's record now names the ring's key.
			if n := len(readable(t, openedSealed(t, b, keys.bare(t, "new")))); n != 0 {
				t.Errorf("after rekey, %d records still open with the bare AEAD of new", n)
			}
			// The lost key's record is untouched: it still opens with it.
			after := readable(t, openedSealed(t, b, keys.ring(t, "lost")))
			if _, ok := after["b000"]; !ok || after["b000"] != lost["b000"] {
				t.Error("rekey changed the record no key of its ring opens")
			}
			// The rewritten ones hold their grant states (a000 is dead).
			newOnly := readable(t, openedSealed(t, b, keys.ring(t, "new")))
			if len(newOnly) != 5 {
				t.Errorf("after rekey, %d records open with the new key alone; want 5", len(newOnly))
			}
			if newOnly["a000"].State.DeadToken == "" || newOnly["a001"].State.Failures != 3 {
				t.Errorf("rekey lost the grant states: %+v, %+v", newOnly["a000"].State, newOnly["a001"].State)
			}
		})
	}
}
