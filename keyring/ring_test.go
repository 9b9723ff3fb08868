package keyring_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt/keyring"
)

// secret returns a 32-byte secret made of c.
func secret(c byte) []byte { return bytes.Repeat([]byte{c}, 32) }

func aesKey(t *testing.T, id string, c byte) keyring.Key {
	t.Helper()
	k, err := keyring.NewAESGCM(id, secret(c))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ring(t *testing.T, keys ...keyring.Key) *keyring.Ring {
	t.Helper()
	r, err := keyring.New(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// counting is an AEAD that counts its Open calls.
type counting struct {
	cipher.AEAD
	opens int
}

func (c *counting) Open(dst, nonce, ciphertext, ad []byte) ([]byte, error) {
	c.opens++
	return c.AEAD.Open(dst, nonce, ciphertext, ad)
}

var (
	nonce = []byte("twelve bytes")
	ad    = []byte("additional data")
	plain = []byte("the plaintext")
)

// A ring seals with its primary and names it; a ring listing that key
// anywhere opens it and names it.
func TestRoundTrip(t *testing.T) {
	k1, k2, k3 := aesKey(t, "k1", 1), aesKey(t, "k2", 2), aesKey(t, "k3", 3)
	sealer := ring(t, k2, k1)
	ct := sealer.Seal(nil, nonce, plain, ad)
	if !bytes.HasPrefix(ct, []byte("K\x02k2")) {
		t.Fatalf("sealed %x; want the prefix K, 2, k2", ct)
	}
	if len(ct) > len(plain)+sealer.Overhead() {
		t.Errorf("sealed %d bytes of %d; Overhead() = %d", len(ct), len(plain), sealer.Overhead())
	}
	for _, r := range []*keyring.Ring{sealer, ring(t, k3, k2), ring(t, k2)} {
		got, id, err := r.OpenKey(nil, nonce, ct, ad)
		if err != nil {
			t.Fatalf("%v: %v", r, err)
		}
		if !bytes.Equal(got, plain) || id != "k2" {
			t.Errorf("%v: OpenKey = %q, %q; want %q, k2", r, got, id, plain)
		}
		if got, err := r.Open([]byte("dst:"), nonce, ct, ad); err != nil || string(got) != "dst:"+string(plain) {
			t.Errorf("%v: Open with a dst = %q, %v; want the plaintext appended", r, got, err)
		}
	}
	if _, err := ring(t, k2).Open(nil, nonce, ct, []byte("other data")); err == nil {
		t.Error("Open with other additional data succeeded")
	}
}

// Seal and Open work in place, as cipher.AEAD allows: dst the storage of
// the plaintext, or of the ciphertext.
func TestInPlace(t *testing.T) {
	r := ring(t, aesKey(t, "primary", 1), aesKey(t, "old", 2))
	buf := make([]byte, len(plain), len(plain)+r.Overhead())
	copy(buf, plain)
	want := r.Seal(nil, nonce, plain, ad)
	ct := r.Seal(buf[:0], nonce, buf, ad)
	if !bytes.Equal(ct, want) {
		t.Fatalf("Seal in place = %x; want %x", ct, want)
	}
	got, err := r.Open(ct[:0], nonce, ct, ad)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open in place = %q, %v; want %q", got, err, plain)
	}

	// In place, on a ciphertext of the second key sealed before the
	// ring: the primary's failed attempt must not spoil it for the next.
	bare := aesKey(t, "old", 2).AEAD.Seal(nil, nonce, plain, ad)
	got, err = r.Open(bare[:0], nonce, bare, ad)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open in place of a bare ciphertext = %q, %v; want %q", got, err, plain)
	}
}

// A ciphertext sealed by a key's bare AEAD, before the ring, opens with
// the first key of the ring that opens it; a ring ciphertext is opened
// by the key it names, and no other is tried.
func TestFallbackOrder(t *testing.T) {
	k1, k2 := aesKey(t, "k1", 1), aesKey(t, "k2", 2)
	bare := k2.AEAD.Seal(nil, nonce, plain, ad)
	for _, tc := range []struct {
		keys []keyring.Key
		want string
	}{
		{[]keyring.Key{k1, k2}, "k2"},
		{[]keyring.Key{k2, k1}, "k2"},
		// One secret under two IDs: the first listed wins.
		{[]keyring.Key{k1, {ID: "a", AEAD: k2.AEAD}, {ID: "b", AEAD: k2.AEAD}}, "a"},
		{[]keyring.Key{k1, {ID: "b", AEAD: k2.AEAD}, {ID: "a", AEAD: k2.AEAD}}, "b"},
	} {
		got, id, err := ring(t, tc.keys...).OpenKey(nil, nonce, bare, ad)
		if err != nil || id != tc.want || !bytes.Equal(got, plain) {
			t.Errorf("ring %v: OpenKey = %q, %q, %v; want %q, %q", tc.keys, got, id, err, plain, tc.want)
		}
	}

	c1, c2, c3 := &counting{AEAD: k1.AEAD}, &counting{AEAD: k2.AEAD}, &counting{AEAD: aesKey(t, "k3", 3).AEAD}
	r := ring(t, keyring.Key{ID: "k1", AEAD: c1}, keyring.Key{ID: "k2", AEAD: c2}, keyring.Key{ID: "k3", AEAD: c3})
	ct := ring(t, aesKey(t, "k3", 3)).Seal(nil, nonce, plain, ad)
	if _, id, err := r.OpenKey(nil, nonce, ct, ad); err != nil || id != "k3" {
		t.Fatalf("OpenKey = %q, %v; want k3", id, err)
	}
	if c1.opens != 0 || c2.opens != 0 || c3.opens != 1 {
		t.Errorf("opens k1, k2, k3 = %d, %d, %d; want 0, 0, 1", c1.opens, c2.opens, c3.opens)
	}
}

// A ring ciphertext whose prefix was changed or removed does not open,
// nor does one whose body was changed.
func TestTampered(t *testing.T) {
	k1, k2 := aesKey(t, "k1", 1), aesKey(t, "k2", 2)
	r := ring(t, k1, k2)
	ct := r.Seal(nil, nonce, plain, ad)
	for name, tamper := range map[string]func([]byte) []byte{
		"another key's ID": func(b []byte) []byte { b[3] = '2'; return b },
		"no prefix":        func(b []byte) []byte { return b[4:] },
		"another marker":   func(b []byte) []byte { b[0] = 'L'; return b },
		"a longer ID":      func(b []byte) []byte { b[1] = 3; return b },
		"a flipped body":   func(b []byte) []byte { b[len(b)-1] ^= 1; return b },
		"cut short":        func(b []byte) []byte { return b[:5] },
		"empty":            func(b []byte) []byte { return nil },
	} {
		b := tamper(bytes.Clone(ct))
		if got, id, err := r.OpenKey(nil, nonce, b, ad); err == nil {
			t.Errorf("%s: OpenKey = %q, %q; want an error", name, got, id)
		}
	}
	// Unchanged, it opens.
	if _, err := r.Open(nil, nonce, ct, ad); err != nil {
		t.Fatal(err)
	}
}

// A ring without the key fails, saying which key the ciphertext names.
func TestWrongKey(t *testing.T) {
	ct := ring(t, aesKey(t, "old", 1)).Seal(nil, nonce, plain, ad)
	_, id, err := ring(t, aesKey(t, "new", 2)).OpenKey(nil, nonce, ct, ad)
	if err == nil || id != "" {
		t.Fatalf("OpenKey = %q, %v; want an error", id, err)
	}
	if want := `keyring: the ciphertext names key "old", which the ring (new) does not hold`; err.Error() != want {
		t.Errorf("error %q; want %q", err, want)
	}
	// The same secret under another ID does not open it either: the ID
	// is authenticated.
	if _, err := ring(t, aesKey(t, "renamed", 1)).Open(nil, nonce, ct, ad); err == nil {
		t.Error("the key under another ID opened the ciphertext")
	}
	bare := aesKey(t, "x", 1).AEAD.Seal(nil, nonce, plain, ad)
	if _, err := ring(t, aesKey(t, "new", 2)).Open(nil, nonce, bare, ad); err == nil || strings.Contains(err.Error(), "names") {
		t.Errorf("Open of a bare ciphertext of another key: %v; want an authentication error", err)
	}
}

func TestNewErrors(t *testing.T) {
	k1 := aesKey(t, "k1", 1)
	block, err := aes.NewCipher(secret(9))
	if err != nil {
		t.Fatal(err)
	}
	wide, err := cipher.NewGCMWithNonceSize(block, 16)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		keys []keyring.Key
		want string
	}{
		{"no key", nil, "keyring: no key"},
		{"empty ID", []keyring.Key{{AEAD: k1.AEAD}}, "keyring: key 0: empty key ID"},
		{"long ID", []keyring.Key{k1, {ID: strings.Repeat("a", 33), AEAD: k1.AEAD}}, "keyring: key 1: a key ID of 33 bytes; at most 32"},
		{"odd byte", []keyring.Key{{ID: "a b", AEAD: k1.AEAD}}, "keyring: key 0: a key ID with a byte other than A-Z, a-z, 0-9, '.', '_' and '-' (at offset 1)"},
		{"twice", []keyring.Key{k1, aesKey(t, "k1", 2)}, `keyring: key "k1" is listed twice`},
		{"nil AEAD", []keyring.Key{k1, {ID: "k2"}}, `keyring: key "k2" has a nil AEAD`},
		{"nonce sizes", []keyring.Key{k1, {ID: "wide", AEAD: wide}}, `keyring: key "wide" takes 16-byte nonces, key "k1" 12-byte ones; a ring's keys must agree`},
	} {
		r, err := keyring.New(tc.keys...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: New = %v, %v; want the error %q", tc.name, r, err, tc.want)
		}
	}
	if _, err := keyring.New(keyring.Key{ID: strings.Repeat("a", 32), AEAD: k1.AEAD}, keyring.Key{ID: "A-Z.a_z-0.9", AEAD: k1.AEAD}); err != nil {
		t.Errorf("New with valid IDs: %v", err)
	}
	for _, n := range []int{15, 0} {
		if _, err := keyring.NewAESGCM("k", make([]byte, n)); err == nil {
			t.Errorf("NewAESGCM with a %d-byte secret: no error", n)
		}
	}
	for _, n := range []int{16, 24, 32} {
		if _, err := keyring.NewAESGCM("k", make([]byte, n)); err != nil {
			t.Errorf("NewAESGCM with a %d-byte secret: %v", n, err)
		}
	}
}

