package endpoint

import (
	"bytes"
	"cmp"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	redacted = "[redacted]"

	// minSecret is the shortest value redacted: shorter ones would blank
	// out ordinary words and are not real secrets anyway.
	minSecret = 4

	// maxBodyKept is the most of a body kept in a RetrieveError, and
	// maxFieldKept the most of an error code or description.
	maxBodyKept  = 512
	maxFieldKept = 200
)

// A redactor replaces every form of a secret that an endpoint might echo
// with [redacted]: the secret itself, JSON-escaped (\uXXXX in either
// case, \/ as PHP writes a slash, the short escapes), URL- or
// form-encoded (%XX in either case, + for a space, only some characters
// escaped), any mix of those, and base64 (standard or URL alphabet,
// padded or not) of any text holding the secret in one of those forms,
// such as the client_secret_basic credential base64(id ":" secret).
//
// It does not list the encodings of each secret, which could never be
// complete (any character may be escaped or not, in upper or lower case);
// it decodes the text instead, and looks for the secrets in what it
// decodes to. A text is read in several ways, because a character can
// mean different things: a + is a space in a form and itself elsewhere,
// and a secret may hold a backslash or a percent sign of its own. A match
// in any reading redacts the bytes of the original text it came from, and
// so does a base64 run whose decoding holds a secret, as a whole.
type redactor struct {
	secrets [][]byte // distinct, at least minSecret bytes
	longest int
}

func newRedactor(lists ...[]string) *redactor {
	r := &redactor{}
	seen := make(map[string]bool)
	add := func(s string) {
		if len(s) >= minSecret && !seen[s] {
			seen[s] = true
			r.secrets = append(r.secrets, []byte(s))
			r.longest = max(r.longest, len(s))
		}
	}
	for _, list := range lists {
		for _, s := range list {
			if len(s) < minSecret {
				continue
			}
			add(s)
			// A JSON encoder writes each invalid byte as U+FFFD: what is
			// left of the secret around them must not survive.
			add(replaceInvalidBytes(s))
		}
	}
	return r
}

// redact returns s with every span that holds a secret, in any form,
// replaced by [redacted].
func (r *redactor) redact(s string) string {
	if len(r.secrets) == 0 || len(s) < minSecret {
		return s
	}
	var spans []span
	r.find([]byte(s), true, func(sp span) bool {
		spans = append(spans, sp)
		return true
	})
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.from, b.from) })
	var b strings.Builder
	at := 0
	for i := 0; i < len(spans); {
		from, to := spans[i].from, spans[i].to
		for i++; i < len(spans) && spans[i].from <= to; i++ {
			to = max(to, spans[i].to)
		}
		b.WriteString(s[at:from])
		b.WriteString(redacted)
		at = to
	}
	b.WriteString(s[at:])
	return b.String()
}

// redactClip returns s redacted and cut to at most n bytes. Only the
// start of s that can reach the n bytes kept is read: the longest form of
// a secret is under 8 times its length plus a client ID, so an encoded
// secret that begins in the bytes kept ends in the bytes read. This keeps
// the cost bounded whatever the size of the body.
func (r *redactor) redactClip(s string, n int) string {
	return clip(r.redact(clip(s, n+8*r.longest+2048)), n)
}

// find calls hit with each span of text that holds a secret, until hit
// returns false. It reads text in every way (see readings), and, when
// deep, decodes the base64 runs of each reading and looks into them too
// (not deeper).
func (r *redactor) find(text []byte, deep bool, hit func(span) bool) bool {
	for _, d := range readings(text) {
		for _, secret := range r.secrets {
			for off := 0; ; {
				i := bytes.Index(d.text[off:], secret)
				if i < 0 {
					break
				}
				i += off
				if !hit(d.origin(i, i+len(secret))) {
					return false
				}
				off = i + 1
			}
		}
		if !deep {
			continue
		}
		for from, to := range base64Runs(d.text) {
			if r.inBase64(d.text[from:to]) && !hit(d.origin(from, to)) {
				return false
			}
		}
	}
	return true
}

// inBase64 reports whether run, decoded as base64 from any of its first
// four characters (the encoded secret need not start the run), holds a
// secret in any form.
func (r *redactor) inBase64(run []byte) bool {
	if len(run) < minSecret*4/3 {
		return false
	}
	for k := range 4 {
		if found := !r.find(decodeBase64(run[k:]), false, func(span) bool { return false }); found {
			return true
		}
	}
	return false
}

// A span is the bytes [from, to) of a text.
type span struct{ from, to int }

// jsonMember matches a "name": "value" pair of JSON text, including one
// whose value string is cut off by the end of the text.
var jsonMember = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"(\s*:\s*)"((?:[^"\\]|\\.)*)("?)`)

// redactMalformedJSON blanks the string values of sensitive members in
// JSON text that does not parse, which therefore cannot be redacted
// member by member: a truncated or garbled answer can still hold a
// token in the clear.
func redactMalformedJSON(b []byte) []byte {
	return jsonMember.ReplaceAllFunc(b, func(m []byte) []byte {
		sm := jsonMember.FindSubmatch(m)
		if !sensitiveKey(string(sm[1])) {
			return m
		}
		return []byte(`"` + string(sm[1]) + `"` + string(sm[2]) + `"[redacted]` + string(sm[4]))
	})
}

// sensitiveKey reports whether a member of a token endpoint's answer holds
// a credential by its name.
func sensitiveKey(k string) bool {
	switch k {
	case "error", "error_description", "error_uri", "Error", "ErrorDescription":
		return false
	}
	k = strings.ToLower(k)
	for _, w := range []string{"token", "secret", "assertion", "password", "code"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// replaceInvalidBytes returns s with each byte that is not part of valid
// UTF-8 replaced by U+FFFD, as encoding/json writes it.
func replaceInvalidBytes(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// clip cuts s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// oneLine replaces control characters, so that text from an endpoint
// cannot forge lines in a log.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
