// Package generic refreshes tokens with the refresh_token grant of RFC
// 6749 §6, as most OAuth2 providers implement it.
//
// A [Refresher] posts the refresh token to the provider's token endpoint,
// authenticating the client with HTTP Basic (client_secret_basic), in the
// form (client_secret_post), with a JWT signed by its private key
// (private_key_jwt, RFC 7523: see [PrivateKeyJWT]), by the certificate it
// presents in the TLS handshake (tls_client_auth and
// self_signed_tls_client_auth, RFC 8705: see
// [Refresher.ClientCertificate]), or, for a public client, not at all
// (none). [Refresher.AuthMethod] names the method;
// unless it does (see [Refresher.AuthStyle]), a client secret is tried
// with Basic first, falling back to the form once if the endpoint blames
// the client (invalid_client or unauthorized_client, or a 401 with no
// error code), and what worked is remembered. An answer invalid_grant,
// whatever its status, is never followed by a second try: the dead
// refresh token is presented once.
//
// Build one from an existing [oauth2.Config] with [FromConfig], and hand
// it to an [oauthrt.Transport]:
//
//	client := &http.Client{Transport: &oauthrt.Transport{
//		Store:     store,
//		Refresher: generic.FromConfig(conf),
//	}}
//
// [Refresher.Exchange] redeems an authorization code for the first token
// of a grant, with the same client authentication, for applications that
// run the authorization flow without golang.org/x/oauth2 (a client with
// private_key_jwt, which x/oauth2 cannot authenticate).
//
// A refresh token the endpoint rejects (invalid_grant, or a 401 that does
// not say invalid_client or unauthorized_client) ends in an error wrapping
// [oauthrt.ErrReauthRequired].
//
// # A provider's ways
//
// Providers stray from RFC 6749 in small ways, which a Refresher's fields
// describe (the providers package fills them in from its catalog):
//
//   - [Refresher.Dialect]: error codes that mean a dead grant (Slack's
//     invalid_refresh_token), members that carry the code (HubSpot's
//     status), and codes that blame the client;
//   - [Refresher.KeepFields]: members of the first token that the API
//     needs and refresh answers leave out (QuickBooks' realmId), which each
//     new token keeps from the one it replaces, as it keeps the scope;
//   - [Refresher.DefaultLifetime]: the lifetime of an access token whose
//     answer has no expires_in.
//
// Every token a Refresher returns records the token endpoint that issued
// it ([TokenURLOf]), which the stores keep with it, so that a process that
// finds the token in a store knows where to refresh it.
//
// [Refresher.Revoke] revokes a grant at the provider's RFC 7009
// revocation endpoint, [Refresher.RevocationURL], with the client
// authenticated as for a refresh: a Refresher is an [oauthrt.Revoker].
package generic
