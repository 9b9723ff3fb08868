package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

var (
	quickbooksGuide = Source{URL: "https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/oauth-2.0", Read: "2026-11-30"}
	// quickbooksTokens is Intuit's post on token management: access
	// tokens of one hour, refresh tokens of 100 rolling days.
	quickbooksTokens = Source{URL: "https://blogs.intuit.com/2024/06/03/oauth-token-management-done-the-right-way/", Read: "2026-11-30"}
	// quickbooksMax is Intuit's announcement of the five-year maximum.
	quickbooksMax = Source{URL: "https://blogs.a.intuit.com/2025/11/12/important-changes-to-refresh-token-policy", Read: "2026-11-30"}
	// quickbooksDiscovery is Intuit's OpenID discovery document (sandbox),
	// which names the revocation endpoint and the client authentication
	// methods.
	quickbooksDiscovery = Source{URL: "https://developer.intuit.com/.well-known/openid-sandbox-configuration", Read: "2026-11-30"}
	// quickbooksDead is a third-party guide (an MCP server's OAUTH-GUIDE.md
	// on glama.ai) showing Intuit's invalid_grant answer.
	quickbooksDead = Source{URL: "https://glama.ai/mcp/servers/@hakeemrabiuDFW/Quickbooks-MCP-Martinez/blob/037b6841ec851b83f86e3ab9b5d4ca644814bc8d/OAUTH-GUIDE.md", Read: "2026-11-30"}
)

// QuickBooks is Intuit's OAuth 2.0 for QuickBooks Online. The company the
// grant is for comes as realmId on the authorization redirect, not in the
// token answer: the application must add it to the first token's extra
// members, and the Refresher carries it over from token to token.
var QuickBooks = &Provider{
	ID:       "quickbooks",
	Name:     "QuickBooks Online (Intuit)",
	Docs:     quickbooksGuide.URL,
	AuthURL:  "https://appcenter.intuit.com/connect/oauth2",
	TokenURL: "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",

	Revocation: known("https://developer.api.intuit.com/v2/oauth2/tokens/revoke", quickbooksDiscovery, "the discovery document's revocation_endpoint; the production document was not read"),
	AuthMethod: known(generic.AuthClientSecretBasic, quickbooksDiscovery, "token_endpoint_auth_methods_supported lists client_secret_post and client_secret_basic"),

	Rotates:          unknown[bool]("Intuit's FAQ says to refresh with the latest refresh_token of the most recent answer, but the pages read do not say that the previous one stops working"),
	ReuseGrace:       unknown[time.Duration]("Intuit's FAQ does not say how long a replaced refresh token keeps working"),
	AccessLifetime:   known(time.Hour, quickbooksTokens, ""),
	IdleLifetime:     known(100*24*time.Hour, quickbooksTokens, "a rolling expiry, extended by each refresh"),
	AbsoluteLifetime: known(5*365*24*time.Hour, quickbooksMax, "for accounting and payments scopes, tokens issued from October 2023 (first expiring October 2028); Intuit says refresh answers will carry a field giving this expiry"),
	RevokesOldAccess: unknown[bool]("Intuit's pages do not say whether a refresh ends the previous access token"),
	DeadGrant:        known(generic.Dialect{}, quickbooksDead, "RFC 6749 invalid_grant (\"Token invalid\"), as shown by a third-party guide (an MCP server's OAUTH-GUIDE.md on glama.ai); Intuit's own pages read show no example"),
	ExpiresIn:        known(ExpiresIn{Sent: true}, quickbooksGuide, "answers carry expires_in and x_refresh_token_expires_in"),
	KeepFields:       known([]string{"realmId"}, quickbooksGuide, "the tokens are tied to the company named by realmId on the authorization redirect, and every API path needs it"),
	Throttle:         unknown[string]("Intuit's OAuth guide and FAQ give no limit on token requests"),
}
