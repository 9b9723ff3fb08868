package endpoint

import "golang.org/x/oauth2"

// KeepRefreshToken returns tok, or, when tok has no refresh token, a copy
// of it carrying old: an endpoint that does not rotate refresh tokens
// leaves refresh_token out of its answer, and the old one stays valid
// (RFC 6749 §6). tok is not modified.
func KeepRefreshToken(tok *oauth2.Token, old string) *oauth2.Token {
	if tok == nil || tok.RefreshToken != "" {
		return tok
	}
	cp := *tok
	cp.RefreshToken = old
	return &cp
}
