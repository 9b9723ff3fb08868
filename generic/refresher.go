package generic

import (
	"context"
	"crypto"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/dpop"
	"github.com/oauthrt/oauthrt/internal/endpoint"
	"golang.org/x/oauth2"
)

// A Refresher refreshes tokens at a token endpoint with the refresh_token
// grant (RFC 6749 §6). Set its fields before first use and do not change
// them afterwards; it is then safe for concurrent use, and may be
// copied.
//
// Printed with any verb of fmt, logged with slog or encoded as JSON, a
// Refresher, value or pointer, shows its String and never its secret.
type Refresher struct {
	// TokenURL is the token endpoint. It is required.
	TokenURL string

	// ClientID and ClientSecret identify the client. Unless AuthMethod
	// or PrivateKeyJWT says otherwise, an empty ClientSecret makes a
	// public client: its ClientID (if any) goes in the form and no client
	// authentication is sent, whatever AuthStyle.
	ClientID, ClientSecret string

	// AuthMethod says how the client authenticates, by the names of RFC
	// 7591's token_endpoint_auth_method that providers show in their
	// client registrations. The zero value derives it from the other
	// fields: private_key_jwt when PrivateKeyJWT is set, else
	// AuthStyle's when ClientSecret is set, else tls_client_auth when
	// ClientCertificate is set, else none. A method the fields cannot
	// serve (private_key_jwt without PrivateKeyJWT, a client secret
	// method without ClientSecret, a mutual-TLS method without a client
	// certificate) makes Refresh fail before anything is sent, rather
	// than fall back to another.
	AuthMethod AuthMethod

	// PrivateKeyJWT, when not nil, authenticates the client with a JWT
	// signed by its private key instead of a secret (private_key_jwt, RFC
	// 7523 §2.2), unless AuthMethod names another method. ClientID is
	// then required.
	PrivateKeyJWT *PrivateKeyJWT

	// ClientCertificate, when not nil, is the certificate, with its
	// private key, that the Refresher presents in the TLS handshakes of
	// its requests to TokenURL and RevocationURL, for mutual TLS (RFC
	// 8705). It authenticates the client under the methods
	// tls_client_auth and self_signed_tls_client_auth (which it selects
	// when AuthMethod is the zero value and neither ClientSecret nor
	// PrivateKeyJWT is set); under another method it only binds the
	// tokens issued to the certificate, for providers that do so (RFC
	// 8705 §3: the Transport must then present it too, see
	// [oauthrt.Transport.ClientCertificate]). nil: no certificate is
	// presented, unless HTTPClient's transport presents one of its own.
	//
	// The Refresher builds a client for it, once for each certificate
	// and HTTPClient, with the default client's retries when HTTPClient
	// is nil, and leaves HTTPClient as it is. The transport under it,
	// http.DefaultTransport or HTTPClient's, must be an [*http.Transport]
	// (or nil, for http.DefaultTransport): it is cloned with the
	// certificate added, in place of any client certificate of its own.
	// A transport of another kind (a wrapper for tracing, say) makes
	// Refresh fail before anything is sent: configure the certificate in
	// the *http.Transport under it instead, leave ClientCertificate nil,
	// and name the method in AuthMethod. Keep one *tls.Certificate for
	// each certificate: each new pointer builds a new client, with new
	// connections (dropped once the certificate is no longer held).
	ClientCertificate *tls.Certificate

	// AuthStyle says how the client authenticates with its ClientSecret
	// when AuthMethod is the zero value:
	// [oauth2.AuthStyleInHeader] is HTTP Basic (client_secret_basic),
	// [oauth2.AuthStyleInParams] is client_id and client_secret in the
	// form (client_secret_post). The zero value,
	// [oauth2.AuthStyleAutoDetect], tries the header first and the form
	// once if the endpoint blames the client: invalid_client or
	// unauthorized_client, or a 401 with no error code. It never tries
	// again after another error code, invalid_grant above all, whatever
	// the status, so that a dead refresh token is presented only once.
	// The style that worked is kept, for the TokenURL and ClientID, for
	// later requests of every Refresher of this process.
	AuthStyle oauth2.AuthStyle

	// Scopes, when not empty, are sent space-separated as the scope
	// parameter, to ask for a narrower token. Nil sends none: the new
	// token then has the scope granted at first (RFC 6749 §6).
	Scopes []string

	// HTTPClient sends the requests. Nil means a client shared by the
	// module that sends a request again only when the endpoint never got
	// it (the connection failed before the request was written), and
	// returns 429 and 5xx answers and lost answers at once, as errors
	// wrapping an [*oauthrt.TransientError]: the Transport backs the key
	// off, for the whole fleet, and retries a lost answer within
	// RotationGraceWindow. A client of your own that retries written
	// requests presents a refresh token again behind the Transport's
	// back. Redirects are never followed: the Refresher sets
	// CheckRedirect on its copy of the client, and refuses an answer that
	// comes from another host. A client whose Transport wraps another
	// client (go-retryablehttp's StandardClient) must have that inner
	// client refuse redirects too, or a 307 could re-post the credentials
	// before the answer is refused. With private_key_jwt, the default
	// client's retries each carry a new assertion; a client of your own
	// that retries resends the same one, which a provider that remembers
	// jti values refuses. With a ClientCertificate, the Refresher sends
	// with a copy of this client, or of the default one, that presents it
	// (see ClientCertificate).
	HTTPClient *http.Client

	// RotationGraceWindow is how long the provider keeps accepting a
	// refresh token after it was presented and rotated: the window in
	// which the Transport presents it again when the answer to a refresh
	// was lost (see [oauthrt.RotationGracer]). Zero means
	// [oauthrt.DefaultRotationGrace]; a negative value means the provider
	// keeps none, and a lost answer is not retried within the refresh.
	// Set it from what the provider documents, never longer.
	RotationGraceWindow time.Duration

	// AllowInsecureHTTP lets the token URL be plain http:// to a host that
	// is not a loopback address. false (the zero value): such a TokenURL
	// makes Refresh fail with oauthrt.ErrInsecureURL before anything,
	// credentials included, is sent. http:// to 127.0.0.0/8, ::1 or
	// localhost is always allowed, for tests and local development.
	AllowInsecureHTTP bool

	// Dialect says how the provider reports a dead grant or a rejected
	// client beyond RFC 6749. The zero value is RFC 6749's.
	Dialect Dialect
	// KeepFields names members of a token's extra fields (see
	// oauth2.Token.Extra) that a refreshed token keeps from the token it
	// replaces when the answer does not carry them again, such as
	// Salesforce's instance_url or QuickBooks' realmId, which the API
	// calls need. The granted scope is always kept (RFC 6749 §5.1). Nil
	// keeps only the scope.
	KeepFields []string
	// DefaultLifetime is the lifetime of an access token whose answer has
	// no expires_in. Zero gives such a token no Expiry: it is refreshed
	// when the API rejects it.
	DefaultLifetime time.Duration
	// DPoP, when not nil, sender-constrains the grants' tokens with DPoP
	// (RFC 9449): Exchange gives each new grant a key of its own (see
	// ExchangeBound to choose it), kept with the token in its extra
	// fields (see dpop.Bind) so that the store keeps it and every process
	// of a fleet signs with it; a refresh of a token saved without one
	// gives it one. Every request to the token endpoint then carries a
	// proof, and a use_dpop_nonce answer is retried once with the
	// server's nonce. The oauthrt.Transport sends a token whose type is
	// DPoP with a proof of its own on every request. nil: no new grant
	// gets a key; a token that carries one is still refreshed with DPoP,
	// since its refresh token may be bound to the key.
	DPoP *DPoP

	// RevocationURL is the provider's RFC 7009 revocation endpoint, which
	// Revoke posts to. "" means the provider has none: Revoke fails with
	// oauthrt.ErrRevokeUnsupported.
	RevocationURL string
}

