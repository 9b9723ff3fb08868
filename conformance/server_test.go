package conformance

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/oauthrt/oauthrt/generic"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/storage"
	fositejwt "github.com/ory/fosite/token/jwt"
	"golang.org/x/oauth2"
)

// The token_endpoint_auth_method values fosite knows, as registered on
// its clients and as recorded for each call to the token endpoint.
const (
	methodBasic = "client_secret_basic"
	methodPost  = "client_secret_post"
	methodJWT   = "private_key_jwt"
	methodNone  = "none"
)

// A client is an OAuth2 client registered with the server: fosite is
// told its token_endpoint_auth_method and enforces it.
type client struct {
	id     string
	method string // token_endpoint_auth_method

	secret string // client_secret_basic and client_secret_post

	// private_key_jwt: the key signing the client's assertions, the kid
	// its public half is registered under, and the only alg fosite
	// accepts from this client.
	key crypto.Signer
	kid string
	alg string
}

// refresher is the generic.Refresher a correctly configured application
// uses for c, naming the method with the AuthMethod field.
func (s *authServer) refresher(c client) *generic.Refresher {
	r := &generic.Refresher{TokenURL: s.tokenURL, ClientID: c.id}
	switch c.method {
	case methodBasic:
		r.ClientSecret, r.AuthMethod = c.secret, generic.AuthClientSecretBasic
	case methodPost:
		r.ClientSecret, r.AuthMethod = c.secret, generic.AuthClientSecretPost
	case methodJWT:
		r.PrivateKeyJWT, r.AuthMethod = &generic.PrivateKeyJWT{Key: c.key, KeyID: c.kid}, generic.AuthPrivateKeyJWT
	}
	return r
}

type serverOptions struct {
	// accessTokenLifespan is how long fosite's access tokens live. fosite
	// rounds their expiry to the second and truncates expires_in, so a
	// token of two seconds is announced as living one or two.
	accessTokenLifespan time.Duration

	// clients are registered before the server starts.
	clients []client

	// logAPI makes the server keep every API call, for tests that look
	// at which token each request carried. Long runs leave it off.
	logAPI bool

	// saved, when not nil, says whether an access token was in the
	// application's store before the API saw it; the server counts the
	// valid tokens it was not (see authServer.unsaved).
	saved func(accessToken string) bool
}

// An authServer is a fosite authorization server, with a protected API,
// on an httptest server on 127.0.0.1. It records what the token endpoint
// was asked and answered, and how the API answered.
type authServer struct {
	provider fosite.OAuth2Provider
	opt      serverOptions

	srv         *httptest.Server
	tokenURL    string
	apiURL      string
	redirectURL string

	// tokenMu serializes the token endpoint. fosite's MemoryStore is a
	// demonstration store: it checks a refresh token and rotates it in
	// separate steps, and its RevokeRefreshToken writes a map under
	// another map's mutex. A database behind a real deployment runs each
	// refresh in one transaction; the mutex plays that part, so that two
	// presentations of one refresh token are always seen in order and the
	// second is always caught as reuse.
	tokenMu sync.Mutex

	mu    sync.Mutex
	calls []tokenCall
	api   []apiCall

	apiOK       atomic.Int64 // API calls answered 200
	apiRejected atomic.Int64 // API calls answered 401
	unsaved     atomic.Int64 // valid tokens used before they were saved
}

// A tokenCall is one request to the token endpoint and its answer.
type tokenCall struct {
	grant     string // grant_type
	auth      string // the client authentication methods the request carried, joined by "+"
	alg       string // private_key_jwt: the assertion's alg header
	kid       string // private_key_jwt: the assertion's kid header
	jti       string // private_key_jwt: the assertion's jti claim
	status    int
	expiresIn int       // the expires_in member of a token answer
	error     string    // the error member of an error answer
	family    string    // fosite's request ID, shared by all the tokens of one grant
	at        time.Time // when the call reached the endpoint
}

// An apiCall is one request to the protected API.
type apiCall struct {
	token  string
	status int
}

