package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

// Pages read for Slack's OAuth v2 with token rotation.
var (
	slackRotationDoc = Source{URL: "https://docs.slack.dev/authentication/using-token-rotation", Read: "2026-11-30"}
	slackAccessDoc   = Source{URL: "https://docs.slack.dev/reference/methods/oauth.v2.access", Read: "2026-11-30"}
)

// Slack is a Slack app with token rotation on (granular bot or user
// tokens): access tokens expire after 12 hours and are refreshed through
// oauth.v2.access with grant_type=refresh_token. Without token rotation,
// Slack tokens never expire and there is nothing to refresh. Slack answers
// errors with HTTP 200 and {"ok":false,"error":…}.
var Slack = &Provider{
	ID:       "slack",
	Name:     "Slack (token rotation)",
	Docs:     slackRotationDoc.URL,
	AuthURL:  "https://slack.com/oauth/v2/authorize",
	TokenURL: "https://slack.com/api/oauth.v2.access",

	Revocation: unknown[string]("the pages read document no RFC 7009 endpoint; Slack has an auth.revoke method, whose page was not read"),
	AuthMethod: known(generic.AuthClientSecretBasic, slackAccessDoc,
		"Slack prefers HTTP Basic for client_id and client_secret, and also takes them as form parameters"),

	Rotates: known(true, slackRotationDoc,
		"the refresh token used is revoked, and the answer carries a new one"),
	ReuseGrace: unknown[time.Duration]("the token rotation guide says the used refresh token is revoked, not when"),
	AccessLifetime: known(12*time.Hour, slackRotationDoc,
		"expires_in 43200"),
	IdleLifetime:     unknown[time.Duration]("the token rotation guide gives no lifetime for refresh tokens"),
	AbsoluteLifetime: unknown[time.Duration]("the token rotation guide gives no lifetime for refresh tokens"),
	RevokesOldAccess: unknown[bool]("not documented"),
	DeadGrant: known(generic.Dialect{
		DeadCodes:   []string{"invalid_refresh_token"},
		ClientCodes: []string{"invalid_client_id", "bad_client_secret"},
	}, slackAccessDoc,
		"errors come with HTTP 200, ok false and an error member; invalid_refresh_token (the refresh token is invalid) is the code of Slack's refresh methods, bad_client_secret and invalid_client_id blame the app"),
	ExpiresIn: known(ExpiresIn{Sent: true}, slackRotationDoc, ""),
	KeepFields: known([]string(nil), slackAccessDoc,
		"team, authed_user and the other members describe the installation; none is needed to call the API"),
	Throttle: unknown[string]("the method page names a rate-limit tier for oauth.v2.access that was not checked"),
}
