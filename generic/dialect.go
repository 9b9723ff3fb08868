package generic

// A Dialect says how a provider's token endpoint reports a dead grant and
// a rejected client, beyond RFC 6749 §5.2. The zero Dialect is RFC 6749's:
// invalid_grant (and GitHub's bad_refresh_token, always recognised) means
// the grant is dead; invalid_client and unauthorized_client blame the
// client.
type Dialect struct {
	// DeadCodes are error codes that also mean the refresh token is dead,
	// such as Slack's "invalid_refresh_token" or HubSpot's
	// "BAD_REFRESH_TOKEN"; matched exactly. A refresh answered with one
	// fails with an error wrapping oauthrt.ErrReauthRequired, and a
	// revocation answered with one succeeds: the token is dead already.
	// Nil: RFC 6749's invalid_grant (and bad_refresh_token) only.
	DeadCodes []string
	// CodeMembers are members of an answer, besides "error", that may
	// carry the error code, in order: HubSpot's "status". An answer with
	// a non-empty string in one of them is an error answer with that
	// code, whatever its HTTP status, unless it is a 2xx that carries an
	// access token (a token answer with a member of that name); its
	// "message" member, if any, is the description. Their values are
	// never redacted as credentials, whatever their names. Nil: only
	// "error" carries the code.
	CodeMembers []string
	// ClientCodes are error codes that also blame the client rather than
	// the grant, such as GitHub's "incorrect_client_credentials": they
	// never kill the grant, even with a 401 or when DeadCodes lists them
	// too, and under AutoDetect they make the Refresher try the form, as
	// invalid_client does.
	ClientCodes []string
}
