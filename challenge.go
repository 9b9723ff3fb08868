package oauthrt

import "strings"

// bearerError returns the error auth-param of the first Bearer challenge
// in the given WWW-Authenticate header values (RFC 6750 §3), or "" when
// there is none. It accepts any input: a malformed header yields "" or
// whatever could be made of it, never a panic.
func bearerError(values []string) string { return challengeError(values, "Bearer") }

// challengeError returns the error auth-param of the first challenge of
// the given scheme in the WWW-Authenticate header values, or "".
func challengeError(values []string, scheme string) string {
	for _, v := range values {
		if e, ok := scanChallengeError(v, scheme); ok {
			return e
		}
	}
	return ""
}

// scanChallengeError walks the challenges of one header value (RFC 9110
// §11.6.1): a scheme, then auth-params (name=value) or a token68, with
// challenges and params separated by commas.
func scanChallengeError(s, want string) (string, bool) {
	scheme := ""
	i := 0
	for i < len(s) {
		c := s[i]
		if c == ' ' || c == '\t' || c == ',' {
			i++
			continue
		}
		name, j := readToken(s, i)
		if name == "" {
			i++ // not a token character: skip it
			continue
		}
		k := skipSpace(s, j)
		if k >= len(s) || s[k] != '=' {
			scheme, i = name, j // a new challenge
			continue
		}
		// name= starts an auth-param, unless the '='s end a token68
		// such as "abc==".
		eq := k
		for eq < len(s) && s[eq] == '=' {
			eq++
		}
		v := skipSpace(s, eq)
		if eq-k > 1 || v >= len(s) || s[v] == ',' {
			i = eq
			continue
		}
		var val string
		if s[v] == '"' {
			val, i = readQuoted(s, v)
		} else {
			val, i = readToken(s, v)
			if val == "" {
				i = v + 1
			}
		}
		if strings.EqualFold(scheme, want) && strings.EqualFold(name, "error") {
			return val, true
		}
	}
	return "", false
}

// readToken returns the token (RFC 9110 tchar, plus '/' for token68
// values) starting at s[i], and the index after it.
func readToken(s string, i int) (string, int) {
	j := i
	for j < len(s) && isTokenChar(s[j]) {
		j++
	}
	return s[i:j], j
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~/", c) >= 0
}

// readQuoted returns the unescaped content of the quoted-string starting
// at s[i] == '"', and the index after its closing quote (or len(s) when
// it is not closed).
func readQuoted(s string, i int) (string, int) {
	var b strings.Builder
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; c {
		case '"':
			return b.String(), j + 1
		case '\\':
			if j+1 < len(s) {
				j++
				b.WriteByte(s[j])
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), len(s)
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}
