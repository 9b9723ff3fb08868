package chaos_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	clientID     = "chaos-client"
	clientSecret = "chaos-secret"
)

// A provider is a loopback OAuth2 provider holding several grants, one per
// store key. It rotates a grant's refresh token on every refresh, and when
// a refresh token is presented again outside its grace window it takes
// that for theft and revokes the whole grant (RFC 9700 §4.14.2). With a
// grace window, a refresh token presented again inside it gets the same
// token pair it got the first time, as Okta's and Auth0's rotation grace
// periods give. Its API accepts the unexpired access tokens of grants
// that are not revoked.
//
// It counts what a fleet did to it: refreshes, replays inside the grace
// window, invalid_grant answers, presentations of refresh tokens it
// already considered dead, and calls for a grant while a Retry-After it
// gave for that grant had not passed.
type provider struct {
	token, api *httptest.Server
	lifetime   time.Duration
	grace      time.Duration // 0: no grace window

	// loseKey names the grant whose first refresh is rotated and then
	// answered by resetting the connection: the answer is lost.
	loseKey string
	// outage is how long, from the first refresh request, every refresh is
	// answered 503 with a Retry-After of retryAfter.
	outage, retryAfter time.Duration

	mu          sync.Mutex
	gen         int
	grants      map[string]*grant // by store key
	byRT        map[string]*issuedRT
	byAT        map[string]*issuedAT
	outageFrom  time.Time // the first refresh request; zero before it
	refreshes   int       // new token pairs issued by refreshes
	replays     int       // refresh tokens presented again inside their grace window
	invalid     int       // invalid_grant answers
	dead        map[string]int
	backoffHits int           // calls for a grant before its Retry-After passed
	unavailable int           // 503 answers
	lost        int           // answers lost on purpose
	api401      int           // API requests refused
	changed     chan struct{} // closed and replaced on every token request
}

// A grant is one user's authorization, with its family of tokens.
type grant struct {
	key        string
	gen        int       // the generation of the newest pair
	revoked    time.Time // zero while it lives
	retryUntil time.Time // the latest Retry-After given for it
	lostDone   bool
	// answers are the times of its successful refresh answers (new pairs
	// and replays), newPairs those of new pairs only.
	answers, newPairs []time.Time
	// refusedAt are the times of its invalid_grant answers.
	refusedAt []time.Time
}

type issuedRT struct {
	g      *grant
	usedAt time.Time // when it was first presented; zero: never
	nextAT string    // the pair its first presentation got
	nextRT string
}

type issuedAT struct {
	g      *grant
	gen    int
	expiry time.Time
}

func newProvider(t *testing.T, lifetime, grace time.Duration) *provider {
	p := &provider{
		lifetime: lifetime, grace: grace,
		grants:  map[string]*grant{},
		byRT:    map[string]*issuedRT{},
		byAT:    map[string]*issuedAT{},
		dead:    map[string]int{},
		changed: make(chan struct{}),
	}
	p.token = httptest.NewServer(http.HandlerFunc(p.serveToken))
	p.api = httptest.NewServer(http.HandlerFunc(p.serveAPI))
	t.Cleanup(p.token.Close)
	t.Cleanup(p.api.Close)
	return p
}

// issue gives g a new token pair; p.mu must be held.
func (p *provider) issue(g *grant) (at, rt string) {
	p.gen++
	g.gen++
	at, rt = fmt.Sprintf("at-%d", p.gen), fmt.Sprintf("rt-%d", p.gen)
	p.byRT[rt] = &issuedRT{g: g}
	p.byAT[at] = &issuedAT{g: g, gen: g.gen, expiry: time.Now().Add(p.lifetime)}
	return at, rt
}

// seed creates the grant of key, as a user's authorization would, with
// an access token that lives extra longer than the others.
func (p *provider) seed(key string, extra time.Duration) (at, rt string, expiry time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := &grant{key: key}
	p.grants[key] = g
	at, rt = p.issue(g)
	e := p.byAT[at]
	e.expiry = e.expiry.Add(extra)
	return at, rt, e.expiry
}

