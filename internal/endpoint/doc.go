// Package endpoint is the token-endpoint client that the generic and vsts
// Refreshers share. [Do] posts a form to a token endpoint through a client
// that resends only a request the endpoint never got ([NewRetryClient]),
// and [Parse] turns the answer into an [oauth2.Token] or a
// [*ResponseError], reading error answers in the provider's [Dialect].
// [Revoke] posts to an RFC 7009 revocation endpoint the same way.
// [KeepExtra] and [SetExtra] carry members of a token's extra fields to
// the next token. A failure that may pass (a 429 or 5xx answer,
// temporarily_unavailable, a network error, an answer lost after the
// request went out) comes back as an [oauthrt.TransientError], for the
// Transport to back off and, for a lost answer, to retry.
//
// Parsing is lenient about formats (JSON, form encoding, expires_in as a
// number or a string, Azure DevOps' PascalCase error members) and strict
// about limits: bodies are capped at [MaxBody], and no error this package
// returns carries a token or a secret, even one the endpoint echoed back.
//
// Errors read as oauthrt's own ("oauthrt: token endpoint ..."), because
// that is the package users see.
package endpoint
