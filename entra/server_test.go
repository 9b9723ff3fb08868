package entra_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt/entra"
	"github.com/oauthrt/oauthrt/generic"
)

const (
	tenant       = "contoso.onmicrosoft.com"
	clientID     = "6f1c2a9e-0b7d-4c3e-9a51-2d8e4f7b1c60"
	clientSecret = "ENTRA~CLIENT~SECRET~VALUE"
	defaultScope = "499b84ac-1321-427f-aa17-267ca6975798/.default offline_access"
	firstRT      = "RT-0-INITIAL-REFRESH-TOKEN"
	// The code, PKCE verifier and redirect URL of one authorization.
	firstCode    = "CODE-0-AUTHORIZATION-CODE"
	pkceVerifier = "PKCE-VERIFIER-0123456789-abcdefghijklmnopqrstuvwxyz"
	callbackURL  = "https://app.example/entra/callback"
)

// An answer is an error answer the fake Entra gives.
type answer struct {
	status int
	code   string
	aadsts int
	header http.Header
}

var (
	interactionRequired = answer{400, "interaction_required", 50076, nil}
	consentRequired     = answer{400, "consent_required", 65001, nil}
	loginRequired       = answer{400, "login_required", 50058, nil}
	refreshExpired      = answer{400, "invalid_grant", 700082, nil}
	secretExpired       = answer{401, "invalid_client", 7000222, nil}
	unavailable         = answer{400, "temporarily_unavailable", 50196, nil}
)

// fakeEntra is a Microsoft Entra ID v2.0 token endpoint for one tenant and
// one app. It authenticates the app by its secret, by a private_key_jwt
// assertion for its certificate, or as a public client, and rotates the
// refresh token on every refresh.
type fakeEntra struct {
	*httptest.Server
	secret string            // the client secret expected, if any
	cert   *x509.Certificate // the certificate expected, if any
	scope  string            // the scope expected
	echo   bool              // error descriptions echo the credentials

	mu        sync.Mutex
	live      map[string]bool
	codes     map[string]bool // authorization codes not redeemed yet
	presented []string        // the refresh tokens presented, in order
	jtis      map[string]bool
	script    []answer // error answers to give first
	forever   *answer  // error answer to give once script is done
	issued    int
	access    string            // the last access token issued
	assertion string            // the last client assertion received
	claims    []string          // the claims parameter of each request ("-": none)
	claimsOf  map[string]string // access token → the claims of the request that got it
}

func newFakeEntra(t *testing.T, secret string, cert *x509.Certificate) *fakeEntra {
	t.Helper()
	e := &fakeEntra{secret: secret, cert: cert, scope: defaultScope,
		live: map[string]bool{firstRT: true}, codes: map[string]bool{firstCode: true}, jtis: map[string]bool{}}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.serve(t, w, r) }))
	t.Cleanup(e.Close)
	return e
}

// refresher returns a Refresher for e, its secret, and no certificate.
func (e *fakeEntra) refresher() *entra.Refresher {
	return &entra.Refresher{Tenant: tenant, ClientID: clientID, ClientSecret: e.secret, Authority: e.URL, HTTPClient: e.Client()}
}

func (e *fakeEntra) tokenURL() string { return e.URL + "/" + tenant + "/oauth2/v2.0/token" }

// answerWith queues error answers.
func (e *fakeEntra) answerWith(a ...answer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.script = append(e.script, a...)
}

func (e *fakeEntra) answerAlways(a answer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.forever = &a
}

func (e *fakeEntra) seen() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.presented...)
}

func (e *fakeEntra) seenClaims() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.claims...)
}

func (e *fakeEntra) claimsFor(access string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.claimsOf[access]
}

func (e *fakeEntra) lastAccess() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.access
}

func (e *fakeEntra) serve(t *testing.T, w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/"+tenant+"/oauth2/v2.0/token" {
		t.Errorf("fake Entra: %s %s", r.Method, r.URL.Path)
		e.fail(w, r, answer{400, "invalid_request", 90002, nil})
		return
	}
	if err := r.ParseForm(); err != nil {
		t.Errorf("fake Entra: %v", err)
	}
	f := r.PostForm
	rt := f.Get("refresh_token")
	e.presented = append(e.presented, rt)
	e.assertion = f.Get("client_assertion")
	if f.Has("claims") {
		e.claims = append(e.claims, f.Get("claims"))
	} else {
		e.claims = append(e.claims, "-")
	}
	grant := f.Get("grant_type")
	if (grant != "refresh_token" && grant != "authorization_code") || f.Get("client_id") != clientID || f.Get("scope") != e.scope {
		t.Errorf("fake Entra: grant_type %q, client_id %q, scope %q", f.Get("grant_type"), f.Get("client_id"), f.Get("scope"))
		e.fail(w, r, answer{400, "invalid_request", 900144, nil})
		return
	}
	if err := e.authenticate(r, f); err != nil {
		t.Errorf("fake Entra: client authentication: %v", err)
		e.fail(w, r, answer{401, "invalid_client", 7000215, nil})
		return
	}
	switch {
	case len(e.script) > 0:
		a := e.script[0]
		e.script = e.script[1:]
		e.fail(w, r, a)
		return
	case e.forever != nil:
		e.fail(w, r, *e.forever)
		return
	case grant == "authorization_code":
		// Single use, and bound to the redirect URL and PKCE challenge
		// of its authorization request.
		code := f.Get("code")
		if !e.codes[code] || f.Get("redirect_uri") != callbackURL || f.Get("code_verifier") != pkceVerifier {
			e.fail(w, r, answer{400, "invalid_grant", 54005, nil})
			return
		}
		delete(e.codes, code)
	case !e.live[rt]:
		e.fail(w, r, refreshExpired)
		return
	}
	delete(e.live, rt)
	e.issued++
	next := fmt.Sprintf("RT-%d-ROTATED-REFRESH-TOKEN", e.issued)
	e.live[next] = true
	e.access = fmt.Sprintf("AT-%d-ENTRA-ACCESS-TOKEN", e.issued)
	if e.claimsOf == nil {
		e.claimsOf = map[string]string{}
	}
	e.claimsOf[e.access] = f.Get("claims")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{
		"token_type":     "Bearer",
		"scope":          "499b84ac-1321-427f-aa17-267ca6975798/user_impersonation",
		"expires_in":     3599,
		"ext_expires_in": 3599,
		"access_token":   e.access,
		"refresh_token":  next,
	})
}

