package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"github.com/oauthrt/oauthrt/vsts"
	"golang.org/x/oauth2"
)

// The client the simulators know.
const (
	simClientID = "sim-client-id"
	simSecret   = "sim-client-secret-5e1f"
	simFirstRT  = "sim-rt-0"
	simScope    = "sim-scope"
)

// simServer is a provider's token endpoint (/token) and revocation
// endpoint (/revoke) as its simSpec describes them, and an API (/api)
// that takes the last access token issued. It authenticates the client
// as the spec says, answers refreshes in the spec's shape, rotates
// refresh tokens when the spec says so, and answers a refresh token it
// does not take (a rotated one, an unknown one) with the spec's dead
// answer. With vsts set it reads Azure DevOps' form instead (the client
// secret as client_assertion, the refresh token as assertion), as the
// vsts package's tests do.
type simServer struct {
	*httptest.Server
	spec simSpec
	vsts bool

	mu        sync.Mutex
	live      map[string]bool // refresh tokens that work
	issued    int
	access    string          // the last access token issued
	auths     []string        // each request's client authentication
	refreshes int             // refreshes answered with a token
	revoked   []url.Values    // the revocation requests' forms
	paths     map[string]bool // paths requested
}

func newSimServer(t *testing.T, spec simSpec, vstsForm bool) *simServer {
	s := &simServer{spec: spec, vsts: vstsForm, live: map[string]bool{simFirstRT: true}, paths: map[string]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// auth names how r authenticated the client: "basic", "post", "vsts", or
// "bad" when it did not, or did two ways at once.
func (s *simServer) auth(r *http.Request) string {
	u, p, hasBasic := r.BasicAuth()
	if hasBasic {
		u, _ = url.QueryUnescape(u)
		p, _ = url.QueryUnescape(p)
	}
	f := r.PostForm
	switch {
	case s.vsts && !hasBasic && f.Get("client_assertion") == simSecret &&
		f.Get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
		return "vsts"
	case hasBasic && u == simClientID && p == simSecret && !f.Has("client_secret"):
		return "basic"
	case !hasBasic && f.Get("client_id") == simClientID && f.Get("client_secret") == simSecret:
		return "post"
	}
	return "bad"
}

// allowed reports whether the spec takes a client authentication.
func (s *simServer) allowed(auth string) bool {
	if s.vsts {
		return auth == "vsts"
	}
	switch s.spec.auth {
	case "either":
		return auth == "basic" || auth == "post"
	}
	return auth == s.spec.auth
}

func (s *simServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paths[r.URL.Path] = true
	if r.URL.Path == "/api" {
		if r.Header.Get("Authorization") != "Bearer "+s.access || s.access == "" {
			w.WriteHeader(http.StatusUnauthorized)
		}
		return
	}
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	auth := s.auth(r)
	s.auths = append(s.auths, auth)
	if !s.allowed(auth) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"invalid_client"}`)
		return
	}
	switch r.URL.Path {
	case "/revoke":
		s.revoked = append(s.revoked, r.PostForm)
		return
	case "/token":
	default:
		w.WriteHeader(http.StatusNotFound)
		return
	}
	rt := r.PostForm.Get("refresh_token")
	if s.vsts {
		rt = r.PostForm.Get("assertion")
	}
	if r.PostForm.Get("grant_type") != "refresh_token" || !s.live[rt] {
		d := s.spec.dead
		w.Header().Set("Content-Type", d.contentType)
		w.WriteHeader(d.status)
		io.WriteString(w, d.body)
		return
	}
	s.issued++
	s.refreshes++
	s.access = fmt.Sprintf("sim-at-%d", s.issued)
	next := rt
	if s.spec.rotates {
		next = fmt.Sprintf("sim-rt-%d", s.issued)
		delete(s.live, rt)
		s.live[next] = true
	}
	ct, body := s.spec.answer(s.access, next)
	w.Header().Set("Content-Type", ct)
	io.WriteString(w, body)
}

func (s *simServer) state() (auths []string, revoked []url.Values, access string, refreshes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.auths), slices.Clone(s.revoked), s.access, s.refreshes
}

// simConfig is the Config a simulator's client uses.
func simConfig(s *simServer, spec simSpec) Config {
	return Config{
		ClientID:      simClientID,
		ClientSecret:  simSecret,
		RedirectURL:   "https://app.example/callback",
		Vars:          spec.vars,
		TokenURL:      s.URL + "/token",
		RevocationURL: s.URL + "/revoke",
	}
}

// firstToken is the token of a grant as the authorization redirect left
// it: expired, with the scope and the spec's firstExtra.
func firstToken(spec simSpec) *oauth2.Token {
	extra := map[string]any{"scope": simScope}
	for k, v := range spec.firstExtra {
		extra[k] = v
	}
	return (&oauth2.Token{AccessToken: "sim-at-0", RefreshToken: simFirstRT, Expiry: time.Now().Add(-time.Minute)}).WithExtra(extra)
}

// hasExpiresIn reports whether the spec's answers carry a positive
// expires_in.
func hasExpiresIn(spec simSpec) bool {
	ct, body := spec.answer("a", "r")
	mt, _, _ := mime.ParseMediaType(ct)
	var v string
	if mt == "application/json" || strings.HasPrefix(strings.TrimSpace(body), "{") {
		var m map[string]any
		if json.Unmarshal([]byte(body), &m) != nil {
			return false
		}
		v = fmt.Sprint(m["expires_in"])
		if m["expires_in"] == nil {
			return false
		}
	} else {
		q, _ := url.ParseQuery(body)
		v = q.Get("expires_in")
	}
	return v != "" && v != "0" && !strings.HasPrefix(v, "-")
}

// simCheck runs the catalog's Refresher for p against a simulator of
// spec, and returns what is wrong: where the Refresher fails the
// provider's documented behaviour, or the catalog contradicts it.
func simCheck(t *testing.T, p *Provider, spec simSpec) (problems []string) {
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	ctx := context.Background()
	sim := newSimServer(t, spec, p.ID == "azuredevops")
	r, err := p.Refresher(simConfig(sim, spec))
	if err != nil {
		fail("Refresher: %v", err)
		return
	}
	_, isGeneric := r.(*generic.Refresher)
	switch want := map[string]string{"azuredevops": "*vsts.Refresher", "entra": "*entra.Refresher"}[p.ID]; {
	case want != "" && fmt.Sprintf("%T", r) != want:
		fail("Refresher is a %T, want a %s", r, want)
	case want == "" && !isGeneric:
		fail("Refresher is a %T, want a *generic.Refresher", r)
	}

	// A refresh, authenticated as the provider requires.
	first := firstToken(spec)
	tok1, err := r.Refresh(ctx, first)
	if err != nil {
		fail("first refresh: %v", err)
		return
	}
	auths, _, access, _ := sim.state()
	if last := auths[len(auths)-1]; !sim.allowed(last) {
		fail("the client authenticated with %s, want %s", last, spec.auth)
	}
	if p.AuthMethod.Known && len(auths) > 1 {
		fail("the catalog's AuthMethod %s was refused first: %v", p.AuthMethod.Value, auths)
	}
	if tok1.AccessToken != access {
		fail("first refresh: access token %q, want %q", tok1.AccessToken, access)
	}

	// A second one, with the refresh token the first left.
	tok2, err := r.Refresh(ctx, tok1)
	if err != nil {
		fail("second refresh: %v", err)
		return
	}
	if spec.rotates && tok2.RefreshToken == tok1.RefreshToken {
		fail("the provider rotates, and the second refresh kept refresh token %q", tok1.RefreshToken)
	}
	if p.Rotates.Known && p.Rotates.Value != spec.rotates {
		fail("the catalog says Rotates %v; its documentation's simulator %v", p.Rotates.Value, spec.rotates)
	}

	// What the API needs survives both refreshes.
	for k, v := range spec.firstExtra {
		if got := tok2.Extra(k); !reflect.DeepEqual(got, v) {
			fail("member %q of the first token is %#v after two refreshes, want %#v (is it in KeepFields?)", k, got, v)
		}
	}
	if p.KeepFields.Known {
		for _, k := range p.KeepFields.Value {
			if (first.Extra(k) != nil || tok1.Extra(k) != nil) && tok2.Extra(k) == nil {
				fail("KeepFields member %q is lost after two refreshes", k)
			}
		}
	}
	if p.ID != "azuredevops" && tok2.Extra("scope") == nil {
		fail("the scope is lost after two refreshes")
	}

	// An answer without expires_in gets the lifetime the catalog assumes.
	sent := hasExpiresIn(spec)
	switch {
	case p.ExpiresIn.Known && p.ExpiresIn.Value.Sent && !sent:
		fail("the catalog says every answer carries expires_in; its documentation's simulator sends none")
	case sent && tok2.Expiry.IsZero():
		fail("the answer has expires_in, and the token no Expiry")
	case !sent && isGeneric:
		assume := time.Duration(0)
		if p.ExpiresIn.Known {
			assume = p.ExpiresIn.Value.Assume
		}
		before := time.Now()
		tok, err := r.Refresh(ctx, tok2)
		after := time.Now()
		switch {
		case err != nil:
			fail("third refresh: %v", err)
			return
		case assume == 0 && !tok.Expiry.IsZero():
			fail("no expires_in and no lifetime to assume, but Expiry %v", tok.Expiry)
		case assume > 0 && (tok.Expiry.Before(before.Add(assume)) || tok.Expiry.After(after.Add(assume))):
			fail("no expires_in: Expiry %v, want %v from now", tok.Expiry, assume)
		}
		tok2 = tok
	}

	// A refresh token the provider no longer takes kills the grant: the
	// one rotated away, or one it never issued.
	stale := &oauth2.Token{AccessToken: "sim-at-stale", RefreshToken: "sim-rt-unknown"}
	if spec.rotates {
		stale = tok1
	}
	if _, err := r.Refresh(ctx, stale); !errors.Is(err, oauthrt.ErrReauthRequired) {
		fail("the dead answer gives %v, want an error wrapping ErrReauthRequired", err)
	}

	// The rotation grace window is the documented one.
	g, ok := r.(oauthrt.RotationGracer)
	want := oauthrt.DefaultRotationGrace
	if p.ReuseGrace.Known {
		want = p.ReuseGrace.Value
	}
	if !ok {
		fail("%T is no RotationGracer", r)
	} else if got := g.RotationGrace(); got != want {
		fail("RotationGrace() = %v, want %v", got, want)
	}

	// Revocation, where the provider has it.
	rv, isRevoker := r.(oauthrt.Revoker)
	switch {
	case spec.revocation && !isRevoker:
		fail("the provider documents a revocation endpoint, and %T is no Revoker", r)
	case spec.revocation:
		if err := rv.Revoke(ctx, tok2); err != nil {
			fail("Revoke: %v", err)
			break
		}
		auths, revoked, _, _ := sim.state()
		if len(revoked) == 0 || revoked[0].Get("token") != tok2.RefreshToken || revoked[0].Get("token_type_hint") != "refresh_token" {
			fail("Revoke sent %v, want the refresh token first", revoked)
		}
		if !sim.allowed(auths[len(auths)-1]) {
			fail("Revoke authenticated the client with %s", auths[len(auths)-1])
		}
	case isRevoker:
		if err := rv.Revoke(ctx, tok2); !errors.Is(err, oauthrt.ErrRevokeUnsupported) {
			fail("the provider has no revocation endpoint, and Revoke = %v, want ErrRevokeUnsupported", err)
		}
		if _, revoked, _, _ := sim.state(); len(revoked) > 0 {
			fail("Revoke sent %d requests to a provider without a revocation endpoint", len(revoked))
		}
	}
	return problems
}

// specFor returns the simulator spec of a provider of the catalog.
func specFor(id string) (simSpec, bool) {
	if s, ok := simsA[id]; ok {
		return s, true
	}
	s, ok := simsB[id]
	return s, ok
}

// Every provider of the catalog copes with a simulator of its
// documentation. Azure DevOps' simulator reads its assertion form, as the
// vsts package's test server does; Entra ID's is an RFC 6749 refresh with
// the secret in the form, which entra.Refresher sends.
func TestSimulators(t *testing.T) {
	for _, p := range All() {
		spec, ok := specFor(p.ID)
		if !ok {
			t.Errorf("provider %s has no simulator spec in simsA or simsB", p.ID)
			continue
		}
		t.Run(p.ID, func(t *testing.T) {
			if spec.answer == nil {
				t.Skipf("%s issues no refresh token, as its spec documents: nothing to refresh", p.ID)
			}
			for _, problem := range simCheck(t, p, spec) {
				t.Error(problem)
			}
		})
	}
	for _, sims := range []map[string]simSpec{simsA, simsB} {
		for id := range sims {
			if _, ok := Lookup(id); !ok {
				t.Errorf("simulator spec %q names no provider of the catalog", id)
			}
		}
	}
}

// One provider end to end: a Transport refreshes an expired token through
// the catalog's Refresher, calls the API with the new one, and stores it.
func TestSimulatorThroughTransport(t *testing.T) {
	p, spec := exampleSimProvider()
	for _, candidate := range All() {
		if s, ok := specFor(candidate.ID); ok && candidate.ID != "azuredevops" {
			p, spec = candidate, s
			break
		}
	}
	t.Logf("provider %s", p.ID)
	sim := newSimServer(t, spec, p.ID == "azuredevops")
	r, err := p.Refresher(simConfig(sim, spec))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store := oauthrt.NewMemoryStore()
	if err := store.Save(ctx, "user", firstToken(spec)); err != nil {
		t.Fatal(err)
	}
	tr := &oauthrt.Transport{Store: store, Key: "user", Refresher: r}
	defer tr.Close()
	client := &http.Client{Transport: tr}
	for range 3 {
		resp, err := client.Get(sim.URL + "/api")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("API answered %s", resp.Status)
		}
	}
	_, _, access, refreshes := sim.state()
	if refreshes != 1 {
		t.Errorf("%d refreshes for three requests, want 1", refreshes)
	}
	stored, err := store.Load(ctx, "user")
	if err != nil {
		t.Fatal(err)
	}
	if stored.AccessToken != access {
		t.Errorf("stored access token %q, want %q", stored.AccessToken, access)
	}
	if spec.rotates && stored.RefreshToken == simFirstRT {
		t.Error("the rotated refresh token was not stored")
	}
}

// exampleSimProvider is a provider of the harness's own, and its
// simulator, for when the catalog has none.
func exampleSimProvider() (*Provider, simSpec) {
	p := exampleProvider()
	p.AuthMethod = known(generic.AuthClientSecretBasic, testSource, "")
	p.ReuseGrace = known(time.Duration(0), testSource, "")
	p.ExpiresIn = known(ExpiresIn{Sent: true}, testSource, "")
	p.KeepFields = known([]string{}, testSource, "")
	spec := simSpec{
		vars:    map[string]string{"domain": "acme.example"},
		auth:    "basic",
		rotates: true,
		answer: func(access, refresh string) (string, string) {
			return "application/json", fmt.Sprintf(`{"token_type":"bearer","access_token":%q,"refresh_token":%q,"expires_in":1800}`, access, refresh)
		},
		revocation: true,
	}
	spec.dead.status, spec.dead.contentType, spec.dead.body = 400, "application/json", `{"status":"BAD_REFRESH_TOKEN","message":"missing or invalid refresh token"}`
	return p, spec
}

// The harness itself, on providers of its own: it passes providers whose
// catalog entries match their simulators, and finds each kind of
// contradiction.
func TestSimHarness(t *testing.T) {
	rotating, rotatingSpec := exampleSimProvider()

	plain := unknownProvider()
	plain.ID = "plain"
	plain.Rotates = known(false, testSource, "")
	plain.Revocation = known("", testSource, "")
	plain.ExpiresIn = known(ExpiresIn{Assume: time.Hour}, testSource, "")
	plain.KeepFields = known([]string{"realmId"}, testSource, "")
	plainSpec := simSpec{
		auth: "post", // found by detection: the catalog does not know it
		answer: func(access, refresh string) (string, string) {
			return "application/x-www-form-urlencoded", url.Values{"access_token": {access}, "token_type": {"bearer"}}.Encode()
		},
		firstExtra: map[string]any{"realmId": "4620816365"},
	}
	plainSpec.dead.status, plainSpec.dead.contentType, plainSpec.dead.body = 400, "application/json", `{"error":"invalid_grant"}`

	entraP := &Provider{ID: "entra", Rotates: known(true, testSource, ""), ReuseGrace: known(time.Minute, testSource, ""), Revocation: known("", testSource, "")}
	entraSpec := simSpec{
		vars:    map[string]string{"tenant": "contoso.onmicrosoft.com"},
		auth:    "post",
		rotates: true,
		answer: func(access, refresh string) (string, string) {
			return "application/json", fmt.Sprintf(`{"token_type":"Bearer","scope":"x","expires_in":3599,"access_token":%q,"refresh_token":%q}`, access, refresh)
		},
	}
	entraSpec.dead.status, entraSpec.dead.contentType, entraSpec.dead.body = 400, "application/json", `{"error":"invalid_grant","error_codes":[70008]}`

	devops := &Provider{ID: "azuredevops", TokenURL: vsts.TokenURL, AuthURL: vsts.AuthURL, Rotates: known(true, testSource, "")}
	devopsSpec := simSpec{
		auth:    "post",
		rotates: true,
		answer: func(access, refresh string) (string, string) {
			return "application/json", fmt.Sprintf(`{"access_token":%q,"token_type":"jwt-bearer","expires_in":"3599","refresh_token":%q}`, access, refresh)
		},
	}
	devopsSpec.dead.status, devopsSpec.dead.contentType, devopsSpec.dead.body = 400, "application/json", `{"Error":"invalid_grant","ErrorDescription":"Refresh token is expired"}`

	for _, tt := range []struct {
		p    *Provider
		spec simSpec
	}{{rotating, rotatingSpec}, {plain, plainSpec}, {entraP, entraSpec}, {devops, devopsSpec}} {
		t.Run("consistent "+tt.p.ID, func(t *testing.T) {
			for _, problem := range simCheck(t, tt.p, tt.spec) {
				t.Error(problem)
			}
		})
	}

	wrong := func(change func(p *Provider)) *Provider {
		p, _ := exampleSimProvider()
		change(p)
		return p
	}
	for _, tt := range []struct {
		name string
		p    *Provider
		spec simSpec
		want string // in a problem
	}{
		{"auth method", wrong(func(p *Provider) { p.AuthMethod = known(generic.AuthClientSecretPost, testSource, "") }), rotatingSpec, "invalid_client"},
		{"dialect", wrong(func(p *Provider) { p.DeadGrant = known(generic.Dialect{}, testSource, "") }), rotatingSpec, "ErrReauthRequired"},
		{"rotation", wrong(func(p *Provider) { p.Rotates = known(false, testSource, "") }), rotatingSpec, "Rotates"},
		{"revocation", wrong(func(p *Provider) { p.Revocation = known("", testSource, "") }), rotatingSpec, "Revoke: "},
		{"no revocation", rotating, func() simSpec { s := rotatingSpec; s.revocation = false; return s }(), "ErrRevokeUnsupported"},
		{"keep fields", func() *Provider { p := *plain; p.KeepFields = known([]string{}, testSource, ""); return &p }(), plainSpec, "realmId"},
		{"expires_in", func() *Provider { p := *plain; p.ExpiresIn = known(ExpiresIn{Sent: true}, testSource, ""); return &p }(), plainSpec, "expires_in"},
		{"nothing when no lifetime is known", func() *Provider { p := *plain; p.ExpiresIn = Fact[ExpiresIn]{}; return &p }(), func() simSpec {
			s := plainSpec
			s.answer = func(access, _ string) (string, string) {
				return "application/json", `{"access_token":"` + access + `"}`
			}
			return s
		}(), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			problems := simCheck(t, tt.p, tt.spec)
			if tt.want == "" {
				if len(problems) > 0 {
					t.Errorf("problems: %q", problems)
				}
				return
			}
			if !slices.ContainsFunc(problems, func(s string) bool { return strings.Contains(s, tt.want) }) {
				t.Errorf("no problem mentions %q: %q", tt.want, problems)
			}
		})
	}
}
