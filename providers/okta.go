package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

// Pages read for Okta's authorization servers.
var (
	oktaRefreshDoc = Source{URL: "https://developer.okta.com/docs/guides/refresh-tokens/main/", Read: "2026-11-30"}
	// Okta's knowledge base, on the answer to an expired refresh token.
	oktaExpiryArticle = Source{URL: "https://support.okta.com/help/s/article/refresh-token-expiration-behavior", Read: "2026-11-30"}
)

// Okta is Okta's default custom authorization server
// (https://{domain}/oauth2/default), where {domain} is the Okta org's
// host, such as example.okta.com. Another custom authorization server
// has its ID in place of default; the org authorization server lives at
// https://{domain}/oauth2/v1/ and has fixed lifetimes (access tokens one
// hour, refresh tokens 90 days, no idle limit). Token lifetimes and
// rotation are set by each server's access policies and each app, so
// most lifetimes here are unknown. Okta's knowledge base gives the ranges
// (https://support.okta.com/help/s/article/What-is-the-lifetime-of-the-JWT-tokens),
// and its rotation guide the reuse rules
// (https://developer.okta.com/docs/guides/refresh-tokens/refresh-token-rotation/).
var Okta = &Provider{
	ID:       "okta",
	Name:     "Okta (default custom authorization server)",
	Docs:     oktaRefreshDoc.URL,
	AuthURL:  "https://{domain}/oauth2/default/v1/authorize",
	TokenURL: "https://{domain}/oauth2/default/v1/token",

	Revocation: known("https://{domain}/oauth2/default/v1/revoke", oktaRefreshDoc, ""),
	AuthMethod: unknown[generic.AuthMethod]("set per app (client_secret_basic, client_secret_post, private_key_jwt or none); the pages read give no default"),

	Rotates:          unknown[bool]("set per app: rotation is the default for single-page apps; other apps may keep a persistent refresh token"),
	ReuseGrace:       unknown[time.Duration]("with rotation on, the app configures a grace period during which the previous refresh token stays valid; the pages read give no default. Reuse after it invalidates the grant's tokens"),
	AccessLifetime:   unknown[time.Duration]("set by the access policy rule: 5 minutes to 24 hours on a custom authorization server; the default rule's value was not found"),
	IdleLifetime:     unknown[time.Duration]("set by the access policy rule, up to 1825 days; the default rule's value was not found"),
	AbsoluteLifetime: unknown[time.Duration]("set by the access policy rule: 10 minutes to unlimited; a rotated refresh token keeps its predecessor's expiry"),
	RevokesOldAccess: unknown[bool]("not documented for an ordinary refresh; reuse of a rotated refresh token invalidates every access token issued since the user authenticated"),
	DeadGrant: known(generic.Dialect{}, oktaExpiryArticle,
		"an expired or invalid refresh token is answered 400 with invalid_grant"),
	ExpiresIn:  known(ExpiresIn{Sent: true}, oktaRefreshDoc, ""),
	KeepFields: known([]string(nil), oktaRefreshDoc, ""),
	Throttle:   unknown[string]("Okta's rate limits for /token were not read"),
}