// authenticate checks the client's credential, whichever e expects.
func (e *fakeEntra) authenticate(r *http.Request, f url.Values) error {
	if r.Header.Get("Authorization") != "" {
		return errors.New("an Authorization header")
	}
	switch {
	case e.secret != "":
		if f.Get("client_secret") != e.secret || f.Has("client_assertion") {
			return errors.New("no client_secret, or a wrong one")
		}
		return nil
	case e.cert != nil:
		if f.Has("client_secret") || f.Get("client_assertion_type") != generic.ClientAssertionType {
			return errors.New("a client_secret, or no client assertion")
		}
		return e.verify(f.Get("client_assertion"), e.URL+r.URL.Path)
	}
	if f.Has("client_secret") || f.Has("client_assertion") {
		return errors.New("a credential from a public client")
	}
	return nil
}

// verify checks a client assertion as Entra's current documentation asks
// for it: PS256, signed by the key of the certificate that its x5t#S256
// (and x5t, which older clients send alone) names, for aud.
func (e *fakeEntra) verify(jwt, aud string) error {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return errors.New("the assertion is not a JWS")
	}
	var h struct {
		Alg     string `json:"alg"`
		Typ     string `json:"typ"`
		X5t     string `json:"x5t"`
		X5tS256 string `json:"x5t#S256"`
	}
	var c struct {
		Iss, Sub, Aud, Jti string
		Exp, Nbf           int64
	}
	if err := decodeSegment(parts[0], &h); err != nil {
		return err
	}
	if err := decodeSegment(parts[1], &c); err != nil {
		return err
	}
	s1, s256 := sha1.Sum(e.cert.Raw), sha256.Sum256(e.cert.Raw)
	if h.Alg != "PS256" || h.Typ != "JWT" || h.X5t != b64(s1[:]) || h.X5tS256 != b64(s256[:]) {
		return fmt.Errorf("header %+v does not name the certificate", h)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPSS(e.cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
		return fmt.Errorf("signature: %v", err)
	}
	now := time.Now().Unix()
	switch {
	case c.Iss != clientID || c.Sub != clientID:
		return fmt.Errorf("iss %q, sub %q", c.Iss, c.Sub)
	case c.Aud != aud:
		return fmt.Errorf("aud %q, want %q", c.Aud, aud)
	case c.Exp <= now || c.Nbf > now+60:
		return fmt.Errorf("exp %d, nbf %d, now %d", c.Exp, c.Nbf, now)
	case c.Jti == "" || e.jtis[c.Jti]:
		return fmt.Errorf("jti %q missing or replayed", c.Jti)
	}
	e.jtis[c.Jti] = true
	return nil
}

func decodeSegment(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// fail writes an error answer the way Entra does.
func (e *fakeEntra) fail(w http.ResponseWriter, r *http.Request, a answer) {
	msg := map[int]string{
		50076:   "The user must use multifactor authentication to reach this resource.",
		65001:   "The user or administrator has not consented to use the application.",
		50058:   "A silent sign-in request was sent but no user is signed in.",
		700082:  "The refresh token has expired due to inactivity.",
		7000222: "The provided client secret keys for the app are expired.",
		7000215: "Invalid client secret provided.",
		50196:   "The server is temporarily unavailable.",
	}[a.aadsts]
	if e.echo {
		msg += fmt.Sprintf(" Got refresh_token=%s client_secret=%s client_assertion=%s.",
			r.PostForm.Get("refresh_token"), r.PostForm.Get("client_secret"), r.PostForm.Get("client_assertion"))
	}
	const trace, corr, ts = "8c0e1f8e-3c4b-4f7a-9c55-7b7f1d4c2a00", "2b1c9d6e-5f4a-4e3b-8d2c-1a0b9c8d7e6f", "2026-03-02 09:15:27Z"
	for k, v := range a.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(a.status)
	json.NewEncoder(w).Encode(map[string]any{
		"error":             a.code,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", a.aadsts, msg, trace, corr, ts),
		"error_codes":       []int{a.aadsts},
		"timestamp":         ts,
		"trace_id":          trace,
		"correlation_id":    corr,
		"error_uri":         fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", a.aadsts),
	})
}

// testCredential is an RSA key and its self-signed certificate, made once:
// RSA key generation is slow under the race detector.
var testCredential = sync.OnceValues(func() (*rsa.PrivateKey, *x509.Certificate) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return key, selfSigned(key, "oauthrt entra test")
})

func selfSigned(key crypto.Signer, cn string) *x509.Certificate {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return cert
}
