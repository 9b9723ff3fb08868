package vsts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/endpoint"
	"golang.org/x/oauth2"
)

const (
	// TokenURL is Azure DevOps' token endpoint.
	TokenURL = "https://app.vssps.visualstudio.com/oauth2/token"
	// AuthURL is Azure DevOps' authorization endpoint.
	AuthURL = "https://app.vssps.visualstudio.com/oauth2/authorize"
)

const (
	clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	jwtBearerGrant      = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// A Refresher refreshes Azure DevOps tokens. Set its fields before first
// use and do not change them afterwards; it is then safe for concurrent
// use.
type Refresher struct {
	// ClientSecret is the app's client secret, sent as client_assertion.
	// It is required.
	ClientSecret string

	// RedirectURL is the app's registered callback URL, which Azure
	// DevOps wants in every token request. It is required.
	RedirectURL string

	// TokenURL is the token endpoint; "" means [TokenURL].
	TokenURL string

	// HTTPClient sends the token requests. Nil means a client shared by
	// the module that sends a request again only when the endpoint never
	// got it (the connection failed before the request was written), and
	// returns 429 and 5xx answers and lost answers at once, as errors
	// wrapping an [*oauthrt.TransientError]: the Transport backs the key
	// off, for the whole fleet, and retries a lost answer within
	// RotationGraceWindow. Redirects are never followed: the Refresher sets
	// CheckRedirect on its copy of the client, and refuses an answer that
	// comes from another host. A client whose Transport wraps another
	// client (go-retryablehttp's StandardClient) must have that inner
	// client refuse redirects too, or a 307 could re-post the credentials
	// before the answer is refused.
	HTTPClient *http.Client

	// RotationGraceWindow is how long Azure DevOps keeps accepting a
	// refresh token after it was presented and rotated: the window in
	// which the Transport presents it again when the answer to a refresh
	// was lost (see [oauthrt.RotationGracer]). Zero means
	// [oauthrt.DefaultRotationGrace]; a negative value means none, and a
	// lost answer is not retried within the refresh.
	//
	// Azure DevOps' window is unknown: its OAuth documentation says that
	// each refresh issues a new refresh token, to be used the next time,
	// and nothing about whether the one presented stays usable
	// (https://learn.microsoft.com/azure/devops/integrate/get-started/authentication/azure-devops-oauth,
	// "Refresh an expired access token", read 2026-11-30).
	RotationGraceWindow time.Duration

	// AllowInsecureHTTP lets the token URL be plain http:// to a host that
	// is not a loopback address. false (the zero value): such a TokenURL
	// makes Refresh fail with oauthrt.ErrInsecureURL before anything,
	// credentials included, is sent. http:// to 127.0.0.0/8, ::1 or
	// localhost is always allowed, for tests and local development.
	AllowInsecureHTTP bool

	// AppID is the app's ID. Only AuthCodeURL needs it.
	AppID string

	// AuthURL is the authorization endpoint; "" means [AuthURL]. Only
	// AuthCodeURL uses it.
	AuthURL string
}

var (
	_ oauthrt.Refresher         = (*Refresher)(nil)
	_ oauthrt.RequestPreparer   = (*Refresher)(nil)
	_ oauthrt.RejectionDetector = (*Refresher)(nil)
	_ oauthrt.RotationGracer    = (*Refresher)(nil)
)

// Refresh exchanges tok's refresh token for a new token. It returns a new
// token and leaves tok alone; when the answer has no refresh token, the
// new token keeps tok's. The new token's TokenType is "Bearer", the
// scheme Azure DevOps' APIs take, although the token endpoint calls it
// "jwt-bearer" (still in its Extra("token_type")).
//
// A nil tok, or one without a refresh token, gives an error wrapping
// [oauthrt.ErrReauthRequired] without calling the endpoint; so does an
// answer invalid_grant, or 401 unless it says invalid_client or
// unauthorized_client. Other error answers wrap an
// [*oauth2.RetrieveError]. A failure that may pass (a 429 or 5xx answer,
// a network error, a lost answer) wraps an [*oauthrt.TransientError] too,
// and is returned at once.
func (r *Refresher) Refresh(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if tok == nil || tok.RefreshToken == "" {
		return nil, fmt.Errorf("vsts: no refresh token: %w", oauthrt.ErrReauthRequired)
	}
	next, err := r.post(ctx, "refresh_token", tok.RefreshToken, tok.AccessToken)
	if err != nil {
		return nil, fmt.Errorf("vsts: refresh: %w", err)
	}
	return endpoint.KeepRefreshToken(next, tok.RefreshToken), nil
}

// RotationGrace returns RotationGraceWindow resolved:
// [oauthrt.DefaultRotationGrace] when it is zero, and 0 when it is
// negative.
func (r *Refresher) RotationGrace() time.Duration {
	return endpoint.RotationGrace(r.RotationGraceWindow)
}

// Exchange gets the first token for the authorization code that Azure
// DevOps passed to RedirectURL. An empty code is an error, sent nowhere.
func (r *Refresher) Exchange(ctx context.Context, code string) (*oauth2.Token, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if code == "" {
		return nil, errors.New("vsts: Exchange: empty authorization code")
	}
	tok, err := r.post(ctx, jwtBearerGrant, code)
	if err != nil {
		return nil, fmt.Errorf("vsts: exchange: %w", err)
	}
	return tok, nil
}

// check reports a Refresher that cannot make a token request.
func (r *Refresher) check() error {
	switch {
	case r.ClientSecret == "":
		return errors.New("vsts: Refresher.ClientSecret is empty")
	case r.RedirectURL == "":
		return errors.New("vsts: Refresher.RedirectURL is empty; Azure DevOps requires the app's callback URL")
	}
	return nil
}

// post asks for a token with the grant and its assertion. secrets are
// redacted from errors beside the assertion and the client secret.
func (r *Refresher) post(ctx context.Context, grant, assertion string, secrets ...string) (*oauth2.Token, error) {
	tokenURL := r.TokenURL
	if tokenURL == "" {
		tokenURL = TokenURL
	}
	tok, err := endpoint.Do(ctx, r.HTTPClient, endpoint.Request{
		URL: tokenURL,
		Form: url.Values{
			"client_assertion_type": {clientAssertionType},
			"client_assertion":      {r.ClientSecret},
			"grant_type":            {grant},
			"assertion":             {assertion},
			"redirect_uri":          {r.RedirectURL},
		},
		Secrets:           append([]string{assertion, r.ClientSecret}, secrets...),
		AllowInsecureHTTP: r.AllowInsecureHTTP,
	})
	if err != nil {
		return nil, err
	}
	tok.TokenType = "Bearer"
	return tok, nil
}

// AuthCodeURL returns the URL to send the user to for authorizing the app
// with the scopes (space-separated in the URL, as Azure DevOps wants), and
// with state to check against on the way back to RedirectURL.
func (r *Refresher) AuthCodeURL(state string, scopes ...string) string {
	authURL := r.AuthURL
	if authURL == "" {
		authURL = AuthURL
	}
	params := []struct{ k, v string }{
		{"client_id", r.AppID},
		{"response_type", "Assertion"},
		{"state", state},
		{"scope", strings.Join(scopes, " ")},
		{"redirect_uri", r.RedirectURL},
	}
	var b strings.Builder
	b.WriteString(authURL)
	if strings.Contains(authURL, "?") {
		b.WriteByte('&')
	} else {
		b.WriteByte('?')
	}
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k + "=" + queryEscape(p.v))
	}
	return b.String()
}

// queryEscape escapes s for a query, with spaces as %20: Azure DevOps
// documents its scopes that way.
func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// PrepareRequest asks Azure DevOps to answer a rejected token with a 401
// rather than a redirect to its sign-in page.
func (r *Refresher) PrepareRequest(req *http.Request) {
	if req.Header == nil {
		req.Header = make(http.Header)
	}
	req.Header.Set("X-TFS-FedAuthRedirect", "Suppress")
}

// TokenRejected reports whether resp is Azure DevOps' sign-in page, which
// it serves with 203 Non-Authoritative Information to a request whose
// token it rejects. It does not touch the body.
func (r *Refresher) TokenRejected(resp *http.Response) bool {
	return resp != nil && resp.StatusCode == http.StatusNonAuthoritativeInfo
}

// String describes r without its secret.
func (r Refresher) String() string {
	tokenURL := r.TokenURL
	if tokenURL == "" {
		tokenURL = TokenURL
	}
	return fmt.Sprintf("vsts.Refresher{AppID: %q, RedirectURL: %q, TokenURL: %q, ClientSecret: %s}",
		r.AppID, r.RedirectURL, endpoint.RedactedURL(tokenURL), endpoint.Masked(r.ClientSecret))
}
