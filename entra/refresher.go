package entra

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"github.com/oauthrt/oauthrt/internal/endpoint"
	"golang.org/x/oauth2"
)

const (
	// AzureDevOpsScope asks for a token for Azure DevOps with every
	// permission the app registration holds for it: the .default scope of
	// Azure DevOps' resource ID.
	AzureDevOpsScope = "499b84ac-1321-427f-aa17-267ca6975798/.default"

	// DefaultAuthority is the Microsoft Entra ID login host of Azure's
	// global cloud.
	DefaultAuthority = "https://login.microsoftonline.com"
)

// defaultScopes are the scopes of a Refresher whose Scopes is empty.
var defaultScopes = []string{AzureDevOpsScope, "offline_access"}

// A Refresher refreshes Microsoft Entra ID (v2.0 endpoint) tokens with
// the refresh_token grant: by default tokens for Azure DevOps, in place
// of the vsts package's Azure DevOps OAuth. Set its fields before first
// use and do not change them afterwards; it is then safe for concurrent
// use.
//
// The app authenticates with a client secret, or with a certificate
// (private_key_jwt, with the certificate's thumbprints in the assertion's
// x5t and x5t#S256 headers, signed PS256 with an RSA key as Microsoft now
// documents), or, as a public client (a desktop or mobile
// app registration), with neither. Setting both, or half a certificate
// credential, makes Refresh fail before anything is sent.
type Refresher struct {
	// Tenant is the directory the users sign in to: its tenant ID (a
	// GUID) or one of its domains, or "organizations" (any work or school
	// account) or "common" (those and personal Microsoft accounts), as in
	// the authorization request that got the first token. Required unless
	// TokenURL is set; "" is then ignored.
	Tenant string

	// ClientID is the app registration's Application (client) ID.
	// Required.
	ClientID string

	// ClientSecret is one of the app's client secrets (its value, not its
	// ID), sent in the form (client_secret_post). "" means the app uses
	// its certificate, or is a public client when PrivateKey and
	// Certificate are nil too.
	ClientSecret string

	// PrivateKey and Certificate are a certificate credential: the key
	// signs a client assertion for each request, and the certificate,
	// whose public key must be PrivateKey's and which must be uploaded to
	// the app registration, names it by its thumbprints. Set both or
	// neither; nil means the app uses its ClientSecret, or is a public
	// client. [ParseCertificate] reads both from a PEM file. Microsoft
	// documents RSA keys for certificate credentials: an ECDSA key signs
	// assertions here too, but Entra may refuse them.
	PrivateKey crypto.Signer
	// Certificate: see PrivateKey.
	Certificate *x509.Certificate

	// Scopes are sent space-separated as the scope parameter. Empty means
	// AzureDevOpsScope and "offline_access". Keep "offline_access" in
	// any other list, or Entra may stop handing out refresh tokens.
	Scopes []string

	// Authority is the login host, with its scheme: "" means
	// DefaultAuthority. Sovereign clouds have their own, such as
	// https://login.microsoftonline.us (Azure Government) or
	// https://login.chinacloudapi.cn (Azure operated by 21Vianet).
	Authority string

	// TokenURL, when not empty, is the token endpoint, in place of the one
	// Authority and Tenant make; for tests and proxies. "" means
	// Authority + "/" + Tenant + "/oauth2/v2.0/token".
	TokenURL string

	// HTTPClient sends the token requests. Nil means a client shared by
	// the module that sends a request again only when Entra never got it
	// (the connection failed before the request was written), and returns
	// 429 and 5xx answers and lost answers at once, as errors wrapping an
	// [*oauthrt.TransientError]; see the generic package's Refresher for
	// what a client of your own must do about redirects and retries.
	HTTPClient *http.Client

	// RotationGraceWindow is how long a refresh token stays usable after
	// it was presented and rotated: the window in which the Transport
	// presents it again when the answer to a refresh was lost (see
	// [oauthrt.RotationGracer]). Zero means [oauthrt.DefaultRotationGrace];
	// a negative value means none, and a lost answer is not retried
	// within the refresh.
	//
	// Microsoft documents that the identity platform does not revoke a
	// refresh token when it is used to get new tokens: the old one stays
	// valid until it expires or is revoked for another reason
	// (https://learn.microsoft.com/entra/identity-platform/refresh-tokens,
	// "Token lifetime", read 2026-11-30): a refresh token presented again
	// after a lost answer is accepted, inside the window or after it, as
	// long as it is otherwise valid.
	RotationGraceWindow time.Duration

	// AllowInsecureHTTP lets the token endpoint be plain http:// to a host
	// that is not a loopback address. false (the zero value): such a
	// token URL makes Refresh fail with oauthrt.ErrInsecureURL before
	// anything is sent. http:// to a loopback address is always allowed.
	AllowInsecureHTTP bool

	// ClientCapabilities are the client capabilities the app declares to
	// Entra with every token request, such as "cp1", which says that it
	// handles claims challenges: Entra then issues CAE tokens (Continuous
	// Access Evaluation), which live up to 28 hours, and APIs such as
	// Microsoft Graph revoke them before they expire with a 401 claims
	// challenge, which the Transport answers with one refresh carrying the
	// challenge's claims. Declare "cp1" only with the Transport, or code
	// that handles claims challenges as it does. Each token request
	// carries the claims parameter
	// {"access_token":{"xms_cc":{"values":[...]}}}, merged into the claims
	// of a challenge when there is one (the challenge's own members win).
	// Nil declares none, and sends a challenge's claims as they are.
	//
	// Microsoft documents the capability and the claims that declare it
	// at https://learn.microsoft.com/entra/identity-platform/claims-challenge
	// ("Client capabilities", read 2026-11-30), and CAE's long-lived
	// tokens at
	// https://learn.microsoft.com/entra/identity-platform/app-resilience-continuous-access-evaluation
	// (read 2026-11-30).
	ClientCapabilities []string
}