// detectedStyles holds the style AutoDetect found to work, for each
// token endpoint and client ID, as golang.org/x/oauth2 does: the answer
// is the server's, so copies of a Refresher, and the Refreshers entra
// builds for each call, share it. It lives outside the struct so that a
// Refresher holds nothing that changes after first use: its value
// methods (Format, LogValue, MarshalJSON) copy it, and a copy must
// neither race with a refresh nor hold an atomic, which go vet's
// copylocks check refuses to see copied. It holds one entry per
// endpoint and client a process talks to.
var detectedStyles sync.Map // styleKey → oauth2.AuthStyle

type styleKey struct{ tokenURL, clientID string }

// detected returns the style AutoDetect found to work for r's endpoint
// and client; 0 until then.
func (r *Refresher) detected() oauth2.AuthStyle {
	v, _ := detectedStyles.Load(styleKey{r.TokenURL, r.ClientID})
	s, _ := v.(oauth2.AuthStyle)
	return s
}

// detect remembers that style worked for r's endpoint and client.
func (r *Refresher) detect(style oauth2.AuthStyle) {
	detectedStyles.Store(styleKey{r.TokenURL, r.ClientID}, style)
}

// AuthMethod is how a client authenticates at the token endpoint, named
// as in RFC 7591 §2 (token_endpoint_auth_method). The zero value derives
// it from the Refresher's other fields: see [Refresher.AuthMethod].
type AuthMethod string

