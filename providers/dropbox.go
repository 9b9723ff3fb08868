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
	// dropboxRevoke is the API reference of /2/auth/token/revoke.
	dropboxRevoke = Source{URL: "https://www.dropbox.com/developers/documentation/http/documentation#auth-token-revoke", Read: "2026-11-30"}
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

	Revocation: known("", dropboxRevoke, "Dropbox has no RFC 7009 endpoint; POST https://api.dropboxapi.com/2/auth/token/revoke, authorized by the access token, revokes it"),
	AuthMethod: known(generic.AuthClientSecretPost, dropboxOffline, "the documented refresh sends client_id and client_secret in the form; HTTP Basic with the app key and secret is also accepted"),

	Rotates:          known(false, dropboxOffline, "the refresh answer carries no refresh_token"),
	ReuseGrace:       known(time.Duration(0), dropboxOffline, "not applicable: refresh tokens do not rotate"),
	AccessLifetime:   known(4*time.Hour, dropboxOffline, "short-lived tokens; the documented answer carries expires_in of 14400"),
	IdleLifetime:     known(time.Duration(0), dropboxGuide, "refresh tokens are long-lived and do not expire by disuse; they end when revoked"),
	AbsoluteLifetime: known(time.Duration(0), dropboxGuide, "refresh tokens do not expire; the user or the app can revoke them"),
	RevokesOldAccess: unknown[bool]("Dropbox's pages do not say whether a refresh ends the previous access token"),
	DeadGrant:        unknown[generic.Dialect]("the pages read show no answer to a revoked refresh token"),
	ExpiresIn:        known(ExpiresIn{Sent: true}, dropboxOffline, ""),
	KeepFields:       known([]string(nil), dropboxOffline, "API calls need only the access token"),
	Throttle:         unknown[string]("the pages read give no limit on token requests"),
}
