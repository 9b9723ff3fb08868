package providers

import (
	"time"

	"github.com/oauthrt/oauthrt/generic"
)

// Pages read for Bitbucket Cloud's OAuth 2.0.
var (
	bitbucketOAuthDoc = Source{URL: "https://developer.atlassian.com/cloud/bitbucket/oauth-2/", Read: "2026-11-30"}
	// A Bitbucket Cloud engineer confirms the two-hour access token, and
	// shows a refresh answer.
	bitbucketLifetimeThread = Source{URL: "https://community.developer.atlassian.com/t/oauth2-token-lifetime-expiration-clarification/22136", Read: "2026-11-30"}
	// An error answer of the token endpoint, quoted in Bitbucket's
	// tracker.
	bitbucketErrorIssue = Source{URL: "https://bitbucket.org/site/master/issues/16249/im-trying-to-implement-the-bitbucket-oauth", Read: "2026-11-30"}
)

// Bitbucket is Bitbucket Cloud's OAuth 2.0 (an OAuth consumer of a
// workspace). It is not Atlassian's 3LO (see Atlassian), and Bitbucket
// Data Center has its own OAuth on each instance.
var Bitbucket = &Provider{
	ID:       "bitbucket",
	Name:     "Bitbucket Cloud",
	Docs:     bitbucketOAuthDoc.URL,
	AuthURL:  "https://bitbucket.org/site/oauth2/authorize",
	TokenURL: "https://bitbucket.org/site/oauth2/access_token",

	Revocation: unknown[string]("the OAuth 2.0 page documents no revocation endpoint"),
	AuthMethod: known(generic.AuthClientSecretBasic, bitbucketOAuthDoc,
		"every example authenticates with curl -u client_id:secret"),

	Rotates:    unknown[bool]("the OAuth 2.0 page says a refresh token gets a new access token, not whether the refresh token changes"),
	ReuseGrace: unknown[time.Duration]("no rotation is documented"),
	AccessLifetime: known(2*time.Hour, bitbucketLifetimeThread,
		"expires_in 7200; older pages said one hour"),
	IdleLifetime:     unknown[time.Duration]("no lifetime of refresh tokens is documented"),
	AbsoluteLifetime: unknown[time.Duration]("no lifetime of refresh tokens is documented"),
	RevokesOldAccess: unknown[bool]("not documented"),
	DeadGrant: known(generic.Dialect{}, bitbucketErrorIssue,
		"errors are RFC 6749 JSON with error and error_description, such as invalid_grant"),
	ExpiresIn: known(ExpiresIn{Sent: true}, bitbucketLifetimeThread,
		"the refresh answer carries expires_in beside access_token, scopes, refresh_token and token_type"),
	KeepFields: known([]string(nil), bitbucketLifetimeThread, ""),
	Throttle:   unknown[string]("the OAuth 2.0 page gives no limit on token requests"),
}