// The client authentication methods a [Refresher] supports.
const (
	// AuthClientSecretBasic sends ClientID and ClientSecret with HTTP
	// Basic authentication (RFC 6749 §2.3.1).
	AuthClientSecretBasic AuthMethod = "client_secret_basic"
	// AuthClientSecretPost sends ClientID and ClientSecret in the form.
	AuthClientSecretPost AuthMethod = "client_secret_post"
	// AuthPrivateKeyJWT sends ClientID and a JWT signed with
	// PrivateKeyJWT's key (RFC 7523 §2.2).
	AuthPrivateKeyJWT AuthMethod = "private_key_jwt"
	// AuthNone is a public client's: ClientID (if any) goes in the form,
	// with no credential, even if ClientSecret is set.
	AuthNone AuthMethod = "none"
	// AuthTLSClientAuth authenticates the client by the certificate it
	// presents in the TLS handshake, checked by the provider against a
	// trusted CA and the subject registered for the client (RFC 8705
	// §2.1): ClientID goes in the form, with no secret. It needs
	// ClientID, and a certificate: ClientCertificate, or one that
	// HTTPClient's transport presents, configured in its
	// TLSClientConfig when it is an *http.Transport (a transport of
	// another kind, which the Refresher cannot look into, is taken to
	// present one).
	AuthTLSClientAuth AuthMethod = "tls_client_auth"
	// AuthSelfSignedTLSClientAuth is AuthTLSClientAuth with a
	// self-signed certificate, which the provider matches against the
	// one registered for the client (RFC 8705 §2.2). The requests are
	// the same; the provider's registration tells them apart.
	AuthSelfSignedTLSClientAuth AuthMethod = "self_signed_tls_client_auth"
)

var (
	_ oauthrt.Refresher      = (*Refresher)(nil)
	_ oauthrt.RotationGracer = (*Refresher)(nil)
	_ oauthrt.Revoker        = (*Refresher)(nil)
)

// FromConfig returns a Refresher for c's token endpoint, with c's client
// ID, secret and auth style.
//
// It does not copy c.Scopes. A refresh without a scope parameter gets the
// scope granted at first (RFC 6749 §6), while asking again for scopes that
// were requested but not granted fails with invalid_scope. Set Scopes on
// the result to ask for a narrower token.
func FromConfig(c *oauth2.Config) *Refresher {
	return &Refresher{
		TokenURL:     c.Endpoint.TokenURL,
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		AuthStyle:    c.Endpoint.AuthStyle,
	}
}

