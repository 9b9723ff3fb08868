package endpoint

import (
	"maps"
	"net/url"
	"slices"

	"github.com/oauthrt/oauthrt/internal/tokenraw"
	"golang.org/x/oauth2"
)

// KeepExtra returns tok, or a copy of it whose extra fields also hold the
// members named in names that old's hold and tok's lack (absent, null or
// ""). tok and old are not modified.
//
// A kept member keeps the value, and the type, that old.Extra gives it:
// a JSON answer's value as it was decoded, and a form-encoded answer's
// as oauth2.Token.Extra reads it (a number for digits, else the first
// string). When both tokens' extra fields are form values, the member's
// values are copied as they are. When tok's are form values and old's
// are not, tok's become a map[string]any holding each of its members as
// tok.Extra reads it, beside the kept ones, so that no kept value is
// turned into text. When tok's extra fields are of a type of the
// caller's, or cannot be read (see tokenraw.Readable), tok is returned
// as it is.
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
	oldForm, sameForm := oldRaw.(url.Values)
	switch raw := newRaw.(type) {
	case nil:
		if sameForm {
			newRaw = url.Values{}
		} else {
			newRaw = map[string]any{}
		}
	case url.Values:
		if !sameForm {
			m := make(map[string]any, len(raw)+len(kept))
			for k := range raw {
				m[k] = tok.Extra(k)
			}
			newRaw = m
		}
	}
	switch raw := newRaw.(type) {
	case map[string]any:
		m := maps.Clone(raw)
		for _, n := range kept {
			m[n] = old.Extra(n)
		}
		return tok.WithExtra(m)
	case url.Values:
		v := maps.Clone(raw)
		for _, n := range kept {
			v[n] = slices.Clone(oldForm[n])
		}
		return tok.WithExtra(v)
	}
	return tok
}

// SetExtra returns a copy of tok whose extra fields hold the member name
// with value: see [tokenraw.Set].
func SetExtra(tok *oauth2.Token, name, value string) *oauth2.Token {
	return tokenraw.Set(tok, name, value)
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
