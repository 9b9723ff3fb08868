package entra_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/entra"
	"golang.org/x/oauth2"
)

func TestRefreshWithSecret(t *testing.T) {
	e := newFakeEntra(t, clientSecret, nil)
	r := e.refresher()
	old := &oauth2.Token{AccessToken: "AT-OLD", RefreshToken: firstRT}
	before := time.Now()
	tok, err := r.Refresh(context.Background(), old)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if tok.AccessToken != "AT-1-ENTRA-ACCESS-TOKEN" || tok.Type() != "Bearer" {
		t.Errorf("token %q type %q", tok.AccessToken, tok.Type())
	}
	if lo := before.Add(3599 * time.Second); tok.Expiry.Before(lo) || tok.Expiry.After(time.Now().Add(3599*time.Second)) {
		t.Errorf("Expiry %v, want an hour from now", tok.Expiry)
	}
	if *old != (oauth2.Token{AccessToken: "AT-OLD", RefreshToken: firstRT}) {
		t.Errorf("Refresh modified its argument: %+v", old)
	}

	// Entra rotated the refresh token: the new one is returned, and works.
	if tok.RefreshToken != "RT-1-ROTATED-REFRESH-TOKEN" {
		t.Fatalf("RefreshToken %q, want the rotated RT-1", tok.RefreshToken)
	}
	tok2, err := r.Refresh(context.Background(), tok)
	if err != nil || tok2.RefreshToken != "RT-2-ROTATED-REFRESH-TOKEN" {
		t.Fatalf("second Refresh = %v, %v; want RT-2", tok2, err)
	}
	if diff := cmp.Diff([]string{firstRT, "RT-1-ROTATED-REFRESH-TOKEN"}, e.seen()); diff != "" {
		t.Errorf("refresh tokens presented (-want +got):\n%s", diff)
	}
}

func TestRefreshWithCertificate(t *testing.T) {
	key, cert := testCredential()
	e := newFakeEntra(t, "", cert)
	r := e.refresher()
	r.PrivateKey, r.Certificate = key, cert
	tok := &oauth2.Token{RefreshToken: firstRT}
	for i := range 2 { // a new assertion, with a new jti, each time
		var err error
		if tok, err = r.Refresh(context.Background(), tok); err != nil {
			t.Fatalf("Refresh %d: %v", i, err)
		}
	}
	if tok.RefreshToken != "RT-2-ROTATED-REFRESH-TOKEN" {
		t.Errorf("RefreshToken %q, want RT-2", tok.RefreshToken)
	}
}

func TestRefreshAsPublicClient(t *testing.T) {
	e := newFakeEntra(t, "", nil)
	if _, err := e.refresher().Refresh(context.Background(), &oauth2.Token{RefreshToken: firstRT}); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
}

func TestScopes(t *testing.T) {
	e := newFakeEntra(t, clientSecret, nil)
	e.scope = "https://graph.microsoft.com/Mail.Read offline_access"
	r := e.refresher()
	r.Scopes = []string{"https://graph.microsoft.com/Mail.Read", "offline_access"}
	if _, err := r.Refresh(context.Background(), &oauth2.Token{RefreshToken: firstRT}); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
}

