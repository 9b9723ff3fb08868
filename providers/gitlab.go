package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

// The page read for GitLab's OAuth 2.0 provider.
var gitlabOAuthDoc = Source{URL: "https://docs.gitlab.com/api/oauth2/", Read: "2026-11-30"}

// GitLab is GitLab.com as an OAuth 2.0 provider. A self-managed GitLab
// instance or GitLab Dedicated serves the same paths (/oauth/authorize,
// /oauth/token, /oauth/revoke) on its own host: copy the Provider and
// change the host. Every refresh invalidates both the old access token
// and the old refresh token.
var GitLab = &Provider{
	ID:       "gitlab",
	Name:     "GitLab",
	Docs:     gitlabOAuthDoc.URL,
	AuthURL:  "https://gitlab.com/oauth/authorize",
	TokenURL: "https://gitlab.com/oauth/token",

	Revocation: known("https://gitlab.com/oauth/revoke", gitlabOAuthDoc,
		"answers 200 with an empty JSON object"),
	AuthMethod: known(generic.AuthClientSecretPost, gitlabOAuthDoc,
		"the examples send client_id and client_secret in the form; the password-grant example shows HTTP Basic, which the same endpoint takes"),

	Rotates: known(true, gitlabOAuthDoc,
		"a refresh invalidates the existing refresh token and sends a new one"),
	ReuseGrace: known(time.Duration(0), gitlabOAuthDoc,
		"the refresh invalidates the old refresh token; no grace is documented"),
	AccessLifetime: known(2*time.Hour, gitlabOAuthDoc,
		"expires_in is 7200 in every example"),
	IdleLifetime:     unknown[time.Duration]("the OAuth 2.0 API page gives no lifetime for refresh tokens"),
	AbsoluteLifetime: unknown[time.Duration]("the OAuth 2.0 API page gives no lifetime for refresh tokens"),
	RevokesOldAccess: known(true, gitlabOAuthDoc,
		"a refresh invalidates the existing access token"),
	DeadGrant: known(generic.Dialect{}, gitlabOAuthDoc,
		"errors are RFC 6749 §5.2's (GitLab's provider is the Doorkeeper gem)"),
	ExpiresIn: known(ExpiresIn{Sent: true}, gitlabOAuthDoc,
		"every documented answer carries expires_in, and created_at beside it"),
	KeepFields: known([]string(nil), gitlabOAuthDoc, ""),
	Throttle:   unknown[string]("the OAuth 2.0 API page gives no limit on token requests"),
}
