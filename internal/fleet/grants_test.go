package fleet_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// grants is a provider like provider, as strict, holding many grants at
// once: one per store key, each rotating its own refresh token and
// revoked on its own when one of its refresh tokens is used twice.
type grants struct {
	token, api *httptest.Server
	lifetime   time.Duration

	mu        sync.Mutex
	gen       int
	byRT      map[string]*grant // every refresh token ever issued
	expiry    map[string]time.Time
	of        map[string]*grant // access token → its grant
	refreshes int
	invalid   int
}

type grant struct {
	currentRT, currentAT string
	used                 map[string]bool
	revoked              bool
}

func newGrants(t *testing.T, lifetime time.Duration) *grants {
	g := &grants{lifetime: lifetime, byRT: map[string]*grant{}, expiry: map[string]time.Time{}, of: map[string]*grant{}}
	g.token = httptest.NewServer(http.HandlerFunc(g.serveToken))
	g.api = httptest.NewServer(http.HandlerFunc(g.serveAPI))
	t.Cleanup(g.token.Close)
	t.Cleanup(g.api.Close)
	return g
}

// issue gives gr a new generation; g.mu must be held.
func (g *grants) issue(gr *grant) (at, rt string) {
	g.gen++
	at, rt = fmt.Sprintf("at-%d", g.gen), fmt.Sprintf("rt-%d", g.gen)
	gr.currentAT, gr.currentRT = at, rt
	g.byRT[rt], g.of[at] = gr, gr
	g.expiry[at] = time.Now().Add(g.lifetime)
	return at, rt
}

// seed creates a grant, as a user's authorization would.
func (g *grants) seed() (at, rt string, expiry time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	at, rt = g.issue(&grant{used: map[string]bool{}})
	return at, rt, g.expiry[at]
}

func (g *grants) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", 400)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if id, secret, _ := r.BasicAuth(); id != clientID || secret != clientSecret {
		w.WriteHeader(401)
		fmt.Fprint(w, `{"error":"invalid_client"}`)
		return
	}
	rt := r.PostForm.Get("refresh_token")
	g.mu.Lock()
	defer g.mu.Unlock()
	gr := g.byRT[rt]
	if gr == nil || gr.revoked || rt != gr.currentRT {
		if gr != nil && gr.used[rt] {
			gr.revoked = true // reuse: this grant is gone
		}
		g.invalid++
		w.WriteHeader(400)
		fmt.Fprint(w, `{"error":"invalid_grant"}`)
		return
	}
	gr.used[rt] = true
	g.refreshes++
	at, nrt := g.issue(gr)
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": at, "refresh_token": nrt, "token_type": "Bearer",
		"expires_in": int(g.lifetime / time.Second),
	})
}

func (g *grants) serveAPI(w http.ResponseWriter, r *http.Request) {
	at := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	g.mu.Lock()
	gr := g.of[at]
	ok := gr != nil && !gr.revoked && time.Now().Before(g.expiry[at])
	g.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "invalid token", 401)
		return
	}
	fmt.Fprint(w, "ok")
}

// grantCounts is what the grants provider saw.
type grantCounts struct {
	Refreshes, InvalidGrant, Revoked int
}

func (g *grants) counts() grantCounts {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := grantCounts{Refreshes: g.refreshes, InvalidGrant: g.invalid}
	seen := map[*grant]bool{}
	for _, gr := range g.byRT {
		if gr.revoked && !seen[gr] {
			seen[gr] = true
			c.Revoked++
		}
	}
	return c
}

// endpoints is where a provider's children find it.
type endpoints interface {
	tokenURL() string
	apiURL() string
}

func (p *provider) tokenURL() string { return p.token.URL }
func (p *provider) apiURL() string   { return p.api.URL }
func (g *grants) tokenURL() string   { return g.token.URL }
func (g *grants) apiURL() string     { return g.api.URL }

// manyKeys names n store keys, one per grant.
func manyKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("org-%03d", i)
	}
	return keys
}