var (
	_ oauthrt.Refresher         = (*Refresher)(nil)
	_ oauthrt.RequestPreparer   = (*Refresher)(nil)
	_ oauthrt.RejectionDetector = (*Refresher)(nil)
	_ oauthrt.RotationGracer    = (*Refresher)(nil)
)

// TokenEndpoint returns the token URL that Refresh posts to: TokenURL if
// set, else the v2.0 token endpoint of Tenant at Authority, or "" when
// Tenant is empty too.
func (r *Refresher) TokenEndpoint() string {
	if r.TokenURL != "" {
		return r.TokenURL
	}
	if r.Tenant == "" {
		return ""
	}
	authority := r.Authority
	if authority == "" {
		authority = DefaultAuthority
	}
	return strings.TrimRight(authority, "/") + "/" + url.PathEscape(r.Tenant) + "/oauth2/v2.0/token"
}

// Refresh exchanges tok's refresh token for a new token. It returns a new
// token and leaves tok alone. Entra hands out a new refresh token with
// every refresh, which the new token carries; when an answer has none,
// the new token keeps tok's.
//
// A nil tok, or one without a refresh token, gives an error wrapping
// [oauthrt.ErrReauthRequired] without calling the endpoint. So does an
// answer that only a person can get past: invalid_grant (an expired or
// revoked grant), interaction_required (multifactor authentication or a
// Conditional Access policy), consent_required or login_required. An
// answer that blames the app (invalid_client, unauthorized_client, such
// as an expired client secret) does not, even with status 401: fixing
// the app revives every grant. A failure that may pass (a 429 or 5xx
// answer, temporarily_unavailable whatever its status, a network error, a
// lost answer) wraps an [*oauthrt.TransientError], with the Retry-After
// Entra asked for, and is returned at once: waiting is the Transport's
// backoff. Error answers wrap an [*oauth2.RetrieveError].
//
// The claims of a claims challenge that ctx carries (see
// [oauthrt.ClaimsChallenge]) are sent as the claims parameter, with
// ClientCapabilities merged in; claims that are not a JSON object make
// Refresh fail before anything is sent.
func (r *Refresher) Refresh(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
	g, err := r.generic()
	if err != nil {
		return nil, err
	}
	if tok == nil || tok.RefreshToken == "" {
		return nil, fmt.Errorf("entra: no refresh token: %w", oauthrt.ErrReauthRequired)
	}
	if ctx, err = r.claims(ctx); err != nil {
		return nil, err
	}
	next, err := g.Refresh(ctx, tok)
	if err != nil {
		return nil, classify("refresh", err)
	}
	return next, nil
}

// RotationGrace returns RotationGraceWindow resolved:
// [oauthrt.DefaultRotationGrace] when it is zero, and 0 when it is
// negative.
func (r *Refresher) RotationGrace() time.Duration {
	return endpoint.RotationGrace(r.RotationGraceWindow)
}

