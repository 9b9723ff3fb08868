package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

// Pages read for Google's OAuth 2.0.
var (
	googleOAuthDoc     = Source{URL: "https://developers.google.com/identity/protocols/oauth2", Read: "2026-11-30"}
	googleWebServerDoc = Source{URL: "https://developers.google.com/identity/protocols/oauth2/web-server", Read: "2026-11-30"}
	// An answer to a refresh token Google no longer accepts, quoted in
	// a bug report.
	googleDeadAnswer = Source{URL: "https://github.com/dolfim/django-gmailapi-backend/issues/9", Read: "2026-11-30"}
)

// Google is Google's OAuth 2.0 for web server applications (a refresh
// token needs access_type=offline). Refresh tokens do not rotate: a
// refresh answer has no refresh_token, and the one held stays in use.
// They die after six months unused, or when a user has too many.
var Google = &Provider{
	ID:       "google",
	Name:     "Google",
	Docs:     googleWebServerDoc.URL,
	AuthURL:  "https://accounts.google.com/o/oauth2/v2/auth",
	TokenURL: "https://oauth2.googleapis.com/token",

	Revocation: known("https://oauth2.googleapis.com/revoke", googleWebServerDoc,
		"takes an access or a refresh token; revoking either revokes the grant"),
	AuthMethod: known(generic.AuthClientSecretPost, googleWebServerDoc,
		"client_id and client_secret are form parameters of the token request"),

	Rotates: known(false, googleWebServerDoc,
		"a refresh answer carries no refresh_token: the same one serves again"),
	ReuseGrace:     unknown[time.Duration]("not applicable: refresh tokens do not rotate"),
	AccessLifetime: unknown[time.Duration]("answers carry expires_in (3920 in the documented example); no fixed lifetime is documented"),
	IdleLifetime: known(180*24*time.Hour, googleOAuthDoc,
		"\"six months\" unused; 180 days is the shorter reading"),
	AbsoluteLifetime: unknown[time.Duration]("Google lists when a refresh token stops working (six months idle, revocation, a password change for Gmail scopes, too many tokens, session control policies, 7 days for an external app in Testing status) and gives no absolute lifetime"),
	RevokesOldAccess: unknown[bool]("not documented; access tokens are not replaced early by a refresh"),
	DeadGrant: known(generic.Dialect{}, googleDeadAnswer,
		"400 with invalid_grant, \"Token has been expired or revoked.\""),
	ExpiresIn:  known(ExpiresIn{Sent: true}, googleWebServerDoc, ""),
	KeepFields: known([]string(nil), googleWebServerDoc, ""),
	Throttle: known("at most 100 live refresh tokens per Google Account per client ID: one more makes the oldest stop working, without warning", googleOAuthDoc,
		"a limit on authorizations, not on refreshes; another limit applies per user across all clients"),
}
