package endpoint

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/oauth2"
)

// encodings are the forms an endpoint may echo a secret in, given the
// client ID that goes with it.
var encodings = []struct {
	name   string
	encode func(secret, id string) string
}{
	{"raw", func(s, _ string) string { return s }},
	{"JSON", func(s, _ string) string { return jsonString(s, true) }},
	{"JSON without HTML escapes", func(s, _ string) string { return jsonString(s, false) }},
	{"JSON as PHP writes it", func(s, _ string) string { return phpJSON(s) }},
	{"JSON all \\u, upper case", func(s, _ string) string { return allUnicodeEscapes(s, "\\u%04X") }},
	{"JSON all \\u, lower case", func(s, _ string) string { return allUnicodeEscapes(s, "\\u%04x") }},
	{"JSON \\u mixed with literals", func(s, _ string) string {
		return everyOther(s, func(r rune) string { return allUnicodeEscapes(string(r), "\\u%04x") })
	}},
	{"query escaped", func(s, _ string) string { return url.QueryEscape(s) }},
	{"path escaped", func(s, _ string) string { return url.PathEscape(s) }},
	{"query escaped, lower-case hex", func(s, _ string) string { return lowerHex(url.QueryEscape(s)) }},
	{"query escaped, %20 for space", func(s, _ string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }},
	{"every byte %XX", func(s, _ string) string { return everyByte(s, "%%%02X") }},
	{"every byte %xx", func(s, _ string) string { return everyByte(s, "%%%02x") }},
	{"partly %-encoded", func(s, _ string) string {
		return everyOther(s, func(r rune) string { return everyByte(string(r), "%%%02X") })
	}},
	{"form echoed in JSON", func(s, _ string) string { return phpJSON(url.QueryEscape(s)) }},
	{"Basic credential (RFC 6749 §2.3.1)", func(s, id string) string {
		return basic(base64.StdEncoding, url.QueryEscape(id)+":"+url.QueryEscape(s))
	}},
	{"Basic credential, raw URL alphabet", func(s, id string) string {
		return basic(base64.RawURLEncoding, url.QueryEscape(id)+":"+url.QueryEscape(s))
	}},
	{"Basic credential, not form-encoded", func(s, id string) string { return basic(base64.StdEncoding, id+":"+s) }},
	{"Basic credential, in PHP's JSON", func(s, id string) string {
		return phpJSON(basic(base64.StdEncoding, url.QueryEscape(id)+":"+url.QueryEscape(s)))
	}},
	{"Basic credential, query escaped", func(s, id string) string { return url.QueryEscape(basic(base64.StdEncoding, id+":"+s)) }},
	{"base64 std", func(s, _ string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }},
	{"base64 URL", func(s, _ string) string { return base64.URLEncoding.EncodeToString([]byte(s)) }},
	{"base64 raw std", func(s, _ string) string { return base64.RawStdEncoding.EncodeToString([]byte(s)) }},
	{"base64 raw URL", func(s, _ string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }},
}

func jsonString(s string, escapeHTML bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	enc.Encode(s)
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSuffix(b.String(), "\n"), `"`), `"`)
}