func TestAccessors(t *testing.T) {
	r := ring(t, aesKey(t, "new", 1), aesKey(t, "a-much-longer-old-key-id", 2))
	if r.Primary() != "new" {
		t.Errorf("Primary() = %q", r.Primary())
	}
	ids := r.IDs()
	if diff := cmp.Diff([]string{"new", "a-much-longer-old-key-id"}, ids); diff != "" {
		t.Errorf("IDs() (-want +got):\n%s", diff)
	}
	ids[0] = "changed"
	if r.Primary() != "new" {
		t.Error("changing IDs()'s result changed the ring")
	}
	if r.NonceSize() != 12 {
		t.Errorf("NonceSize() = %d", r.NonceSize())
	}
	if want := 2 + len("a-much-longer-old-key-id") + 16; r.Overhead() != want {
		t.Errorf("Overhead() = %d; want %d, the longest prefix and GCM's tag", r.Overhead(), want)
	}

	var zero keyring.Ring
	if zero.Primary() != "" || zero.IDs() != nil || zero.NonceSize() != 0 || zero.Overhead() != 0 {
		t.Errorf("zero Ring: %q %q %d %d", zero.Primary(), zero.IDs(), zero.NonceSize(), zero.Overhead())
	}
	if _, err := zero.Open(nil, nonce, []byte("anything at all"), ad); err == nil {
		t.Error("zero Ring opened")
	}
	defer func() {
		if recover() == nil {
			t.Error("zero Ring sealed")
		}
	}()
	zero.Seal(nil, nonce, plain, ad)
}

