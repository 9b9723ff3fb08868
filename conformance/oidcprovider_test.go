package conformance

// A harness for a second authorization server this project did not write:
// panva's oidc-provider (Node.js), run as its own process from
// testdata/oidcprovider (see server.mjs there for its configuration and
// the sources behind it). .ci/run starts it and names its issuer in
// OAUTHRT_TEST_OIDC_PROVIDER; the tests here skip without it. By hand:
//
//	cd testdata/oidcprovider && npm ci && node server.mjs
//	OAUTHRT_TEST_OIDC_PROVIDER=http://127.0.0.1:<port> go test -run OIDCProvider .
//
// Everything in this file speaks the protocol itself (the DPoP proofs and
// the client assertions are signed here with go-jose), so that it can
// check the server's configuration independently of oauthrt's own DPoP
// code.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
)

// The clients server.mjs registers.
const (
	// oidcConfidential authenticates with private_key_jwt (the key in
	// testdata/oidcprovider/client-key.pem); its access tokens are
	// DPoP-bound, its refresh tokens are not.
	oidcConfidential = "dpop-client"
	// oidcPublic has no client authentication; its access and refresh
	// tokens are both bound to the DPoP key of the token request.
	oidcPublic = "dpop-public"
	// oidcRedirectURI is both clients' only redirect URI. Nothing listens
	// there: authorize stops at the redirect.
	oidcRedirectURI = "http://127.0.0.1/cb"
	// oidcAccount is the subject every authorization logs in as.
	oidcAccount = "alice"
)

// oidcProvider returns the issuer of the oidc-provider under test, or
// skips the test when OAUTHRT_TEST_OIDC_PROVIDER does not name one.
func oidcProvider(t testing.TB) string {
	t.Helper()
	issuer := os.Getenv("OAUTHRT_TEST_OIDC_PROVIDER")
	if issuer == "" {
		t.Skip("OAUTHRT_TEST_OIDC_PROVIDER is unset (start testdata/oidcprovider/server.mjs and set it to the issuer it prints)")
	}
	return strings.TrimSuffix(issuer, "/")
}

// oidcEndpoints are the provider's endpoints, as its discovery document
// names them.
type oidcEndpoints struct {
	Issuer     string   `json:"issuer"`
	Auth       string   `json:"authorization_endpoint"`
	Token      string   `json:"token_endpoint"`
	Userinfo   string   `json:"userinfo_endpoint"`
	Revocation string   `json:"revocation_endpoint"`
	DPoPAlgs   []string `json:"dpop_signing_alg_values_supported"`
}

// discover reads the provider's discovery document.
func discover(t testing.TB, issuer string) oidcEndpoints {
	t.Helper()
	var ep oidcEndpoints
	status, _, body := send(t, http.MethodGet, issuer+"/.well-known/openid-configuration", nil, nil)
	if status != http.StatusOK {
		t.Fatalf("discovery answered %d: %s", status, body)
	}
	if err := json.Unmarshal(body, &ep); err != nil {
		t.Fatalf("discovery document: %v", err)
	}
	return ep
}

// authOption adds parameters to an authorization request.
type authOption func(url.Values)

// withAuthParam sets the authorization request parameter name to value,
// dpop_jkt for instance.
func withAuthParam(name, value string) authOption {
	return func(q url.Values) { q.Set(name, value) }
}

