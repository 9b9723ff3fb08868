package providers

import (
	"fmt"
	"net/http"
)

// simBJSON is the Content-Type of a JSON token answer.
const simBJSON = "application/json"

// simsB are the simulators of group B, each written from its provider's
// documented examples. Where a provider documents no dead-grant answer,
// the spec says so and serves RFC 6749 §5.2's invalid_grant.
var simsB = map[string]simSpec{
	// HubSpot: https://developers.hubspot.com/docs/api-reference/auth-oauth-v3/guide
	// (form-body client credentials, the answer's shape); the dead answer
	// from https://nango.dev/blog/hubspot-oauth-bad-refresh-token.
	"hubspot": {
		auth: "post",
		answer: func(access, refresh string) (string, string) {
			return simBJSON, fmt.Sprintf(`{"token_type":"bearer","refresh_token":%q,"access_token":%q,"expires_in":1800}`, refresh, access)
		},
		dead: simBDead(http.StatusBadRequest, `{"status":"BAD_REFRESH_TOKEN","message":"missing or invalid refresh token"}`),
	},

	// Xero: https://developer.xero.com/documentation/oauth2/auth-flow (Basic
	// client credentials, the answer, the revocation endpoint) and
	// https://developer.xero.com/faq/oauth2 (rotation); the dead answer
	// from https://nango.dev/blog/xero-oauth-refresh-token-invalid-grant.
	"xero": {
		auth: "basic",
		answer: func(access, refresh string) (string, string) {
			return simBJSON, fmt.Sprintf(`{"access_token":%q,"expires_in":1800,"token_type":"Bearer","refresh_token":%q,"scope":"openid profile email accounting.transactions offline_access"}`, access, refresh)
		},
		rotates:    true,
		dead:       simBDead(http.StatusBadRequest, `{"error":"invalid_grant"}`),
		revocation: true,
	},

	// QuickBooks: https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/oauth-2.0
	// (Basic client credentials, the answer with x_refresh_token_expires_in,
	// realmId on the redirect, the revocation endpoint) and the FAQ
	// (rotation); the dead answer, invalid_grant "Token invalid", is
	// reported by developers rather than shown by Intuit.
	"quickbooks": {
		auth: "basic",
		answer: func(access, refresh string) (string, string) {
			return simBJSON, fmt.Sprintf(`{"token_type":"bearer","expires_in":3600,"refresh_token":%q,"x_refresh_token_expires_in":8726400,"access_token":%q}`, refresh, access)
		},
		rotates:    true,
		dead:       simBDead(http.StatusBadRequest, `{"error":"invalid_grant","error_description":"Token invalid"}`),
		firstExtra: map[string]any{"realmId": "9130350000000000000"},
		revocation: true,
	},

	// Zoom: https://developers.zoom.us/docs/integrations/oauth/ (Basic client
	// credentials, the answer, rotation). Zoom documents no dead-grant
	// answer: RFC 6749's invalid_grant is served.
	"zoom": {
		auth: "basic",
		answer: func(access, refresh string) (string, string) {
			return simBJSON, fmt.Sprintf(`{"access_token":%q,"token_type":"bearer","refresh_token":%q,"expires_in":3599,"scope":"user:read:user"}`, access, refresh)
		},
		rotates: true,
		dead:    simBDead(http.StatusBadRequest, `{"error":"invalid_grant"}`),
	},

	// Dropbox: https://dropbox.tech/developers/using-oauth-2-0-with-offline-access
	// (client credentials in the form or Basic; the refresh answer carries
	// no refresh token). Dropbox documents no dead-grant answer: RFC 6749's
	// invalid_grant is served.
	"dropbox": {
		auth: "either",
		answer: func(access, _ string) (string, string) {
			return simBJSON, fmt.Sprintf(`{"access_token":%q,"token_type":"bearer","expires_in":14400}`, access)
		},
		dead: simBDead(http.StatusBadRequest, `{"error":"invalid_grant"}`),
	},

	// Box: https://developer.box.com/guides/authentication/tokens/access-tokens/
	// (the answer), https://developer.box.com/guides/authentication/tokens/refresh
	// (single-use refresh tokens), https://developer.box.com/en/reference/post-oauth2-revoke/
	// (revocation, form-body client credentials); the dead answer from a
	// Box support thread.
	"box": {
		auth: "post",
		answer: func(access, refresh string) (string, string) {
			return simBJSON, fmt.Sprintf(`{"access_token":%q,"expires_in":3600,"restricted_to":[],"token_type":"bearer","refresh_token":%q,"issued_token_type":"urn:ietf:params:oauth:token-type:access_token"}`, access, refresh)
		},
		rotates:    true,
		dead:       simBDead(http.StatusBadRequest, `{"error":"invalid_grant","error_description":"Refresh token has expired"}`),
		revocation: true,
	},

	// Auth0: https://auth0.com/docs/api/authentication (form-body client
	// credentials, the answer, /oauth/revoke), with rotation off as it is
	// by default (https://auth0.com/docs/secure/tokens/refresh-tokens/refresh-token-rotation):
	// the answer carries no refresh token. The dead answer is the one
	// Auth0 is reported to send, not one its pages show.
	"auth0": {
		vars: map[string]string{"domain": "example.us.auth0.com"},
		auth: "post",
		answer: func(access, _ string) (string, string) {
			return simBJSON, fmt.Sprintf(`{"access_token":%q,"scope":"openid offline_access","expires_in":86400,"token_type":"Bearer"}`, access)
		},
		dead:       simBDead(http.StatusForbidden, `{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}`),
		revocation: true,
	},

	// Keycloak: https://www.keycloak.org/securing-apps/oidc-layers (Basic or
	// form-body client credentials, the answer with refresh_expires_in,
	// the revocation endpoint), with Revoke Refresh Token off as it is by
	// default (https://www.keycloak.org/docs/latest/server_admin/#_timeouts):
	// each answer carries a new refresh token, and the old one still works.
	// The dead answer is TokenManager's "Token is not active".
	"keycloak": {
		vars: map[string]string{"domain": "sso.example.com", "realm": "acme"},
		auth: "either",
		answer: func(access, refresh string) (string, string) {
			return simBJSON, fmt.Sprintf(`{"access_token":%q,"expires_in":300,"refresh_expires_in":1800,"refresh_token":%q,"token_type":"Bearer","not-before-policy":0,"session_state":"5c2b0a2e-3f4d-4b8e-9a61-0d2b7c1e9f00","scope":"profile email"}`, access, refresh)
		},
		dead:       simBDead(http.StatusBadRequest, `{"error":"invalid_grant","error_description":"Token is not active"}`),
		revocation: true,
	},

	// Linear: https://linear.app/developers/oauth-2-0-authentication
	// (form-body client credentials, the answer's shape); the dead answer
	// from https://nango.dev/blog/linear-oauth-refresh-token-invalid-grant.
	// Whether Linear rotates could not be read; the simulator rotates,
	// the stricter case for a client.
	"linear": {
		auth: "post",
		answer: func(access, refresh string) (string, string) {
			return simBJSON, fmt.Sprintf(`{"access_token":%q,"token_type":"Bearer","expires_in":86399,"scope":"read write","refresh_token":%q}`, access, refresh)
		},
		rotates: true,
		dead:    simBDead(http.StatusBadRequest, `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`),
	},

	// Asana: https://developers.asana.com/docs/oauth (form-body client
	// credentials; the refresh answer carries the user's data and no new
	// refresh token; /-/oauth_revoke). Asana documents no dead-grant
	// answer: RFC 6749's invalid_grant is served.
	"asana": {
		auth: "post",
		answer: func(access, _ string) (string, string) {
			return simBJSON, fmt.Sprintf(`{"access_token":%q,"expires_in":3600,"token_type":"bearer","data":{"id":4673218951,"gid":"4673218951","name":"Greg Sanchez","email":"gsanchez@example.com"}}`, access)
		},
		dead:       simBDead(http.StatusBadRequest, `{"error":"invalid_grant"}`),
		revocation: true,
	},

	// Pipedrive: https://developers.pipedrive.com/docs/api/v1/Oauth (Basic
	// client credentials, the answer with api_domain). Pipedrive documents
	// no dead-grant answer: RFC 6749's invalid_grant is served.
	"pipedrive": {
		auth: "basic",
		answer: func(access, refresh string) (string, string) {
			return simBJSON, fmt.Sprintf(`{"access_token":%q,"token_type":"Bearer","refresh_token":%q,"scope":"base,deals:full","expires_in":3599,"api_domain":"https://example.pipedrive.com"}`, access, refresh)
		},
		dead: simBDead(http.StatusBadRequest, `{"error":"invalid_grant"}`),
	},
}

// simBDead returns a simSpec's dead field: a JSON error answer with the
// given status and body.
func simBDead(status int, body string) (d struct {
	status      int
	contentType string
	body        string
}) {
	d.status, d.contentType, d.body = status, simBJSON, body
	return d
}
