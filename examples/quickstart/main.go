// Command quickstart shows oauthrt keeping a token fresh against a real
// (loopback) token endpoint and API: tokens live 2 seconds, requests go
// out once a second across several expiries, and the API revokes one
// token early to force a 401.
//
//	go run ./examples/quickstart
//
// It prints every request and every refresh. Tokens are shown by their
// number only: oauthrt itself never prints them.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

const (
	lifetime = 2 * time.Second
	requests = 7
	revokeAt = 4 // the request before which the provider revokes the (still valid) token
)

func main() {
	log.SetFlags(0)
	p := newProvider()
	tokenServer := httptest.NewServer(http.HandlerFunc(p.token))
	defer tokenServer.Close()
	apiServer := httptest.NewServer(http.HandlerFunc(p.api))
	defer apiServer.Close()
	fmt.Printf("token endpoint %s, API %s, tokens live %v\n", tokenServer.URL, apiServer.URL, lifetime)

	// The user authorized the app earlier; its first token is stored.
	store := oauthrt.NewMemoryStore()
	if err := store.Save(context.Background(), "org-42", p.issue()); err != nil {
		log.Fatal(err)
	}

	client := &http.Client{Transport: &oauthrt.Transport{
		Store: store,
		Key:   "org-42",
		Refresher: &generic.Refresher{
			TokenURL:     tokenServer.URL,
			ClientID:     "quickstart",
			ClientSecret: "quickstart-secret",
		},
		Leeway: 500 * time.Millisecond, // refresh half a second before expiry
	}}

	failed := 0
	for i := 1; i <= requests; i++ {
		if i == revokeAt {
			p.revokeCurrent()
		}
		resp, err := client.Get(apiServer.URL + "/hello")
		if err != nil {
			log.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("request %d: GET /hello -> %s %s\n", i, resp.Status, strings.TrimSpace(string(body)))
		if resp.StatusCode != http.StatusOK {
			failed++
		}
		if i < requests {
			time.Sleep(time.Second)
		}
	}
	fmt.Printf("done: %d requests, %d refreshes, %d failed\n", requests, p.refreshes(), failed)
	if failed > 0 {
		os.Exit(1)
	}
}

// provider is a small OAuth2 provider: it rotates refresh tokens, revokes
// the grant if a refresh token is used twice, and expires access tokens
// after lifetime.
type provider struct {
	mu        sync.Mutex
	n         int                  // tokens issued
	access    map[string]time.Time // live access token → expiry
	refresh   string               // the one live refresh token
	refreshed int
}

func newProvider() *provider { return &provider{access: map[string]time.Time{}} }

func (p *provider) issue() *oauth2.Token {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.issueLocked()
}

func (p *provider) issueLocked() *oauth2.Token {
	p.n++
	tok := &oauth2.Token{
		AccessToken:  fmt.Sprintf("access-%d", p.n),
		RefreshToken: fmt.Sprintf("refresh-%d", p.n),
		TokenType:    "Bearer",
		Expiry:       time.Now().Add(lifetime),
	}
	p.access[tok.AccessToken] = tok.Expiry
	p.refresh = tok.RefreshToken
	return tok
}

func (p *provider) refreshes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refreshed
}

func (p *provider) revokeCurrent() {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.access, fmt.Sprintf("access-%d", p.n))
	fmt.Printf("provider: revoked token #%d before it expired\n", p.n)
}

func (p *provider) token(w http.ResponseWriter, r *http.Request) {
	id, secret, _ := r.BasicAuth()
	if id != "quickstart" || secret != "quickstart-secret" {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.PostFormValue("grant_type") != "refresh_token" || r.PostFormValue("refresh_token") != p.refresh {
		p.refresh = "" // reuse of a rotated refresh token: revoke the grant
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_grant"}`)
		return
	}
	p.refreshed++
	tok := p.issueLocked()
	fmt.Printf("token endpoint: refresh #%d, issued token #%d (expires in %v)\n", p.refreshed, p.n, lifetime)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":%d,"refresh_token":%q}`,
		tok.AccessToken, int(lifetime/time.Second), tok.RefreshToken)
}

func (p *provider) api(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.mu.Lock()
	expiry, ok := p.access[tok]
	p.mu.Unlock()
	if !ok || time.Now().After(expiry) {
		fmt.Printf("API: 401 for token #%s\n", strings.TrimPrefix(tok, "access-"))
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "token rejected", http.StatusUnauthorized)
		return
	}
	fmt.Fprintf(w, "hello, token #%s\n", strings.TrimPrefix(tok, "access-"))
}
