package tokencodec

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokenraw"
	"golang.org/x/oauth2"
)

// fuzzKey is the AES-256 key of the AEAD FuzzDecode uses; the sealed
// seeds in testdata/fuzz/FuzzDecode were sealed with it.
const fuzzKey = "oauthrt fuzz key, 32 bytes long!"

// marker is planted in the seeds; no error may ever quote it.
const marker = "SECRETMARKER"

func fuzzAEAD(tb testing.TB) cipher.AEAD {
	block, err := aes.NewCipher([]byte(fuzzKey))
	if err != nil {
		tb.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		tb.Fatal(err)
	}
	return aead
}

// typeName matches the "(%T)" in Decode's messages: a type's name, not
// input.
var typeName = regexp.MustCompile(`\(\*?[A-Za-z0-9_.]+\)`)

// fixedMessages are Decode's messages, with "(T)" for a type's name. An
// input that is part of one of them may appear in an error by chance.
var fixedMessages = []string{
	oauthrt.ErrCorruptToken.Error() + ": empty value",
	oauthrt.ErrCorruptToken.Error() + ": not a JSON token record (T)",
	oauthrt.ErrCorruptToken.Error() + ": data after the token record",
	oauthrt.ErrCorruptToken.Error() + ": no access token",
	oauthrt.ErrCorruptToken.Error() + ": extra fields (T)",
	oauthrt.ErrDecrypt.Error() + ": the token is encrypted and the store has no AEAD",
	oauthrt.ErrDecrypt.Error() + ": value too short",
	oauthrt.ErrDecrypt.Error() + ": the token is stored unencrypted and the store has an AEAD",
}

// FuzzDecode feeds Decode any value under any store key, with and without
// an AEAD. It must not panic; it fails only with ErrCorruptToken or
// ErrDecrypt, and never quotes the value; with an AEAD it accepts only the
// sealed form, without one only the plain form; and what it accepts has
// an access token and comes back the same through Encode and Decode.
//
// The seeds are in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	aead := fuzzAEAD(f)
	f.Add([]byte(`{"access_token":"AT","token_type":"Bearer","expiry":"2026-11-28T20:37:35Z","expires_in":3600}`), false, "user-1")
	f.Add([]byte("\x01short"), true, "user-1")
	f.Fuzz(func(t *testing.T, b []byte, withAEAD bool, key string) {
		var a cipher.AEAD
		if withAEAD {
			a = aead
		}
		tok, err := Decode(b, a, key)
		if err != nil {
			if tok != nil {
				t.Errorf("Decode returned a token and the error %v", err)
			}
			if !errors.Is(err, oauthrt.ErrCorruptToken) && !errors.Is(err, oauthrt.ErrDecrypt) {
				t.Fatalf("Decode: %v; want an error wrapping ErrCorruptToken or ErrDecrypt", err)
			}
			msg := err.Error()
			if strings.Contains(msg, marker) {
				t.Fatalf("Decode: the error quotes the value: %q", msg)
			}
			if len(b) >= 8 && strings.Contains(typeName.ReplaceAllString(msg, "(T)"), string(b)) && !inFixedMessage(string(b)) {
				t.Fatalf("Decode: the error quotes the value %q: %q", b, msg)
			}
			return
		}
		if tok == nil || tok.AccessToken == "" {
			t.Fatalf("Decode = %v, nil; want a token with an access token", tok)
		}
		if isSealed := b[0] == sealed; isSealed != withAEAD {
			t.Fatalf("Decode accepted a value (sealed: %t) under a store with AEAD: %t; value %q", isSealed, withAEAD, b)
		}

		again, err := Encode(tok, a, key)
		if err != nil {
			t.Fatalf("Encode of a decoded token: %v (value %q)", err, b)
		}
		tok2, err := Decode(again, a, key)
		if err != nil {
			t.Fatalf("Decode of a re-encoded token: %v (value %q, re-encoded %q)", err, b, again)
		}
		if tok.AccessToken != tok2.AccessToken || tok.TokenType != tok2.TokenType ||
			tok.RefreshToken != tok2.RefreshToken || !tok.Expiry.Equal(tok2.Expiry) || tok.ExpiresIn != tok2.ExpiresIn {
			t.Fatalf("round trip changed the token:\n got %+v\nwant %+v\n(value %q)", tok2, tok, b)
		}
		if diff := cmp.Diff(extras(tok), extras(tok2)); diff != "" {
			t.Fatalf("round trip changed the extra fields (-first +second):\n%s(value %q)", diff, b)
		}
	})
}

func inFixedMessage(s string) bool {
	for _, m := range fixedMessages {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// extras returns the token's raw extra fields, nil for empty form fields:
// Encode leaves those out, and a token with none reads the same.
func extras(tok *oauth2.Token) any {
	raw := tokenraw.Of(tok)
	if v, ok := raw.(url.Values); ok && len(v) == 0 {
		return nil
	}
	return raw
}
