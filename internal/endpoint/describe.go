package endpoint

import "net/url"

// Masked is how a String method shows a secret: `""` when it is empty
// (so a missing secret is visible), [redacted] otherwise.
func Masked(secret string) string {
	if secret == "" {
		return `""`
	}
	return redacted
}

// RedactedURL hides a password in s's user info; s is returned as it is
// when it does not parse.
func RedactedURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.Redacted()
}
