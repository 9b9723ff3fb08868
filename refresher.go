package oauthrt

import (
	"context"
	"errors"
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
// token, the endpoint answered invalid_grant or 401), Refresh returns an
// error wrapping [ErrReauthRequired]. The Transport then never presents
// that refresh token again. Any other error is taken as transient.
//
// The packages generic and vsts hold the two Refreshers this module
// provides.
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
// the token endpoint rejected it (invalid_grant, or a 401). Only a person
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
