package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

// Pages read for the Microsoft identity platform (Entra ID) v2.0.
var (
	entraRefreshDoc   = Source{URL: "https://learn.microsoft.com/entra/identity-platform/refresh-tokens", Read: "2026-11-30"}
	entraLifetimesDoc = Source{URL: "https://learn.microsoft.com/entra/identity-platform/configurable-token-lifetimes", Read: "2026-11-30"}
	entraAuthCodeDoc  = Source{URL: "https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow", Read: "2026-11-30"}
)

// Entra is Microsoft Entra ID (formerly Azure AD) through the v2.0
// endpoints; {tenant} is a tenant ID or domain, or organizations, common
// or consumers. Each refresh hands out a new refresh token but leaves the
// old one valid until it expires. Package entra refreshes these tokens,
// with certificates and Azure DevOps' quirks; a generic Refresher works
// too for a client secret.
var Entra = &Provider{
	ID:       "entra",
	Name:     "Microsoft Entra ID (v2.0)",
	Docs:     entraAuthCodeDoc.URL,
	AuthURL:  "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize",
	TokenURL: "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",

	Revocation: known("", entraRefreshDoc,
		"no RFC 7009 endpoint: refresh tokens are revoked by the user or an administrator, or by a password change"),
	AuthMethod: known(generic.AuthClientSecretPost, entraAuthCodeDoc,
		"client_secret is a form parameter; a certificate credential sends a client_assertion instead (private_key_jwt)"),

	Rotates: known(false, entraRefreshDoc,
		"each refresh answer carries a new refresh token, to be saved, but the old one is not revoked when used"),
	ReuseGrace: known(90*24*time.Hour, entraRefreshDoc,
		"an old refresh token stays valid until its own lifetime ends: 90 days, 24 hours for single-page apps"),
	AccessLifetime: known(60*time.Minute, entraLifetimesDoc,
		"the default is a random value between 60 and 90 minutes (75 on average); a token lifetime policy can change it"),
	IdleLifetime: known(90*24*time.Hour, entraRefreshDoc,
		"refresh tokens live 90 days and each refresh issues a new one; 24 hours, not extended, for single-page apps; not configurable"),
	AbsoluteLifetime: unknown[time.Duration]("the refresh token page gives none beyond each token's 90 days; Conditional Access sign-in frequency can impose one"),
	RevokesOldAccess: known(false, entraLifetimesDoc,
		"access tokens cannot be revoked and stay valid until they expire"),
	DeadGrant: known(generic.Dialect{DeadCodes: []string{"interaction_required", "consent_required", "login_required"}}, entraAuthCodeDoc,
		"only the user can get past these (multifactor authentication, Conditional Access, consent, a new sign-in); invalid_client blames the app's secret or certificate"),
	ExpiresIn:  known(ExpiresIn{Sent: true}, entraAuthCodeDoc, ""),
	KeepFields: known([]string(nil), entraAuthCodeDoc, ""),
	Throttle:   unknown[string]("the pages read give no limit on token requests"),
}
