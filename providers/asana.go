package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

var asanaOAuth = Source{URL: "https://developers.asana.com/docs/oauth", Read: "2026-11-30"}

// Asana is Asana's OAuth (authorization code grant). Refresh answers carry
// a new access token only: the refresh token from the code exchange is
// kept.
var Asana = &Provider{
	ID:       "asana",
	Name:     "Asana",
	Docs:     asanaOAuth.URL,
	AuthURL:  "https://app.asana.com/-/oauth_authorize",
	TokenURL: "https://app.asana.com/-/oauth_token",

	Revocation: known("https://app.asana.com/-/oauth_revoke", asanaOAuth, "revoking the refresh token ends the grant"),
	AuthMethod: unknown[generic.AuthMethod]("Asana's OAuth page, as read (its quick reference), does not say how the client authenticates at the token endpoint"),

	Rotates:          unknown[bool]("Asana's OAuth page, as read, does not say whether the refresh answer ever carries a new refresh token"),
	ReuseGrace:       unknown[time.Duration]("Asana's OAuth page, as read, documents no rotation"),
	AccessLifetime:   unknown[time.Duration]("Asana's OAuth page, as read (its quick reference), gives no access token lifetime; follow expires_in"),
	IdleLifetime:     unknown[time.Duration]("Asana's OAuth page, as read, gives no refresh token lifetime"),
	AbsoluteLifetime: unknown[time.Duration]("Asana's OAuth page, as read, gives no refresh token lifetime"),
	RevokesOldAccess: unknown[bool]("Asana's OAuth page, as read, does not say"),
	DeadGrant:        unknown[generic.Dialect]("Asana's OAuth page, as read, shows no answer to a dead refresh token"),
	ExpiresIn:        known(ExpiresIn{Sent: true}, asanaOAuth, "the documented answer carries expires_in"),
	KeepFields:       known([]string(nil), asanaOAuth, "API calls need only the access token"),
	Throttle:         unknown[string]("Asana's OAuth page gives no limit on token requests"),
}
