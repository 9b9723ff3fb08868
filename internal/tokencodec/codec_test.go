package tokencodec

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt/internal/tokenraw"
	"golang.org/x/oauth2"
)

// The extra fields the refreshers add (the issuing token endpoint, kept
// members with their types) survive a store, from a JSON answer and from
// a form-encoded one, sealed or not.
func TestExtraRoundTrip(t *testing.T) {
	for name, raw := range map[string]any{
		"JSON": map[string]any{"oauthrt_token_url": "https://acme.example/oauth/token", "realmId": json.Number("4620816365"), "scope": "a b", "nested": map[string]any{"k": []any{"v"}}},
		"form": url.Values{"oauthrt_token_url": {"https://acme.example/oauth/token"}, "scope": {"repo"}},
	} {
		for _, sealed := range []bool{false, true} {
			tok := (&oauth2.Token{AccessToken: "AT", RefreshToken: "RT"}).WithExtra(raw)
			aead := fuzzAEAD(t)
			if !sealed {
				aead = nil
			}
			b, err := Encode(tok, aead, "k")
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(b, aead, "k")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(raw, tokenraw.Of(got)); diff != "" {
				t.Errorf("%s (sealed %v): extra fields (-want +got):\n%s", name, sealed, diff)
			}
			if got.Extra("oauthrt_token_url") != "https://acme.example/oauth/token" {
				t.Errorf("%s: the token URL is lost: %v", name, got.Extra("oauthrt_token_url"))
			}
		}
	}
}