// phpJSON writes s as PHP's json_encode does by default: slashes escaped,
// everything beyond ASCII as \u in lower case.
func phpJSON(s string) string {
	var b strings.Builder
	for _, r := range jsonString(s, false) {
		switch {
		case r == '/':
			b.WriteString(`\/`)
		case r >= utf8.RuneSelf:
			b.WriteString(allUnicodeEscapes(string(r), "\\u%04x"))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func allUnicodeEscapes(s, format string) string {
	var b strings.Builder
	for _, r := range s {
		if r > 0xFFFF {
			r1, r2 := surrogates(r)
			fmt.Fprintf(&b, format+format, r1, r2)
			continue
		}
		fmt.Fprintf(&b, format, r)
	}
	return b.String()
}

func surrogates(r rune) (rune, rune) {
	r -= 0x10000
	return 0xD800 + r>>10, 0xDC00 + r&0x3FF
}

func everyOther(s string, enc func(rune) string) string {
	var b strings.Builder
	i := 0
	for _, r := range s {
		if i++; i%2 == 0 {
			b.WriteString(enc(r))
		} else if r == '"' || r == '\\' {
			b.WriteString(jsonString(string(r), false))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func everyByte(s, format string) string {
	var b strings.Builder
	for i := range len(s) {
		fmt.Fprintf(&b, format, s[i])
	}
	return b.String()
}

func lowerHex(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] == '%' && i+2 < len(b) {
			b[i+1], b[i+2] = strings.ToLower(string(b[i+1]))[0], strings.ToLower(string(b[i+2]))[0]
		}
	}
	return string(b)
}

func basic(enc *base64.Encoding, cred string) string {
	return "Basic " + enc.EncodeToString([]byte(cred))
}

// Every form of every secret, alone or inside other text, glued to it or
// not, comes out of the redactor and of Parse's errors with no form of
// the secret left in it.
func TestRedactEveryForm(t *testing.T) {
	secrets := []string{
		"Sekr1tValue42",
		`p@ss w/rd+&=%:ü"\😀`,
		"a/b+c/d+e/f==",
	}
	const id = "my client:1"
	contexts := []struct {
		name string
		wrap func(string) string
	}{
		{"alone", func(s string) string { return s }},
		{"in text", func(s string) string { return "the server got " + s + " and refused it" }},
		{"glued to words", func(s string) string { return "xyzAB" + s + "Qxyz" }},
		{"in a form", func(s string) string { return "grant_type=refresh_token&refresh_token=" + s + "&scope=a+b" }},
		{"in JSON", func(s string) string { return `{"error":"invalid_grant","error_description":"got ` + s + `"}` }},
	}
	for _, secret := range secrets {
		var forms []string
		for _, e := range encodings {
			forms = append(forms, e.encode(secret, id))
		}
		for _, e := range encodings {
			for _, c := range contexts {
				t.Run(e.name+"/"+c.name, func(t *testing.T) {
					text := c.wrap(e.encode(secret, id))
					got := newRedactor([]string{"unrelated-secret", secret}).redact(text)
					assertNoForm(t, "redact", got, secret, forms)
					if !strings.Contains(got, redacted) {
						t.Errorf("nothing redacted in %q", got)
					}

					// Through Parse: the text as the description of a JSON
					// answer, and as a plain-text answer; as the code and
					// the message of a dialect's code member; and as a
					// revocation endpoint's answers.
					body, _ := json.Marshal(map[string]string{"error": "invalid_grant", "error_description": text})
					hubspot, _ := json.Marshal(map[string]string{"status": text, "message": text})
					dialect := Dialect{CodeMembers: []string{"status"}}
					for _, a := range []struct {
						name string
						ct   string
						body []byte
						d    Dialect
						k    kind
					}{
						{"JSON", "application/json", body, Dialect{}, tokenEndpoint},
						{"text", "text/plain", []byte(text), Dialect{}, tokenEndpoint},
						{"code member", "application/json", hubspot, dialect, tokenEndpoint},
						{"revocation JSON", "application/json", bytesReplace(body, "invalid_grant", "invalid_request"), Dialect{}, revocationEndpoint},
						{"revocation text", "text/plain", bytesReplace([]byte(text), "invalid_grant", "invalid_request"), Dialect{}, revocationEndpoint},
						{"revocation code member", "application/json", hubspot, dialect, revocationEndpoint},
					} {
						_, err := a.d.parse(&http.Response{StatusCode: 400, Header: http.Header{"Content-Type": {a.ct}}}, a.body, []string{secret}, a.k)
						var re *oauth2.RetrieveError
						if !errors.As(err, &re) {
							t.Fatalf("%s: Parse err = %v, want a RetrieveError", a.name, err)
						}
						for where, s := range map[string]string{
							"Error()":          err.Error(),
							"%+v":              fmt.Sprintf("%+v", err),
							"Body":             string(re.Body),
							"ErrorCode":        re.ErrorCode,
							"ErrorDescription": re.ErrorDescription,
							"RetrieveError":    re.Error(),
						} {
							assertNoForm(t, a.name+" "+where, s, secret, forms)
						}
					}
				})
			}
		}
	}
}

func bytesReplace(b []byte, old, new string) []byte {
	return []byte(strings.Replace(string(b), old, new, 1))
}

// assertNoForm fails if got holds secret or any of its forms. The marker
// is taken out first, so that text beside it cannot be mistaken for a
// form that survived.
func assertNoForm(t *testing.T, where, got, secret string, forms []string) {
	t.Helper()
	got = strings.ReplaceAll(got, redacted, "\x00")
	for _, f := range append([]string{secret}, forms...) {
		if strings.Contains(got, f) {
			t.Errorf("%s: %q survives in %q", where, f, got)
		}
	}
}

// A short secret, or text with no secret, is left alone.
func TestRedactLeavesOtherText(t *testing.T) {
	r := newRedactor([]string{"abc", "Sekr1tValue42"})
	for _, s := range []string{
		"abc def",
		`{"error":"invalid_grant","error_description":"refresh token expired \u00e9 %41 + Zm9vYmFy"}`,
		"Basic " + base64.StdEncoding.EncodeToString([]byte("id:other")),
	} {
		if got := r.redact(s); got != s {
			t.Errorf("redact(%q) = %q, want it unchanged", s, got)
		}
	}
}

// FuzzRedact plants a random encoding of a random secret in random text,
// and holds the redactor to leaving none of it: neither the secret nor
// the planted form survives.
func FuzzRedact(f *testing.F) {
	f.Add("Sekr1tValue42", "app", "got ", " back", uint64(1))
	f.Add(`p@ss w/rd+&=%:ü"\😀`, "my client", `{"error_description":"`, `"}`, uint64(2))
	f.Add("a/b+c/d+e/f==", "id", "Basic", "", uint64(3))
	f.Add("\xff\xfeab\\u0041%41", "", "\\", "%4", uint64(4))
	f.Fuzz(func(t *testing.T, secret, id, prefix, suffix string, seed uint64) {
		if len(secret) < minSecret {
			t.Skip()
		}
		rng := rand.New(rand.NewPCG(seed, seed>>32))
		planted := encodeRandomly(rng, secret, id)
		seps := " \"&:,<>\n"
		sep := string(seps[rng.IntN(len(seps))])
		text := prefix + sep + planted + sep + suffix
		got := newRedactor([]string{secret}).redact(text)

		// The marker stands in for a byte the secret does not hold, so
		// that it cannot complete a secret with the text around it.
		mark := byte(0)
		for strings.IndexByte(secret, mark) >= 0 {
			mark++
		}
		clean := strings.ReplaceAll(got, redacted, string(mark))
		if strings.Contains(clean, secret) {
			t.Errorf("the secret %q survives in %q", secret, got)
		}
		if strings.Contains(clean, sep+planted+sep) {
			t.Errorf("the form %q of %q survives in %q", planted, secret, got)
		}
	})
}

// encodeRandomly returns secret as an endpoint might echo it: JSON-escaped,
// form-encoded, a form in JSON, or base64 (of the secret, or of a Basic
// credential with it), each escape chosen at random.
func encodeRandomly(rng *rand.Rand, secret, id string) string {
	switch rng.IntN(4) {
	case 0:
		return jsonRandomly(rng, secret)
	case 1:
		return formRandomly(rng, secret)
	case 2:
		return jsonRandomly(rng, formRandomly(rng, secret))
	}
	plain := secret
	switch rng.IntN(3) {
	case 1:
		plain = id + ":" + secret
	case 2:
		plain = url.QueryEscape(id) + ":" + formRandomly(rng, secret)
	}
	encs := []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding}
	b := encs[rng.IntN(len(encs))].EncodeToString([]byte(plain))
	switch rng.IntN(3) {
	case 1:
		return jsonRandomly(rng, b)
	case 2:
		return formRandomly(rng, b)
	}
	return b
}

// jsonRandomly escapes s as a JSON string may hold it: what must be
// escaped is, with a short escape or \u, and anything else may be, with
// \u in either case (or \/ for a slash). Bytes that are not UTF-8 stay.
func jsonRandomly(rng *rand.Rand, s string) string {
	var b strings.Builder
	hex := func(r rune) {
		format := "\\u%04x"
		if rng.IntN(2) == 0 {
			format = "\\u%04X"
		}
		if r > 0xFFFF {
			r1, r2 := surrogates(r)
			fmt.Fprintf(&b, format+format, r1, r2)
			return
		}
		fmt.Fprintf(&b, format, r)
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteByte(s[i])
		case r == '"' || r == '\\' || r < 0x20:
			if rng.IntN(2) == 0 && jsonString(string(r), false) != fmt.Sprintf("\\u%04x", r) {
				b.WriteString(jsonString(string(r), false))
			} else {
				hex(r)
			}
		case r == '/' && rng.IntN(3) == 0:
			b.WriteString(`\/`)
		case rng.IntN(3) == 0:
			hex(r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// formRandomly percent-encodes s as a careless encoder might: '%' and '+'
// always (they would read otherwise), a space as + or %20, and any other
// byte at random, in upper or lower case hex.
func formRandomly(rng *rand.Rand, s string) string {
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		switch {
		case c == ' ' && rng.IntN(2) == 0:
			b.WriteByte('+')
		case c == '%' || c == '+' || c == ' ' || rng.IntN(3) == 0:
			format := "%%%02X"
			if rng.IntN(2) == 0 {
				format = "%%%02x"
			}
			fmt.Fprintf(&b, format, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
