package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

var (
	zoomDocs = Source{URL: "https://developers.zoom.us/docs/integrations/oauth/", Read: "2026-11-30"}
	// zoomRefresh is Zoom's public API collection, which restates the
	// refresh request and answer of Zoom's documentation.
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
	AuthMethod: known(generic.AuthClientSecretBasic, zoomRefresh, "Authorization: Basic base64Encode(client_id:client_secret)"),

	Rotates:          known(true, zoomRotation, "a third-party connector's documentation; Zoom's own pages read say only to use the returned refresh token"),
	ReuseGrace:       unknown[time.Duration]("no page read documents a reuse window; the connector note implies none"),
	AccessLifetime:   known(time.Hour, zoomRefresh, ""),
	IdleLifetime:     unknown[time.Duration]("90 days is often quoted, but no Zoom page read states it"),
	AbsoluteLifetime: unknown[time.Duration]("no Zoom page read states a maximum grant lifetime"),
	RevokesOldAccess: unknown[bool]("no Zoom page read says whether a refresh ends the previous access token"),
	DeadGrant:        unknown[generic.Dialect]("no Zoom page read documents the answer to a dead refresh token; developers report HTTP 400 {\"reason\":\"Invalid Token!\",\"error\":\"invalid_request\"}"),
	ExpiresIn:        known(ExpiresIn{Sent: true}, zoomRefresh, "the documented answer carries expires_in"),
	KeepFields:       known([]string(nil), zoomRefresh, "API calls need only the access token"),
	Throttle:         unknown[string]("no Zoom page read gives a limit on token requests"),
}
