package providers

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/entra"
	"github.com/oauthrt/oauthrt/filestore"
	"github.com/oauthrt/oauthrt/generic"
	"github.com/oauthrt/oauthrt/vsts"
	"golang.org/x/oauth2"
)

var testSource = Source{URL: "https://docs.example/oauth", Read: "2026-11-30"}

// exampleProvider is a provider with every fact known, and an endpoint per
// customer.
func exampleProvider() *Provider {
	return &Provider{
		ID:               "example",
		Name:             "Example",
		Docs:             testSource.URL,
		AuthURL:          "https://{domain}/oauth/authorize",
		TokenURL:         "https://{domain}/oauth/token",
		Revocation:       known("https://{domain}/oauth/revoke", testSource, ""),
		AuthMethod:       known(generic.AuthClientSecretPost, testSource, ""),
		Rotates:          known(true, testSource, ""),
		ReuseGrace:       known(30*time.Second, testSource, ""),
		AccessLifetime:   known(time.Hour, testSource, ""),
		IdleLifetime:     known(90*24*time.Hour, testSource, ""),
		AbsoluteLifetime: known(time.Duration(0), testSource, ""),
		RevokesOldAccess: known(false, testSource, ""),
		DeadGrant:        known(generic.Dialect{DeadCodes: []string{"BAD_REFRESH_TOKEN"}, CodeMembers: []string{"status"}}, testSource, ""),
		ExpiresIn:        known(ExpiresIn{Assume: 30 * time.Minute}, testSource, ""),
		KeepFields:       known([]string{"instance_url"}, testSource, ""),
		Throttle:         known("", testSource, ""),
	}
}

// unknownProvider is a provider whose lifecycle nobody could source.
func unknownProvider() *Provider {
	return &Provider{ID: "mystery", Name: "Mystery", AuthURL: "https://idp.example/authorize", TokenURL: "https://idp.example/token"}
}

