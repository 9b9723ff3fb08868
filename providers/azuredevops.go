package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

// The page read for Azure DevOps OAuth 2.0.
var azureDevOpsOAuthDoc = Source{URL: "https://learn.microsoft.com/azure/devops/integrate/get-started/authentication/azure-devops-oauth", Read: "2026-11-30"}

// AzureDevOps is Azure DevOps OAuth 2.0, the legacy Visual Studio flow at
// app.vssps.visualstudio.com. It is not RFC 6749 as written: the code
// and the refresh token travel as a JWT bearer assertion, the client
// secret as a client_assertion, and errors have PascalCase members, so a
// generic Refresher cannot speak it: use package vsts. Microsoft takes no
// new registrations since April 2025 and retires it in 2026; its
// successor is Entra.
var AzureDevOps = &Provider{
	ID:       "azuredevops",
	Name:     "Azure DevOps OAuth (legacy)",
	Docs:     azureDevOpsOAuthDoc.URL,
	AuthURL:  "https://app.vssps.visualstudio.com/oauth2/authorize",
	TokenURL: "https://app.vssps.visualstudio.com/oauth2/token",

	Revocation: unknown[string]("the page documents no revocation endpoint"),
	AuthMethod: unknown[generic.AuthMethod]("not applicable: the client secret is sent as client_assertion with client_assertion_type urn:ietf:params:oauth:client-assertion-type:jwt-bearer, which no AuthMethod names; package vsts sends it"),

	Rotates:          unknown[bool]("the page says each refresh issues a new refresh token, to use next time, but not whether the old one stops working"),
	ReuseGrace:       unknown[time.Duration]("not documented"),
	AccessLifetime:   unknown[time.Duration]("not documented beyond the answer's expires_in"),
	IdleLifetime:     unknown[time.Duration]("not documented"),
	AbsoluteLifetime: unknown[time.Duration]("not documented"),
	RevokesOldAccess: unknown[bool]("not documented"),
	DeadGrant:        unknown[generic.Dialect]("errors come back as {\"Error\":…,\"ErrorDescription\":…}, which package vsts reads; no list of codes is documented"),
	ExpiresIn:        unknown[ExpiresIn]("not checked against the page; package vsts reads expires_in as a number or a string"),
	KeepFields:       unknown[[]string]("not applicable to a generic Refresher: package vsts keeps what the flow needs"),
	Throttle:         unknown[string]("the page gives no limit on token requests"),
}
