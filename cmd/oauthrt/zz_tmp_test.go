package main

import (
	"testing"

	"github.com/oauthrt/oauthrt"
)

// TEMPORARY until filestore is an Inspector: drop backends that are not.
func onlyInspectable(t testing.TB, bs []backend) []backend {
	var out []backend
	for _, b := range bs {
		if _, ok := openedWith(t, b, nil).TokenStore.(oauthrt.Inspector); ok {
			out = append(out, b)
		}
	}
	return out
}
