package fleet_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// provider is a loopback OAuth2 provider as strict as fosite, Auth0 or
// Okta: it issues short-lived tokens, rotates the refresh token on every
// refresh, and treats a second use of a refresh token as theft, revoking
// the whole family (RFC 9700 §4.14.2). Its API accepts only unexpired
// access tokens of a living family.
type provider struct {
	token, api *httptest.Server
	lifetime   time.Duration
	early      time.Duration // a refresh earlier than this before expiry is "early"

	// faultRate is the share of token requests answered 500 before the
	// provider looks at them (so before it rotates anything).
	faultRate float64
	faults    atomic.Int64

	mu          sync.Mutex
	gen         int
	currentAT   string
	currentRT   string
	used        map[string]bool
	expiry      map[string]time.Time // access token → expiry
	revoked     bool
	refreshes   int
	invalid     int // invalid_grant answers
	earlyCount  int
	apiOK       int
	api401      int
	refreshedAt []time.Time
}

const (
	clientID     = "fleet-client"
	clientSecret = "fleet-secret"
)

func newProvider(t *testing.T, lifetime, leeway time.Duration) *provider {
	p := &provider{
		lifetime: lifetime,
		// The Transport refreshes ahead of expiry, at most halfway through
		// a token's life before Expiry-Leeway; anything sooner would be a
		// second refresh of one token.
		early:  leeway + (lifetime-leeway)/2 + 300*time.Millisecond,
		used:   map[string]bool{},
		expiry: map[string]time.Time{},
	}
	p.token = httptest.NewServer(http.HandlerFunc(p.serveToken))
	p.api = httptest.NewServer(http.HandlerFunc(p.serveAPI))
	t.Cleanup(p.token.Close)
	t.Cleanup(p.api.Close)
	return p
}

// issue starts a new generation; p.mu must be held.
func (p *provider) issue() (at, rt string) {
	p.gen++
	at, rt = fmt.Sprintf("at-%d", p.gen), fmt.Sprintf("rt-%d", p.gen)
	p.currentAT, p.currentRT = at, rt
	p.expiry[at] = time.Now().Add(p.lifetime)
	return at, rt
}

// seed is the grant a user's authorization would create; expired makes
// its access token one that has already expired.
func (p *provider) seed(expired bool) (at, rt string, expiry time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	at, rt = p.issue()
	if expired {
		p.expiry[at] = time.Now().Add(-time.Second)
	}
	return at, rt, p.expiry[at]
}

func (p *provider) serveToken(w http.ResponseWriter, r *http.Request) {
	if p.faultRate > 0 && rand.Float64() < p.faultRate {
		p.faults.Add(1)
		http.Error(w, "chaos", http.StatusInternalServerError)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", 400)
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	w.Header().Set("Content-Type", "application/json")
	if id != clientID || secret != clientSecret {
		w.WriteHeader(401)
		fmt.Fprint(w, `{"error":"invalid_client"}`)
		return
	}
	if r.PostForm.Get("grant_type") != "refresh_token" {
		w.WriteHeader(400)
		fmt.Fprint(w, `{"error":"unsupported_grant_type"}`)
		return
	}
	rt := r.PostForm.Get("refresh_token")
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.revoked || rt != p.currentRT {
		if p.used[rt] {
			p.revoked = true // reuse: the whole family is gone
		}
		p.invalid++
		w.WriteHeader(400)
		fmt.Fprint(w, `{"error":"invalid_grant"}`)
		return
	}
	if time.Until(p.expiry[p.currentAT]) > p.early {
		p.earlyCount++
	}
	p.used[rt] = true
	p.refreshes++
	p.refreshedAt = append(p.refreshedAt, time.Now())
	at, nrt := p.issue()
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": at, "refresh_token": nrt, "token_type": "Bearer",
		"expires_in": int(p.lifetime / time.Second),
	})
}

func (p *provider) serveAPI(w http.ResponseWriter, r *http.Request) {
	at := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.mu.Lock()
	exp, ok := p.expiry[at]
	ok = ok && !p.revoked && time.Now().Before(exp)
	if ok {
		p.apiOK++
	} else {
		p.api401++
	}
	p.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "invalid token", 401)
		return
	}
	fmt.Fprint(w, "ok")
}

// counts is what the provider saw.
type counts struct {
	Refreshes, InvalidGrant, Early, APIOK, API401 int
	Revoked                                       bool
	CurrentAT                                     string
}

func (p *provider) counts() counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return counts{p.refreshes, p.invalid, p.earlyCount, p.apiOK, p.api401, p.revoked, p.currentAT}
}