func TestTokenEndpoint(t *testing.T) {
	tests := []struct {
		name string
		r    entra.Refresher
		want string
	}{
		{"tenant ID", entra.Refresher{Tenant: "72f988bf-86f1-41af-91ab-2d7cd011db47"},
			"https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token"},
		{"domain", entra.Refresher{Tenant: "contoso.onmicrosoft.com"}, "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"},
		{"organizations", entra.Refresher{Tenant: "organizations"}, "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"},
		{"sovereign cloud", entra.Refresher{Tenant: "common", Authority: "https://login.microsoftonline.us/"}, "https://login.microsoftonline.us/common/oauth2/v2.0/token"},
		{"escaped", entra.Refresher{Tenant: "a/b?c#d"}, "https://login.microsoftonline.com/a%2Fb%3Fc%23d/oauth2/v2.0/token"},
		{"TokenURL wins", entra.Refresher{Tenant: "common", Authority: "https://x.test", TokenURL: "https://proxy.test/token"}, "https://proxy.test/token"},
		{"no tenant", entra.Refresher{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.TokenEndpoint(); got != tt.want {
				t.Errorf("TokenEndpoint() = %q, want %q", got, tt.want)
			}
		})
	}

	// Refresh posts there, the tenant escaped as one path segment.
	var got string
	client := &http.Client{Transport: roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		got = req.URL.Scheme + "://" + req.URL.Host + req.URL.EscapedPath()
		return nil, errors.New("offline")
	})}
	r := &entra.Refresher{Tenant: "a/b", ClientID: clientID, ClientSecret: clientSecret, Authority: "https://login.microsoftonline.us", HTTPClient: client}
	if _, err := r.Refresh(context.Background(), &oauth2.Token{RefreshToken: firstRT}); err == nil {
		t.Fatal("Refresh succeeded offline")
	}
	if want := "https://login.microsoftonline.us/a%2Fb/oauth2/v2.0/token"; got != want {
		t.Errorf("posted to %q, want %q", got, want)
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func TestDeadGrant(t *testing.T) {
	for _, a := range []answer{interactionRequired, consentRequired, loginRequired, refreshExpired} {
		t.Run(a.code, func(t *testing.T) {
			e := newFakeEntra(t, clientSecret, nil)
			e.answerAlways(a)
			_, err := e.refresher().Refresh(context.Background(), &oauth2.Token{RefreshToken: firstRT})
			if !errors.Is(err, oauthrt.ErrReauthRequired) {
				t.Errorf("Refresh = %v, want ErrReauthRequired", err)
			}
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != a.code || !strings.HasPrefix(re.ErrorDescription, fmt.Sprintf("AADSTS%d: ", a.aadsts)) {
				t.Errorf("Refresh = %v, want a RetrieveError %s AADSTS%d", err, a.code, a.aadsts)
			}
			if !strings.HasPrefix(err.Error(), "entra: refresh: ") || strings.Contains(err.Error(), "generic:") {
				t.Errorf("Error() = %q, want it to start with entra: refresh: and not name generic", err)
			}
			if n := len(e.seen()); n != 1 {
				t.Errorf("%d requests, want 1: a dead grant is never tried again", n)
			}
		})
	}
}

func TestInvalidClientIsNotDead(t *testing.T) {
	e := newFakeEntra(t, clientSecret, nil)
	e.answerAlways(secretExpired)
	_, err := e.refresher().Refresh(context.Background(), &oauth2.Token{RefreshToken: firstRT})
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
		t.Fatalf("Refresh = %v, want a RetrieveError invalid_client 401", err)
	}
	if errors.Is(err, oauthrt.ErrReauthRequired) {
		t.Errorf("%v wraps ErrReauthRequired: an expired app secret would kill every grant", err)
	}
	if want := "entra: refresh: oauthrt: token endpoint answered 401 Unauthorized: invalid_client: AADSTS7000222: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Error() = %q, want it to start with %q", err, want)
	}
}

// temporarily_unavailable comes back at once as a TransientError, for
// the Transport to back off from; the refresh token stays good for the
// Transport's later try.
func TestTemporarilyUnavailable(t *testing.T) {
	e := newFakeEntra(t, clientSecret, nil)
	e.answerWith(answer{400, "temporarily_unavailable", 50196, http.Header{"Retry-After": {"7"}}})
	r := e.refresher()
	_, err := r.Refresh(context.Background(), &oauth2.Token{RefreshToken: firstRT})
	var te *oauthrt.TransientError
	if !errors.As(err, &te) || te.RetryAfter != 7*time.Second || te.AnswerLost {
		t.Fatalf("Refresh = %v (%+v), want a TransientError with RetryAfter 7s", err, te)
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "temporarily_unavailable" {
		t.Errorf("Refresh = %v, want a RetrieveError temporarily_unavailable", err)
	}
	if errors.Is(err, oauthrt.ErrReauthRequired) {
		t.Errorf("%v wraps ErrReauthRequired", err)
	}
	if want := "entra: refresh: oauthrt: token endpoint answered 400 Bad Request: temporarily_unavailable: AADSTS50196: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Error() = %q, want it to start with %q", err, want)
	}
	if n := len(e.seen()); n != 1 {
		t.Errorf("%d requests, want 1: Refresh does not try again itself", n)
	}

	tok, err := r.Refresh(context.Background(), &oauth2.Token{RefreshToken: firstRT})
	if err != nil {
		t.Fatalf("Refresh after temporarily_unavailable: %v", err)
	}
	if tok.RefreshToken != "RT-1-ROTATED-REFRESH-TOKEN" {
		t.Errorf("RefreshToken %q", tok.RefreshToken)
	}
	if diff := cmp.Diff([]string{firstRT, firstRT}, e.seen()); diff != "" {
		t.Errorf("refresh tokens presented (-want +got):\n%s", diff)
	}
}

