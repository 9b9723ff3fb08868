package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

// Pages read for GitHub's OAuth Apps, and shared with its GitHub Apps.
var (
	githubAuthorizeDoc = Source{URL: "https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps", Read: "2026-11-30"}
	githubErrorsDoc    = Source{URL: "https://docs.github.com/en/apps/oauth-apps/maintaining-oauth-apps/troubleshooting-oauth-app-access-token-request-errors", Read: "2026-11-30"}
	githubExpiryDoc    = Source{URL: "https://docs.github.com/en/authentication/keeping-your-account-and-data-secure/token-expiration-and-revocation", Read: "2026-11-30"}
)

// GitHub is a GitHub OAuth App on github.com. Its tokens do not expire
// and come with no refresh token: there is nothing to refresh, and a
// token GitHub revokes (after a year unused, or by the user) needs a new
// authorization. For user tokens that expire and refresh, see GitHubApp.
// GitHub Enterprise Server serves the same paths on its own host.
var GitHub = &Provider{
	ID:       "github",
	Name:     "GitHub (OAuth App)",
	Docs:     githubAuthorizeDoc.URL,
	AuthURL:  "https://github.com/login/oauth/authorize",
	TokenURL: "https://github.com/login/oauth/access_token",

	Revocation: known("", githubExpiryDoc,
		"no RFC 7009 endpoint: the app's owner deletes one token or the whole authorization through the REST API (DELETE /applications/{client_id}/token or /grant), with the app's credentials"),
	AuthMethod: known(generic.AuthClientSecretPost, githubAuthorizeDoc,
		"client_id and client_secret are parameters of the token request"),

	Rotates: known(false, githubAuthorizeDoc,
		"an OAuth App's token answer carries no refresh token"),
	ReuseGrace: unknown[time.Duration]("not applicable: OAuth App tokens come with no refresh token"),
	AccessLifetime: known(time.Duration(0), githubExpiryDoc,
		"OAuth App tokens have no expiry date; GitHub revokes one that goes unused for a year"),
	IdleLifetime: known(365*24*time.Hour, githubExpiryDoc,
		"GitHub revokes an OAuth token that has not been used in one year; with no refresh token, this is the access token's own limit"),
	AbsoluteLifetime: known(time.Duration(0), githubExpiryDoc,
		"only personal access tokens have an expiration date; an OAuth App token ends by revocation or disuse"),
	RevokesOldAccess: unknown[bool]("not applicable: OAuth App tokens are never refreshed"),
	DeadGrant: known(generic.Dialect{ClientCodes: []string{"incorrect_client_credentials"}}, githubErrorsDoc,
		"incorrect_client_credentials blames the app's client_id or client_secret; a revoked token shows as a 401 from the API, not at the token endpoint"),
	ExpiresIn: known(ExpiresIn{}, githubAuthorizeDoc,
		"the answer carries access_token, scope and token_type only (form-encoded unless Accept asks for JSON): the token gets no expiry"),
	KeepFields: known([]string(nil), githubAuthorizeDoc, ""),
	Throttle: known("at most ten tokens per user, app and scope, and ten new ones an hour; an eleventh revokes the oldest", githubAuthorizeDoc,
		"the limit is on tokens issued, not on API calls"),
}