// AuthCodeURL returns the URL of Entra's v2.0 authorization endpoint (of
// Tenant at Authority) to send a user to, so that they authorize the app
// for Scopes: AzureDevOpsScope and offline_access by default. Entra sends
// the user back to redirectURL, which the app registration must list,
// with state and a code for Exchange. opts add parameters:
// oauth2.S256ChallengeOption(verifier) for PKCE, which Microsoft
// recommends, or oauth2.SetAuthURLParam("prompt", "select_account"). With
// TokenURL set, the authorization URL is TokenURL with its last path
// element, token, replaced by authorize.
func (r *Refresher) AuthCodeURL(state, redirectURL string, opts ...oauth2.AuthCodeOption) string {
	authURL := r.TokenEndpoint()
	if base, ok := strings.CutSuffix(authURL, "/token"); ok {
		authURL = base + "/authorize"
	}
	scopes := r.Scopes
	if len(scopes) == 0 {
		scopes = defaultScopes
	}
	conf := &oauth2.Config{ClientID: r.ClientID, RedirectURL: redirectURL, Scopes: scopes, Endpoint: oauth2.Endpoint{AuthURL: authURL}}
	return conf.AuthCodeURL(state, opts...)
}

// Exchange gets the first token of a grant: it redeems the code that
// Entra passed to redirectURL after AuthCodeURL, authenticating the app
// as Refresh does (a certificate included, which golang.org/x/oauth2
// cannot). verifier is the PKCE code verifier when the authorization URL
// carried its challenge, else "". Save the token in the store under the
// key the Transport will use. Errors are Refresh's, and a code Entra
// refuses (used, expired, or for another redirect URL) wraps
// [oauthrt.ErrReauthRequired]: the user must authorize again. Like
// Refresh's, its request declares ClientCapabilities.
func (r *Refresher) Exchange(ctx context.Context, code, redirectURL, verifier string) (*oauth2.Token, error) {
	g, err := r.generic()
	if err != nil {
		return nil, err
	}
	if ctx, err = r.claims(ctx); err != nil {
		return nil, err
	}
	tok, err := g.Exchange(ctx, code, redirectURL, verifier)
	if err != nil {
		return nil, classify("exchange", err)
	}
	return tok, nil
}

// generic returns the generic Refresher that does the requests, or the
// reason r cannot make one.
func (r *Refresher) generic() (*generic.Refresher, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	g := &generic.Refresher{
		TokenURL:          r.TokenEndpoint(),
		ClientID:          r.ClientID,
		Scopes:            r.Scopes,
		HTTPClient:        r.HTTPClient,
		AllowInsecureHTTP: r.AllowInsecureHTTP,
		AuthMethod:        generic.AuthNone,
	}
	if len(g.Scopes) == 0 {
		g.Scopes = defaultScopes
	}
	switch {
	case r.ClientSecret != "":
		g.ClientSecret = r.ClientSecret
		g.AuthMethod = generic.AuthClientSecretPost
	case r.PrivateKey != nil:
		g.PrivateKeyJWT = &generic.PrivateKeyJWT{Key: r.PrivateKey, Certificate: r.Certificate}
		if _, isRSA := r.PrivateKey.Public().(*rsa.PublicKey); isRSA {
			g.PrivateKeyJWT.Algorithm = "PS256" // what Microsoft documents now; RS256 with x5t was its older form
		}
		g.AuthMethod = generic.AuthPrivateKeyJWT
	}
	return g, nil
}

// claims returns ctx carrying the claims a token request sends: those
// of the claims challenge that ctx carries, if any, with the client
// capabilities merged in (see ClientCapabilities). Without capabilities
// ctx is returned as it is.
func (r *Refresher) claims(ctx context.Context) (context.Context, error) {
	if len(r.ClientCapabilities) == 0 {
		return ctx, nil
	}
	merged, err := withCapabilities(oauthrt.ClaimsChallenge(ctx), r.ClientCapabilities)
	if err != nil {
		return nil, err
	}
	return oauthrt.WithClaimsChallenge(ctx, merged), nil
}

// withCapabilities returns the claims request challenge (JSON; "" for
// none) with the client capabilities caps declared in it, as Microsoft
// documents: {"access_token":{"xms_cc":{"values":caps}}}, merged into
// the challenge's access_token member. The challenge's members win: an
// access_token that already has an xms_cc, or that is not an object,
// is left as it is.
func withCapabilities(challenge string, caps []string) (string, error) {
	top := map[string]json.RawMessage{}
	if challenge != "" {
		if err := json.Unmarshal([]byte(challenge), &top); err != nil || top == nil {
			return "", errors.New("entra: the claims challenge to send is not a JSON object")
		}
	}
	cc, err := marshal(map[string][]string{"values": caps})
	if err != nil {
		return "", fmt.Errorf("entra: encoding ClientCapabilities: %w", err)
	}
	var at map[string]json.RawMessage
	if raw, ok := top["access_token"]; ok {
		if json.Unmarshal(raw, &at) != nil {
			return challenge, nil // not an object: the challenge's own wins
		}
	}
	if _, ok := at["xms_cc"]; ok {
		return challenge, nil
	}
	if at == nil {
		at = map[string]json.RawMessage{}
	}
	at["xms_cc"] = cc
	if top["access_token"], err = marshal(at); err != nil {
		return "", fmt.Errorf("entra: merging ClientCapabilities into the claims challenge: %w", err)
	}
	merged, err := marshal(top)
	if err != nil {
		return "", fmt.Errorf("entra: merging ClientCapabilities into the claims challenge: %w", err)
	}
	return string(merged), nil
}