// Retry-After is passed on as it is, to the Transport's backoff: Refresh
// waits for none of it, with the default client or another.
func TestRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		value    string
		min, max time.Duration
	}{
		{"7", 7 * time.Second, 7 * time.Second},
		{"3600", time.Hour, time.Hour},
		{"soon", 0, 0}, // unreadable
		{time.Now().Add(-time.Minute).UTC().Format(http.TimeFormat), 0, 0},
		{time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat), 88 * time.Second, 90 * time.Second},
	} {
		for _, defaultClient := range []bool{false, true} {
			t.Run(fmt.Sprint(tt.value, "/default client=", defaultClient), func(t *testing.T) {
				e := newFakeEntra(t, clientSecret, nil)
				e.answerAlways(answer{503, "temporarily_unavailable", 50196, http.Header{"Retry-After": {tt.value}}})
				r := e.refresher()
				if defaultClient {
					r.HTTPClient = nil
				}
				_, err := r.Refresh(context.Background(), &oauth2.Token{RefreshToken: firstRT})
				var te *oauthrt.TransientError
				if !errors.As(err, &te) || te.RetryAfter < tt.min || te.RetryAfter > tt.max {
					t.Fatalf("Refresh = %v (%+v), want a TransientError with RetryAfter within [%v, %v]", err, te, tt.min, tt.max)
				}
				if n := len(e.seen()); n != 1 {
					t.Errorf("%d requests, want 1", n)
				}
			})
		}
	}
}

// An answer only a person can get past is a dead grant whatever its
// status, and no failure to back off from.
func TestDeadGrantWith5xx(t *testing.T) {
	e := newFakeEntra(t, clientSecret, nil)
	e.answerAlways(answer{503, "interaction_required", 50076, http.Header{"Retry-After": {"30"}}})
	_, err := e.refresher().Refresh(context.Background(), &oauth2.Token{RefreshToken: firstRT})
	if !errors.Is(err, oauthrt.ErrReauthRequired) {
		t.Errorf("Refresh = %v, want ErrReauthRequired", err)
	}
	var te *oauthrt.TransientError
	if errors.As(err, &te) {
		t.Errorf("Refresh = %v, a TransientError too", err)
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "interaction_required" {
		t.Errorf("Refresh = %v, want a RetrieveError interaction_required", err)
	}
}

func TestRotationGrace(t *testing.T) {
	for field, want := range map[time.Duration]time.Duration{
		0:                oauthrt.DefaultRotationGrace,
		-time.Second:     0,
		time.Minute:      time.Minute,
		10 * time.Second: 10 * time.Second,
	} {
		var g oauthrt.RotationGracer = &entra.Refresher{RotationGraceWindow: field}
		if got := g.RotationGrace(); got != want {
			t.Errorf("RotationGraceWindow %v: RotationGrace() = %v, want %v", field, got, want)
		}
	}
}

func TestMisconfiguration(t *testing.T) {
	key, cert := testCredential()
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e := newFakeEntra(t, clientSecret, nil)
	good := &oauth2.Token{RefreshToken: firstRT}
	tests := []struct {
		name   string
		edit   func(r *entra.Refresher)
		tok    *oauth2.Token
		reauth bool
		msg    string
	}{
		{"no ClientID", func(r *entra.Refresher) { r.ClientID = "" }, good, false, "ClientID"},
		{"no Tenant", func(r *entra.Refresher) { r.Tenant = "" }, good, false, "Tenant"},
		{"secret and certificate", func(r *entra.Refresher) { r.PrivateKey, r.Certificate = key, cert }, good, false, "both"},
		{"certificate without key", func(r *entra.Refresher) { r.ClientSecret, r.Certificate = "", cert }, good, false, "PrivateKey"},
		{"key without certificate", func(r *entra.Refresher) { r.ClientSecret, r.PrivateKey = "", key }, good, false, "Certificate"},
		{"certificate of another key", func(r *entra.Refresher) { r.ClientSecret, r.PrivateKey, r.Certificate = "", otherKey, cert }, good, false, "not the certificate"},
		{"Ed25519 key", func(r *entra.Refresher) {
			r.ClientSecret, r.PrivateKey, r.Certificate = "", edKey, selfSigned(edKey, "ed")
		}, good, false, "RSA"},
		{"plain http", func(r *entra.Refresher) { r.Authority = "http://login.example.com" }, good, false, "plain HTTP"},
		{"nil token", func(*entra.Refresher) {}, nil, true, "refresh token"},
		{"no refresh token", func(*entra.Refresher) {}, &oauth2.Token{AccessToken: "AT"}, true, "refresh token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.refresher()
			tt.edit(r)
			_, err := r.Refresh(context.Background(), tt.tok)
			if err == nil || !strings.HasPrefix(err.Error(), "entra: ") || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Refresh = %v, want an entra: error about %s", err, tt.msg)
			}
			if got := errors.Is(err, oauthrt.ErrReauthRequired); got != tt.reauth {
				t.Errorf("errors.Is(err, ErrReauthRequired) = %v, want %v", got, tt.reauth)
			}
		})
	}
	if n := len(e.seen()); n != 0 {
		t.Errorf("the token endpoint got %d requests, want 0", n)
	}
}

