package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

var (
	keycloakOIDC = Source{URL: "https://www.keycloak.org/securing-apps/oidc-layers", Read: "2026-11-30"}
	// keycloakDefaults is the server code that gives a new realm its
	// session and token lifetimes.
	keycloakDefaults = Source{URL: "https://github.com/keycloak/keycloak/blob/main/model/storage-private/src/main/java/org/keycloak/storage/datastore/DefaultExportImportManager.java", Read: "2026-11-30"}
	// keycloakTokenManager is the server code that refuses a refresh token
	// whose session has ended (the stored copy read is an older revision).
	keycloakTokenManager = Source{URL: "https://github.com/keycloak/keycloak/blob/main/services/src/main/java/org/keycloak/protocol/oidc/TokenManager.java", Read: "2026-11-30"}
)

// Keycloak is a Keycloak server; {domain} is its host and {realm} the
// realm. Servers before Keycloak 17 (the WildFly distribution) serve under
// an /auth prefix: for them, set {domain} to "host/auth". Lifetimes are
// realm (and client) settings: the facts below are a new realm's
// defaults. A refresh token lives as long as its SSO session, which idles
// out; offline tokens follow the Offline Session settings instead.
var Keycloak = &Provider{
	ID:       "keycloak",
	Name:     "Keycloak",
	Docs:     keycloakOIDC.URL,
	AuthURL:  "https://{domain}/realms/{realm}/protocol/openid-connect/auth",
	TokenURL: "https://{domain}/realms/{realm}/protocol/openid-connect/token",

	Revocation: unknown[string]("the server's TokenRevocationEndpoint source shows an RFC 7009-shaped endpoint (form POST of token, client authentication, 200); its path, /protocol/openid-connect/revoke in discovery documents, was not confirmed from a page read"),
	AuthMethod: known(generic.AuthClientSecretBasic, keycloakOIDC, "the default \"Client Id and Secret\" authenticator accepts client_secret_basic and client_secret_post; a client may be set to signed JWT instead"),

	Rotates:          known(false, keycloakDefaults, "server default from source: a new realm has Revoke Refresh Token off, so the old refresh token keeps working; when on, refresh tokens are single-use (server admin guide, Timeouts)"),
	ReuseGrace:       unknown[time.Duration]("with Revoke Refresh Token on, Keycloak counts reuses (Refresh Token Max Reuse, 0 by default in the server source) rather than time"),
	AccessLifetime:   known(5*time.Minute, keycloakDefaults, "server default from source: Access Token Lifespan of 300 seconds for a new realm; configurable per realm and client"),
	IdleLifetime:     known(30*time.Minute, keycloakDefaults, "server default from source: SSO Session Idle of 1800 seconds for a new realm; a refresh resets it; configurable; offline sessions follow Offline Session Idle"),
	AbsoluteLifetime: known(10*time.Hour, keycloakDefaults, "server default from source: SSO Session Max of 36000 seconds for a new realm; configurable; offline sessions have no maximum unless Offline Session Max Limited is on"),
	RevokesOldAccess: unknown[bool]("Keycloak's pages read do not say whether a refresh ends the previous access token"),
	DeadGrant:        known(generic.Dialect{}, keycloakTokenManager, "server source: RFC 6749 invalid_grant, with descriptions such as \"Session not active\", \"Refresh token expired\" or \"Stale token\""),
	ExpiresIn:        known(ExpiresIn{Sent: true}, keycloakOIDC, "answers carry expires_in and refresh_expires_in"),
	KeepFields:       known([]string(nil), keycloakOIDC, "API calls need only the access token"),
	Throttle:         unknown[string]("Keycloak documents no limit on refreshes; its brute-force protection concerns logins"),
}
