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
	// from Nango's blog (third party),
	// https://nango.dev/blog/hubspot-oauth-bad-refresh-token.
	"hubspot": {
		auth: "post",
		answer: func(access, refresh string) (string, string) {
			return simBJSON, fmt.Sprintf(`{"token_type":"bearer","refresh_token":%q,"access_token":%q,"expires_in":1800}`, refresh, access)
		},
		dead: simBDead(http.StatusBadRequest, `{"status":"BAD_REFRESH_TOKEN","message":"missing or invalid refresh token"}`),
	},

	// Xero: https://developer.xero.com/documentation/oauth2/auth-flow (Basic
	// client credentials, the revocation endpoint) and
	// https://developer.xero.com/faq/oauth2 (rotation, 30-minute access
	// tokens); the answer's expires_in: standard OAuth answer; the
	// provider documents none read. The dead answer from Nango's blog
	// (third party), https://nango.dev/blog/xero-oauth-refresh-token-invalid-grant.
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
	// (the answer with x_refresh_token_expires_in, realmId on the
	// redirect), https://developer.intuit.com/.well-known/openid-sandbox-configuration
	// (client_secret_post and client_secret_basic, the revocation
	// endpoint). The FAQ says to refresh with the latest refresh_token;
	// that the old one is then refused is not documented, so the
	// simulator rotates, the stricter case. The dead answer, invalid_grant
	// "Token invalid", comes from a third-party guide on glama.ai, not
	// from Intuit.
	"quickbooks": {
		auth: "either",
		answer: func(access, refresh string) (string, string) {
			return simBJSON, fmt.Sprintf(`{"token_type":"bearer","expires_in":3600,"refresh_token":%q,"x_refresh_token_expires_in":8726400,"access_token":%q}`, refresh, access)
		},
		rotates:    true,
		dead:       simBDead(http.StatusBadRequest, `{"error":"invalid_grant","error_description":"Token invalid"}`),
		firstExtra: map[string]any{"realmId": "9130350000000000000"},
		revocation: true,
	},

	// Zoom: Basic client credentials and the answer's members from Qodex's
	// copy of Zoom's collection (third party); expires_in: standard OAuth
	// answer; the provider documents none read. Rotation from SailPoint's
	// Zoom connector documentation (third party). Zoom documents no
	// dead-grant answer: RFC 6749's invalid_grant is served.
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
	// Box community forum thread.
	"box": {
		auth: "post",
		answer: func(access, refresh string) (string, string) {
			return simBJSON, fmt.Sprintf(`{"access_token":%q,"expires_in":3600,"restricted_to":[],"token_type":"bearer","refresh_token":%q,"issued_token_type":"urn:ietf:params:oauth:token-type:access_token"}`, access, refresh)
		},
		rotates:    true,
		dead:       simBDead(http.StatusBadRequest, `{"error":"invalid_grant","error_description":"Refresh token has expired"}`),
		revocation: true,
	},

	// Auth0: https://auth0.com/docs/api/authentication (the answer),
	// https://auth0.com/docs/secure/tokens/refresh-tokens/revoke-refresh-tokens
	// (/oauth/revoke), with a non-rotating application
	// (https://auth0.com/docs/secure/tokens/refresh-tokens/disable-refresh-token-rotation):
	// the answer carries no refresh token. Client authentication is a
	// setting of each application: either is accepted. Dead answer:
	// standard OAuth answer; the provider documents none.
	"auth0": {
		vars: map[string]string{"domain": "example.us.auth0.com"},
		auth: "either",
		answer: func(access, _ string) (string, string) {
			return simBJSON, fmt.Sprintf(`{"access_token":%q,"scope":"openid offline_access","expires_in":86400,"token_type":"Bearer"}`, access)
		},
		dead:       simBDead(http.StatusBadRequest, `{"error":"invalid_grant"}`),
		revocation: true,
	},

	// Keycloak: https://www.keycloak.org/securing-apps/oidc-layers (Basic or
	// form-body client credentials, the answer with refresh_expires_in),
	// with Revoke Refresh Token off, the server default from source
	// (DefaultExportImportManager.java): each answer carries a new refresh
	// token, and the old one still works. The revocation endpoint's path
	// was not confirmed from a page, so none is served. The dead answer's
	// description is TokenManager.java's "Session not active"; its status
	// is RFC 6749 §5.2's.
	"keycloak": {
		vars: map[string]string{"domain": "sso.example.com", "realm": "acme"},
		auth: "either",
		answer: func(access, refresh string) (string, string) {
			return simBJSON, fmt.Sprintf(`{"access_token":%q,"expires_in":300,"refresh_expires_in":1800,"refresh_token":%q,"token_type":"Bearer","not-before-policy":0,"session_state":"5c2b0a2e-3f4d-4b8e-9a61-0d2b7c1e9f00","scope":"profile email"}`, access, refresh)
		},
		dead: simBDead(http.StatusBadRequest, `{"error":"invalid_grant","error_description":"Session not active"}`),
	},

	// Linear: https://linear.app/developers/oauth-2-0-authentication
	// (form-body client credentials, the answer's shape); the dead answer
	// from Nango's blog (third party),
	// https://nango.dev/blog/linear-oauth-refresh-token-invalid-grant.
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

	// Asana: https://developers.asana.com/docs/oauth (the refresh answer
	// carries the user's data and no new refresh token; /-/oauth_revoke).
	// Client authentication: standard OAuth answer; the provider documents
	// none read, so either is accepted. Asana documents no dead-grant
	// answer: RFC 6749's invalid_grant is served.
	"asana": {
		auth: "either",
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
