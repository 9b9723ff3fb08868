package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

// Pages read for Salesforce's OAuth 2.0.
var (
	salesforceRefreshDoc = Source{URL: "https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_refresh_token_flow.htm&type=5", Read: "2026-11-30"}
	salesforceRESTDoc    = Source{URL: "https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/intro_understanding_refresh_token_oauth.htm", Read: "2026-11-30"}
	salesforceRevokeDoc  = Source{URL: "https://developer.salesforce.com/docs/platform/mobile-sdk/guide/oauth-revoking-tokens.html", Read: "2026-11-30"}
)

// Salesforce is Salesforce's OAuth 2.0 web server flow. {domain} is the
// login host: login.salesforce.com for production, test.salesforce.com
// for sandboxes, or the org's My Domain, such as
// MyDomainName.my.salesforce.com (Salesforce recommends My Domain). A
// token answer has no expires_in; the access token lives as long as the
// org's session timeout, and the API is called at the answer's
// instance_url, which is kept from token to token.
var Salesforce = &Provider{
	ID:       "salesforce",
	Name:     "Salesforce",
	Docs:     salesforceRefreshDoc.URL,
	AuthURL:  "https://{domain}/services/oauth2/authorize",
	TokenURL: "https://{domain}/services/oauth2/token",

	Revocation: known("https://{domain}/services/oauth2/revoke", salesforceRevokeDoc,
		"revoking a refresh token revokes its access tokens too; errors are 400 unsupported_token_type or invalid_token"),
	AuthMethod: known(generic.AuthClientSecretPost, salesforceRESTDoc,
		"client_id and client_secret are form parameters of the refresh request"),

	Rotates: known(false, salesforceRefreshDoc,
		"by default; a connected app or external client app can turn on refresh token rotation, and then each refresh returns a new refresh token and invalidates the previous one"),
	ReuseGrace:       unknown[time.Duration]("with rotation on, the previous refresh token is invalidated; no grace is documented"),
	AccessLifetime:   unknown[time.Duration]("the session timeout of the org or connected app; the pages read give no default"),
	IdleLifetime:     unknown[time.Duration]("set by the connected app's refresh token policy; the pages read give no default"),
	AbsoluteLifetime: unknown[time.Duration]("set by the connected app's refresh token policy; the pages read give no default"),
	RevokesOldAccess: unknown[bool]("not documented"),
	DeadGrant: known(generic.Dialect{}, salesforceRESTDoc,
		"errors are RFC 6749's: an expired or revoked refresh token is invalid_grant (\"expired access/refresh token\")"),
	ExpiresIn: known(ExpiresIn{}, salesforceRESTDoc,
		"the answer carries access_token, instance_url, id, issued_at, signature and token_type, but no expires_in: the token gets no expiry and is refreshed when the API rejects it"),
	KeepFields: known([]string{"instance_url"}, salesforceRESTDoc,
		"the API is called at instance_url"),
	Throttle: unknown[string]("the pages read give no limit on refreshes"),
}
