package filestore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
)

// fuzzKey is the AES-256 key of the AEAD FuzzParseFile uses; the sealed
// entries of the seeds in testdata/fuzz/FuzzParseFile were sealed with it,
// each under its own key in the file.
const fuzzKey = "oauthrt fuzz key, 32 bytes long!"

// marker is planted in the seeds; no error may ever quote it.
const marker = "SECRETMARKER"

// FuzzParseFile reads any bytes as a token file, as Load and Save do:
// parse, then unwrap and tokencodec.Decode for each entry, with and
// without an AEAD. It must not panic; it fails only with ErrCorruptToken
// (ErrDecrypt too for an entry), or for a file of a newer layout with
// exactly that message, and never quotes the file; what it accepts has
// an access token; and a document it parsed is written back as Store
// writes it, and that parses again with the same entries and grant
// states.
//
// The seeds are in testdata/fuzz/FuzzParseFile.
func FuzzParseFile(f *testing.F) {
	block, err := aes.NewCipher([]byte(fuzzKey))
	if err != nil {
		f.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"version":1,"tokens":{"k":{"access_token":"AT"},"s":"AQID"}}`), false)
	f.Add([]byte(`{"version":3,"tokens":{}}`), true)
	f.Add([]byte(`{"version":2,"tokens":{},"byte_keys":{"/w==":{"access_token":"AT"}},"leases":{"k":{"pid":1}}}`), false)
	f.Add([]byte(`{"version":1,"tokens":{},"grant_states":{"k":{"dead_token":"fp","dead_at":"2030-01-02T03:04:05.1Z","failures":2}},"byte_key_grant_states":{"/w==":{"next_attempt":"2030-01-02T03:04:05Z"}}}`), false)
	f.Fuzz(func(t *testing.T, b []byte, withAEAD bool) {
		var a cipher.AEAD
		if withAEAD {
			a = aead
		}
		doc, err := parse(b)
		if err != nil {
			if doc != nil {
				t.Errorf("parse returned a document and the error %v", err)
			}
			if strings.Contains(err.Error(), marker) {
				t.Fatalf("parse: the error quotes the file: %q", err)
			}
			if !errors.Is(err, oauthrt.ErrCorruptToken) && !newerLayout(b, err) {
				t.Fatalf("parse: %v; want an error wrapping ErrCorruptToken, or the newer-layout one", err)
			}
			return
		}
		if doc == nil || doc.Tokens == nil || doc.Version < 1 || doc.Version > fileVersion {
			t.Fatalf("parse = %+v, nil; want a document of version 1 to %d with a token map", doc, fileVersion)
		}

		for _, key := range slices.Sorted(maps.Keys(doc.Tokens)) {
			raw, err := unwrap(doc.Tokens[key])
			if err != nil {
				if !errors.Is(err, oauthrt.ErrCorruptToken) {
					t.Fatalf("unwrap(%q): %v; want an error wrapping ErrCorruptToken", doc.Tokens[key], err)
				}
				if strings.Contains(err.Error(), marker) {
					t.Fatalf("unwrap: the error quotes the file: %q", err)
				}
				continue
			}
			tok, err := tokencodec.Decode(raw, a, key)
			if err != nil {
				if !errors.Is(err, oauthrt.ErrCorruptToken) && !errors.Is(err, oauthrt.ErrDecrypt) {
					t.Fatalf("Decode(%q): %v; want an error wrapping ErrCorruptToken or ErrDecrypt", raw, err)
				}
				if strings.Contains(err.Error(), marker) {
					t.Fatalf("Decode: the error quotes the file: %q", err)
				}
				continue
			}
			if tok == nil || tok.AccessToken == "" {
				t.Fatalf("Decode(%q) = %v, nil; want a token with an access token", raw, tok)
			}
		}

		// As update writes it.
		out, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			t.Fatalf("encoding a parsed document: %v (file %q)", err, b)
		}
		doc2, err := parse(out)
		if err != nil {
			t.Fatalf("parse of a re-encoded document: %v (file %q, re-encoded %q)", err, b, out)
		}
		if got, want := slices.Sorted(maps.Keys(doc2.Tokens)), slices.Sorted(maps.Keys(doc.Tokens)); !slices.Equal(got, want) {
			t.Fatalf("re-encoding changed the keys: %q, want %q", got, want)
		}
		if got, want := slices.Sorted(maps.Keys(doc2.ByteKeys)), slices.Sorted(maps.Keys(doc.ByteKeys)); !slices.Equal(got, want) {
			t.Fatalf("re-encoding changed the byte keys: %q, want %q", got, want)
		}
		if !maps.EqualFunc(doc2.GrantStates, doc.GrantStates, sameRecord) || !maps.EqualFunc(doc2.ByteKeyGrantStates, doc.ByteKeyGrantStates, sameRecord) {
			t.Fatalf("re-encoding changed the grant states: %v %v, want %v %v", doc2.GrantStates, doc2.ByteKeyGrantStates, doc.GrantStates, doc.ByteKeyGrantStates)
		}
	})
}

// sameRecord reports whether a and b hold the same grant state; their
// times may be in different locations.
func sameRecord(a, b grantRecord) bool {
	return a.DeadToken == b.DeadToken && a.DeadCode == b.DeadCode && a.DeadAt.Equal(b.DeadAt) &&
		a.NextAttempt.Equal(b.NextAttempt) && a.Failures == b.Failures
}

// newerLayout reports whether err is parse's error for a file of a
// layout newer than fileVersion, and b is such a file.
func newerLayout(b []byte, err error) bool {
	var v struct{ Version int }
	if json.NewDecoder(bytes.NewReader(b)).Decode(&v) != nil || v.Version <= fileVersion {
		return false
	}
	want := fmt.Sprintf("oauthrt: filestore: the token file has layout version %d, newer than this package's %d", v.Version, fileVersion)
	return err.Error() == want
}
