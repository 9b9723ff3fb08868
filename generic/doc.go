// Package generic refreshes tokens with the refresh_token grant of RFC
// 6749 §6, as most OAuth2 providers implement it.
//
// A [Refresher] posts the refresh token to the provider's token endpoint,
// authenticating the client with HTTP Basic (client_secret_basic), in the
// form (client_secret_post), or, for a public client, not at all. Unless
// told which, it tries Basic first and falls back to the form once if the
// endpoint rejects the client, then remembers what worked.
//
// Build one from an existing [oauth2.Config] with [FromConfig], and hand
// it to an [oauthrt.Transport]:
//
//	client := &http.Client{Transport: &oauthrt.Transport{
//		Store:     store,
//		Refresher: generic.FromConfig(conf),
//	}}
//
// A refresh token the endpoint rejects (invalid_grant, or a 401) ends in
// an error wrapping [oauthrt.ErrReauthRequired].
package generic