// newAuthServer starts a fosite server whose clients are opt.clients.
// fosite is composed by hand with what the tests need: the authorization
// code grant (to seed a grant), the refresh token grant with fosite's
// default rotation and reuse detection, and token introspection for the
// API, over HMAC-SHA512/256 tokens.
func newAuthServer(t testing.TB, opt serverOptions) *authServer {
	t.Helper()
	secret := make([]byte, 32)
	rand.Read(secret)
	config := &fosite.Config{
		AccessTokenLifespan:   opt.accessTokenLifespan,
		RefreshTokenLifespan:  time.Hour,
		AuthorizeCodeLifespan: time.Minute,
		GlobalSecret:          secret,
		// The fewest bcrypt rounds allowed: client secrets are checked on
		// every refresh, and the default of 12 costs a quarter second.
		HashCost: 4,
		// The API introspects access tokens only: fosite would otherwise
		// accept a refresh token presented as a bearer token.
		DisableRefreshTokenValidation: true,
		SendDebugMessagesToClients:    true,
	}
	store := storage.NewMemoryStore()
	strategy := &compose.CommonStrategy{CoreStrategy: compose.NewOAuth2HMACStrategy(config)}
	s := &authServer{
		provider: compose.Compose(config, store, strategy,
			compose.OAuth2AuthorizeExplicitFactory,
			compose.OAuth2RefreshTokenGrantFactory,
			compose.OAuth2TokenIntrospectionFactory,
		),
		opt: opt,
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("/api", s.serveAPI)
	s.srv = httptest.NewUnstartedServer(mux)
	base := "http://" + s.srv.Listener.Addr().String()
	s.tokenURL = base + "/token"
	s.apiURL = base + "/api"
	s.redirectURL = base + "/callback"
	config.TokenURL = s.tokenURL // the audience of client assertions

	ctx := context.Background()
	for _, c := range opt.clients {
		dc := &fosite.DefaultClient{
			ID:            c.id,
			RedirectURIs:  []string{s.redirectURL},
			ResponseTypes: []string{"code"},
			GrantTypes:    []string{"authorization_code", "refresh_token"},
			Scopes:        []string{"offline", "api"},
		}
		oc := &fosite.DefaultOpenIDConnectClient{DefaultClient: dc, TokenEndpointAuthMethod: c.method}
		switch c.method {
		case methodBasic, methodPost:
			hash, err := config.GetSecretsHasher(ctx).Hash(ctx, []byte(c.secret))
			if err != nil {
				t.Fatal(err)
			}
			dc.Secret = hash
		case methodJWT:
			oc.TokenEndpointAuthSigningAlgorithm = c.alg
			oc.JSONWebKeys = &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
				Key: c.key.Public(), KeyID: c.kid, Algorithm: c.alg, Use: "sig",
			}}}
		default:
			t.Fatalf("client %s: unknown method %q", c.id, c.method)
		}
		store.Clients[c.id] = oc // before Start: nothing reads it yet
	}

	s.srv.Start()
	t.Cleanup(s.srv.Close)
	return s
}

// token is the token endpoint: fosite's, with every call recorded.
func (s *authServer) token(w http.ResponseWriter, r *http.Request) {
	s.tokenMu.Lock()
	defer s.tokenMu.Unlock()

	call := classify(r)
	call.at = time.Now()
	rec := &recorder{ResponseWriter: w}
	ctx := r.Context()
	ar, err := s.provider.NewAccessRequest(ctx, r, new(fosite.DefaultSession))
	if err == nil {
		call.family = ar.GetID()
		var resp fosite.AccessResponder
		if resp, err = s.provider.NewAccessResponse(ctx, ar); err == nil {
			s.provider.WriteAccessResponse(ctx, rec, ar, resp)
		}
	}
	if err != nil {
		s.provider.WriteAccessError(ctx, rec, ar, err)
	}

	call.status = rec.status
	var answer struct {
		Error     string `json:"error"`
		ExpiresIn int    `json:"expires_in"`
	}
	json.Unmarshal(rec.body.Bytes(), &answer)
	call.error, call.expiresIn = answer.Error, answer.ExpiresIn
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
}

// classify reads what a token request says about its grant and its
// client authentication. fosite parses the form again, which is a no-op.
func classify(r *http.Request) tokenCall {
	r.ParseForm()
	f := r.PostForm
	c := tokenCall{grant: f.Get("grant_type")}
	var auth []string
	if _, _, ok := r.BasicAuth(); ok {
		auth = append(auth, methodBasic)
	}
	if f.Has("client_secret") {
		auth = append(auth, methodPost)
	}
	if f.Has("client_assertion") || f.Has("client_assertion_type") {
		auth = append(auth, methodJWT)
		c.alg, c.kid, c.jti = assertionFields(f.Get("client_assertion"))
	}
	if len(auth) == 0 {
		auth = append(auth, methodNone)
	}
	c.auth = strings.Join(auth, "+")
	return c
}

// assertionFields decodes, without verifying it, a JWT's alg and kid
// headers and its jti claim.
func assertionFields(jwt string) (alg, kid, jti string) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "", "", ""
	}
	var h struct{ Alg, Kid string }
	var c struct{ Jti string }
	if b, err := base64.RawURLEncoding.DecodeString(parts[0]); err == nil {
		json.Unmarshal(b, &h)
	}
	if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
		json.Unmarshal(b, &c)
	}
	return h.Alg, h.Kid, c.Jti
}

