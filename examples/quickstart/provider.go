package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// provider is a small OAuth2 provider: it rotates refresh tokens, revokes
// the grant if a refresh token is used twice, and expires access tokens
// after lifetime. Its state is kept in a file between runs.
type provider struct {
	path string

	mu        sync.Mutex
	state     providerState
	refreshed int // this run
}

type providerState struct {
	N       int                  `json:"n"`       // tokens issued
	Access  map[string]time.Time `json:"access"`  // live access token → expiry
	Refresh string               `json:"refresh"` // the one live refresh token
}

func loadProvider(path string) (*provider, error) {
	p := &provider{path: path, state: providerState{Access: map[string]time.Time{}}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &p.state); err != nil {
		return nil, fmt.Errorf("provider state %s: %w (run with -reset)", path, err)
	}
	if p.state.Access == nil {
		p.state.Access = map[string]time.Time{}
	}
	return p, nil
}

// saveLocked writes the state; p.mu must be held.
func (p *provider) saveLocked() error {
	for tok, exp := range p.state.Access {
		if time.Since(exp) > time.Minute {
			delete(p.state.Access, tok)
		}
	}
	b, err := json.Marshal(p.state)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p.path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(p.path, b, 0o600)
}

func (p *provider) issue() (*oauth2.Token, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.issueLocked()
}

func (p *provider) issueLocked() (*oauth2.Token, error) {
	p.state.N++
	tok := &oauth2.Token{
		AccessToken:  fmt.Sprintf("access-%d", p.state.N),
		RefreshToken: fmt.Sprintf("refresh-%d", p.state.N),
		TokenType:    "Bearer",
		Expiry:       time.Now().Add(lifetime),
	}
	p.state.Access[tok.AccessToken] = tok.Expiry
	p.state.Refresh = tok.RefreshToken
	return tok, p.saveLocked()
}

func (p *provider) refreshesThisRun() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refreshed
}

func (p *provider) revokeCurrent() {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.state.Access, fmt.Sprintf("access-%d", p.state.N))
	p.saveLocked()
	fmt.Printf("provider: revoked token #%d before it expired\n", p.state.N)
}

func (p *provider) token(w http.ResponseWriter, r *http.Request) {
	id, secret, _ := r.BasicAuth()
	if id != "quickstart" || secret != "quickstart-secret" {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.PostFormValue("grant_type") != "refresh_token" || r.PostFormValue("refresh_token") != p.state.Refresh {
		p.state.Refresh = "" // reuse of a rotated refresh token: revoke the grant
		p.saveLocked()
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_grant"}`)
		return
	}
	tok, err := p.issueLocked()
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"error":"server_error"}`)
		return
	}
	p.refreshed++
	fmt.Printf("token endpoint: refresh, issued token #%d (expires in %v)\n", p.state.N, lifetime)
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":%d,"refresh_token":%q}`,
		tok.AccessToken, int(lifetime/time.Second), tok.RefreshToken)
}

func (p *provider) api(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.mu.Lock()
	expiry, ok := p.state.Access[tok]
	p.mu.Unlock()
	if !ok || time.Now().After(expiry) {
		fmt.Printf("API: 401 for token #%s\n", number(tok))
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "token rejected", http.StatusUnauthorized)
		return
	}
	fmt.Fprintf(w, "hello, token #%s\n", number(tok))
}
