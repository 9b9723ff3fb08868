package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

var (
	keycloakTimeouts = Source{URL: "https://www.keycloak.org/docs/latest/server_admin/#_timeouts", Read: "2026-11-30"}
	keycloakOIDC     = Source{URL: "https://www.keycloak.org/securing-apps/oidc-layers", Read: "2026-11-30"}
	// keycloakDefaults is the server code that gives a new realm its
	// session and token lifetimes.
	keycloakDefaults = Source{URL: "https://github.com/keycloak/keycloak/blob/main/model/storage-private/src/main/java/org/keycloak/storage/datastore/DefaultExportImportManager.java", Read: "2026-11-30"}
	// keycloakTokenManager is the server code that refuses a refresh token
	// whose session has ended.
	keycloakTokenManager = Source{URL: "https://github.com/keycloak/keycloak/blob/main/services/src/main/java/org/keycloak/protocol/oidc/TokenManager.java", Read: "2026-11-30"}
)

// Keycloak is a Keycloak server; {domain} is its host and {realm} the
// realm. Servers before Keycloak 17 (the WildFly distribution) serve under
// an /auth prefix: for them, set {domain} to "host/auth". Lifetimes are
// realm (and client) settings: the facts below are a new realm's
// defaults. A refresh token lives as long as its SSO session, which idles
// out; offline tokens follow the Offline Session settings instead (30 days
// idle by default).
var Keycloak = &Provider{
	ID:       "keycloak",
	Name:     "Keycloak",
	Docs:     keycloakOIDC.URL,
	AuthURL:  "https://{domain}/realms/{realm}/protocol/openid-connect/auth",
	TokenURL: "https://{domain}/realms/{realm}/protocol/openid-connect/token",

	Revocation: known("https://{domain}/realms/{realm}/protocol/openid-connect/revoke", keycloakOIDC, "RFC 7009; revoking a refresh token ends its client session"),
	AuthMethod: known(generic.AuthClientSecretBasic, keycloakOIDC, "the default \"Client Id and Secret\" authenticator accepts client_secret_basic and client_secret_post; a client may be set to signed JWT instead"),

	Rotates:          known(false, keycloakTimeouts, "Revoke Refresh Token is off by default: answers carry a new refresh token but the old one keeps working; when on, refresh tokens are single-use"),
	ReuseGrace:       unknown[time.Duration]("with Revoke Refresh Token on, Keycloak counts reuses (Refresh Token Max Reuse, default 0) rather than time"),
	AccessLifetime:   known(5*time.Minute, keycloakDefaults, "Access Token Lifespan, 300 seconds by default; configurable per realm and client"),
	IdleLifetime:     known(30*time.Minute, keycloakDefaults, "SSO Session Idle, 1800 seconds by default; a refresh resets it; configurable; offline sessions idle 30 days by default"),
	AbsoluteLifetime: known(10*time.Hour, keycloakDefaults, "SSO Session Max, 36000 seconds by default; configurable; offline sessions have no maximum unless Offline Session Max Limited is on"),
	RevokesOldAccess: unknown[bool]("Keycloak's pages read do not say whether a refresh ends the previous access token"),
	DeadGrant:        known(generic.Dialect{}, keycloakTokenManager, "HTTP 400 invalid_grant, such as \"Token is not active\" or \"Session not active\""),
	ExpiresIn:        known(ExpiresIn{Sent: true}, keycloakOIDC, "answers carry expires_in and refresh_expires_in"),
	KeepFields:       known([]string(nil), keycloakOIDC, "API calls need only the access token"),
	Throttle:         unknown[string]("Keycloak documents no limit on refreshes; its brute-force protection concerns logins"),
}
