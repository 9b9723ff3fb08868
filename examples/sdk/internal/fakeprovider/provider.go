// Package fakeprovider is a stand-in for an OAuth2 provider and its API,
// on a loopback httptest server, for the examples' tests.
//
// One server plays both parts. At [Provider.TokenURL] it is a token
// endpoint speaking the refresh_token grant of RFC 6749 §6: it rotates
// the refresh token on every use and, as RFC 9700 asks, revokes the whole
// grant when an old refresh token comes back. Every other path is the
// API: a request gets through to the handler given to [New] only with the
// access token issued last, and otherwise gets a 401 with the challenge
// Bearer error="invalid_token".
//
// Tokens are numbered: the grant starts with access-1 and refresh-1, and
// the n-th refresh issues access-(n+1) and refresh-(n+1).
package fakeprovider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// The client credentials the token endpoint accepts, as HTTP Basic or in
// the form.
const (
	ClientID     = "example-app"
	ClientSecret = "example-secret"
)

// Lifetime is the expires_in of the access tokens the endpoint issues.
// The first token, from [Provider.FirstToken], has less left.
const Lifetime = 8 * time.Hour

const tokenPath = "/oauth/token"

// A Provider is a running fake provider. Its methods are safe for
// concurrent use.
type Provider struct {
	// URL is the server's base URL, http://127.0.0.1:port, without a
	// trailing slash.
	URL string

	srv *httptest.Server
	api http.Handler

	mu        sync.Mutex
	n         int             // number of the live tokens
	access    string          // the access token the API accepts; "" when none
	refresh   string          // the live refresh token; "" when the grant is dead
	used      map[string]bool // refresh tokens already exchanged
	refreshes int             // successful refreshes
	reused    int             // old refresh tokens presented
	seen      []string        // access tokens presented to the API, in order
}

// New starts a Provider whose API is api. Close it when done.
func New(api http.Handler) *Provider {
	p := &Provider{api: api, n: 1, access: "access-1", refresh: "refresh-1", used: map[string]bool{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL
	return p
}

// Close shuts the server down.
func (p *Provider) Close() { p.srv.Close() }

// TokenURL is the token endpoint's URL.
func (p *Provider) TokenURL() string { return p.URL + tokenPath }

// FirstToken returns the token that an authorization earlier issued:
// access-1, valid for one more hour, and refresh-1.
func (p *Provider) FirstToken() *oauth2.Token {
	return &oauth2.Token{
		AccessToken:  "access-1",
		TokenType:    "Bearer",
		RefreshToken: "refresh-1",
		Expiry:       time.Now().Add(time.Hour),
	}
}

// Revoke makes the API refuse the current access token, as a provider
// does when a user changes their password or an administrator revokes a
// session. The refresh token stays live.
func (p *Provider) Revoke() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.access = ""
}

// Refreshes returns how many refreshes the token endpoint granted.
func (p *Provider) Refreshes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refreshes
}

// Reused returns how many times an already rotated refresh token was
// presented. Each time, the grant was revoked.
func (p *Provider) Reused() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reused
}

// Seen returns the access tokens the API received, in order, accepted or
// not; "" stands for a request without a bearer token.
func (p *Provider) Seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.seen)
}

func (p *Provider) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == tokenPath {
		p.token(w, r)
		return
	}
	presented, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.mu.Lock()
	p.seen = append(p.seen, presented)
	ok := p.access != "" && presented == p.access
	p.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="the access token is not valid"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	p.api.ServeHTTP(w, r)
}

// token is the token endpoint.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != ClientID || secret != ClientSecret {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	if r.PostForm.Get("grant_type") != "refresh_token" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}

	presented := r.PostForm.Get("refresh_token")
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.used[presented]:
		// A replayed refresh token: one of the two parties holding it is
		// not the client. Revoke the whole grant (RFC 9700 §4.14.2).
		p.reused++
		p.access, p.refresh = "", ""
		fallthrough
	case presented == "" || presented != p.refresh:
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	p.used[presented] = true
	p.n++
	p.refreshes++
	p.access = fmt.Sprintf("access-%d", p.n)
	p.refresh = fmt.Sprintf("refresh-%d", p.n)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token":  p.access,
		"token_type":    "Bearer",
		"expires_in":    int(Lifetime / time.Second),
		"refresh_token": p.refresh,
	})
}

// oauthError writes an RFC 6749 §5.2 error answer.
func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":%q}`, code)
}
