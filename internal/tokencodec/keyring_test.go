package tokencodec

import (
	"bytes"
	"crypto/cipher"
	"errors"
	"strings"
	"testing"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/keyring"
	"golang.org/x/oauth2"
)

func ringKey(t *testing.T, id string, c byte) keyring.Key {
	t.Helper()
	k, err := keyring.NewAESGCM(id, bytes.Repeat([]byte{c}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newRing(t *testing.T, keys ...keyring.Key) *keyring.Ring {
	t.Helper()
	r, err := keyring.New(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func encode(t *testing.T, tok *oauth2.Token, aead cipher.AEAD, key string) []byte {
	t.Helper()
	b, err := Encode(tok, aead, key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A token sealed by a bare AEAD, before the ring, opens with a ring that
// lists that AEAD's key, even second, and even when the value is shorter
// than the ring's Overhead; DecodeKey names the key.
func TestDecodeKeyBareRecord(t *testing.T) {
	old := ringKey(t, "old", 1)
	longID := strings.Repeat("n", 32) // a ring Overhead of 50 bytes
	r := newRing(t, ringKey(t, longID, 2), old)
	tok := &oauth2.Token{AccessToken: "A"}
	b := encode(t, tok, old.AEAD, "user-1")
	if len(b) >= 1+r.NonceSize()+r.Overhead() {
		t.Fatalf("the bare value is %d bytes, not shorter than the ring's nonce and overhead", len(b))
	}
	got, id, err := DecodeKey(b, r, "user-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessToken != "A" || id != "old" {
		t.Errorf("DecodeKey = %q, %q; want A, old", got.AccessToken, id)
	}
	if got, err := Decode(b, r, "user-1"); err != nil || got.AccessToken != "A" {
		t.Errorf("Decode = %v, %v", got, err)
	}
}

// A token sealed by a ring whose primary is k2 opens with ring(k3, k2),
// which names k2, and rewritten with ring(k3, k2) it names k3.
func TestDecodeKeyRotation(t *testing.T) {
	k1, k2, k3 := ringKey(t, "k1", 1), ringKey(t, "k2", 2), ringKey(t, "k3", 3)
	tok := &oauth2.Token{AccessToken: "AT", RefreshToken: "RT"}
	b := encode(t, tok, newRing(t, k2, k1), "user-1")
	now := newRing(t, k3, k2)
	got, id, err := DecodeKey(b, now, "user-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.RefreshToken != "RT" || id != "k2" {
		t.Errorf("DecodeKey = %q, %q; want RT, k2", got.RefreshToken, id)
	}
	if _, id, err := DecodeKey(encode(t, got, now, "user-1"), now, "user-1"); err != nil || id != "k3" {
		t.Errorf("DecodeKey of the rewritten value = %q, %v; want k3", id, err)
	}
}

// A ring without the key that sealed the token fails with ErrDecrypt,
// whether the ring or a bare AEAD sealed it.
func TestDecodeKeyMissingKey(t *testing.T) {
	k1, k2, k3 := ringKey(t, "k1", 1), ringKey(t, "k2", 2), ringKey(t, "k3", 3)
	tok := &oauth2.Token{AccessToken: "AT"}
	for name, b := range map[string][]byte{
		"ring":      encode(t, tok, newRing(t, k1), "user-1"),
		"bare AEAD": encode(t, tok, k1.AEAD, "user-1"),
	} {
		got, id, err := DecodeKey(b, newRing(t, k3, k2), "user-1")
		if !errors.Is(err, oauthrt.ErrDecrypt) || got != nil || id != "" {
			t.Errorf("%s: DecodeKey = %v, %q, %v; want ErrDecrypt", name, got, id, err)
		}
	}
	// Too short to hold even a nonce: ErrDecrypt, no panic.
	for _, b := range [][]byte{{sealed}, append([]byte{sealed}, make([]byte, 12)...), append([]byte{sealed}, "twelve bytesK\x02k1"...)} {
		if _, _, err := DecodeKey(b, newRing(t, k1), "user-1"); !errors.Is(err, oauthrt.ErrDecrypt) {
			t.Errorf("DecodeKey(%q): %v; want ErrDecrypt", b, err)
		}
	}
}

// A value copied to another store key does not open: the store key is
// still the additional data, under a ring as under a bare AEAD.
func TestDecodeKeyBindsStoreKey(t *testing.T) {
	k1, k2 := ringKey(t, "k1", 1), ringKey(t, "k2", 2)
	r := newRing(t, k2, k1)
	tok := &oauth2.Token{AccessToken: "AT"}
	for name, b := range map[string][]byte{
		"ring":      encode(t, tok, r, "user-1"),
		"bare AEAD": encode(t, tok, k1.AEAD, "user-1"),
	} {
		if _, _, err := DecodeKey(b, r, "user-1"); err != nil {
			t.Fatalf("%s: under its own key: %v", name, err)
		}
		got, id, err := DecodeKey(b, r, "user-2")
		if !errors.Is(err, oauthrt.ErrDecrypt) || got != nil || id != "" {
			t.Errorf("%s: under another key: %v, %q, %v; want ErrDecrypt", name, got, id, err)
		}
	}
}

// DecodeKey names no key without a ring: for a plain value, or one
// sealed by a bare AEAD.
func TestDecodeKeyNoRing(t *testing.T) {
	tok := &oauth2.Token{AccessToken: "AT"}
	aead := fuzzAEAD(t)
	for _, a := range []cipher.AEAD{nil, aead} {
		if got, id, err := DecodeKey(encode(t, tok, a, "k"), a, "k"); err != nil || got.AccessToken != "AT" || id != "" {
			t.Errorf("AEAD %T: DecodeKey = %v, %q, %v; want AT, no key", a, got, id, err)
		}
	}
}
