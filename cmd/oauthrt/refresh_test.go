package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

// clientSecret is the secret of the test's client; the commands get it
// through the environment variable secretVar.
const (
	clientID     = "cli"
	clientSecret = "s3cret-of-the-client"
	secretVar    = "OAUTHRT_TEST_CLIENT_SECRET"
)

// provider is an OAuth2 provider on 127.0.0.1: an RFC 6749 token
// endpoint that rotates refresh tokens (the old one stops working at
// once), an RFC 7009 revocation endpoint, and an API that takes only the
// newest access token.
type provider struct {
	*httptest.Server
	secrets *secrets

	mu        sync.Mutex
	refresh   string   // the refresh token that works
	access    string   // the access token the API takes
	presented []string // the refresh tokens presented, in order
	revoked   []string // the tokens revoked, in order
	refuse    bool     // answer every refresh with invalid_grant
	issued    int
}

// newProvider starts a provider whose grant is tok's.
func newProvider(t *testing.T, sec *secrets, tok *oauth2.Token) *provider {
	p := &provider{secrets: sec, refresh: tok.RefreshToken, access: tok.AccessToken}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("POST /revoke", p.revoke)
	mux.HandleFunc("GET /api", p.api)
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

// client reports whether r authenticates the test's client, in a Basic
// header or in the form.
func client(r *http.Request) bool {
	if id, secret, ok := r.BasicAuth(); ok {
		return id == clientID && secret == clientSecret
	}
	return r.PostForm.Get("client_id") == clientID && r.PostForm.Get("client_secret") == clientSecret
}

func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":%q}`, code)
}

func (p *provider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "refresh_token" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	if !client(r) {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	rt := r.PostForm.Get("refresh_token")
	p.presented = append(p.presented, rt)
	if p.refuse || rt != p.refresh {
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	p.issued++
	p.access = fmt.Sprintf("at-%d-%s", p.issued, rand.Text())
	p.refresh = fmt.Sprintf("rt-%d-%s", p.issued, rand.Text())
	p.secrets.add(p.access, p.refresh)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token":  p.access,
		"token_type":    "Bearer",
		"refresh_token": p.refresh,
		"expires_in":    3600,
	})
}

func (p *provider) revoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !client(r) {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	p.mu.Lock()
	p.revoked = append(p.revoked, r.PostForm.Get("token"))
	p.mu.Unlock()
}

func (p *provider) api(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	ok := r.Header.Get("Authorization") == "Bearer "+p.access
	p.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
	}
}

// seen returns what the provider saw: the refresh tokens presented and
// the tokens revoked.
func (p *provider) seen() (presented, revoked []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.presented), slices.Clone(p.revoked)
}

// clientArgs are the flags that name the provider p to refresh and
// revoke.
func (p *provider) clientArgs() []string {
	return []string{"--token-url", p.URL + "/token", "--client-id", clientID, "--client-secret-env", secretVar}
}

func TestRefresh(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			sec := &secrets{}
			sec.add(clientSecret)
			s := openedWith(t, b, nil)
			old := sec.token(t, "k", time.Now().Add(time.Hour), time.Hour)
			save(t, s, "k", old)
			p := newProvider(t, sec, old)
			env := withStore(b, secretVar+"="+clientSecret)

			// A Transport of a service sharing the store, which has the old
			// access token and keeps using it while the command refreshes.
			svc := &http.Client{Transport: &oauthrt.Transport{
				Store:     s.TokenStore,
				Key:       "k",
				Refresher: &generic.Refresher{TokenURL: p.URL + "/token", ClientID: clientID, ClientSecret: clientSecret},
			}}
			call := func() error {
				resp, err := svc.Get(p.URL + "/api")
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("the API answered %s", resp.Status)
				}
				return nil
			}
			if err := call(); err != nil {
				t.Fatalf("the service's first call: %v", err)
			}

			stop := make(chan struct{})
			errs := make(chan error, 4)
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							errs <- call() // once more, after the command
							return
						default:
						}
						if err := call(); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			out := sec.mustRun(t, env, append([]string{"refresh", "k"}, p.clientArgs()...)...)
			close(stop)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("a call of the service: %v", err)
				}
			}

			now, err := s.Load(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			presented, _ := p.seen()
			if !slices.Equal(presented, []string{old.RefreshToken}) {
				t.Errorf("the provider saw %d refreshes (old refresh token first: %t), want exactly one, with the old refresh token",
					len(presented), len(presented) > 0 && presented[0] == old.RefreshToken)
			}
			if now.AccessToken != p.access || now.RefreshToken != p.refresh {
				t.Errorf("the store does not hold the provider's new token")
			}
			for _, want := range []string{
				"refreshed key k",
				accessPrint(old) + " -> " + accessPrint(now),
				refreshPrint(old) + " -> " + refreshPrint(now),
				"(in 59m)",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("refresh output does not say %q:\n%s", want, out)
				}
			}

			// The provider refuses the new refresh token: the command
			// fails, and the grant is dead for the fleet.
			p.mu.Lock()
			p.refuse = true
			p.mu.Unlock()
			r := sec.run(t, env, append([]string{"refresh", "k", "--json"}, p.clientArgs()...)...)
			if r.code != exitFailed || !strings.Contains(r.stderr, "authorize again") || r.stdout != "" {
				t.Errorf("refresh refused with invalid_grant: exit %d, stdout %q, stderr %q; want exit 1 and a dead grant", r.code, r.stdout, r.stderr)
			}
			st, err := s.TokenStore.(oauthrt.GrantStateStore).LoadGrantState(ctx, "k")
			if err != nil || st.DeadToken != oauthrt.Fingerprint(now) || st.DeadCode != "invalid_grant" {
				t.Errorf("grant state after invalid_grant: %+v, %v; want dead with invalid_grant", st, err)
			}
			page := statusPage(t, sec.mustRun(t, env, "status", "--state", "dead", "--json"))
			if len(page.Records) != 1 || page.Records[0].Key != "k" || page.Records[0].Code != "invalid_grant" {
				t.Errorf("status --state dead: %+v, want k, dead with invalid_grant", page.Records)
			}
			r = sec.run(t, env, append([]string{"refresh", "k"}, p.clientArgs()...)...)
			if presented, _ := p.seen(); r.code != exitFailed || !strings.Contains(r.stderr, "dead") || len(presented) != 2 {
				t.Errorf("refresh of a dead grant: exit %d, stderr %q, %d refreshes seen; want exit 1, a dead grant, and no refresh sent", r.code, r.stderr, len(presented))
			}
		})
	}
}

