package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

// Pages read for GitHub Apps' user access tokens.
var (
	githubAppRefreshDoc  = Source{URL: "https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens", Read: "2026-11-30"}
	githubAppGenerateDoc = Source{URL: "https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app", Read: "2026-11-30"}
	// GitHub does not document its answer to a dead refresh token; this
	// pull request logs one: HTTP 200 with error bad_refresh_token.
	githubAppDeadAnswer = Source{URL: "https://github.com/interlink-hq/interLink/pull/262", Read: "2026-11-30"}
)

// GitHubApp is a GitHub App acting for a user on github.com (user access
// tokens, formerly user-to-server tokens), with token expiration on, as
// GitHub sets it for new apps: access tokens last eight hours, and each
// refresh hands out a new refresh token and ends the old one. An app that
// opts out of expiration gets tokens like an OAuth App's (see GitHub).
var GitHubApp = &Provider{
	ID:       "github-app",
	Name:     "GitHub (GitHub App user access tokens)",
	Docs:     githubAppRefreshDoc.URL,
	AuthURL:  "https://github.com/login/oauth/authorize",
	TokenURL: "https://github.com/login/oauth/access_token",

	Revocation: known("", githubExpiryDoc,
		"no RFC 7009 endpoint: the app deletes a token through the REST API (DELETE /applications/{client_id}/token); the credential revocation API also takes ghr_ refresh tokens"),
	AuthMethod: known(generic.AuthClientSecretPost, githubAppRefreshDoc,
		"client_id and client_secret are parameters of the refresh request; tokens from the device flow need no secret"),

	Rotates: known(true, githubAppRefreshDoc,
		"each refresh returns a new refresh token, and the one used no longer works"),
	ReuseGrace: known(time.Duration(0), githubAppRefreshDoc,
		"once a refresh token is used it no longer works; no grace is documented"),
	AccessLifetime: known(8*time.Hour, githubAppRefreshDoc,
		"expires_in is always 28800"),
	IdleLifetime: known(15811200*time.Second, githubAppRefreshDoc,
		"each refresh token lives six months (refresh_token_expires_in is always 15811200 seconds) and each refresh issues a new one, so a grant unused for six months dies"),
	AbsoluteLifetime: unknown[time.Duration]("the refresh page gives each refresh token six months and says nothing of a limit on the grant"),
	RevokesOldAccess: known(true, githubAppRefreshDoc,
		"after a refresh the old user access token no longer works"),
	DeadGrant: known(generic.Dialect{
		DeadCodes:   []string{"bad_refresh_token"},
		ClientCodes: []string{"incorrect_client_credentials"},
	}, githubAppDeadAnswer,
		"undocumented: a dead refresh token is answered with HTTP 200 and error bad_refresh_token (which package generic always recognises); incorrect_client_credentials is documented on the OAuth App error page"),
	ExpiresIn: known(ExpiresIn{Sent: true}, githubAppRefreshDoc,
		"sent whenever token expiration is on; an app that opted out gets neither expires_in nor a refresh token"),
	KeepFields: known([]string(nil), githubAppGenerateDoc,
		"refresh_token_expires_in is informative only"),
	Throttle: unknown[string]("the refresh and generation pages give no limit on refreshes"),
}
