package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

var (
	auth0Refresh = Source{URL: "https://auth0.com/docs/secure/tokens/refresh-tokens", Read: "2026-11-30"}
	auth0API     = Source{URL: "https://auth0.com/docs/api/authentication", Read: "2026-11-30"}
	// auth0Revoke is Auth0's page on revoking refresh tokens.
	auth0Revoke = Source{URL: "https://auth0.com/docs/secure/tokens/refresh-tokens/revoke-refresh-tokens", Read: "2026-11-30"}
	// auth0Leeway is a third-party copy (api-evangelist on GitHub) of the
	// Management API's schema for a client's refresh token settings, which
	// gives leeway's default.
	auth0Leeway = Source{URL: "https://raw.githubusercontent.com/api-evangelist/auth0/refs/heads/main/json-schema/auth0-clientrefreshtokenconfiguration-schema.json", Read: "2026-11-30"}
	// auth0Access is Auth0's page on access token lifetime.
	auth0Access = Source{URL: "https://auth0.com/docs/secure/tokens/access-tokens/update-access-token-lifetime", Read: "2026-11-30"}
)

// Auth0 is an Auth0 tenant; {domain} is the tenant's domain or custom
// domain, such as "example.us.auth0.com". Rotation, its reuse interval and
// the refresh token lifetimes are settings of each application: the facts
// below are Auth0's defaults.
var Auth0 = &Provider{
	ID:       "auth0",
	Name:     "Auth0",
	Docs:     auth0Refresh.URL,
	AuthURL:  "https://{domain}/authorize",
	TokenURL: "https://{domain}/oauth/token",

	Revocation: known("https://{domain}/oauth/revoke", auth0Revoke, "the page names the Authentication API's POST /oauth/revoke for revoking refresh tokens"),
	AuthMethod: unknown[generic.AuthMethod]("a setting of each application (none, client_secret_post, client_secret_basic, private_key_jwt); Auth0's use-refresh-tokens page shows Basic authentication, and no page read gives the default for confidential applications"),

	Rotates:          unknown[bool]("rotation is a setting of each application; the configure- and disable-rotation pages read do not state its default"),
	ReuseGrace:       known(time.Duration(0), auth0Leeway, "a third-party copy of Auth0's Management API schema (api-evangelist on GitHub) gives leeway a default of 0; configurable per application"),
	AccessLifetime:   known(24*time.Hour, auth0Access, "the API's default token expiration of 86400 seconds; configurable per API"),
	IdleLifetime:     unknown[time.Duration]("configurable per application (idle lifetime); Auth0's configure-refresh-token-expiration page, as read, gives no default"),
	AbsoluteLifetime: unknown[time.Duration]("configurable per application (maximum lifetime, indefinite when disabled); Auth0's configure-refresh-token-expiration page, as read, gives no default"),
	RevokesOldAccess: unknown[bool]("Auth0's pages read do not say whether a refresh ends the previous access token"),
	DeadGrant:        unknown[generic.Dialect]("the pages read show no answer to a dead refresh token; Auth0 is reported to answer 403 invalid_grant \"Unknown or invalid refresh token.\""),
	ExpiresIn:        known(ExpiresIn{Sent: true}, auth0API, "token answers carry expires_in"),
	KeepFields:       known([]string(nil), auth0API, "API calls need only the access token"),
	Throttle:         unknown[string]("Auth0 publishes per-plan rate limits for the Authentication API; the figure for refreshes was not confirmed"),
}