// Neither a Ring nor a Key shows a secret, however it is printed, logged
// or encoded: GCM's key schedule starts with the key itself.
func TestNoSecretShown(t *testing.T) {
	k1, k2 := aesKey(t, "k1", 0xa7), aesKey(t, "k2", 0x5c)
	r := ring(t, k1, k2)
	var out strings.Builder
	for _, v := range []any{r, *r, k1, []keyring.Key{k1, k2}, struct{ R *keyring.Ring }{r}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(b)
		slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "v", v)
		slog.New(slog.NewTextHandler(&out, nil)).Info("x", "v", v)
	}
	s := out.String()
	for _, sec := range [][]byte{secret(0xa7), secret(0x5c)} {
		for _, form := range []string{string(sec), hex.EncodeToString(sec), strings.ToUpper(hex.EncodeToString(sec)), hex.EncodeToString(sec[:4]), fmt.Sprint(sec[:4])} {
			if strings.Contains(s, form) {
				t.Fatalf("the output shows a secret (%q):\n%s", form, s)
			}
		}
	}
	if want := `keyring.Ring{Primary: "k1", IDs: ["k1" "k2"]}`; fmt.Sprint(r) != want {
		t.Errorf("Sprint(ring) = %s; want %s", r, want)
	}
	if want := `keyring.Key{ID: "k1"}`; fmt.Sprint(k1) != want {
		t.Errorf("Sprint(key) = %s; want %s", k1, want)
	}
}

// Named reads the key a ring's ciphertext names without opening it, even
// a key the ring does not hold, and nothing from a bare AEAD's.
func TestNamed(t *testing.T) {
	k1, k2 := aesKey(t, "k1", 1), aesKey(t, "k-two", 2)
	r := ring(t, k1)
	for _, tc := range []struct {
		what   string
		ct     []byte
		id     string
		nameOK bool
	}{
		{"its own", r.Seal(nil, nonce, plain, ad), "k1", true},
		{"another ring's", ring(t, k2).Seal(nil, nonce, plain, ad), "k-two", true},
		{"a bare AEAD's", k1.AEAD.Seal(nil, nonce, plain, ad), "", false},
		{"an empty one", nil, "", false},
	} {
		if id, ok := r.Named(tc.ct); id != tc.id || ok != tc.nameOK {
			t.Errorf("Named(%s ciphertext) = %q, %t; want %q, %t", tc.what, id, ok, tc.id, tc.nameOK)
		}
	}
}
