package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

var (
	pipedriveGuide = Source{URL: "https://pipedrive.readme.io/docs/marketplace-oauth-authorization", Read: "2026-11-30"}
	pipedriveRef   = Source{URL: "https://developers.pipedrive.com/docs/api/v1/Oauth", Read: "2026-11-30"}
)

// Pipedrive is Pipedrive's OAuth 2.0 for Marketplace apps. Each token
// answer carries api_domain, the company's own API host, which API calls
// must use: the Refresher carries it over from token to token.
var Pipedrive = &Provider{
	ID:       "pipedrive",
	Name:     "Pipedrive",
	Docs:     pipedriveGuide.URL,
	AuthURL:  "https://oauth.pipedrive.com/oauth/authorize",
	TokenURL: "https://oauth.pipedrive.com/oauth/token",

	Revocation: unknown[string]("the pages read do not show Pipedrive's revocation endpoint"),
	AuthMethod: known(generic.AuthClientSecretBasic, pipedriveRef, "the refresh request carries Authorization: Basic base64(client_id:client_secret)"),

	Rotates:          unknown[bool]("the refresh answer carries refresh_token, but the pages read do not say whether the one presented stops working"),
	ReuseGrace:       unknown[time.Duration]("the pages read document no rotation"),
	AccessLifetime:   unknown[time.Duration]("Pipedrive says only that the lifetime is returned in expires_in"),
	IdleLifetime:     known(60*24*time.Hour, pipedriveRef, "a refresh token expires if not used for 60 days; each use resets it"),
	AbsoluteLifetime: unknown[time.Duration]("the pages read give no maximum grant lifetime"),
	RevokesOldAccess: unknown[bool]("the pages read do not say"),
	DeadGrant:        unknown[generic.Dialect]("the pages read show no answer to a dead refresh token"),
	ExpiresIn:        known(ExpiresIn{Sent: true}, pipedriveRef, ""),
	KeepFields:       known([]string{"api_domain"}, pipedriveRef, "the company's API host, such as https://example.pipedrive.com"),
	Throttle:         unknown[string]("the pages read give no limit on token requests"),
}
