package oauthrt

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"
)

// A Refresher exchanges a token's refresh token (or whatever credential
// the provider's grant uses) for a new token.
//
// Implementations must be safe for concurrent use by multiple goroutines.
// The token passed to Refresh belongs to the caller and must not be
// modified; the returned token must be a new value that the caller may
// keep. A returned token with an empty RefreshToken means the provider did
// not rotate it: the [Transport] then keeps the old one (RFC 6749 §6).
//
// When the grant is dead and only a person can revive it (no refresh
// token, the endpoint answered invalid_grant, or a 401 other than
// invalid_client or unauthorized_client), Refresh returns an
// error wrapping [ErrReauthRequired]. The Transport then never presents
// that refresh token again. Any other error is taken as transient.
//
// The packages generic, entra and vsts hold the Refreshers this module
// provides for refresh tokens; [TokenSourceRefresher] adapts an
// [oauth2.TokenSource].
type Refresher interface {
	// Refresh exchanges tok's refresh token for a new token.
	Refresh(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error)
}

// RefresherFunc adapts an ordinary function to the [Refresher] interface,
// for tests and for grants this module does not provide (for example
// client credentials, which needs no refresh token).
type RefresherFunc func(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error)

// Refresh calls f(ctx, tok).
func (f RefresherFunc) Refresh(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
	return f(ctx, tok)
}

// ErrReauthRequired means the grant is dead: there is no refresh token, or
// the token endpoint rejected it (invalid_grant, or a 401 that does not
// blame the client's credential). Only a person
// authorizing the application again can revive it. Refreshers wrap it; the
// [Transport] returns it without sending the API request, and keeps
// returning it for the key until a different token is saved in the store.
var ErrReauthRequired = errors.New("oauthrt: the grant is dead; the user must authorize again")

// RequestPreparer is an optional interface for a [Refresher] whose
// provider's API needs more than the Authorization header on each request.
// The [Transport] calls PrepareRequest on its own clone of every request it
// attaches a token to, after setting the header. The vsts Refresher uses
// it to ask Azure DevOps for a 401 instead of a sign-in page.
type RequestPreparer interface {
	PrepareRequest(req *http.Request)
}

// RejectionDetector is an optional interface for a [Refresher] whose
// provider can reject an access token with something other than a 401.
// The [Transport] treats a response as a rejection when it is a 401 (see
// [Transport.RoundTrip]) or when TokenRejected reports true. TokenRejected
// must not read or close the response body.
type RejectionDetector interface {
	TokenRejected(resp *http.Response) bool
}

// An Issuer is a [Refresher] that can get a token for a key the store
// holds none for, because it has a credential of its own: a client
// credentials grant, a workload identity, an [oauth2.TokenSource]. When
// Load reports [ErrNoToken], the [Transport] calls Issue, under the same
// single flight and store lease as a refresh, and saves the token before
// using it, instead of failing with ErrNoToken.
type Issuer interface {
	Refresher
	// Issue returns a new token. Its RefreshToken may be empty.
	Issue(ctx context.Context) (*oauth2.Token, error)
}

// TokenSourceRefresher is a [Refresher] and an [Issuer] that takes every
// new token from an [oauth2.TokenSource], for providers that already have
// one (golang.org/x/oauth2/clientcredentials, google.DefaultTokenSource,
// a vendor SDK's): the [Transport] adds its store, its single flight per
// key, and its handling of expiry and 401s.
//
// Source must hand out a new token when asked after the old one expired
// or was rejected; one that keeps its own refresh token (an
// oauth2.Config's TokenSource) should be replaced by the package generic
// Refresher, which keeps the refresh token in the store where every
// process sees its rotation. A TokenSource takes no context: the
// context of a refresh is checked before Source is called, and Source's
// own context (given when it was built) bounds the call. oauth2's
// ReuseTokenSource hands back its cached token until that expires, so a
// 401 does not get a new token through it; give it Source's inner source.
type TokenSourceRefresher struct {
	// Source gives the tokens. Required: nil makes Refresh fail.
	Source oauth2.TokenSource
}

var _ Issuer = TokenSourceRefresher{}

// Refresh returns a copy of Source's token; it does not look at tok.
func (r TokenSourceRefresher) Refresh(ctx context.Context, _ *oauth2.Token) (*oauth2.Token, error) {
	return r.Issue(ctx)
}

// Issue returns a copy of Source's token.
func (r TokenSourceRefresher) Issue(ctx context.Context) (*oauth2.Token, error) {
	if r.Source == nil {
		return nil, errors.New("oauthrt: TokenSourceRefresher.Source is nil")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tok, err := r.Source.Token()
	if err != nil {
		return nil, fmt.Errorf("oauthrt: token source: %w", err)
	}
	if tok == nil {
		return nil, errors.New("oauthrt: token source returned a nil token")
	}
	cp := *tok // the source may hand the same value to others
	return &cp, nil
}
