package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

var (
	zoomDocs = Source{URL: "https://developers.zoom.us/docs/integrations/oauth/", Read: "2026-11-30"}
	// zoomRefresh is Qodex's public copy of Zoom's API collection (third
	// party), which restates the refresh request of Zoom's documentation.
	zoomRefresh = Source{URL: "https://developers.qodex.ai/zoom-public/get-started-fast-with-zoom-apis/api-authorization-authentication-unified-build-flow-application-oauth-app-authorization-authentic/refresh-access-token-6", Read: "2026-11-30"}
	// zoomRotation is a connector vendor's note that Zoom rotates
	// refresh tokens and invalidates the one presented.
	zoomRotation = Source{URL: "https://documentation.sailpoint.com/connectors/saas/zoom/help/saas_connectivity/zoom/grant_type_refresh_token.html", Read: "2026-11-30"}
)

// Zoom is Zoom's user-authorized OAuth app (not Server-to-Server OAuth,
// which has no refresh token). Refresh tokens rotate: the one presented is
// invalidated, so the new one must be saved before anything else.
var Zoom = &Provider{
	ID:       "zoom",
	Name:     "Zoom (OAuth app)",
	Docs:     zoomDocs.URL,
	AuthURL:  "https://zoom.us/oauth/authorize",
	TokenURL: "https://zoom.us/oauth/token",

	Revocation: unknown[string]("Zoom describes POST https://zoom.us/oauth/revoke, but whether it follows RFC 7009 could not be confirmed from the pages read"),
	AuthMethod: known(generic.AuthClientSecretBasic, zoomRefresh, "Qodex's copy of Zoom's collection (third party) shows Authorization: Basic base64Encode(client_id:client_secret)"),

	Rotates:          known(true, zoomRotation, "SailPoint's Zoom connector documentation (third party) says Zoom rotates refresh tokens and invalidates the one used; Zoom's own pages were not read on this"),
	ReuseGrace:       unknown[time.Duration]("no page read documents a reuse window; the connector note implies none"),
	AccessLifetime:   known(time.Hour, zoomRefresh, "Qodex's copy of Zoom's collection (third party): access tokens expire after one hour"),
	IdleLifetime:     unknown[time.Duration]("90 days is often quoted, but no Zoom page read states it"),
	AbsoluteLifetime: unknown[time.Duration]("no Zoom page read states a maximum grant lifetime"),
	RevokesOldAccess: unknown[bool]("no Zoom page read says whether a refresh ends the previous access token"),
	DeadGrant:        unknown[generic.Dialect]("no Zoom page read documents the answer to a dead refresh token; developers report HTTP 400 {\"reason\":\"Invalid Token!\",\"error\":\"invalid_request\"}"),
	ExpiresIn:        unknown[ExpiresIn]("the part of the answer example read on Qodex's copy of Zoom's collection ends before any expires_in; Zoom's own page was not read"),
	KeepFields:       known([]string(nil), zoomRefresh, "Qodex's copy of Zoom's collection (third party): API calls need only the access token"),
	Throttle:         unknown[string]("no Zoom page read gives a limit on token requests"),
}
