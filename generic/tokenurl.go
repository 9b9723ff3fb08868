package generic

import (
	"net/url"

	"github.com/oauthrt/oauthrt/internal/endpoint"
	"golang.org/x/oauth2"
)

// TokenURLMember is the member of a token's extra fields (see
// oauth2.Token.Extra) in which a Refresher records the token endpoint
// that issued the token. The stores keep a token's extra fields, so that
// a process that finds the token in a store knows where to refresh it,
// which matters when each customer has a token endpoint of its own (see
// the providers package).
const TokenURLMember = "oauthrt_token_url"

// TokenURLOf returns the token endpoint recorded in tok (see
// TokenURLMember): the URL of the endpoint that issued it, without any
// user info. It returns "" for a nil tok, or one that records none: a
// token that did not come from a Refresher of this package (nor went
// through WithTokenURL), or whose extra fields are of a type this
// package does not write.
func TokenURLOf(tok *oauth2.Token) string {
	if tok == nil {
		return ""
	}
	s, _ := tok.Extra(TokenURLMember).(string)
	return s
}

// WithTokenURL returns a copy of tok that records tokenURL as the token
// endpoint that issued it, as Refresh and Exchange do: for a token
// obtained otherwise, such as by golang.org/x/oauth2's Exchange. The
// URL's user info, if any, is left out, so that no password in it goes
// to the store. tok is not modified. It returns tok as it is when tok is
// nil, or when its extra fields are neither a map[string]any nor a
// url.Values (the types x/oauth2 and this package give them).
func WithTokenURL(tok *oauth2.Token, tokenURL string) *oauth2.Token {
	if u, err := url.Parse(tokenURL); err == nil && u.User != nil {
		u.User = nil
		tokenURL = u.String()
	}
	return endpoint.SetExtra(tok, TokenURLMember, tokenURL)
}
