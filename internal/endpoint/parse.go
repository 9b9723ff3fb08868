package endpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// maxLifetime caps expires_in, so that adding it to the time never
// overflows.
const maxLifetime = 100 * 365 * 24 * time.Hour

// Parse turns a token endpoint's answer into a token, or into a
// [*ResponseError] when it is an error answer or malformed, as the zero
// Dialect reads it: see [Dialect.Parse].
func Parse(resp *http.Response, body []byte, secrets []string) (*oauth2.Token, error) {
	return Dialect{}.Parse(resp, body, secrets)
}

// Parse turns a token endpoint's answer into a token, or into a
// [*ResponseError] when it is an error answer or malformed. resp (nil: an
// answer with no status) supplies the status and the Content-Type, body is
// the whole body already read, and secrets are redacted from the error as
// in [Request].
//
// The body may be JSON or form-encoded; its members land in the token's
// Extra. expires_in may be a number or a string, integer or decimal; zero
// or less means no Expiry, and it is capped at 100 years. An error member
// makes an error answer whatever the status, and so does any status other
// than 2xx, and a code in one of d's CodeMembers (unless the answer is a
// 2xx that carries an access token). Parse never panics.
func (d Dialect) Parse(resp *http.Response, body []byte, secrets []string) (*oauth2.Token, error) {
	return d.parse(resp, body, secrets, tokenEndpoint)
}

// parse is Parse for an answer of a kind of endpoint. A revocation
// endpoint's answer is no token: parse returns nil and no error for a
// 2xx without an error code, whatever its body (RFC 7009 §2.2), and for
// an error code that says the token is already dead (invalid_grant, one
// of d's DeadCodes, or invalid_token, which RFC 6750 §3.1 defines and
// Google's revocation endpoint answers, with a 400, for a token it no
// longer knows: https://github.com/googleapis/google-auth-library-nodejs/issues/1175,
// read 2026-11-30): the revocation's end is met.
func (d Dialect) parse(resp *http.Response, body []byte, secrets []string, k kind) (*oauth2.Token, error) {
	if resp == nil {
		resp = &http.Response{}
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode <= 299
	dec := decode(resp.Header.Get("Content-Type"), body, d)
	a := reply{resp: resp, red: newRedactor(secrets, dec.found), dialect: d, kind: k}
	fail := func(code, desc, uri, reason string, cause error) error {
		return a.fail(dec.safe, code, desc, uri, reason, cause)
	}
	if dec.reason != "" {
		if k == revocationEndpoint && ok {
			return nil, nil
		}
		return nil, fail("", "", "", dec.reason, dec.cause)
	}

	code, codeOK := member(dec.fields, "error", "Error")
	desc, _ := member(dec.fields, "error_description", "ErrorDescription")
	uri, _ := member(dec.fields, "error_uri")
	if codeOK && code == "" {
		var msg string
		code, msg = d.codeIn(dec.fields, resp.StatusCode)
		if desc == "" {
			desc = msg
		}
	}
	switch {
	case !codeOK:
		return nil, fail("", desc, uri, "malformed body: error is not a string", nil)
	case k == revocationEndpoint && (d.deadCode(code) || code == "invalid_token"):
		return nil, nil
	case code != "":
		return nil, fail(code, desc, uri, "", nil)
	case !ok:
		return nil, fail("", desc, uri, "no error code in the answer", nil)
	case k == revocationEndpoint:
		return nil, nil
	}

	access, found := member(dec.fields, "access_token")
	if !found {
		return nil, fail("", "", "", "malformed body: access_token is not a string", nil)
	}
	if access == "" {
		return nil, fail("", "", "", "malformed body: no access_token", nil)
	}
	refresh, found := member(dec.fields, "refresh_token")
	if !found {
		return nil, fail("", "", "", "malformed body: refresh_token is not a string", nil)
	}
	tokenType, _ := member(dec.fields, "token_type")
	lifetime, secs, err := expiresIn(dec.fields["expires_in"])
	if err != nil {
		return nil, fail("", "", "", "malformed body: expires_in is not a number", err)
	}

	tok := &oauth2.Token{
		AccessToken:  access,
		TokenType:    tokenType,
		RefreshToken: refresh,
		ExpiresIn:    secs,
	}
	if lifetime > 0 {
		tok.Expiry = time.Now().Add(lifetime)
	}
	return tok.WithExtra(dec.extra), nil
}

// member returns the first of keys present in m as a string. It reports
// false when that member is not a string (null counts as absent).
func member(m map[string]any, keys ...string) (string, bool) {
	for _, k := range keys {
		v := m[k]
		if v == nil {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return "", false
		}
		if s != "" {
			return s, true
		}
	}
	return "", true
}

// expiresIn parses expires_in: a number or a string, integer or decimal.
// It returns the lifetime (0: no expiry) and the whole seconds in it.
func expiresIn(v any) (time.Duration, int64, error) {
	var s string
	switch v := v.(type) {
	case nil:
		return 0, 0, nil
	case json.Number:
		s = v.String()
	case string:
		s = strings.TrimSpace(v)
		if s == "" {
			return 0, 0, nil
		}
	default:
		return 0, 0, errors.New("expires_in is not a number")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		var numErr *strconv.NumError
		if errors.As(err, &numErr) {
			err = numErr.Err // without the input, which could be anything
		}
		return 0, 0, err
	}
	switch {
	case math.IsNaN(f):
		return 0, 0, strconv.ErrSyntax
	case f <= 0:
		return 0, 0, nil
	case f > maxLifetime.Seconds():
		f = maxLifetime.Seconds()
	}
	return time.Duration(f * float64(time.Second)), int64(f), nil
}

// decoded is a token endpoint's answer, whatever its format.
type decoded struct {
	fields map[string]any // the top-level members; a form's as strings
	extra  any            // what Token.Extra reads: map[string]any or url.Values
	safe   []byte         // the body with credential members redacted
	found  []string       // the values of those members, to redact elsewhere
	reason string         // why the body is no answer at all; "" if it decoded
	cause  error          // the decoder's error, if any
}

var utf8BOM = []byte("\xef\xbb\xbf")

// decode reads body. The values of members that may hold a credential
// are redacted from the safe copy, unless they are top-level members that
// dl says hold an error code.
func decode(contentType string, body []byte, dl Dialect) decoded {
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(bytes.TrimSpace(body), utf8BOM))
	mt := mediaType(contentType)
	switch {
	case len(trimmed) == 0:
		return decoded{safe: body, reason: "empty body"}
	case trimmed[0] == '{':
		return decodeJSON(trimmed, dl)
	case trimmed[0] == '<' || mt == "text/html" || mt == "application/xhtml+xml":
		return decoded{safe: body, reason: "an HTML page, not a token"}
	case mt == "application/x-www-form-urlencoded" || mt == "text/plain" || bytes.IndexByte(trimmed, '=') >= 0:
		return decodeForm(trimmed, dl)
	}
	return decoded{safe: body, reason: "unrecognized body"}
}

func mediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt, _, _ = strings.Cut(contentType, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	return mt
}

func decodeJSON(b []byte, dl Dialect) decoded {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return decoded{safe: redactMalformedJSON(b), reason: "malformed JSON: " + err.Error(), cause: err}
	}
	d := decoded{fields: m, extra: m}
	safe := make(map[string]any, len(m))
	for k, v := range m {
		safe[k] = redactJSON(v, sensitiveKey(k) && !dl.codeMember(k), &d.found)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(safe); err == nil {
		d.safe = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	return d
}

// redactJSON returns a copy of v with the values of credential members
// replaced, appending the strings it replaced to found. hide is true
// inside such a member.
func redactJSON(v any, hide bool, found *[]string) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = redactJSON(x, hide || sensitiveKey(k), found)
		}
		if hide {
			return redacted
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = redactJSON(x, hide, found)
		}
		if hide {
			return redacted
		}
		return out
	case string:
		if hide {
			*found = append(*found, v)
			return redacted
		}
		return v
	case nil:
		return nil
	}
	if hide {
		return redacted
	}
	return v
}

func decodeForm(b []byte, dl Dialect) decoded {
	// ParseQuery skips what it cannot parse and keeps the rest: lenient.
	vals, _ := url.ParseQuery(string(b))
	d := decoded{fields: make(map[string]any, len(vals)), extra: vals}
	for k, vs := range vals {
		if len(vs) > 0 {
			d.fields[k] = vs[0]
		}
	}
	if bytes.IndexByte(b, '=') < 0 {
		d.safe = b // plain text, no members to redact
		return d
	}
	var buf strings.Builder
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		hide := sensitiveKey(k) && !dl.codeMember(k)
		for _, v := range vals[k] {
			if buf.Len() > 0 {
				buf.WriteByte('&')
			}
			buf.WriteString(url.QueryEscape(k))
			buf.WriteByte('=')
			if hide {
				d.found = append(d.found, v)
				buf.WriteString(redacted)
			} else {
				buf.WriteString(url.QueryEscape(v))
			}
		}
	}
	d.safe = []byte(buf.String())
	return d
}