func TestSecretsHidden(t *testing.T) {
	key, cert := testCredential()
	for _, withCert := range []bool{false, true} {
		t.Run(fmt.Sprint("certificate=", withCert), func(t *testing.T) {
			e := newFakeEntra(t, clientSecret, nil)
			r := e.refresher()
			if withCert {
				e.secret, e.cert = "", cert
				r.ClientSecret, r.PrivateKey, r.Certificate = "", key, cert
			}
			e.echo = true
			e.answerAlways(interactionRequired)
			const at = "ACCESS-TOKEN-THAT-MUST-NOT-LEAK"
			_, err := r.Refresh(context.Background(), &oauth2.Token{AccessToken: at, RefreshToken: firstRT})
			if err == nil {
				t.Fatal("Refresh succeeded")
			}
			e.mu.Lock()
			assertion := e.assertion
			e.mu.Unlock()
			if withCert && assertion == "" {
				t.Fatal("no client assertion was sent")
			}
			texts := []string{err.Error(), fmt.Sprintf("%v %+v %#v", err, err, err), r.String(), fmt.Sprintf("%v %+v %#v", r, r, r)}
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) {
				t.Fatalf("%v wraps no RetrieveError", err)
			}
			texts = append(texts, string(re.Body), re.ErrorDescription, re.Error())
			for _, s := range texts {
				for _, v := range []string{clientSecret, firstRT, at, assertion} {
					if v != "" && strings.Contains(s, v) {
						t.Errorf("%q leaks %q", s, v)
					}
				}
			}
		})
	}
}

func TestString(t *testing.T) {
	key, cert := testCredential()
	r := &entra.Refresher{Tenant: tenant, ClientID: clientID, ClientSecret: clientSecret}
	want := `entra.Refresher{TokenURL: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token", ClientID: "` + clientID + `", ClientSecret: [redacted], PrivateKey: nil, Certificate: nil}`
	for _, s := range []string{r.String(), r.GoString(), fmt.Sprintf("%v", r), fmt.Sprintf("%+v", r), fmt.Sprintf("%#v", r)} {
		if s != want {
			t.Errorf("got %s\nwant %s", s, want)
		}
	}
	c := &entra.Refresher{Tenant: tenant, ClientID: clientID, PrivateKey: key, Certificate: cert}
	s := fmt.Sprintf("%#v", c)
	if !strings.Contains(s, "PrivateKey: [redacted]") || strings.Contains(s, key.D.String()) || strings.Contains(s, fmt.Sprintf("%X", key.D.Bytes())) {
		t.Errorf("%s: want the key redacted", s)
	}
}