// Refresh exchanges tok's refresh token for a new token. It returns a new
// token and leaves tok alone; when the answer has no refresh token, the
// new token keeps tok's. It keeps tok's scope and the members KeepFields
// names too, when the answer does not carry them again, and records
// TokenURL in the new token (see [TokenURLOf]). An answer without
// expires_in gives the new token an Expiry DefaultLifetime from now,
// when DefaultLifetime is set. Claims that ctx carries (see
// [oauthrt.ClaimsChallenge]: the Transport sets them after a claims
// challenge) go in the form as the claims parameter.
//
// A nil tok, or one without a refresh token, gives an error wrapping
// [oauthrt.ErrReauthRequired] without calling the endpoint; so does an
// answer invalid_grant, or 401 unless it says invalid_client or
// unauthorized_client (the client's credential is wrong: fixing it
// revives every grant), and one with a code of Dialect's DeadCodes.
// Other error answers wrap an
// [*oauth2.RetrieveError]. A failure that may pass (a 429 or 5xx answer,
// temporarily_unavailable, a network error, a lost answer) wraps an
// [*oauthrt.TransientError] too, and is returned at once: Refresh never
// waits out a Retry-After.
func (r *Refresher) Refresh(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if tok == nil || tok.RefreshToken == "" {
		return nil, fmt.Errorf("generic: no refresh token: %w", oauthrt.ErrReauthRequired)
	}
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {tok.RefreshToken},
	}
	if len(r.Scopes) > 0 {
		form.Set("scope", strings.Join(r.Scopes, " "))
	}
	setClaims(ctx, form)
	key, err := r.grantKey(tok)
	if err != nil {
		return nil, err
	}
	next, err := r.request(ctx, call{url: r.TokenURL, form: form, secrets: []string{tok.RefreshToken, r.ClientSecret, tok.AccessToken}, key: key})
	if err != nil {
		return nil, fmt.Errorf("generic: refresh: %w", err)
	}
	next = endpoint.KeepRefreshToken(next, tok.RefreshToken)
	next = endpoint.KeepExtra(next, tok, append([]string{"scope"}, r.KeepFields...))
	if next, err = bind(next, key); err != nil {
		return nil, err
	}
	return r.finish(next), nil
}

// setClaims adds the claims that ctx carries (see
// [oauthrt.ClaimsChallenge]) to form as its claims parameter (OpenID
// Connect Core 1.0 §5.5), when it carries some.
func setClaims(ctx context.Context, form url.Values) {
	if claims := oauthrt.ClaimsChallenge(ctx); claims != "" {
		form.Set("claims", claims)
	}
}

// finish gives tok, a new token from the token endpoint, its
// DefaultLifetime when the answer had no expires_in, and records TokenURL
// in it.
func (r *Refresher) finish(tok *oauth2.Token) *oauth2.Token {
	if tok.Expiry.IsZero() && r.DefaultLifetime > 0 {
		cp := *tok
		cp.Expiry = time.Now().Add(r.DefaultLifetime)
		cp.ExpiresIn = int64(r.DefaultLifetime / time.Second)
		tok = &cp
	}
	return WithTokenURL(tok, r.TokenURL)
}

// RotationGrace returns RotationGraceWindow resolved:
// [oauthrt.DefaultRotationGrace] when it is zero, and 0 when it is
// negative (the provider keeps no window).
func (r *Refresher) RotationGrace() time.Duration {
	return endpoint.RotationGrace(r.RotationGraceWindow)
}

