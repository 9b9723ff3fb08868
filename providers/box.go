package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

var (
	boxGuide   = Source{URL: "https://developer.box.com/guides/authentication/oauth2/", Read: "2026-11-30"}
	boxRefresh = Source{URL: "https://developer.box.com/guides/authentication/tokens/refresh", Read: "2026-11-30"}
	boxAccess  = Source{URL: "https://developer.box.com/guides/authentication/tokens/access-tokens/", Read: "2026-11-30"}
	boxRevoke  = Source{URL: "https://developer.box.com/en/reference/post-oauth2-revoke/", Read: "2026-11-30"}
	// boxDead is a Box support thread showing the answer to an expired
	// refresh token.
	boxDead = Source{URL: "https://support.box.com/hc/en-us/community/posts/360049159714-Need-help-with-refresh-token-expiry-information-I-m-getting-Refresh-Token-has-expired-", Read: "2026-11-30"}
)

// Box is Box's OAuth 2.0 with client-side authentication (not JWT or
// Client Credentials, which have no refresh token). Refresh tokens are
// single-use: each refresh invalidates the one presented, and a token
// unused for 60 days dies.
var Box = &Provider{
	ID:       "box",
	Name:     "Box",
	Docs:     boxGuide.URL,
	AuthURL:  "https://account.box.com/api/oauth2/authorize",
	TokenURL: "https://api.box.com/oauth2/token",

	Revocation: known("https://api.box.com/oauth2/revoke", boxRevoke, "takes client_id, client_secret and token in the form"),
	AuthMethod: known(generic.AuthClientSecretPost, boxRefresh, "client_id and client_secret go in the form body"),

	Rotates:          known(true, boxRefresh, "every refresh invalidates the refresh token presented and returns a new one"),
	ReuseGrace:       known(time.Duration(0), boxRefresh, "a refresh token can be used only once"),
	AccessLifetime:   known(time.Hour, boxAccess, "the documented answer carries expires_in of 3600"),
	IdleLifetime:     known(60*24*time.Hour, boxRefresh, "a refresh token not used within 60 days needs the user to authorize again"),
	AbsoluteLifetime: unknown[time.Duration]("Box's pages give no limit beyond the 60 days of each refresh token"),
	RevokesOldAccess: unknown[bool]("Box's pages do not say whether a refresh ends the previous access token"),
	DeadGrant:        known(generic.Dialect{}, boxDead, "RFC 6749 invalid_grant, \"Refresh token has expired\", as shown in a Box community forum thread; Box's guides read show no example"),
	ExpiresIn:        known(ExpiresIn{Sent: true}, boxAccess, ""),
	KeepFields:       known([]string(nil), boxAccess, "API calls need only the access token"),
	Throttle:         unknown[string]("Box's OAuth guides give no limit on token requests"),
}