// marshal is json.Marshal without its escaping of <, > and &, so that
// the challenge's strings go to Entra as they came.
func marshal(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// check reports a Refresher that cannot make a token request.
func (r *Refresher) check() error {
	switch {
	case r.ClientID == "":
		return errors.New("entra: Refresher.ClientID is empty; set it to the app registration's Application (client) ID")
	case r.TokenURL == "" && r.Tenant == "":
		return errors.New(`entra: Refresher.Tenant is empty; set it to the tenant ID or domain, "organizations" or "common"`)
	case r.ClientSecret != "" && (r.PrivateKey != nil || r.Certificate != nil):
		return errors.New("entra: Refresher.ClientSecret and a certificate credential are both set; set one of them")
	case r.PrivateKey == nil && r.Certificate != nil:
		return errors.New("entra: Refresher.Certificate is set without Refresher.PrivateKey")
	case r.PrivateKey != nil && r.Certificate == nil:
		return errors.New("entra: Refresher.PrivateKey is set without Refresher.Certificate, whose thumbprint Entra needs")
	}
	return nil // generic.PrivateKeyJWT checks the key and its certificate
}

// classify turns an error of the generic Refresher's op (refresh or
// exchange) into entra's own.
func classify(op string, err error) error {
	inner := err
	// The generic Refresher's "generic: refresh: " would only repeat ours.
	if u := errors.Unwrap(err); u != nil && err.Error() == "generic: "+op+": "+u.Error() {
		inner = u
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && !errors.Is(err, oauthrt.ErrReauthRequired) {
		switch re.ErrorCode {
		case "interaction_required", "consent_required", "login_required":
			// Dead whatever the status: not a failure to back off from.
			if te, ok := inner.(*oauthrt.TransientError); ok {
				inner = te.Err
			}
			return fmt.Errorf("entra: %s: %w: %w", op, oauthrt.ErrReauthRequired, inner)
		}
	}
	return fmt.Errorf("entra: %s: %w", op, inner)
}

// PrepareRequest asks Azure DevOps to answer a rejected token with a 401
// rather than a redirect to its sign-in page, as the vsts package does.
// It touches only requests to dev.azure.com, its subdomains and
// *.visualstudio.com; requests to other APIs (Microsoft Graph, Azure
// Resource Manager, …) are left alone.
func (r *Refresher) PrepareRequest(req *http.Request) {
	if req == nil || !azureDevOps(req.URL) {
		return
	}
	if req.Header == nil {
		req.Header = make(http.Header)
	}
	req.Header.Set("X-TFS-FedAuthRedirect", "Suppress")
}

// TokenRejected reports whether resp is Azure DevOps' sign-in page, which
// it serves with 203 Non-Authoritative Information to a request whose
// token it rejects. Only responses to requests for the hosts
// PrepareRequest touches count. It does not touch the body.
func (r *Refresher) TokenRejected(resp *http.Response) bool {
	return resp != nil && resp.StatusCode == http.StatusNonAuthoritativeInfo &&
		resp.Request != nil && azureDevOps(resp.Request.URL)
}

// azureDevOps reports whether u is on an Azure DevOps Services host.
func azureDevOps(u *url.URL) bool {
	if u == nil {
		return false
	}
	h := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	return h == "dev.azure.com" || strings.HasSuffix(h, ".dev.azure.com") || strings.HasSuffix(h, ".visualstudio.com")
}

// String describes r without its secret or key. A certificate shows as
// its SHA-1 thumbprint, as the Entra admin center lists it.
func (r Refresher) String() string {
	key := "nil"
	if r.PrivateKey != nil {
		key = "[redacted]"
	}
	cert := "nil"
	if r.Certificate != nil {
		sum := sha1.Sum(r.Certificate.Raw)
		cert = fmt.Sprintf("%X", sum[:])
	}
	return fmt.Sprintf("entra.Refresher{TokenURL: %q, ClientID: %q, ClientSecret: %s, PrivateKey: %s, Certificate: %s}",
		endpoint.RedactedURL(r.TokenEndpoint()), r.ClientID, endpoint.Masked(r.ClientSecret), key, cert)
}