func TestRevoke(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			sec := &secrets{}
			sec.add(clientSecret)
			s := openedWith(t, b, nil)
			tok := sec.token(t, "k", time.Now().Add(time.Hour), time.Hour)
			save(t, s, "k", tok)
			p := newProvider(t, sec, tok)
			env := withStore(b, secretVar+"="+clientSecret)

			// No revocation endpoint: nothing sent, nothing deleted.
			for _, args := range [][]string{
				append([]string{"revoke", "k"}, p.clientArgs()...),
				{"revoke", "k", "--provider", "atlassian", "--token-url", p.URL + "/token", "--client-id", clientID, "--client-secret-env", secretVar},
			} {
				r := sec.run(t, env, args...)
				if r.code != exitFailed || !strings.Contains(r.stderr, "no revocation endpoint") || !strings.Contains(r.stderr, "nothing was revoked or deleted") {
					t.Errorf("oauthrt %s: exit %d, stderr %q; want exit 1 and no revocation endpoint", strings.Join(args, " "), r.code, r.stderr)
				}
			}
			if _, revoked := p.seen(); len(revoked) != 0 {
				t.Errorf("the provider saw %d revocations, want none", len(revoked))
			}
			if _, err := s.Load(ctx, "k"); err != nil {
				t.Fatalf("after a revoke that could not be sent, loading k: %v", err)
			}

			out := sec.mustRun(t, env, append([]string{"revoke", "k", "--revocation-url", p.URL + "/revoke"}, p.clientArgs()...)...)
			if !strings.Contains(out, "revoked key k") {
				t.Errorf("revoke output %q", out)
			}
			if _, revoked := p.seen(); !slices.Contains(revoked, tok.RefreshToken) {
				t.Errorf("the provider saw %d revocations, none of the refresh token", len(revoked))
			}
			if _, err := s.Load(ctx, "k"); !errors.Is(err, oauthrt.ErrNoToken) {
				t.Errorf("after revoke, loading k: %v, want ErrNoToken", err)
			}
			r := sec.run(t, env, append([]string{"revoke", "k", "--revocation-url", p.URL + "/revoke"}, p.clientArgs()...)...)
			if r.code != exitFailed || !strings.Contains(r.stderr, `no token under key "k"`) {
				t.Errorf("revoke of a deleted key: exit %d, stderr %q; want exit 1, no token", r.code, r.stderr)
			}
		})
	}
}

// TestClientFlags runs refresh with flags that cannot make a client.
func TestClientFlags(t *testing.T) {
	store := "sqlite://" + t.TempDir() + "/tokens.db"
	secretFile := t.TempDir() + "/secret"
	for _, c := range []struct {
		name string
		env  []string
		args []string
		msg  string
	}{
		{"no provider", nil, []string{"refresh", "k"}, "--provider ID"},
		{"unknown provider", nil, []string{"refresh", "k", "--provider", "nosuch"}, "no such provider"},
		{"unset secret variable", nil, []string{"refresh", "k", "--token-url", "https://127.0.0.1/token", "--client-secret-env", "OAUTHRT_TEST_UNSET"}, "is not set"},
		{"both secrets", []string{"S=x"}, []string{"refresh", "k", "--token-url", "https://127.0.0.1/token", "--client-secret-env", "S", "--client-secret-file", secretFile}, "not both"},
		{"no secret flag", nil, []string{"refresh", "k", "--token-url", "https://127.0.0.1/token", "--client-secret", "x"}, "unknown flag"},
		{"bad token url", nil, []string{"refresh", "k", "--token-url", "ftp://127.0.0.1/token"}, "--token-url"},
		{"var without provider", nil, []string{"refresh", "k", "--token-url", "https://127.0.0.1/token", "--var", "tenant=x"}, "--var"},
		{"bad var", nil, []string{"revoke", "k", "--provider", "okta", "--var", "domain=a/b"}, "okta"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := cli(t, append(c.env, "OAUTHRT_STORE="+store), c.args...)
			if r.code != exitUsage || !strings.HasPrefix(r.stderr, "oauthrt: ") || !strings.Contains(r.stderr, c.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d and a message with %q", r.code, r.stderr, exitUsage, c.msg)
			}
		})
	}
	// A token endpoint that does not answer fails the refresh, exit 1.
	sec := &secrets{}
	b := backend{"sqlite", store}
	save(t, openedWith(t, b, nil), "k", sec.token(t, "k", time.Now().Add(time.Hour), time.Hour))
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	r := sec.run(t, withStore(b), "refresh", "k", "--token-url", url+"/token")
	if r.code != exitFailed || !strings.Contains(r.stderr, "refreshing key") {
		t.Errorf("refresh at an endpoint that does not answer: exit %d, stderr %q; want exit 1", r.code, r.stderr)
	}
}
