package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

var (
	linearGuide = Source{URL: "https://linear.app/developers/oauth-2-0-authentication", Read: "2026-11-30"}
	// linearDead shows Linear's invalid_grant answer to a dead refresh
	// token.
	linearDead = Source{URL: "https://nango.dev/blog/linear-oauth-refresh-token-invalid-grant", Read: "2026-11-30"}
)

// Linear is Linear's OAuth 2.0. Every application uses refresh tokens
// since 2026-04-01; before that, access tokens lived about ten years and
// had no refresh token.
var Linear = &Provider{
	ID:       "linear",
	Name:     "Linear",
	Docs:     linearGuide.URL,
	AuthURL:  "https://linear.app/oauth/authorize",
	TokenURL: "https://api.linear.app/oauth/token",

	Revocation: unknown[string]("the guide describes POST https://api.linear.app/oauth/revoke; whether it follows RFC 7009 could not be confirmed from what was read"),
	AuthMethod: known(generic.AuthClientSecretPost, linearGuide, "client_id and client_secret go in the application/x-www-form-urlencoded body"),

	Rotates:          unknown[bool]("the refresh token section of Linear's guide could not be read in full"),
	ReuseGrace:       unknown[time.Duration]("the refresh token section of Linear's guide could not be read in full"),
	AccessLifetime:   unknown[time.Duration]("the lifetime under the refresh token system could not be read; follow expires_in"),
	IdleLifetime:     unknown[time.Duration]("the refresh token section of Linear's guide could not be read in full"),
	AbsoluteLifetime: unknown[time.Duration]("the refresh token section of Linear's guide could not be read in full"),
	RevokesOldAccess: unknown[bool]("the refresh token section of Linear's guide could not be read in full"),
	DeadGrant:        known(generic.Dialect{}, linearDead, "HTTP 400 with RFC 6749 invalid_grant, as shown by Nango's blog (third party); Linear's guide, as read, shows no example"),
	ExpiresIn:        known(ExpiresIn{Sent: true}, linearGuide, "the documented answer carries expires_in"),
	KeepFields:       known([]string(nil), linearGuide, "API calls need only the access token"),
	Throttle:         unknown[string]("Linear's OAuth guide gives no limit on token requests"),
}