func TestRefresherGeneric(t *testing.T) {
	client := &http.Client{}
	tests := []struct {
		name string
		p    *Provider
		c    Config
		want generic.Refresher
	}{
		{
			name: "every fact known",
			p:    exampleProvider(),
			c:    Config{ClientID: "id", ClientSecret: "secret", Scopes: []string{"a"}, Vars: map[string]string{"domain": "acme.example"}, AllowInsecureHTTP: true},
			want: generic.Refresher{
				TokenURL: "https://acme.example/oauth/token", RevocationURL: "https://acme.example/oauth/revoke",
				ClientID: "id", ClientSecret: "secret", AuthMethod: generic.AuthClientSecretPost, Scopes: []string{"a"},
				Dialect:    generic.Dialect{DeadCodes: []string{"BAD_REFRESH_TOKEN"}, CodeMembers: []string{"status"}},
				KeepFields: []string{"instance_url"}, DefaultLifetime: 30 * time.Minute, RotationGraceWindow: 30 * time.Second,
				AllowInsecureHTTP: true,
			},
		},
		{
			name: "overrides",
			p:    exampleProvider(),
			c:    Config{ClientID: "id", ClientSecret: "secret", TokenURL: "http://127.0.0.1:1/token", RevocationURL: "http://127.0.0.1:1/revoke"},
			want: generic.Refresher{
				TokenURL: "http://127.0.0.1:1/token", RevocationURL: "http://127.0.0.1:1/revoke",
				ClientID: "id", ClientSecret: "secret", AuthMethod: generic.AuthClientSecretPost,
				Dialect:    generic.Dialect{DeadCodes: []string{"BAD_REFRESH_TOKEN"}, CodeMembers: []string{"status"}},
				KeepFields: []string{"instance_url"}, DefaultLifetime: 30 * time.Minute, RotationGraceWindow: 30 * time.Second,
			},
		},
		{
			name: "nothing known",
			p:    unknownProvider(),
			c:    Config{ClientID: "id", ClientSecret: "secret", RevocationURL: "https://idp.example/revoke"},
			want: generic.Refresher{TokenURL: "https://idp.example/token", ClientID: "id", ClientSecret: "secret"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.HTTPClient = client
			r, err := tt.p.Refresher(tt.c)
			if err != nil {
				t.Fatal(err)
			}
			g, ok := r.(*generic.Refresher)
			if !ok {
				t.Fatalf("Refresher is a %T, want a *generic.Refresher", r)
			}
			if g.HTTPClient != client {
				t.Error("HTTPClient not passed on")
			}
			got := *g
			got.HTTPClient = nil
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Refresher (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRefresherAuthMethod(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwt := &generic.PrivateKeyJWT{Key: key}
	known := func(m generic.AuthMethod) Fact[generic.AuthMethod] {
		return Fact[generic.AuthMethod]{Value: m, Known: true, Source: testSource}
	}
	tests := []struct {
		name    string
		catalog Fact[generic.AuthMethod]
		c       Config
		want    generic.AuthMethod
		err     bool
	}{
		{"basic", known(generic.AuthClientSecretBasic), Config{ClientSecret: "s"}, generic.AuthClientSecretBasic, false},
		{"post", known(generic.AuthClientSecretPost), Config{ClientSecret: "s"}, generic.AuthClientSecretPost, false},
		{"unknown: detected", Fact[generic.AuthMethod]{}, Config{ClientSecret: "s"}, "", false},
		{"a key wins", known(generic.AuthClientSecretBasic), Config{ClientSecret: "s", PrivateKeyJWT: jwt}, generic.AuthPrivateKeyJWT, false},
		{"private_key_jwt", known(generic.AuthPrivateKeyJWT), Config{PrivateKeyJWT: jwt}, generic.AuthPrivateKeyJWT, false},
		{"private_key_jwt without a key", known(generic.AuthPrivateKeyJWT), Config{ClientSecret: "s"}, "", true},
		{"public client", known(generic.AuthClientSecretBasic), Config{}, generic.AuthNone, false},
		{"none sends no secret", known(generic.AuthNone), Config{ClientSecret: "s"}, generic.AuthNone, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := unknownProvider()
			p.AuthMethod = tt.catalog
			tt.c.ClientID = "id"
			r, err := p.Refresher(tt.c)
			if tt.err {
				if err == nil {
					t.Fatalf("Refresher = %v, want an error", r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.(*generic.Refresher).AuthMethod; got != tt.want {
				t.Errorf("AuthMethod = %q, want %q", got, tt.want)
			}
		})
	}
}

// The rotation grace window is the documented one, none for a documented
// zero, and the default when unknown.
func TestRefresherRotationGrace(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fact  Fact[time.Duration]
		field time.Duration
		grace time.Duration
	}{
		{"documented", Fact[time.Duration]{Value: 5 * time.Second, Known: true}, 5 * time.Second, 5 * time.Second},
		{"documented zero", Fact[time.Duration]{Known: true}, -1, 0},
		{"unknown", Fact[time.Duration]{}, 0, oauthrt.DefaultRotationGrace},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range []*Provider{unknownProvider(), exampleProvider(), {ID: "azuredevops"}, {ID: "entra"}} {
				p.ReuseGrace = tt.fact
				r, err := p.Refresher(Config{ClientID: "id", ClientSecret: "s", RedirectURL: "https://app.example/cb", Vars: map[string]string{"tenant": "t", "domain": "d.example"}})
				if err != nil {
					t.Fatalf("%s: %v", p.ID, err)
				}
				g, ok := r.(oauthrt.RotationGracer)
				if !ok {
					t.Fatalf("%s: %T is no RotationGracer", p.ID, r)
				}
				if got := g.RotationGrace(); got != tt.grace {
					t.Errorf("%s: RotationGrace = %v, want %v", p.ID, got, tt.grace)
				}
				if gr, ok := r.(*generic.Refresher); ok && gr.RotationGraceWindow != tt.field {
					t.Errorf("%s: RotationGraceWindow = %v, want %v", p.ID, gr.RotationGraceWindow, tt.field)
				}
			}
		})
	}
}

func TestRefresherRevocation(t *testing.T) {
	for _, tt := range []struct {
		name string
		fact Fact[string]
		c    Config
		want string
		err  bool
	}{
		{"unknown", Fact[string]{}, Config{RevocationURL: "https://x.example/revoke"}, "", false},
		{"known none", Fact[string]{Known: true}, Config{RevocationURL: "https://x.example/revoke"}, "", false},
		{"known", Fact[string]{Value: "https://idp.example/revoke", Known: true}, Config{}, "https://idp.example/revoke", false},
		{"override", Fact[string]{Value: "https://idp.example/revoke", Known: true}, Config{RevocationURL: "https://x.example/revoke"}, "https://x.example/revoke", false},
		{"placeholder filled", Fact[string]{Value: "https://{region}.idp.example/revoke", Known: true}, Config{Vars: map[string]string{"region": "eu"}}, "https://eu.idp.example/revoke", false},
		{"placeholder not filled", Fact[string]{Value: "https://{region}.idp.example/revoke", Known: true}, Config{}, "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := unknownProvider()
			p.Revocation = tt.fact
			tt.c.ClientID, tt.c.ClientSecret = "id", "secret"
			r, err := p.Refresher(tt.c)
			if tt.err {
				if err == nil {
					t.Fatalf("Refresher = %v, want an error", r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g := r.(*generic.Refresher)
			if g.RevocationURL != tt.want {
				t.Errorf("RevocationURL = %q, want %q", g.RevocationURL, tt.want)
			}
			if tt.want == "" {
				if err := g.Revoke(context.Background(), &oauth2.Token{RefreshToken: "RT"}); !errors.Is(err, oauthrt.ErrRevokeUnsupported) {
					t.Errorf("Revoke = %v, want ErrRevokeUnsupported", err)
				}
			}
		})
	}
}

func TestRefresherErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    *Provider
		c    Config
	}{
		{"a var that leaves its place", exampleProvider(), Config{Vars: map[string]string{"domain": "evil.example/x"}}},
		{"a var with a port", exampleProvider(), Config{Vars: map[string]string{"domain": "evil.example:1"}}},
		{"a malformed catalog URL", &Provider{ID: "broken", TokenURL: "https://{domain/token"}, Config{}},
		{"revocation needs a var the token URL lacks", func() *Provider {
			p := exampleProvider()
			p.Revocation = known("https://{region}.example/revoke", testSource, "")
			return p
		}(), Config{}},
		{"azuredevops without a secret", &Provider{ID: "azuredevops"}, Config{RedirectURL: "https://app.example/cb"}},
		{"azuredevops without a redirect URL", &Provider{ID: "azuredevops"}, Config{ClientSecret: "s"}},
		{"entra without a tenant", &Provider{ID: "entra"}, Config{ClientID: "id"}},
		{"entra with a bad tenant", &Provider{ID: "entra"}, Config{ClientID: "id", Vars: map[string]string{"tenant": "a/b"}}},
		{"entra without a client ID", &Provider{ID: "entra"}, Config{Vars: map[string]string{"tenant": "t"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if r, err := tt.p.Refresher(tt.c); err == nil {
				t.Errorf("Refresher = %v, want an error", r)
			}
		})
	}
}

func TestRefresherVSTSAndEntra(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{}
	r, err := (&Provider{ID: "azuredevops", TokenURL: vsts.TokenURL, AuthURL: vsts.AuthURL, ReuseGrace: Fact[time.Duration]{Known: true}}).Refresher(
		Config{ClientID: "app", ClientSecret: "s", RedirectURL: "https://app.example/cb", HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	v, ok := r.(*vsts.Refresher)
	if !ok {
		t.Fatalf("azuredevops: %T, want *vsts.Refresher", r)
	}
	want := vsts.Refresher{AppID: "app", ClientSecret: "s", RedirectURL: "https://app.example/cb", TokenURL: vsts.TokenURL, AuthURL: vsts.AuthURL, HTTPClient: client, RotationGraceWindow: -1}
	if *v != want {
		t.Errorf("azuredevops: %#v, want %#v", *v, want)
	}

	jwt := &generic.PrivateKeyJWT{Key: key}
	r, err = (&Provider{ID: "entra"}).Refresher(Config{ClientID: "id", PrivateKeyJWT: jwt, Scopes: []string{"https://graph.microsoft.com/.default", "offline_access"}, Vars: map[string]string{"tenant": "contoso.onmicrosoft.com"}})
	if err != nil {
		t.Fatal(err)
	}
	e, ok := r.(*entra.Refresher)
	if !ok {
		t.Fatalf("entra: %T, want *entra.Refresher", r)
	}
	if e.Tenant != "contoso.onmicrosoft.com" || e.ClientID != "id" || e.PrivateKey != key || e.ClientSecret != "" || len(e.Scopes) != 2 {
		t.Errorf("entra: %#v", e)
	}
	if got := e.TokenEndpoint(); got != "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token" {
		t.Errorf("entra: token endpoint %q", got)
	}
}

func TestEndpoint(t *testing.T) {
	e, err := exampleProvider().Endpoint(map[string]string{"domain": "acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	want := oauth2.Endpoint{AuthURL: "https://acme.example/oauth/authorize", TokenURL: "https://acme.example/oauth/token", AuthStyle: oauth2.AuthStyleInParams}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Errorf("Endpoint (-want +got):\n%s", diff)
	}
	p := unknownProvider()
	if e, err := p.Endpoint(nil); err != nil || e.AuthStyle != oauth2.AuthStyleAutoDetect || e.TokenURL != p.TokenURL {
		t.Errorf("Endpoint of an unknown method = %+v, %v", e, err)
	}
	p.AuthMethod = known(generic.AuthClientSecretBasic, testSource, "")
	if e, _ := p.Endpoint(nil); e.AuthStyle != oauth2.AuthStyleInHeader {
		t.Errorf("client_secret_basic: AuthStyle %v", e.AuthStyle)
	}
	if _, err := exampleProvider().Endpoint(nil); err == nil || !strings.Contains(err.Error(), `"domain"`) {
		t.Errorf("Endpoint without its var = %v, want an error naming it", err)
	}
}

// tenantServer is a provider with an endpoint per tenant under
// /{tenant}/token and /{tenant}/revoke, which rotates refresh tokens.
type tenantServer struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
	n     int
}

func newTenantServer(t *testing.T) *tenantServer {
	ts := &tenantServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		ts.mu.Lock()
		ts.paths = append(ts.paths, r.URL.Path)
		ts.n++
		n := ts.n
		ts.mu.Unlock()
		if r.PostForm.Get("client_secret") != "secret" {
			t.Errorf("request without the client's secret: %v", r.PostForm)
		}
		if strings.HasSuffix(r.URL.Path, "/revoke") {
			return
		}
		tenant, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"AT-%s-%d","refresh_token":"RT-%s-%d","expires_in":3600}`, tenant, n, tenant, n)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tenantServer) seen() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.paths...)
}

// One Refresher serves every tenant, at the URL each token records; a
// process restarted with nothing but the store still does.
func TestRefresherPerTenant(t *testing.T) {
	ts := newTenantServer(t)
	p := &Provider{
		ID:         "tenanted",
		AuthURL:    ts.URL + "/{tenant}/authorize",
		TokenURL:   ts.URL + "/{tenant}/token",
		Revocation: known(ts.URL+"/{tenant}/revoke", testSource, ""),
		AuthMethod: known(generic.AuthClientSecretPost, testSource, ""),
	}
	c := Config{ClientID: "id", ClientSecret: "secret"}
	r, err := p.Refresher(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.(*tenantRefresher); !ok {
		t.Fatalf("Refresher is a %T, want the per-tenant one", r)
	}
	ctx := context.Background()
	store := &filestore.Store{Path: filepath.Join(t.TempDir(), "tokens.json")}
	for _, tenant := range []string{"acme", "globex.example"} {
		e, err := p.Endpoint(map[string]string{"tenant": tenant})
		if err != nil {
			t.Fatal(err)
		}
		first := generic.WithTokenURL(&oauth2.Token{AccessToken: "AT0", RefreshToken: "RT0-" + tenant}, e.TokenURL)
		next, err := r.Refresh(ctx, first)
		if err != nil {
			t.Fatalf("%s: %v", tenant, err)
		}
		if err := store.Save(ctx, tenant, next); err != nil {
			t.Fatal(err)
		}
	}
	// A restarted process: a new Refresher, the tokens from the store.
	r2, err := p.Refresher(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{"acme", "globex.example"} {
		tok, err := store.Load(ctx, tenant)
		if err != nil {
			t.Fatal(err)
		}
		next, err := r2.Refresh(ctx, tok)
		if err != nil {
			t.Fatalf("%s after a restart: %v", tenant, err)
		}
		if !strings.HasPrefix(next.AccessToken, "AT-"+tenant+"-") {
			t.Errorf("%s: got %q from another tenant", tenant, next.AccessToken)
		}
		if err := r2.(oauthrt.Revoker).Revoke(ctx, next); err != nil {
			t.Fatalf("%s: Revoke: %v", tenant, err)
		}
	}
	want := []string{
		"/acme/token", "/globex.example/token",
		"/acme/token", "/acme/revoke", "/acme/revoke",
		"/globex.example/token", "/globex.example/revoke", "/globex.example/revoke",
	}
	if diff := cmp.Diff(want, ts.seen()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}

	// Tokens that record no URL, or one the template refuses, are sent
	// nowhere.
	before := len(ts.seen())
	for name, tok := range map[string]*oauth2.Token{
		"no URL":       {AccessToken: "AT", RefreshToken: "RT"},
		"another host": generic.WithTokenURL(&oauth2.Token{AccessToken: "AT", RefreshToken: "RT"}, "https://evil.example/acme/token"),
		"a path":       generic.WithTokenURL(&oauth2.Token{AccessToken: "AT", RefreshToken: "RT"}, ts.URL+"/a/b/token"),
		"dot-dot":      generic.WithTokenURL(&oauth2.Token{AccessToken: "AT", RefreshToken: "RT"}, ts.URL+"/../token"),
		"a query":      generic.WithTokenURL(&oauth2.Token{AccessToken: "AT", RefreshToken: "RT"}, ts.URL+"/acme?x=/token"),
	} {
		if _, err := r.Refresh(ctx, tok); err == nil || !strings.HasPrefix(err.Error(), "providers: tenanted: ") {
			t.Errorf("%s: Refresh = %v, want a providers error", name, err)
		}
		if err := r.(oauthrt.Revoker).Revoke(ctx, tok); err == nil {
			t.Errorf("%s: Revoke succeeded", name)
		}
	}
	if _, err := r.Refresh(ctx, &oauth2.Token{AccessToken: "AT"}); !errors.Is(err, oauthrt.ErrReauthRequired) {
		t.Errorf("Refresh without a refresh token = %v, want ErrReauthRequired", err)
	}
	if n := len(ts.seen()); n != before {
		t.Errorf("%d requests sent for tokens with no valid URL", n-before)
	}

	// Without a revocation endpoint, Revoke says so before anything.
	p.Revocation = known("", testSource, "")
	r3, _ := p.Refresher(c)
	if err := r3.(oauthrt.Revoker).Revoke(ctx, nil); !errors.Is(err, oauthrt.ErrRevokeUnsupported) {
		t.Errorf("Revoke without an endpoint = %v, want ErrRevokeUnsupported", err)
	}
}

// The per-tenant Refresher and Config print no secret, however printed.
func TestNothingPrintsSecrets(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "provider-client-secret-8d1e"
	c := Config{ClientID: "id", ClientSecret: secret, PrivateKeyJWT: &generic.PrivateKeyJWT{Key: key}, TokenURL: "https://u:url-password-42@idp.example/token", Vars: map[string]string{"domain": "d.example"}}
	r, err := exampleProvider().Refresher(Config{ClientID: "id", ClientSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	tr := r.(*tenantRefresher)
	for name, v := range map[string]any{"Config": c, "*Config": &c, "tenantRefresher": *tr, "*tenantRefresher": tr} {
		var out []string
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
			out = append(out, fmt.Sprintf(verb, v))
		}
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("m", "v", v)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "v", v)
		b, _ := json.Marshal(struct{ V any }{v})
		out = append(out, text.String(), js.String(), string(b))
		for _, s := range out {
			for _, leak := range []string{secret, "url-password-42", key.D.String(), key.D.Text(16)} {
				if strings.Contains(s, leak) {
					t.Errorf("%s: %q leaks in %q", name, leak, s)
				}
			}
		}
	}
	if s := fmt.Sprint(tr); !strings.Contains(s, `"example"`) || !strings.Contains(s, "{domain}") {
		t.Errorf("String = %q, want the provider and its token URL template", s)
	}
}
