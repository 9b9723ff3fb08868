package oauthrt

import "strings"

// A challenge is one challenge of a WWW-Authenticate header (RFC 9110
// §11.6.1): an auth-scheme with a token68 or auth-params.
type challenge struct {
	scheme  string            // as sent: compare with strings.EqualFold
	params  map[string]string // names lower-cased; the first of a repeated name counts
	token68 string
}

// bearerError returns the error auth-param of the first Bearer challenge
// in the given WWW-Authenticate header values (RFC 6750 §3), or "" when
// there is none.
func bearerError(values []string) string {
	for _, c := range parseChallenges(values) {
		if e, ok := c.params["error"]; ok && strings.EqualFold(c.scheme, "Bearer") {
			return e
		}
	}
	return ""
}

// parseChallenges returns the challenges of the given WWW-Authenticate
// header values, in order. It accepts any input: a malformed header
// yields what could be made of it, never a panic.
func parseChallenges(values []string) []challenge {
	var cs []challenge
	for _, v := range values {
		cs = scanChallenges(v, cs)
	}
	return cs
}

// scanChallenges appends the challenges of one header value to cs: a
// scheme, then a token68 or auth-params (name=value), with challenges
// and params separated by commas. A bare token right after a scheme is
// its token68; anywhere else it starts a new challenge. Params before
// any scheme are dropped.
func scanChallenges(s string, cs []challenge) []challenge {
	cur := -1            // index in cs of the challenge being read
	afterScheme := false // nothing but spaces since the scheme of cs[cur]
	i := 0
	for i < len(s) {
		c := s[i]
		if c == ' ' || c == '\t' {
			i++
			continue
		}
		if c == ',' {
			afterScheme = false
			i++
			continue
		}
		name, j := readToken(s, i)
		if name == "" {
			afterScheme = false
			i++ // not a token character: skip it
			continue
		}
		k := skipSpace(s, j)
		if k >= len(s) || s[k] != '=' {
			if afterScheme {
				cs[cur].token68 = name
				afterScheme = false
			} else {
				cs = append(cs, challenge{scheme: name})
				cur, afterScheme = len(cs)-1, true
			}
			i = j
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
			if afterScheme && j == k {
				cs[cur].token68 = s[i:eq]
			}
			afterScheme = false
			i = eq
			continue
		}
		afterScheme = false
		var val string
		if s[v] == '"' {
			val, i = readQuoted(s, v)
		} else {
			val, i = readToken(s, v)
			if val == "" {
				i = v + 1
			}
		}
		if cur < 0 {
			continue
		}
		lower := strings.ToLower(name)
		if _, dup := cs[cur].params[lower]; !dup {
			if cs[cur].params == nil {
				cs[cur].params = make(map[string]string, 4)
			}
			cs[cur].params[lower] = val
		}
	}
	return cs
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
