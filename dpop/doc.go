// Package dpop sender-constrains OAuth 2.0 tokens with DPoP,
// Demonstrating Proof of Possession (RFC 9449): each grant gets a key
// pair of its own, every request to the token endpoint and to the API
// carries a fresh proof signed with that key, and a token stolen without
// its key is worthless.
//
// The [oauthrt.Transport] and the generic Refresher do all of this on
// their own once a grant has a key: the Refresher's DPoP field makes the
// code exchange of a new authorization create one (or take the key whose
// thumbprint went in the authorization request as dpop_jkt), and [Bind]
// keeps it in the token's extra fields. Every store keeps those with the
// token, encrypted by the store's AEAD when it has one, so every process
// of a fleet signs with the grant's key. A token whose type is DPoP goes
// out as "Authorization: DPoP …" with a proof in the DPoP header, and
// the servers' nonces are kept per origin and used on the next proof.
//
// This package holds the pieces: [NewKey], [Thumbprint], [Bind] and
// [KeyOf] for the key, and [Prover] for the proofs, for code that sends
// requests of its own.
package dpop