// authorize runs an authorization code request for clientID (PKCE S256,
// scope "openid offline_access", prompt=consent, which oidc-provider
// needs before it grants offline_access) through the provider's automatic
// login and consent, following redirects with a cookie jar, and returns
// the code it sends to the redirect URI and the PKCE verifier that goes
// with it.
func authorize(t testing.TB, issuer, clientID string, opts ...authOption) (code, verifier string) {
	t.Helper()
	verifier = randomHex(32)
	challenge := sha256.Sum256([]byte(verifier))
	state := randomHex(8)
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {clientID},
		"redirect_uri":          {oidcRedirectURI},
		"scope":                 {"openid offline_access"},
		"prompt":                {"consent"},
		"state":                 {state},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(challenge[:])},
		"code_challenge_method": {"S256"},
	}
	for _, opt := range opts {
		opt(q)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	var landed *url.URL
	client := &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), oidcRedirectURI) {
				landed = req.URL
				return http.ErrUseLastResponse
			}
			if len(via) >= 10 {
				return errors.New("more than 10 redirects")
			}
			return nil
		},
	}
	resp, err := client.Get(issuer + "/auth?" + q.Encode())
	if err != nil {
		t.Fatalf("authorization request for %s: %v", clientID, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if landed == nil {
		t.Fatalf("authorization request for %s ended at %s with %s, not at the redirect URI: %s", clientID, resp.Request.URL, resp.Status, body)
	}
	got := landed.Query()
	if e := got.Get("error"); e != "" {
		t.Fatalf("authorization request for %s: %s (%s)", clientID, e, got.Get("error_description"))
	}
	if got.Get("state") != state || got.Get("iss") != issuer || got.Get("code") == "" {
		t.Fatalf("authorization response for %s: %s, want state %s, iss %s and a code", clientID, landed, state, issuer)
	}
	return got.Get("code"), verifier
}

// oidcClientKey loads the committed test key of oidcConfidential.
func oidcClientKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile("testdata/oidcprovider/client-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatal("testdata/oidcprovider/client-key.pem holds no PKCS#8 PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		t.Fatalf("client-key.pem holds a %T, want an EC P-256 key", k)
	}
	return ec
}

// clientAssertion signs a private_key_jwt client assertion (RFC 7523) for
// clientID with key, addressed to audience; every call has a new jti,
// since oidc-provider refuses a replayed one.
func clientAssertion(t testing.TB, key *ecdsa.PrivateKey, clientID, audience string) string {
	t.Helper()
	now := time.Now()
	return signJWT(t, key, &jose.SignerOptions{}, map[string]any{
		"iss": clientID,
		"sub": clientID,
		"aud": audience,
		"jti": randomHex(16),
		"iat": now.Unix(),
		"exp": now.Add(time.Minute).Unix(),
	})
}

// clientAuth adds clientID's authentication to form: a client assertion
// for oidcConfidential, addressed to the issuer (which oidc-provider
// accepts at every endpoint, lib/shared/jwt_client_auth.js, read
// 2026-11-30), and the bare client_id for oidcPublic.
func clientAuth(t testing.TB, issuer, clientID string, form url.Values) url.Values {
	t.Helper()
	form.Set("client_id", clientID)
	if clientID == oidcConfidential {
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", clientAssertion(t, oidcClientKey(t), clientID, issuer))
	}
	return form
}

// dpopKey is a DPoP key pair (RFC 9449), with a proof builder written
// here rather than taken from oauthrt.
type dpopKey struct {
	key    *ecdsa.PrivateKey
	signer jose.Signer
}

// newDPoPKey makes a fresh ES256 DPoP key.
func newDPoPKey(t testing.TB) *dpopKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &dpopKey{key: k}
}

