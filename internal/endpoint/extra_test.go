package endpoint_test

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt/internal/endpoint"
	"github.com/oauthrt/oauthrt/internal/tokenraw"
	"golang.org/x/oauth2"
)

func withExtra(raw any) *oauth2.Token {
	tok := &oauth2.Token{AccessToken: "AT"}
	if raw == nil {
		return tok
	}
	return tok.WithExtra(raw)
}

// KeepExtra carries the named members the new token lacks, with their
// types, and leaves both tokens alone.
func TestKeepExtra(t *testing.T) {
	nested := map[string]any{"a": []any{"b"}}
	tests := []struct {
		name     string
		old, new any // raw extra fields
		names    []string
		want     any
	}{
		{
			name:  "JSON into JSON, types kept",
			old:   map[string]any{"scope": "read", "realmId": json.Number("4620816365"), "flag": true, "obj": nested, "id_token": "IDT"},
			new:   map[string]any{"token_type": "bearer"},
			names: []string{"scope", "realmId", "flag", "obj"},
			want:  map[string]any{"token_type": "bearer", "scope": "read", "realmId": json.Number("4620816365"), "flag": true, "obj": nested},
		},
		{
			name:  "the new answer's own value wins",
			old:   map[string]any{"scope": "read write", "instance_url": "https://old.example"},
			new:   map[string]any{"scope": "read", "instance_url": "https://new.example"},
			names: []string{"scope", "instance_url"},
			want:  map[string]any{"scope": "read", "instance_url": "https://new.example"},
		},
		{
			name:  "null and empty count as missing",
			old:   map[string]any{"scope": "read", "x": "1"},
			new:   map[string]any{"scope": nil, "x": ""},
			names: []string{"scope", "x"},
			want:  map[string]any{"scope": "read", "x": "1"},
		},
		{
			name:  "form into form",
			old:   url.Values{"scope": {"repo"}, "multi": {"a", "b"}},
			new:   url.Values{"token_type": {"bearer"}},
			names: []string{"scope", "multi"},
			want:  url.Values{"token_type": {"bearer"}, "scope": {"repo"}, "multi": {"a", "b"}},
		},
		{
			// The form's members as Extra read them, the kept ones as
			// they were.
			name:  "JSON into form",
			old:   map[string]any{"scope": "a b", "n": json.Number("42"), "b": false, "obj": nested},
			new:   url.Values{"token_type": {"bearer"}, "expires_in": {"3600"}},
			names: []string{"scope", "n", "b", "obj"},
			want:  map[string]any{"token_type": "bearer", "expires_in": int64(3600), "scope": "a b", "n": json.Number("42"), "b": false, "obj": nested},
		},
		{
			name:  "form into JSON, as Extra reads the form",
			old:   url.Values{"scope": {"repo"}, "realmId": {"4620816365"}, "multi": {"a", "b"}},
			new:   map[string]any{},
			names: []string{"scope", "realmId", "multi"},
			want:  map[string]any{"scope": "repo", "realmId": int64(4620816365), "multi": "a"},
		},
		{
			name:  "into a token without extra fields, JSON",
			old:   map[string]any{"scope": "read"},
			names: []string{"scope"},
			want:  map[string]any{"scope": "read"},
		},
		{
			name:  "into a token without extra fields, form",
			old:   url.Values{"scope": {"read"}},
			names: []string{"scope"},
			want:  url.Values{"scope": {"read"}},
		},
		{
			name:  "nothing to keep",
			old:   map[string]any{"other": "x"},
			new:   map[string]any{"a": "b"},
			names: []string{"scope"},
			want:  map[string]any{"a": "b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, next := withExtra(tt.old), withExtra(tt.new)
			oldCopy, newCopy := clone(tt.old), clone(tt.new)
			got := endpoint.KeepExtra(next, old, tt.names)
			if diff := cmp.Diff(tt.want, tokenraw.Of(got)); diff != "" {
				t.Errorf("extra fields (-want +got):\n%s", diff)
			}
			if got.AccessToken != "AT" {
				t.Errorf("AccessToken = %q", got.AccessToken)
			}
			if diff := cmp.Diff(oldCopy, tokenraw.Of(old)); diff != "" {
				t.Errorf("old token changed:\n%s", diff)
			}
			if diff := cmp.Diff(newCopy, tokenraw.Of(next)); diff != "" {
				t.Errorf("new token changed:\n%s", diff)
			}
		})
	}
	if endpoint.KeepExtra(nil, withExtra(nil), []string{"scope"}) != nil {
		t.Error("KeepExtra(nil, …) is not nil")
	}
	// Extra fields of a type of the caller's are left alone.
	type own struct{ Scope string }
	tok := withExtra(own{"x"})
	if got := endpoint.KeepExtra(tok, withExtra(map[string]any{"scope": "read"}), []string{"scope"}); got != tok {
		t.Errorf("KeepExtra rebuilt extra fields of a foreign type: %v", tokenraw.Of(got))
	}
}

func clone(raw any) any {
	b, _ := json.Marshal(raw)
	switch raw.(type) {
	case url.Values:
		var v url.Values
		json.Unmarshal(b, &v)
		return v
	case map[string]any:
		var m map[string]any
		json.Unmarshal(b, &m)
		return normalize(m, raw.(map[string]any))
	}
	return raw
}

// normalize gives m's values the types of orig's where JSON lost them.
func normalize(m, orig map[string]any) map[string]any {
	for k, v := range orig {
		if _, ok := v.(json.Number); ok {
			m[k] = v
		}
	}
	return m
}

// SetExtra sets a member as a string in either kind of extra fields.
func TestSetExtra(t *testing.T) {
	for _, tt := range []struct {
		name      string
		raw, want any
	}{
		{"none", nil, map[string]any{"m": "v"}},
		{"JSON", map[string]any{"a": json.Number("1"), "m": "old"}, map[string]any{"a": json.Number("1"), "m": "v"}},
		{"form", url.Values{"a": {"1"}, "m": {"old", "older"}}, url.Values{"a": {"1"}, "m": {"v"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tok := withExtra(tt.raw)
			before := clone(tt.raw)
			got := endpoint.SetExtra(tok, "m", "v")
			if diff := cmp.Diff(before, tokenraw.Of(tok)); diff != "" {
				t.Errorf("SetExtra changed its argument's extra fields:\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, tokenraw.Of(got)); diff != "" {
				t.Errorf("extra fields (-want +got):\n%s", diff)
			}
			if got.Extra("m") != "v" {
				t.Errorf(`Extra("m") = %v`, got.Extra("m"))
			}
			if got == tok {
				t.Error("SetExtra returned its argument")
			}
		})
	}
}