// Exchange gets the first token of a grant: it redeems the authorization
// code that the provider passed to redirectURL (RFC 6749 §4.1.3), with
// the client authenticated as for Refresh, and Scopes sent as scope when
// set (Microsoft Entra ID wants them). redirectURL must be the one the
// authorization request carried; "" sends none. verifier is the PKCE code
// verifier (RFC 7636) when the authorization request carried a challenge
// (oauth2.S256ChallengeOption), else "". Save the token in the store
// under its key, and the Transport takes it from there. The token records
// TokenURL (see [TokenURLOf]), and gets an Expiry DefaultLifetime from
// now when the answer has no expires_in, as Refresh's do. Claims that ctx
// carries (see [oauthrt.WithClaimsChallenge]) are sent as the claims
// parameter, as Refresh sends them.
//
// An empty code is an error, sent nowhere. A code the endpoint refuses
// (invalid_grant: used, expired, or for another redirect URL) gives an
// error wrapping [oauthrt.ErrReauthRequired]: the user must authorize
// again.
func (r *Refresher) Exchange(ctx context.Context, code, redirectURL, verifier string) (*oauth2.Token, error) {
	if r.DPoP != nil {
		return r.ExchangeBound(ctx, code, redirectURL, verifier, nil)
	}
	return r.exchange(ctx, code, redirectURL, verifier, nil)
}

// exchange redeems code, with a DPoP proof signed by key unless it is nil.
func (r *Refresher) exchange(ctx context.Context, code, redirectURL, verifier string, key crypto.Signer) (*oauth2.Token, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if code == "" {
		return nil, errors.New("generic: Exchange: empty authorization code")
	}
	form := url.Values{
		"grant_type": {"authorization_code"},
		"code":       {code},
	}
	if redirectURL != "" {
		form.Set("redirect_uri", redirectURL)
	}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	if len(r.Scopes) > 0 {
		form.Set("scope", strings.Join(r.Scopes, " "))
	}
	setClaims(ctx, form)
	tok, err := r.request(ctx, call{url: r.TokenURL, form: form, secrets: []string{code, verifier, r.ClientSecret}, key: key})
	if err != nil {
		return nil, fmt.Errorf("generic: exchange: %w", err)
	}
	if tok, err = bind(tok, key); err != nil {
		return nil, err
	}
	return r.finish(tok), nil
}

// check reports a Refresher that cannot make a token request, before
// anything is sent.
func (r *Refresher) check() error {
	if r.TokenURL == "" {
		return errors.New("generic: Refresher.TokenURL is empty")
	}
	return r.checkClient()
}

// checkClient reports a Refresher whose client authentication cannot be
// made, before anything is sent.
func (r *Refresher) checkClient() error {
	method, err := r.method()
	if err != nil {
		return err
	}
	if err := r.checkCertTransport(); err != nil {
		return err
	}
	switch method {
	case AuthPrivateKeyJWT:
		if r.ClientID == "" {
			return errors.New("generic: private_key_jwt needs a client ID (Refresher.ClientID): it is the assertion's issuer and subject")
		}
		_, err = r.PrivateKeyJWT.algorithm()
		return err
	case AuthTLSClientAuth, AuthSelfSignedTLSClientAuth:
		if r.ClientID == "" {
			// RFC 8705 §2: the certificate authenticates a client the
			// request names.
			return fmt.Errorf("generic: %s needs a client ID (Refresher.ClientID): the provider checks the certificate against that client's registration", method)
		}
	}
	return nil
}

// A call is a request of the Refresher's: to the token endpoint, or to
// the revocation endpoint.
type call struct {
	url     string
	form    url.Values
	secrets []string // redacted from errors
	revoke  bool     // url is the revocation endpoint
	// key is the grant's DPoP key, which signs a proof for each attempt;
	// nil sends none.
	key crypto.Signer
}

