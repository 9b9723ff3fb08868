package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

// Pages read for Atlassian's OAuth 2.0 (3LO) integrations.
var (
	atlassian3LODoc = Source{URL: "https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/", Read: "2026-11-30"}
	// Atlassian's announcement of rotating refresh tokens, with their
	// lifetimes and the reuse interval.
	atlassianRotationPost = Source{URL: "https://community.developer.atlassian.com/t/updated-31-january-2022-action-required-deprecating-persistent-refresh-tokens/54172", Read: "2026-11-30"}
	// An Atlassian staff answer on the lifetimes of both tokens.
	atlassianLifetimePost = Source{URL: "https://community.developer.atlassian.com/t/refresh-token-expire-after-36000-seconds/60806/2", Read: "2026-11-30"}
)

// Atlassian is Atlassian Cloud's OAuth 2.0 (3LO) for Jira, Confluence
// and the other Cloud products (scope offline_access for a refresh
// token). Refresh tokens rotate; a rotated one presented again after the
// ten-minute reuse interval revokes the whole grant. API calls go through
// https://api.atlassian.com/ex/{product}/{cloudid}/, the cloudid coming
// from the accessible-resources API, not from the token answer.
var Atlassian = &Provider{
	ID:       "atlassian",
	Name:     "Atlassian (Jira, Confluence: OAuth 2.0 3LO)",
	Docs:     atlassian3LODoc.URL,
	AuthURL:  "https://auth.atlassian.com/authorize",
	TokenURL: "https://auth.atlassian.com/oauth/token",

	Revocation: unknown[string]("the 3LO page documents no revocation endpoint; users revoke apps from their Atlassian account"),
	AuthMethod: known(generic.AuthClientSecretPost, atlassian3LODoc,
		"the documented request carries client_id and client_secret in its body (a JSON body in the examples)"),

	Rotates: known(true, atlassianRotationPost,
		"each refresh returns a new refresh token and invalidates the previous one"),
	ReuseGrace: known(10*time.Minute, atlassianRotationPost,
		"the leeway interval; reuse after it invalidates every refresh token of the grant and needs new consent"),
	AccessLifetime: known(time.Hour, atlassianLifetimePost, ""),
	IdleLifetime: known(90*24*time.Hour, atlassianRotationPost,
		"reset to 90 days by each refresh"),
	AbsoluteLifetime: known(365*24*time.Hour, atlassianRotationPost,
		"from the user's first consent, whatever the refreshes; consenting again starts another year"),
	RevokesOldAccess: unknown[bool]("not documented"),
	DeadGrant: known(generic.Dialect{}, atlassian3LODoc,
		"a dead refresh token is answered 403 with invalid_grant, \"Unknown or invalid refresh token.\""),
	ExpiresIn: known(ExpiresIn{Sent: true}, atlassian3LODoc, ""),
	KeepFields: known([]string(nil), atlassian3LODoc,
		"the site's cloudid comes from the accessible-resources API, not from the token answer"),
	Throttle: unknown[string]("the 3LO page gives no limit on token requests"),
}
