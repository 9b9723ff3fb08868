package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

var (
	dropboxGuide = Source{URL: "https://developers.dropbox.com/oauth-guide", Read: "2026-11-30"}
	// dropboxOffline is Dropbox's post on offline access: the refresh
	// request and its answer.
	dropboxOffline = Source{URL: "https://dropbox.tech/developers/using-oauth-2-0-with-offline-access", Read: "2026-11-30"}
)

// Dropbox is Dropbox's OAuth 2.0 with token_access_type=offline. Refresh
// answers carry only a new short-lived access token: the refresh token
// from the code exchange is used for the life of the grant.
var Dropbox = &Provider{
	ID:       "dropbox",
	Name:     "Dropbox",
	Docs:     dropboxGuide.URL,
	AuthURL:  "https://www.dropbox.com/oauth2/authorize",
	TokenURL: "https://api.dropboxapi.com/oauth2/token",

	Revocation: unknown[string]("Dropbox's SDK references describe POST /2/auth/token/revoke, which disables the access token authenticating the call and its refresh token; no Dropbox page read says whether it follows RFC 7009"),
	AuthMethod: known(generic.AuthClientSecretPost, dropboxOffline, "the documented refresh sends client_id and client_secret in the form; HTTP Basic with the app key and secret is also accepted"),

	Rotates:          known(false, dropboxOffline, "the refresh answer carries no refresh_token"),
	ReuseGrace:       known(time.Duration(0), dropboxOffline, "not applicable: refresh tokens do not rotate"),
	AccessLifetime:   known(4*time.Hour, dropboxOffline, "short-lived tokens; the documented answer carries expires_in of 14400"),
	IdleLifetime:     unknown[time.Duration]("Dropbox's SDK references call refresh tokens long-lived (valid as long as the user's approval remains); the OAuth guide and offline-access post, as read, give no idle expiry"),
	AbsoluteLifetime: unknown[time.Duration]("Dropbox's SDK references call refresh tokens long-lived; the OAuth guide and offline-access post, as read, do not say they never expire"),
	RevokesOldAccess: unknown[bool]("Dropbox's pages do not say whether a refresh ends the previous access token"),
	DeadGrant:        unknown[generic.Dialect]("the pages read show no answer to a revoked refresh token"),
	ExpiresIn:        known(ExpiresIn{Sent: true}, dropboxOffline, ""),
	KeepFields:       known([]string(nil), dropboxOffline, "API calls need only the access token"),
	Throttle:         unknown[string]("the pages read give no limit on token requests"),
}
