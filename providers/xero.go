package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

var (
	xeroAuthFlow = Source{URL: "https://developer.xero.com/documentation/oauth2/auth-flow", Read: "2026-11-30"}
	xeroFAQ      = Source{URL: "https://developer.xero.com/faq/oauth2", Read: "2026-11-30"}
	// xeroDead is Nango's blog (third party), showing Xero's invalid_grant
	// answer to a dead refresh token.
	xeroDead = Source{URL: "https://nango.dev/blog/xero-oauth-refresh-token-invalid-grant", Read: "2026-11-30"}
)

// Xero is Xero's OAuth 2.0 (authorization code flow). Refresh tokens
// rotate; the old one keeps working for 30 minutes, so a lost answer can be
// asked for again. API calls name the organisation in the xero-tenant-id
// header, found through GET https://api.xero.com/connections, not in the
// token answer.
var Xero = &Provider{
	ID:       "xero",
	Name:     "Xero",
	Docs:     xeroAuthFlow.URL,
	AuthURL:  "https://login.xero.com/identity/connect/authorize",
	TokenURL: "https://identity.xero.com/connect/token",

	Revocation: known("https://identity.xero.com/connect/revocation", xeroAuthFlow, "revoking the refresh token also removes every connection the user gave the app"),
	AuthMethod: known(generic.AuthClientSecretBasic, xeroAuthFlow, "the token request carries Authorization: Basic base64(client_id:client_secret)"),

	Rotates:          known(true, xeroFAQ, "replace the stored refresh token with the one each refresh returns"),
	ReuseGrace:       known(30*time.Minute, xeroFAQ, "when no answer arrived, the existing refresh token may be retried for 30 minutes"),
	AccessLifetime:   known(30*time.Minute, xeroFAQ, ""),
	IdleLifetime:     known(60*24*time.Hour, xeroFAQ, "unused refresh tokens expire after 60 days; the user must then authorize again"),
	AbsoluteLifetime: unknown[time.Duration]("Xero's FAQ and auth flow page document only the 60-day idle expiry"),
	RevokesOldAccess: unknown[bool]("Xero's pages do not say whether a refresh ends the previous access token"),
	DeadGrant:        known(generic.Dialect{}, xeroDead, "HTTP 400 with RFC 6749 invalid_grant, as shown by Nango's blog (third party); Xero's own pages read show no example"),
	ExpiresIn:        unknown[ExpiresIn]("the answer example of Xero's auth flow page could not be read in full; third-party guides show expires_in of 1800"),
	KeepFields:       known([]string(nil), xeroAuthFlow, "the tenant id goes in a header per request and comes from /connections, not from the token answer"),
	Throttle:         unknown[string]("Xero's FAQ and auth flow page give no limit on token requests"),
}
