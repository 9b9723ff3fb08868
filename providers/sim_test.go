package providers

// A simSpec is how a provider's token endpoint behaves, as its public
// documentation shows it, written from the documentation independently of
// the catalog's facts: the simulator serves it, and the catalog's
// Refresher must cope with it. Every spec field carries the documentation
// it comes from in a comment.
type simSpec struct {
	// vars fill the placeholders of the provider's URLs.
	vars map[string]string
	// auth is the client authentication the endpoint requires: "basic"
	// (client_secret_basic), "post" (client_secret_post), or "either".
	auth string
	// answer returns a successful refresh answer shaped as documented,
	// carrying the given tokens: its Content-Type and body. expires_in
	// appears only if the provider sends it.
	answer func(access, refresh string) (contentType, body string)
	// rotates: each refresh answer carries a new refresh token, and the
	// old one is refused (after grace).
	rotates bool
	// dead is the documented answer to a dead or revoked refresh token.
	dead struct {
		status      int
		contentType string
		body        string
	}
	// firstExtra are members an application adds to the first token from
	// the authorization redirect (QuickBooks' realmId), which must survive
	// every refresh; nil when none.
	firstExtra map[string]any
	// revocation is true when the provider documents an RFC 7009
	// revocation endpoint.
	revocation bool
}