// recorder passes a response through, keeping its status and body.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// serveAPI is the protected resource: it asks fosite whether the bearer
// token is a live access token granted the scope "api", and answers 401
// as RFC 6750 §3 says when it is not.
func (s *authServer) serveAPI(w http.ResponseWriter, r *http.Request) {
	tok := fosite.AccessTokenFromRequest(r)
	status, subject := http.StatusUnauthorized, ""
	if tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
	} else if use, ar, err := s.provider.IntrospectToken(r.Context(), tok, fosite.AccessToken, new(fosite.DefaultSession), "api"); err != nil || use != fosite.AccessToken {
		w.Header().Set("WWW-Authenticate", `Bearer realm="api", error="invalid_token"`)
	} else {
		status, subject = http.StatusOK, ar.GetSession().GetSubject()
		if s.opt.saved != nil && !s.opt.saved(tok) {
			s.unsaved.Add(1)
		}
	}
	if s.opt.logAPI {
		s.mu.Lock()
		s.api = append(s.api, apiCall{token: tok, status: status})
		s.mu.Unlock()
	}
	if status != http.StatusOK {
		s.apiRejected.Add(1)
		http.Error(w, "invalid token", status)
		return
	}
	s.apiOK.Add(1)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "hello, "+subject)
}

// A mark is a point in the server's records.
type mark struct{ calls, api int }

func (s *authServer) mark() mark {
	s.mu.Lock()
	defer s.mu.Unlock()
	return mark{len(s.calls), len(s.api)}
}

// callsSince returns the token endpoint calls after m.
func (s *authServer) callsSince(m mark) []tokenCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]tokenCall(nil), s.calls[m.calls:]...)
}

// apiSince returns the API calls after m (with opt.logAPI).
func (s *authServer) apiSince(m mark) []apiCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]apiCall(nil), s.api[m.api:]...)
}

// errorCounts counts the token endpoint's error answers by error code.
func (s *authServer) errorCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := map[string]int{}
	for _, c := range s.calls {
		if c.status != http.StatusOK {
			n[c.error]++
		}
	}
	return n
}

// authorize runs the authorization code flow for c on behalf of subject
// and returns the token pair the code is exchanged for. The user's
// consent is given in-process, through fosite's authorize request and
// response; the exchange is an ordinary golang.org/x/oauth2 client's,
// authenticating as c is registered to.
func (s *authServer) authorize(t testing.TB, c client, subject string) *oauth2.Token {
	t.Helper()
	ctx := context.Background()
	code := s.authorizationCode(t, c, subject)
	conf := &oauth2.Config{ClientID: c.id, RedirectURL: s.redirectURL, Endpoint: oauth2.Endpoint{TokenURL: s.tokenURL}}
	var opts []oauth2.AuthCodeOption
	switch c.method {
	case methodBasic:
		conf.ClientSecret, conf.Endpoint.AuthStyle = c.secret, oauth2.AuthStyleInHeader
	case methodPost:
		conf.ClientSecret, conf.Endpoint.AuthStyle = c.secret, oauth2.AuthStyleInParams
	case methodJWT:
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams // client_id only
		opts = append(opts,
			oauth2.SetAuthURLParam("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
			oauth2.SetAuthURLParam("client_assertion", s.seedAssertion(t, c)))
	}
	tok, err := conf.Exchange(context.WithValue(ctx, oauth2.HTTPClient, s.srv.Client()), code, opts...)
	if err != nil {
		t.Fatalf("exchanging the code of %s: %v", c.id, err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("the code exchange of %s gave access token %t, refresh token %t, expiry %v", c.id, tok.AccessToken != "", tok.RefreshToken != "", tok.Expiry)
	}
	return tok
}

// authorizationCode has the user subject authorize client c, in-process,
// and returns the code fosite sends to the redirect URL.
func (s *authServer) authorizationCode(t testing.TB, c client, subject string) string {
	t.Helper()
	ctx := context.Background()
	q := url.Values{
		"response_type": {"code"},
		"client_id":     {c.id},
		"redirect_uri":  {s.redirectURL},
		"scope":         {"offline api"},
		"state":         {randomHex(16)},
	}
	ar, err := s.provider.NewAuthorizeRequest(ctx, httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil))
	if err != nil {
		t.Fatalf("authorize request: %v", fosite.ErrorToRFC6749Error(err).WithExposeDebug(true).GetDescription())
	}
	for _, scope := range ar.GetRequestedScopes() {
		ar.GrantScope(scope) // the user consents to everything asked
	}
	resp, err := s.provider.NewAuthorizeResponse(ctx, ar, &fosite.DefaultSession{Subject: subject})
	if err != nil {
		t.Fatalf("authorize response: %v", err)
	}
	code := resp.GetParameters().Get("code")
	if code == "" {
		t.Fatal("fosite issued no authorization code")
	}
	return code
}

// seedAssertion signs a client assertion for the code exchange with
// fosite's own JWT package, so that seeding does not depend on the
// oauthrt code under test.
func (s *authServer) seedAssertion(t testing.TB, c client) string {
	t.Helper()
	now := time.Now()
	tok := fositejwt.NewWithClaims(jose.SignatureAlgorithm(c.alg), fositejwt.MapClaims{
		"iss": c.id,
		"sub": c.id,
		"aud": s.tokenURL,
		"jti": randomHex(16),
		"iat": now.Unix(),
		"exp": now.Add(time.Minute).Unix(),
	})
	tok.Header["kid"] = c.kid
	signed, err := tok.SignedString(c.key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// baseTransport returns an http.Transport for the Transports under test,
// closed when the test ends.
func baseTransport(t testing.TB) *http.Transport {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