func (p *provider) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if id, secret, _ := r.BasicAuth(); id != clientID || secret != clientSecret {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client"}`)
		return
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.notify()
	info := p.byRT[r.PostForm.Get("refresh_token")]
	if info == nil {
		p.invalid++
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_grant"}`)
		return
	}
	g := info.g
	if now.Before(g.retryUntil) {
		p.backoffHits++
	}
	if p.outage > 0 {
		if p.outageFrom.IsZero() {
			p.outageFrom = now
		}
		if now.Before(p.outageFrom.Add(p.outage)) {
			p.unavailable++
			g.retryUntil = now.Add(p.retryAfter)
			w.Header().Set("Retry-After", strconv.Itoa(int(p.retryAfter/time.Second)))
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":"temporarily_unavailable"}`)
			return
		}
	}
	used := !info.usedAt.IsZero()
	if !g.revoked.IsZero() || used && (p.grace <= 0 || now.Sub(info.usedAt) > p.grace) {
		p.dead[r.PostForm.Get("refresh_token")]++
		if g.revoked.IsZero() {
			g.revoked = now // reuse: the whole grant is gone
		}
		p.invalid++
		g.refusedAt = append(g.refusedAt, now)
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_grant"}`)
		return
	}
	at, rt := info.nextAT, info.nextRT
	if used { // inside the grace window: the same pair again
		p.replays++
		if e := p.byAT[at]; e.expiry.Before(now.Add(p.lifetime)) {
			e.expiry = now.Add(p.lifetime)
		}
	} else {
		at, rt = p.issue(g)
		info.usedAt, info.nextAT, info.nextRT = now, at, rt
		p.refreshes++
		g.newPairs = append(g.newPairs, now)
	}
	g.answers = append(g.answers, now)
	if g.key == p.loseKey && !g.lostDone {
		// The provider rotated; its answer never arrives.
		g.lostDone = true
		p.lost++
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			if tcp, ok := conn.(*net.TCPConn); ok {
				tcp.SetLinger(0) // a reset, not an orderly close
			}
			conn.Close()
		}
		return
	}
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": at, "refresh_token": rt, "token_type": "Bearer",
		"expires_in": int(p.lifetime / time.Second),
	})
}

// notify wakes whoever waits for the provider's state to change; p.mu
// must be held.
func (p *provider) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *provider) serveAPI(w http.ResponseWriter, r *http.Request) {
	at := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.mu.Lock()
	e := p.byAT[at]
	ok := e != nil && e.g.revoked.IsZero() && time.Now().Before(e.expiry)
	if !ok {
		p.api401++
	}
	p.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "invalid token", http.StatusUnauthorized)
		return
	}
	fmt.Fprint(w, "ok")
}

// generation returns the generation of the grant's pair whose access
// token is at, and the grant's key; 0 for a token it never issued.
func (p *provider) generation(at string) (key string, gen int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.byAT[at]; e != nil {
		return e.g.key, e.gen
	}
	return "", 0
}

// await waits until cond, called with p.mu held, holds, or until the
// deadline; it reports whether cond held.
func (p *provider) await(deadline time.Time, cond func() bool) bool {
	for {
		p.mu.Lock()
		ok, changed := cond(), p.changed
		p.mu.Unlock()
		if ok {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		select {
		case <-changed:
		case <-time.After(left):
		}
	}
}

// after returns the first of times at or after t, and whether there is one.
func after(times []time.Time, t time.Time) (time.Time, bool) {
	for _, at := range times {
		if !at.Before(t) {
			return at, true
		}
	}
	return time.Time{}, false
}

// tally is what the provider saw in a run.
type tally struct {
	refreshes, replays, invalid, unavailable, lost, apiOK, api401 int
	backoffHits                                                   int
	deadTokens, deadPresentations, maxDeadPresentations           int
	revoked                                                       []string // keys of revoked grants
}

func (p *provider) tally() tally {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := tally{refreshes: p.refreshes, replays: p.replays, invalid: p.invalid, unavailable: p.unavailable,
		lost: p.lost, api401: p.api401, backoffHits: p.backoffHits}
	for _, n := range p.dead {
		c.deadTokens++
		c.deadPresentations += n
		c.maxDeadPresentations = max(c.maxDeadPresentations, n)
	}
	for key, g := range p.grants {
		if !g.revoked.IsZero() {
			c.revoked = append(c.revoked, key)
		}
	}
	return c
}

// timeline describes, for a failed run, what happened to each grant, in
// seconds from start.
func (p *provider) timeline(start time.Time) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	secs := func(ts []time.Time) string {
		var out []string
		for _, t := range ts {
			out = append(out, fmt.Sprintf("%.2f", t.Sub(start).Seconds()))
		}
		return "[" + strings.Join(out, " ") + "]"
	}
	var b strings.Builder
	for _, key := range keys {
		g := p.grants[key]
		fmt.Fprintf(&b, "\n%s: new pairs at %s, answers at %s, refused at %s", key, secs(g.newPairs), secs(g.answers), secs(g.refusedAt))
	}
	return b.String()
}
