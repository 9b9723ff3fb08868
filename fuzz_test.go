package oauthrt_test

import (
	"strings"
	"testing"

	"github.com/oauthrt/oauthrt"
)

// FuzzBearerError feeds the WWW-Authenticate parser any header values:
// the fuzzed string split on '\n', which no header value can hold. It
// must not panic, and it must not invent text: its answer is "", a
// substring of one of the values (a token), or the content of a
// quoted-string in one of them with its quoted-pairs undone; so it is
// never longer than the value it came from. When it is not "", it is the
// answer for the first value that has a non-empty one on its own.
//
// The challenges the parser reads (Challenges, which bearerError and
// the Transport's handling of 401s and 403s are made of) hold only text
// of the values too: each scheme and token68 is a substring of one, each
// param name the lower-case form of a token of one, each param value a
// substring or a quoted-string's content; and BearerError is the error
// param of the first Bearer challenge that has one.
//
// The seeds are in testdata/fuzz/FuzzBearerError.
func FuzzBearerError(f *testing.F) {
	f.Add(`Bearer error="invalid_token"`)
	f.Add("Basic realm=\"x\"\nBearer realm=\"y\", error=\"a\\\"b\"")
	f.Add(`Negotiate abc==, DPoP error="insufficient_claims", claims="eyJ9fQ==", Bearer`)
	f.Fuzz(func(t *testing.T, s string) {
		values := strings.Split(s, "\n")
		checkChallenges(t, values)
		got := oauthrt.BearerError(values)
		if got == "" {
			return
		}
		if len(got) > len(s) {
			t.Fatalf("BearerError(%q) = %q, longer than its input", values, got)
		}
		from := -1
		for i, v := range values {
			if strings.Contains(v, got) || quotedIn(v, got) {
				from = i
				break
			}
		}
		if from < 0 {
			t.Fatalf("BearerError(%q) = %q, which is in none of the values", values, got)
		}
		for i, v := range values {
			one := oauthrt.BearerError([]string{v})
			if one == "" {
				continue
			}
			if one != got {
				t.Fatalf("BearerError(%q) = %q, but its value %d alone gives %q", values, got, i, one)
			}
			break
		}
	})
}

// checkChallenges checks what the parser reads in values against them.
func checkChallenges(t *testing.T, values []string) {
	t.Helper()
	inSome := func(part string) bool {
		for _, v := range values {
			if strings.Contains(v, part) {
				return true
			}
		}
		return false
	}
	quoted := func(part string) bool {
		for _, v := range values {
			if quotedIn(v, part) {
				return true
			}
		}
		return false
	}
	wantError, found := "", false
	for _, c := range oauthrt.Challenges(values) {
		if c.Scheme == "" || !inSome(c.Scheme) || strings.ContainsAny(c.Scheme, " \t,=\"") {
			t.Fatalf("Challenges(%q): scheme %q is no token of the values", values, c.Scheme)
		}
		if c.Token68 != "" && !inSome(c.Token68) {
			t.Fatalf("Challenges(%q): token68 %q of %q is in none of the values", values, c.Token68, c.Scheme)
		}
		for name, val := range c.Params {
			if name == "" || name != strings.ToLower(name) || !inSome(name) && !inSomeFold(values, name) {
				t.Fatalf("Challenges(%q): param name %q is not a lower-cased token of the values", values, name)
			}
			if val != "" && !inSome(val) && !quoted(val) {
				t.Fatalf("Challenges(%q): param %s=%q is in none of the values", values, name, val)
			}
		}
		if e, ok := c.Params["error"]; ok && !found && strings.EqualFold(c.Scheme, "Bearer") {
			wantError, found = e, true
		}
	}
	if got := oauthrt.BearerError(values); got != wantError {
		t.Fatalf("BearerError(%q) = %q, but the first Bearer challenge's error is %q", values, got, wantError)
	}
}

func inSomeFold(values []string, part string) bool {
	for _, v := range values {
		if strings.Contains(strings.ToLower(v), part) {
			return true
		}
	}
	return false
}

// quotedIn reports whether want is the content of a quoted-string in v
// (RFC 9110 §5.6.4): from a '"' to the next unescaped '"' or the end of
// v, each backslash standing for the byte after it (and nothing when it
// is v's last byte).
func quotedIn(v, want string) bool {
	for i := strings.IndexByte(v, '"'); i >= 0; {
		if unquotedIs(v[i+1:], want) {
			return true
		}
		next := strings.IndexByte(v[i+1:], '"')
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return false
}

// unquotedIs reports whether the quoted-string content that rest starts
// with (rest follows the opening '"') is want, reading no more of rest
// than it needs to tell.
func unquotedIs(rest, want string) bool {
	n := 0
	for j := 0; j < len(rest); j++ {
		c := rest[j]
		switch c {
		case '"':
			return n == len(want)
		case '\\':
			if j+1 == len(rest) {
				return n == len(want)
			}
			j++
			c = rest[j]
		}
		if n == len(want) || want[n] != c {
			return false
		}
		n++
	}
	return n == len(want)
}
