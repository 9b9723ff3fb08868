// Package conformance checks oauthrt against an OAuth2 authorization
// server that this project did not write: Ory's fosite, run in-process
// on an httptest server with its in-memory storage.
//
// Everything lives in the package's tests. fosite issues the first token
// pair through a real authorization code flow, refreshes with rotation,
// revokes a whole token family when a used refresh token comes back, and
// authenticates clients with client_secret_basic, client_secret_post and
// private_key_jwt. A protected API on the same server introspects every
// bearer token through fosite and answers 401 with
// WWW-Authenticate: Bearer error="invalid_token" when it is not valid.
//
// The tests prove the things oauthrt promises against that server: the
// configured client authentication method is the one used, a refresh
// token is never presented twice (fosite would revoke the grant), a 401
// from a token rotated by another member of a fleet is answered from the
// shared store, and a dead grant fails fast until a new one is saved.
// TestFleetSoak runs a fleet of Transports against two-second tokens for
// about 25 seconds (OAUTHRT_CONFORMANCE_DURATION overrides it; -short
// skips it) and, when OAUTHRT_CONFORMANCE_REPORT names a file, appends
// its one-line summary there.
//
// A second server, panva's oidc-provider on Node.js, runs as a process of
// its own from testdata/oidcprovider (server.mjs; .ci/run starts it and
// names its issuer in OAUTHRT_TEST_OIDC_PROVIDER, and the tests that need
// it skip without it). It issues DPoP-bound tokens, demands server nonces
// at its token endpoint and at its userinfo endpoint, which stands in for
// a protected API, rotates refresh tokens and revokes the grant when a
// rotated one comes back, and logs in and consents by itself.
// TestOIDCProviderSmoke proves that configuration with DPoP proofs built
// in the test, independently of oauthrt.
//
// The tests in oidcprovider_oauthrt_test.go then run oauthrt's own DPoP
// against it: the generic Refresher's bound code exchange (with dpop_jkt)
// and private_key_jwt, the Transport's proofs and nonces, the grant's key
// kept with the token in an encrypted file store and found there by
// another Transport (which a public client's key-bound refresh token
// needs), a refresh that rotates, and Transport.Revoke.
// TestOIDCProviderFleetSoak runs three processes of Transports on one
// encrypted token file against 3-second tokens for 20 seconds
// (OAUTHRT_OIDC_SOAK overrides it; -short skips it), and appends its
// figures to OAUTHRT_CONFORMANCE_REPORT too.
//
// The module is separate from oauthrt's so that fosite and its
// dependencies never reach oauthrt's users.
package conformance
