package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

var (
	hubspotGuide = Source{URL: "https://developers.hubspot.com/docs/api-reference/auth-oauth-v3/guide", Read: "2026-11-30"}
	// hubspotAccess is HubSpot's changelog entry on the 30-minute access
	// token.
	hubspotAccess = Source{URL: "https://developers.hubspot.com/changelog/upcoming-expiration-of-oauth-access-tokens-is-changing", Read: "2026-11-30"}
	// hubspotDelete is HubSpot's reference for deleting a refresh token.
	hubspotDelete = Source{URL: "http://developers.hubspot.com/docs/methods/oauth2/delete-refresh-token", Read: "2026-11-30"}
	// hubspotRefresh is HubSpot's (legacy) reference for the refresh call.
	hubspotRefresh = Source{URL: "https://legacydocs.hubspot.com/docs/methods/oauth2/refresh-access-token?hsLang=en", Read: "2026-11-30"}
	// hubspotDead shows the BAD_REFRESH_TOKEN answer, which HubSpot's own
	// reference pages do not list.
	hubspotDead = Source{URL: "https://nango.dev/blog/hubspot-oauth-bad-refresh-token", Read: "2026-11-30"}
)

// HubSpot is HubSpot's OAuth for public apps, through the v3 token
// endpoint (v1 is deprecated on 2027-02-16). A dead refresh token is
// answered with HTTP 400 and {"status":"BAD_REFRESH_TOKEN",...} rather than
// an RFC 6749 error.
var HubSpot = &Provider{
	ID:       "hubspot",
	Name:     "HubSpot",
	Docs:     hubspotGuide.URL,
	AuthURL:  "https://app.hubspot.com/oauth/authorize",
	TokenURL: "https://api.hubapi.com/oauth/v3/token",

	Revocation: known("", hubspotDelete, "HubSpot has no RFC 7009 endpoint; it offers DELETE /oauth/v1/refresh-tokens/{token}, which leaves access tokens already minted from it valid"),
	AuthMethod: known(generic.AuthClientSecretPost, hubspotGuide, "the v3 endpoints take client_id and client_secret in the form body, never in the query"),

	Rotates:          unknown[bool]("HubSpot's v1 and v3 guides do not say whether a refresh answer's refresh_token replaces the one presented"),
	ReuseGrace:       unknown[time.Duration]("no HubSpot page read documents rotation or a reuse window"),
	AccessLifetime:   known(30*time.Minute, hubspotAccess, "down from 6 hours since the change; HubSpot says to follow expires_in rather than the constant"),
	IdleLifetime:     unknown[time.Duration]("HubSpot's guides document no refresh token expiry; community reports of BAD_REFRESH_TOKEN after disuse are unexplained"),
	AbsoluteLifetime: unknown[time.Duration]("HubSpot's guides document no maximum grant lifetime"),
	RevokesOldAccess: unknown[bool]("HubSpot's guides do not say whether a refresh ends the previous access token"),
	DeadGrant: known(generic.Dialect{
		DeadCodes:   []string{"BAD_REFRESH_TOKEN"},
		CodeMembers: []string{"status"},
	}, hubspotDead, "HTTP 400 with {\"status\":\"BAD_REFRESH_TOKEN\",\"message\":\"missing or invalid refresh token\"}; as shown by Nango's blog (third party); HubSpot's reference pages do not document it, and invalid_grant is also reported"),
	ExpiresIn:  known(ExpiresIn{Sent: true}, hubspotAccess, "the expires_in of each answer reflects the token's real lifetime"),
	KeepFields: known([]string(nil), hubspotGuide, "API calls need only the access token as a Bearer credential; the account is implied by the token"),
	Throttle:   known("the token endpoint is rate limited; HubSpot gives no figure", hubspotRefresh, "the method page marks the refresh call \"Rate Limited: Yes\""),
}