func TestPrepareRequestAndTokenRejected(t *testing.T) {
	r := new(entra.Refresher)
	for raw, azure := range map[string]bool{
		"https://dev.azure.com/org/_apis/projects":             true,
		"https://DEV.Azure.com./org/_apis/projects":            true,
		"https://vssps.dev.azure.com/org/_apis/profile":        true,
		"https://org.visualstudio.com/_apis/projects":          true,
		"https://graph.microsoft.com/v1.0/me":                  false,
		"https://management.azure.com/subscriptions":           false,
		"https://notdev.azure.com/org":                         false,
		"https://dev.azure.com.example.net/org":                false,
		"https://visualstudio.com/x":                           false,
		"https://visualstudio.com.example.net/x":               false,
		"http://127.0.0.1:8080/org/_apis/projects":             false,
		"https://dev.azure.com:443/org/_apis/git/repositories": true,
	} {
		t.Run(raw, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, raw, nil)
			if err != nil {
				t.Fatal(err)
			}
			r.PrepareRequest(req)
			if got := req.Header.Get("X-TFS-FedAuthRedirect") == "Suppress"; got != azure {
				t.Errorf("X-TFS-FedAuthRedirect set: %v, want %v", got, azure)
			}
			for status, want := range map[int]bool{203: azure, 200: false, 401: false, 302: false} {
				resp := &http.Response{StatusCode: status, Body: http.NoBody, Request: req}
				if got := r.TokenRejected(resp); got != want {
					t.Errorf("TokenRejected(%d) = %v, want %v", status, got, want)
				}
			}
		})
	}
	bare := &http.Request{URL: mustURL(t, "https://dev.azure.com/org")}
	r.PrepareRequest(bare)
	if bare.Header.Get("X-TFS-FedAuthRedirect") != "Suppress" {
		t.Error("with a nil Header: X-TFS-FedAuthRedirect not set")
	}
	r.PrepareRequest(&http.Request{}) // no URL: left alone, no panic
	if r.TokenRejected(nil) || r.TokenRejected(&http.Response{StatusCode: 203}) {
		t.Error("TokenRejected = true for a nil response, or one without a request")
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// The first token of a grant: the authorization URL asks for Azure
// DevOps' scope with PKCE, and Exchange redeems the code Entra sent back,
// with the app's certificate, which golang.org/x/oauth2 cannot do.
func TestAuthCodeURLAndExchange(t *testing.T) {
	key, cert := testCredential()
	e := newFakeEntra(t, "", cert)
	r := e.refresher()
	r.PrivateKey, r.Certificate = key, cert

	u, err := url.Parse(r.AuthCodeURL("state-1", callbackURL, oauth2.S256ChallengeOption(pkceVerifier)))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if got := u.Scheme + "://" + u.Host + u.Path; got != e.URL+"/"+tenant+"/oauth2/v2.0/authorize" {
		t.Errorf("authorization endpoint %s", got)
	}
	want := map[string]string{
		"client_id": clientID, "response_type": "code", "redirect_uri": callbackURL, "state": "state-1",
		"scope": defaultScope, "code_challenge_method": "S256", "code_challenge": oauth2.S256ChallengeFromVerifier(pkceVerifier),
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}

	tok, err := r.Exchange(context.Background(), firstCode, callbackURL, pkceVerifier)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if tok.AccessToken != e.lastAccess() || tok.RefreshToken == "" {
		t.Errorf("token %+v", tok)
	}
	// A code is good once: redeeming it again means authorizing again.
	_, err = r.Exchange(context.Background(), firstCode, callbackURL, pkceVerifier)
	if !errors.Is(err, oauthrt.ErrReauthRequired) || !strings.HasPrefix(err.Error(), "entra: exchange: oauthrt: token endpoint") {
		t.Errorf("second Exchange: %v, want an entra: exchange: error wrapping ErrReauthRequired", err)
	}
	if strings.Contains(err.Error(), firstCode) || strings.Contains(err.Error(), pkceVerifier) {
		t.Errorf("the error shows the code or verifier: %v", err)
	}
}

// The authorization URL follows Authority, and TokenURL when it is set.
func TestAuthCodeURLEndpoint(t *testing.T) {
	for _, tt := range []struct {
		r    entra.Refresher
		want string
	}{
		{entra.Refresher{Tenant: "organizations"}, "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize"},
		{entra.Refresher{Tenant: "t", Authority: "https://login.microsoftonline.us/"}, "https://login.microsoftonline.us/t/oauth2/v2.0/authorize"},
		{entra.Refresher{TokenURL: "https://proxy.example/login/t/oauth2/v2.0/token"}, "https://proxy.example/login/t/oauth2/v2.0/authorize"},
	} {
		got, _, _ := strings.Cut(tt.r.AuthCodeURL("s", callbackURL), "?")
		if got != tt.want {
			t.Errorf("%v: %s, want %s", tt.r.String(), got, tt.want)
		}
	}
}
