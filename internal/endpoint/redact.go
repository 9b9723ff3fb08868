package endpoint

import (
	"bytes"
	"cmp"
	"encoding/json"
	"net/url"
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

// A redactor replaces secrets, in the forms an endpoint might echo them
// (raw, form-encoded, JSON-escaped), with [redacted].
type redactor struct {
	r *strings.Replacer
}

func newRedactor(lists ...[]string) *redactor {
	seen := make(map[string]bool)
	var olds []string
	add := func(s string) {
		if len(s) >= minSecret && !seen[s] {
			seen[s] = true
			olds = append(olds, s)
		}
	}
	for _, list := range lists {
		for _, s := range list {
			if len(s) < minSecret {
				continue
			}
			add(s)
			add(url.QueryEscape(s))
			add(strings.ReplaceAll(url.QueryEscape(s), "+", "%20"))
			add(jsonEscape(s, true))
			add(jsonEscape(s, false))
		}
	}
	// The longest first, so that a secret containing another one is
	// redacted whole: a Replacer tries its pairs in order.
	slices.SortStableFunc(olds, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	pairs := make([]string, 0, 2*len(olds))
	for _, s := range olds {
		pairs = append(pairs, s, redacted)
	}
	return &redactor{r: strings.NewReplacer(pairs...)}
}

func (r *redactor) redact(s string) string { return r.r.Replace(s) }

// jsonEscape returns s as it appears inside a JSON string.
func jsonEscape(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		return s
	}
	out := strings.TrimSuffix(b.String(), "\n")
	return strings.TrimSuffix(strings.TrimPrefix(out, `"`), `"`)
}

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
