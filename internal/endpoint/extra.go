package endpoint

import (
	"encoding/json"
	"maps"
	"net/url"
	"slices"
	"strconv"

	"github.com/oauthrt/oauthrt/internal/tokenraw"
	"golang.org/x/oauth2"
)

// KeepExtra returns tok, or a copy of it whose extra fields also hold the
// members named in names that old's hold and tok's lack (absent, null or
// ""). tok and old are not modified.
//
// A member keeps its value and type when both tokens' extra fields are
// of one kind: a JSON answer's map[string]any, or a form-encoded
// answer's url.Values. Carried from a JSON answer into a form-encoded
// one, a string stays as it is, a number or a boolean is written as in
// JSON (oauth2.Token.Extra reads numbers back as numbers), and anything
// else as its JSON text; carried the other way, a form value is a string,
// and a repeated one a list of strings. When tok's extra fields are of
// another type, or cannot be read (see tokenraw.Readable), tok is
// returned as it is.
func KeepExtra(tok, old *oauth2.Token, names []string) *oauth2.Token {
	if tok == nil || old == nil || len(names) == 0 || !tokenraw.Readable() {
		return tok
	}
	oldRaw, newRaw := tokenraw.Of(old), tokenraw.Of(tok)
	var kept []string
	for _, n := range names {
		if has(oldRaw, n) && !has(newRaw, n) && !slices.Contains(kept, n) {
			kept = append(kept, n)
		}
	}
	if len(kept) == 0 {
		return tok
	}
	if newRaw == nil {
		if _, form := oldRaw.(url.Values); form {
			newRaw = url.Values{}
		} else {
			newRaw = map[string]any{}
		}
	}
	switch raw := newRaw.(type) {
	case map[string]any:
		m := maps.Clone(raw)
		for _, n := range kept {
			m[n] = jsonValue(oldRaw, n)
		}
		return tok.WithExtra(m)
	case url.Values:
		v := maps.Clone(raw)
		for _, n := range kept {
			if vs, ok := formValue(oldRaw, n); ok {
				v[n] = vs
			}
		}
		return tok.WithExtra(v)
	}
	return tok
}

// SetExtra returns a copy of tok whose extra fields hold the member name
// with value, in place of any it had, as a string in either kind of
// extra fields (see KeepExtra). tok is not modified. It returns tok as it
// is when its extra fields are of another type or cannot be read.
func SetExtra(tok *oauth2.Token, name, value string) *oauth2.Token {
	if tok == nil || !tokenraw.Readable() {
		return tok
	}
	switch raw := tokenraw.Of(tok).(type) {
	case nil:
		return tok.WithExtra(map[string]any{name: value})
	case map[string]any:
		m := maps.Clone(raw)
		m[name] = value
		return tok.WithExtra(m)
	case url.Values:
		v := maps.Clone(raw)
		v[name] = []string{value}
		return tok.WithExtra(v)
	}
	return tok
}

// has reports whether raw, extra fields as tokenraw.Of returns them,
// holds a member n that is not null or "".
func has(raw any, n string) bool {
	switch raw := raw.(type) {
	case map[string]any:
		v := raw[n]
		return v != nil && v != ""
	case url.Values:
		return raw.Get(n) != ""
	}
	return false
}

// jsonValue returns member n of raw as a JSON answer holds it.
func jsonValue(raw any, n string) any {
	switch raw := raw.(type) {
	case map[string]any:
		return raw[n]
	case url.Values:
		vs := raw[n]
		if len(vs) == 1 {
			return vs[0]
		}
		list := make([]any, len(vs))
		for i, s := range vs {
			list[i] = s
		}
		return list
	}
	return nil
}

// formValue returns member n of raw as a form-encoded answer holds it;
// false when it cannot be written as text.
func formValue(raw any, n string) ([]string, bool) {
	switch raw := raw.(type) {
	case url.Values:
		return slices.Clone(raw[n]), true
	case map[string]any:
		switch v := raw[n].(type) {
		case string:
			return []string{v}, true
		case json.Number:
			return []string{v.String()}, true
		case bool:
			return []string{strconv.FormatBool(v)}, true
		case float64:
			return []string{strconv.FormatFloat(v, 'f', -1, 64)}, true
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return nil, false
			}
			return []string{string(b)}, true
		}
	}
	return nil, false
}
