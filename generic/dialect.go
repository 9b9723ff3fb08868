package generic

// A Dialect says how a provider's token endpoint reports a dead grant and
// a rejected client, beyond RFC 6749 §5.2. The zero Dialect is RFC 6749's:
// invalid_grant (and GitHub's bad_refresh_token, always recognised) means
// the grant is dead; invalid_client and unauthorized_client blame the
// client.
type Dialect struct {
	// DeadCodes are error codes that also mean the refresh token is dead,
	// such as Slack's "invalid_refresh_token" or HubSpot's
	// "BAD_REFRESH_TOKEN"; matched exactly.
	DeadCodes []string
	// CodeMembers are members of a JSON answer, besides "error", that
	// may carry the error code, in order: HubSpot's "status". A non-OAuth
	// error answer is recognised by them, whatever its HTTP status.
	CodeMembers []string
	// ClientCodes are error codes that also blame the client rather than
	// the grant, such as GitHub's "incorrect_client_credentials": they
	// never kill the grant.
	ClientCodes []string
}