// request posts c's form with the client authenticated by its method;
// under AutoDetect, trying Basic first and the form once if the endpoint
// blames the client (endpoint.ClientRejected), and remembering what
// worked at the token endpoint. A revocation endpoint's answer is not
// remembered: an endpoint that takes either style must not make the
// token endpoint's requests use one it refuses. The Refresher has passed
// checkClient.
func (r *Refresher) request(ctx context.Context, c call) (*oauth2.Token, error) {
	method, err := r.method()
	if err != nil {
		return nil, err
	}
	if method != "" {
		return r.post(ctx, c, method)
	}
	// AutoDetect, with nothing detected yet.
	tok, err := r.post(ctx, c, AuthClientSecretBasic)
	if err == nil {
		if !c.revoke {
			r.detect(oauth2.AuthStyleInHeader)
		}
		return tok, nil
	}
	if !endpoint.ClientRejected(err) {
		return nil, err
	}
	tok, err = r.post(ctx, c, AuthClientSecretPost)
	if err == nil && !c.revoke {
		r.detect(oauth2.AuthStyleInParams)
	}
	return tok, err
}

// method returns the client authentication method to use, or "" for
// AuthStyleAutoDetect that has detected nothing yet.
func (r *Refresher) method() (AuthMethod, error) {
	switch m := r.AuthMethod; m {
	case AuthNone:
		return m, nil
	case AuthPrivateKeyJWT:
		if r.PrivateKeyJWT == nil {
			return "", errors.New("generic: Refresher.AuthMethod is private_key_jwt but Refresher.PrivateKeyJWT is nil")
		}
		return m, nil
	case AuthClientSecretBasic, AuthClientSecretPost:
		if r.ClientSecret == "" {
			return "", fmt.Errorf("generic: Refresher.AuthMethod is %s but Refresher.ClientSecret is empty", m)
		}
		return m, nil
	case AuthTLSClientAuth, AuthSelfSignedTLSClientAuth:
		if !r.presentsCertificate() {
			return "", fmt.Errorf("generic: Refresher.AuthMethod is %s but there is no client certificate: set Refresher.ClientCertificate, or give Refresher.HTTPClient a transport that presents one", m)
		}
		return m, nil
	case "":
	default:
		return "", fmt.Errorf("generic: unknown Refresher.AuthMethod %q", m)
	}
	switch {
	case r.PrivateKeyJWT != nil:
		return AuthPrivateKeyJWT, nil
	case r.ClientSecret == "" && r.ClientCertificate != nil:
		return AuthTLSClientAuth, nil
	case r.ClientSecret == "":
		return AuthNone, nil
	}
	style := r.AuthStyle
	if style == oauth2.AuthStyleAutoDetect {
		style = r.detected()
	}
	switch style {
	case oauth2.AuthStyleInHeader:
		return AuthClientSecretBasic, nil
	case oauth2.AuthStyleInParams:
		return AuthClientSecretPost, nil
	}
	return "", nil
}

// post sends c, authenticating the client with method, with a DPoP
// proof when c has a key; a token endpoint that asks for a DPoP nonce
// (use_dpop_nonce, with the nonce in its answer) gets the request once
// more, with a new proof carrying it (RFC 9449 §8). A revocation returns
// no token, and a nil error when it succeeded.
func (r *Refresher) post(ctx context.Context, c call, method AuthMethod) (*oauth2.Token, error) {
	var prover *dpop.Prover
	if c.key != nil {
		var err error
		if prover, err = dpop.NewProver(c.key); err != nil {
			return nil, fmt.Errorf("generic: the grant's DPoP key: %w", err)
		}
	}
	tok, err := r.postOnce(ctx, c, method, prover)
	if prover != nil && nonceAsked(err) {
		tok, err = r.postOnce(ctx, c, method, prover)
	}
	return tok, err
}