// thumbprint returns the key's JWK SHA-256 thumbprint (RFC 7638),
// base64url: the value of dpop_jkt and of a bound token's cnf.jkt.
func (k *dpopKey) thumbprint(t testing.TB) string {
	t.Helper()
	jwk := jose.JSONWebKey{Key: &k.key.PublicKey}
	b, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// proof signs a DPoP proof JWT for a request of method to target: header
// typ dpop+jwt and the public key as jwk; claims jti, htm, htu, iat, and
// ath when accessToken is not empty, nonce when nonce is not empty.
func (k *dpopKey) proof(t testing.TB, method, target, accessToken, nonce string) string {
	t.Helper()
	claims := map[string]any{
		"jti": randomHex(16),
		"htm": method,
		"htu": target,
		"iat": time.Now().Unix(),
	}
	if accessToken != "" {
		ath := sha256.Sum256([]byte(accessToken))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(ath[:])
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	return signJWT(t, k.key, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"), claims)
}

// signJWT signs claims with key as a compact ES256 JWS.
func signJWT(t testing.TB, key *ecdsa.PrivateKey, opts *jose.SignerOptions, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// oauthAnswer is an answer of the token, userinfo or revocation endpoint.
type oauthAnswer struct {
	status    int
	nonce     string // DPoP-Nonce
	challenge string // WWW-Authenticate
	body      []byte

	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	RefreshToken     string `json:"refresh_token"`
	ExpiresIn        int    `json:"expires_in"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	Sub              string `json:"sub"`
}

// send sends a request with header and, when form is not nil, a form
// body, and returns the status, the header and the body of the answer.
func send(t testing.TB, method, target string, header http.Header, form url.Values) (int, http.Header, []byte) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// answer sends a request and decodes its JSON answer, if any.
func answer(t testing.TB, method, target string, header http.Header, form url.Values) oauthAnswer {
	t.Helper()
	status, h, body := send(t, method, target, header, form)
	a := oauthAnswer{status: status, nonce: h.Get("DPoP-Nonce"), challenge: h.Get("WWW-Authenticate"), body: body}
	if len(body) > 0 && strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatalf("%s %s answered %d with bad JSON: %v", method, target, status, err)
		}
	}
	return a
}

// tokenRequest posts form, with clientID's authentication added, to the
// token endpoint, with proof as the DPoP header unless it is empty.
func tokenRequest(t testing.TB, ep oidcEndpoints, clientID string, form url.Values, proof string) oauthAnswer {
	t.Helper()
	h := http.Header{}
	if proof != "" {
		h.Set("DPoP", proof)
	}
	return answer(t, http.MethodPost, ep.Token, h, clientAuth(t, ep.Issuer, clientID, form))
}

// codeForm is the token request form exchanging code.
func codeForm(code, verifier string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {oidcRedirectURI}}
}

// refreshForm is the token request form redeeming refreshToken.
func refreshForm(refreshToken string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
}

// userinfo calls the userinfo endpoint with GET, presenting accessToken
// under scheme ("DPoP" or "Bearer") and proof as the DPoP header unless
// it is empty.
func userinfo(t testing.TB, ep oidcEndpoints, scheme, accessToken, proof string) oauthAnswer {
	t.Helper()
	h := http.Header{"Authorization": {scheme + " " + accessToken}}
	if proof != "" {
		h.Set("DPoP", proof)
	}
	return answer(t, http.MethodGet, ep.Userinfo, h, nil)
}

// revoke asks the revocation endpoint, as clientID, to revoke token.
func revoke(t testing.TB, ep oidcEndpoints, clientID, token, hint string) oauthAnswer {
	t.Helper()
	return answer(t, http.MethodPost, ep.Revocation, nil, clientAuth(t, ep.Issuer, clientID, url.Values{"token": {token}, "token_type_hint": {hint}}))
}

// oidcStats is server.mjs's GET /__stats: counters since it started or
// since the last POST /__stats/reset.
type oidcStats struct {
	Token struct {
		OK     map[string]int `json:"ok"`     // successes by grant_type
		Errors map[string]int `json:"errors"` // errors by code
	} `json:"token"`
	Resource struct { // the userinfo endpoint
		OK     int            `json:"ok"`
		Errors map[string]int `json:"errors"`
	} `json:"resource"`
	Revocation struct {
		OK     int            `json:"ok"`
		Errors map[string]int `json:"errors"`
	} `json:"revocation"`
	GrantsRevoked int `json:"grants_revoked"`
}

// stats reads the server's counters.
func stats(t testing.TB, issuer string) oidcStats {
	t.Helper()
	status, _, body := send(t, http.MethodGet, issuer+"/__stats", nil, nil)
	if status != http.StatusOK {
		t.Fatalf("GET /__stats answered %d: %s", status, body)
	}
	var s oidcStats
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("GET /__stats: %v", err)
	}
	return s
}

// resetStats zeroes the server's counters.
func resetStats(t testing.TB, issuer string) {
	t.Helper()
	if status, _, body := send(t, http.MethodPost, issuer+"/__stats/reset", nil, nil); status != http.StatusNoContent {
		t.Fatalf("POST /__stats/reset answered %d: %s", status, body)
	}
}

// wantOK fails the test unless a is a 200.
func wantOK(t testing.TB, step string, a oauthAnswer) {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("%s: answered %d %s (%s), want 200", step, a.status, a.Error, a.ErrorDescription)
	}
}

// wantError fails the test unless a is status with error code.
func wantError(t testing.TB, step string, a oauthAnswer, status int, code string) {
	t.Helper()
	if a.status != status || a.Error != code {
		t.Fatalf("%s: answered %d %q (%s), want %d %s", step, a.status, a.Error, a.ErrorDescription, status, code)
	}
}

// wantDPoPChallenge fails the test unless a is a resource server's 401
// with WWW-Authenticate: DPoP error="code".
func wantDPoPChallenge(t testing.TB, step string, a oauthAnswer, code string) {
	t.Helper()
	wantError(t, step, a, http.StatusUnauthorized, code)
	if !strings.HasPrefix(a.challenge, "DPoP ") || !strings.Contains(a.challenge, `error="`+code+`"`) {
		t.Fatalf("%s: WWW-Authenticate %q, want a DPoP challenge with error=%q", step, a.challenge, code)
	}
}

// TestOIDCProviderSmoke proves that the server is configured as the
// conformance tests need: DPoP-bound tokens, server nonces demanded at the
// token endpoint and at the resource (userinfo), proofs checked there for
// method, URL, access token hash, key binding and replay, refresh tokens
// rotated with reuse revoking the grant, public clients' refresh tokens
// bound to their DPoP key, revocation, and the counters at /__stats. It
// resets the counters and compares them exactly at the end, so nothing
// else may use the server while it runs.
func TestOIDCProviderSmoke(t *testing.T) {
	issuer := oidcProvider(t)
	ep := discover(t, issuer)
	if ep.Issuer != issuer || ep.Token != issuer+"/token" || ep.Auth != issuer+"/auth" || ep.Userinfo != issuer+"/me" || ep.Revocation != issuer+"/token/revocation" {
		t.Fatalf("discovery names %+v, want the issuer %s with /auth, /token, /me, /token/revocation", ep, issuer)
	}
	if !reflect.DeepEqual(ep.DPoPAlgs, []string{"ES256", "Ed25519", "EdDSA"}) {
		t.Errorf("dpop_signing_alg_values_supported %v", ep.DPoPAlgs)
	}
	resetStats(t, issuer)

	// The confidential client: code exchange, nonces, the resource's
	// checks, rotation and reuse.
	key := newDPoPKey(t)
	code, verifier := authorize(t, issuer, oidcConfidential)

	// dpop_bound_access_tokens: no token request without a proof.
	a := tokenRequest(t, ep, oidcConfidential, codeForm(code, verifier), "")
	wantError(t, "code exchange without a DPoP proof", a, http.StatusBadRequest, "invalid_grant")

	a = tokenRequest(t, ep, oidcConfidential, codeForm(code, verifier), key.proof(t, "POST", ep.Token, "", ""))
	wantError(t, "code exchange, proof without a nonce", a, http.StatusBadRequest, "use_dpop_nonce")
	nonce := a.nonce
	if nonce == "" {
		t.Fatal("use_dpop_nonce at the token endpoint came without a DPoP-Nonce header")
	}

	// The code survived both refusals: they come before it is consumed.
	a = tokenRequest(t, ep, oidcConfidential, codeForm(code, verifier), key.proof(t, "POST", ep.Token, "", nonce))
	wantOK(t, "code exchange with the nonce", a)
	if a.TokenType != "DPoP" || a.AccessToken == "" || a.RefreshToken == "" || a.ExpiresIn <= 0 {
		t.Fatalf("code exchange gave token_type %q, access token %t, refresh token %t, expires_in %d; want a DPoP pair", a.TokenType, a.AccessToken != "", a.RefreshToken != "", a.ExpiresIn)
	}
	at1, rt1 := a.AccessToken, a.RefreshToken
	t.Logf("access tokens live %ds (server.mjs's ACCESS_TOKEN_TTL)", a.ExpiresIn)

	a = userinfo(t, ep, "DPoP", at1, "")
	wantError(t, "userinfo, DPoP scheme without a proof", a, http.StatusBadRequest, "invalid_request")
	a = userinfo(t, ep, "Bearer", at1, "")
	wantDPoPChallenge(t, "userinfo, the bound token as a bearer token", a, "invalid_token")

	a = userinfo(t, ep, "DPoP", at1, key.proof(t, "GET", ep.Userinfo, at1, ""))
	wantDPoPChallenge(t, "userinfo, proof without a nonce", a, "use_dpop_nonce")
	if a.nonce == "" {
		t.Fatal("use_dpop_nonce at userinfo came without a DPoP-Nonce header")
	}
	// A nonce the server never issued, as a stale one looks: oidc-provider
	// derives nonces from its secret and the minute, and a nonce older
	// than about three minutes no longer matches any.
	a = userinfo(t, ep, "DPoP", at1, key.proof(t, "GET", ep.Userinfo, at1, "stale-"+randomHex(8)))
	wantDPoPChallenge(t, "userinfo, unknown nonce", a, "use_dpop_nonce")
	if a.nonce == "" {
		t.Fatal("use_dpop_nonce for an unknown nonce came without a DPoP-Nonce header")
	}

	a = userinfo(t, ep, "DPoP", at1, key.proof(t, "GET", ep.Userinfo, "another token", nonce))
	wantDPoPChallenge(t, "userinfo, ath of another token", a, "invalid_dpop_proof")
	a = userinfo(t, ep, "DPoP", at1, key.proof(t, "GET", issuer+"/elsewhere", at1, nonce))
	wantDPoPChallenge(t, "userinfo, htu of another URL", a, "invalid_dpop_proof")
	a = userinfo(t, ep, "DPoP", at1, key.proof(t, "POST", ep.Userinfo, at1, nonce))
	wantDPoPChallenge(t, "userinfo, htm of another method", a, "invalid_dpop_proof")
	a = userinfo(t, ep, "DPoP", at1, newDPoPKey(t).proof(t, "GET", ep.Userinfo, at1, nonce))
	wantDPoPChallenge(t, "userinfo, proof from another key", a, "invalid_token")

	proof := key.proof(t, "GET", ep.Userinfo, at1, nonce)
	a = userinfo(t, ep, "DPoP", at1, proof)
	wantOK(t, "userinfo with the nonce", a)
	if a.Sub != oidcAccount {
		t.Fatalf("userinfo says sub %q, want %q", a.Sub, oidcAccount)
	}
	a = userinfo(t, ep, "DPoP", at1, proof)
	wantDPoPChallenge(t, "userinfo, a replayed proof", a, "invalid_token")

	// The confidential client's refresh token is not bound to the key,
	// but a refresh still needs a proof, and a refusal does not consume
	// the refresh token.
	a = tokenRequest(t, ep, oidcConfidential, refreshForm(rt1), "")
	wantError(t, "refresh without a DPoP proof", a, http.StatusBadRequest, "invalid_grant")
	a = tokenRequest(t, ep, oidcConfidential, refreshForm(rt1), key.proof(t, "POST", ep.Token, "", nonce))
	wantOK(t, "refresh", a)
	if a.TokenType != "DPoP" || a.RefreshToken == "" || a.RefreshToken == rt1 || a.AccessToken == at1 {
		t.Fatalf("refresh gave token_type %q and a refresh token that is new: %t; want a rotated DPoP pair", a.TokenType, a.RefreshToken != "" && a.RefreshToken != rt1)
	}
	at2, rt2 := a.AccessToken, a.RefreshToken
	wantOK(t, "userinfo with the refreshed token", userinfo(t, ep, "DPoP", at2, key.proof(t, "GET", ep.Userinfo, at2, nonce)))

	a = tokenRequest(t, ep, oidcConfidential, refreshForm(rt1), key.proof(t, "POST", ep.Token, "", nonce))
	wantError(t, "refresh with the rotated-out refresh token", a, http.StatusBadRequest, "invalid_grant")
	a = tokenRequest(t, ep, oidcConfidential, refreshForm(rt2), key.proof(t, "POST", ep.Token, "", nonce))
	wantError(t, "refresh with the newest refresh token after the reuse", a, http.StatusBadRequest, "invalid_grant")
	a = userinfo(t, ep, "DPoP", at2, key.proof(t, "GET", ep.Userinfo, at2, nonce))
	wantDPoPChallenge(t, "userinfo with the newest access token after the reuse", a, "invalid_token")

	// The public client: dpop_jkt, refresh tokens bound to the key,
	// revocation of a refresh token (which ends its grant) and of an
	// access token.
	pub, other := newDPoPKey(t), newDPoPKey(t)
	code, verifier = authorize(t, issuer, oidcPublic, withAuthParam("dpop_jkt", pub.thumbprint(t)))
	a = tokenRequest(t, ep, oidcPublic, codeForm(code, verifier), other.proof(t, "POST", ep.Token, "", nonce))
	wantError(t, "code exchange with a key other than dpop_jkt's", a, http.StatusBadRequest, "invalid_grant")

	code, verifier = authorize(t, issuer, oidcPublic, withAuthParam("dpop_jkt", pub.thumbprint(t)))
	a = tokenRequest(t, ep, oidcPublic, codeForm(code, verifier), pub.proof(t, "POST", ep.Token, "", nonce))
	wantOK(t, "public client's code exchange", a)
	if a.TokenType != "DPoP" || a.RefreshToken == "" {
		t.Fatalf("public client's code exchange gave token_type %q, refresh token %t", a.TokenType, a.RefreshToken != "")
	}
	rt3 := a.RefreshToken

	a = tokenRequest(t, ep, oidcPublic, refreshForm(rt3), other.proof(t, "POST", ep.Token, "", nonce))
	wantError(t, "public client's refresh with another key", a, http.StatusBadRequest, "invalid_grant")
	a = tokenRequest(t, ep, oidcPublic, refreshForm(rt3), pub.proof(t, "POST", ep.Token, "", nonce))
	wantOK(t, "public client's refresh with its key", a)
	at4, rt4 := a.AccessToken, a.RefreshToken

	wantOK(t, "revoking the refresh token", revoke(t, ep, oidcPublic, rt4, "refresh_token"))
	a = tokenRequest(t, ep, oidcPublic, refreshForm(rt4), pub.proof(t, "POST", ep.Token, "", nonce))
	wantError(t, "refresh with the revoked refresh token", a, http.StatusBadRequest, "invalid_grant")
	a = userinfo(t, ep, "DPoP", at4, pub.proof(t, "GET", ep.Userinfo, at4, nonce))
	wantDPoPChallenge(t, "userinfo with the access token of a revoked refresh token", a, "invalid_token")

	// Revoking an access token takes the grant's refresh tokens with it:
	// oidc-provider's revoke(ctx, grantId) (lib/helpers/revoke.js) calls
	// revokeByGrantId on every token model for any revocation;
	// revokeGrantPolicy, false here, only spares the Grant record.
	code, verifier = authorize(t, issuer, oidcPublic)
	a = tokenRequest(t, ep, oidcPublic, codeForm(code, verifier), pub.proof(t, "POST", ep.Token, "", nonce))
	wantOK(t, "public client's second code exchange", a)
	at5, rt5 := a.AccessToken, a.RefreshToken
	wantOK(t, "revoking the access token", revoke(t, ep, oidcPublic, at5, "access_token"))
	a = userinfo(t, ep, "DPoP", at5, pub.proof(t, "GET", ep.Userinfo, at5, nonce))
	wantDPoPChallenge(t, "userinfo with the revoked access token", a, "invalid_token")
	a = tokenRequest(t, ep, oidcPublic, refreshForm(rt5), pub.proof(t, "POST", ep.Token, "", nonce))
	wantError(t, "refresh after its access token was revoked", a, http.StatusBadRequest, "invalid_grant")

	var want oidcStats
	want.Token.OK = map[string]int{"authorization_code": 3, "refresh_token": 2}
	// invalid_grant: code exchange and refresh without a proof, reuse,
	// after reuse, dpop_jkt, the public client's refresh with another
	// key, after the two revocations
	want.Token.Errors = map[string]int{"use_dpop_nonce": 1, "invalid_grant": 8}
	want.Resource.OK = 2
	// invalid_request: the DPoP scheme without a proof; use_dpop_nonce:
	// no nonce, an unknown one; invalid_dpop_proof: ath, htu, htm;
	// invalid_token: bearer use, another key, replay, after the reuse,
	// after the two revocations.
	want.Resource.Errors = map[string]int{"invalid_request": 1, "use_dpop_nonce": 2, "invalid_dpop_proof": 3, "invalid_token": 6}
	want.Revocation.OK = 2
	want.Revocation.Errors = map[string]int{}
	want.GrantsRevoked = 2 // the refresh token reuse, the revoked refresh token
	if got := stats(t, issuer); !reflect.DeepEqual(got, want) {
		t.Fatalf("/__stats\n got %+v\nwant %+v", got, want)
	}
}

// TestOIDCProviderAccessTokenExpiry proves that the server's short access
// token lifetime is real (oidc-provider would otherwise accept a token for
// its clockTolerance past expiry) and that a refresh still works after it.
// It waits out one access token, about four seconds with server.mjs's
// default ACCESS_TOKEN_TTL; -short skips it.
func TestOIDCProviderAccessTokenExpiry(t *testing.T) {
	issuer := oidcProvider(t)
	if testing.Short() {
		t.Skip("waits out an access token's lifetime")
	}
	ep := discover(t, issuer)
	key := newDPoPKey(t)
	code, verifier := authorize(t, issuer, oidcConfidential)
	a := tokenRequest(t, ep, oidcConfidential, codeForm(code, verifier), key.proof(t, "POST", ep.Token, "", ""))
	wantError(t, "code exchange, proof without a nonce", a, http.StatusBadRequest, "use_dpop_nonce")
	nonce := a.nonce
	a = tokenRequest(t, ep, oidcConfidential, codeForm(code, verifier), key.proof(t, "POST", ep.Token, "", nonce))
	wantOK(t, "code exchange", a)
	issued := time.Now()
	if a.ExpiresIn <= 0 || a.ExpiresIn > 10 {
		t.Skipf("access tokens live %ds; this test waits one out only when that is 1 to 10 seconds", a.ExpiresIn)
	}
	at, rt := a.AccessToken, a.RefreshToken
	wantOK(t, "userinfo with a fresh token", userinfo(t, ep, "DPoP", at, key.proof(t, "GET", ep.Userinfo, at, nonce)))

	// expires_in counts from the server's issue time, truncated to the
	// second; a second more is past it for sure.
	time.Sleep(time.Until(issued.Add(time.Duration(a.ExpiresIn+1) * time.Second)))
	a = userinfo(t, ep, "DPoP", at, key.proof(t, "GET", ep.Userinfo, at, nonce))
	wantDPoPChallenge(t, "userinfo with an expired token", a, "invalid_token")

	a = tokenRequest(t, ep, oidcConfidential, refreshForm(rt), key.proof(t, "POST", ep.Token, "", nonce))
	wantOK(t, "refresh after the access token expired", a)
	wantOK(t, "userinfo with the refreshed token", userinfo(t, ep, "DPoP", a.AccessToken, key.proof(t, "GET", ep.Userinfo, a.AccessToken, nonce)))
}