// postOnce sends c once, as post does, retried only by the HTTP client.
func (r *Refresher) postOnce(ctx context.Context, c call, method AuthMethod, prover *dpop.Prover) (*oauth2.Token, error) {
	send, err := r.sender()
	if err != nil {
		return nil, err
	}
	// The sender's clients hold the certificate weakly.
	defer runtime.KeepAlive(r.ClientCertificate)
	req := endpoint.Request{
		URL:               c.url,
		Form:              make(url.Values, len(c.form)+3),
		Secrets:           c.secrets,
		AllowInsecureHTTP: r.AllowInsecureHTTP,
		Dialect:           endpoint.Dialect(r.Dialect),
	}
	for k, v := range c.form {
		req.Form[k] = v
	}
	switch method {
	case AuthNone:
		if r.ClientID != "" {
			req.Form.Set("client_id", r.ClientID)
		}
	case AuthTLSClientAuth, AuthSelfSignedTLSClientAuth:
		// RFC 8705 §2: client_id in the form, the certificate in the
		// handshake, and no secret.
		req.Form.Set("client_id", r.ClientID)
	case AuthClientSecretBasic:
		// RFC 6749 §2.3.1: form-encode both before joining them.
		cred := url.QueryEscape(r.ClientID) + ":" + url.QueryEscape(r.ClientSecret)
		req.Header = http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(cred))}}
	case AuthClientSecretPost:
		req.Form.Set("client_id", r.ClientID)
		req.Form.Set("client_secret", r.ClientSecret)
	}
	var target *url.URL
	if prover != nil {
		if target, err = url.Parse(c.url); err != nil {
			return nil, fmt.Errorf("generic: the token endpoint's URL: %w", err)
		}
		req.Answered = func(h http.Header) { tokenNonces.Update(target, h) }
	}
	if method != AuthPrivateKeyJWT && prover == nil {
		if c.revoke {
			return nil, send.revoke(ctx, req)
		}
		return send.do(ctx, req)
	}
	// A new assertion and a new DPoP proof for each attempt: a provider
	// may refuse a jti it has seen, even on a request it failed to
	// answer. The assertion's audience is the endpoint it goes to; the
	// proof carries the endpoint's newest nonce.
	build := func() (endpoint.Request, error) {
		attempt := req
		attempt.Form = make(url.Values, len(req.Form)+3)
		for k, v := range req.Form {
			attempt.Form[k] = v
		}
		attempt.Header = req.Header.Clone()
		if method == AuthPrivateKeyJWT {
			assertion, err := r.PrivateKeyJWT.Assertion(r.ClientID, c.url)
			if err != nil {
				return endpoint.Request{}, err
			}
			attempt.Form.Set("client_id", r.ClientID)
			attempt.Form.Set("client_assertion_type", ClientAssertionType)
			attempt.Form.Set("client_assertion", assertion)
			attempt.Secrets = append(slices.Clip(attempt.Secrets), assertion)
		}
		if prover != nil {
			proof, err := prover.Proof(http.MethodPost, target, "", tokenNonces.Get(target))
			if err != nil {
				return endpoint.Request{}, fmt.Errorf("generic: %w", err)
			}
			if attempt.Header == nil {
				attempt.Header = make(http.Header, 1)
			}
			attempt.Header.Set("DPoP", proof)
		}
		return attempt, nil
	}
	if c.revoke {
		return nil, send.revokeFresh(ctx, build)
	}
	return send.doFresh(ctx, build)
}

// String describes r without its secret, nor its client certificate's
// private key: whether it has a ClientCertificate, and its client
// authentication method.
func (r Refresher) String() string {
	auth := "AuthStyle: " + styleName(r.AuthStyle)
	if m, err := r.method(); err == nil && m != "" && (r.AuthMethod != "" || m == AuthPrivateKeyJWT || m == AuthTLSClientAuth) {
		auth = "AuthMethod: " + string(m)
	}
	if r.ClientCertificate != nil {
		auth += ", ClientCertificate: set"
	}
	return fmt.Sprintf("generic.Refresher{TokenURL: %q, ClientID: %q, ClientSecret: %s, %s}",
		endpoint.RedactedURL(r.TokenURL), r.ClientID, endpoint.Masked(r.ClientSecret), auth)
}

func styleName(s oauth2.AuthStyle) string {
	switch s {
	case oauth2.AuthStyleAutoDetect:
		return "AutoDetect"
	case oauth2.AuthStyleInHeader:
		return "InHeader"
	case oauth2.AuthStyleInParams:
		return "InParams"
	}
	return fmt.Sprintf("AuthStyle(%d)", int(s))
}
