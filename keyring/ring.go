package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/oauthrt/oauthrt/internal/describe"
)

// marker is the first byte of what a Ring seals. It is followed by the
// length of the sealing key's ID (one byte), the ID, then the sealing
// key's own output.
const marker = 'K'

// maxIDLen is the longest key ID.
const maxIDLen = 32

// A Key is one key of a [Ring]: an AEAD and the ID that names it in what
// the Ring seals. The zero Key is not a valid key: [New] refuses it.
type Key struct {
	// ID names the key: 1 to 32 bytes of ASCII letters, digits, '.',
	// '_' and '-'. It is written, in the clear, in front of everything
	// the Ring seals with the key, and it is authenticated with it: a
	// key listed under another ID does not open what it sealed.
	ID string
	// AEAD seals and opens with the key. nil is not valid.
	AEAD cipher.AEAD
}

// String describes k by its ID, never its secret.
func (k Key) String() string { return fmt.Sprintf("keyring.Key{ID: %q}", k.ID) }

// GoString is String, so that %#v does not walk the AEAD's key schedule.
func (k Key) GoString() string { return k.String() }

// Format writes String for every verb, so that none (%x, %d…) walks the
// AEAD.
func (k Key) Format(f fmt.State, verb rune) { describe.Format(f, verb, k.String()) }

// LogValue is String, for slog.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalJSON writes String as a JSON string.
func (k Key) MarshalJSON() ([]byte, error) { return describe.JSON(k.String()) }

// NewAESGCM returns the key id of AES-GCM with secret, which must be 16,
// 24 or 32 bytes long (AES-128, AES-192 or AES-256). The error never
// holds the secret.
func NewAESGCM(id string, secret []byte) (Key, error) {
	k, err := newAESGCM(id, secret)
	if err != nil {
		return Key{}, fmt.Errorf("keyring: %w", err)
	}
	return k, nil
}

// newAESGCM is NewAESGCM, its errors without the package's prefix.
func newAESGCM(id string, secret []byte) (Key, error) {
	if err := checkID(id); err != nil {
		return Key{}, err
	}
	block, err := aes.NewCipher(secret)
	if err != nil {
		// aes.KeySizeError holds only the length.
		return Key{}, fmt.Errorf("key %q: %w", id, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return Key{}, fmt.Errorf("key %q: %w", id, err)
	}
	return Key{ID: id, AEAD: aead}, nil
}

// checkID returns an error, without the package's prefix, when id is not
// a valid key ID. The error does not quote an invalid id: a key source
// with a missing separator could have put a secret there.
func checkID(id string) error {
	if id == "" {
		return errors.New("empty key ID")
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("a key ID of %d bytes; at most %d", len(id), maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		if !idByte(id[i]) {
			return fmt.Errorf("a key ID with a byte other than A-Z, a-z, 0-9, '.', '_' and '-' (at offset %d)", i)
		}
	}
	return nil
}

func idByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// A Ring is a [cipher.AEAD] over several keys: it seals with its primary
// key, naming the key in what it writes, and opens with whichever of its
// keys sealed. Set it as a store's AEAD to rotate the store's key; see
// the package documentation.
//
// A Ring is immutable and safe for concurrent use. The zero Ring holds
// no key: its Seal panics and its Open fails; build one with [New],
// [Parse], [Load] or [FromEnv]. Printed, logged or encoded as JSON, a
// Ring shows its key IDs only.
type Ring struct {
	keys      []entry // keys[0] is the primary
	nonceSize int
	overhead  int
}

// entry is a key with the prefix the Ring writes for it.
type entry struct {
	id     string
	aead   cipher.AEAD
	prefix []byte // marker, len(id), id
}

var _ cipher.AEAD = (*Ring)(nil)

// New returns the ring of keys. keys[0] is the primary: Seal always uses
// it. Open uses the key a ciphertext names, and tries every key in order
// on a ciphertext that names none it holds (one sealed by a bare AEAD
// before the ring was set up). It is an error to give no key, a key
// whose ID is invalid or listed twice, a key with a nil AEAD, or keys
// whose nonce sizes differ. New keeps its own copy of keys.
func New(keys ...Key) (*Ring, error) {
	r, err := newRing(keys)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return r, nil
}

// newRing is New, its errors without the package's prefix.
func newRing(keys []Key) (*Ring, error) {
	if len(keys) == 0 {
		return nil, errors.New("no key")
	}
	r := &Ring{keys: make([]entry, 0, len(keys)), nonceSize: -1}
	seen := make(map[string]bool, len(keys))
	for i, k := range keys {
		if err := checkID(k.ID); err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		if seen[k.ID] {
			return nil, fmt.Errorf("key %q is listed twice", k.ID)
		}
		seen[k.ID] = true
		if k.AEAD == nil {
			return nil, fmt.Errorf("key %q has a nil AEAD", k.ID)
		}
		switch n := k.AEAD.NonceSize(); {
		case r.nonceSize < 0:
			r.nonceSize = n
		case n != r.nonceSize:
			return nil, fmt.Errorf("key %q takes %d-byte nonces, key %q %d-byte ones; a ring's keys must agree",
				k.ID, n, keys[0].ID, r.nonceSize)
		}
		e := entry{id: k.ID, aead: k.AEAD, prefix: append([]byte{marker, byte(len(k.ID))}, k.ID...)}
		r.overhead = max(r.overhead, len(e.prefix)+k.AEAD.Overhead())
		r.keys = append(r.keys, e)
	}
	return r, nil
}

// Primary returns the ID of the key Seal uses; "" for the zero Ring.
func (r *Ring) Primary() string {
	if len(r.keys) == 0 {
		return ""
	}
	return r.keys[0].id
}

// IDs returns the IDs of the ring's keys, the primary first; nil for the
// zero Ring.
func (r *Ring) IDs() []string {
	if len(r.keys) == 0 {
		return nil
	}
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.id
	}
	return ids
}

// NonceSize returns the nonce size of the ring's keys, which they share.
func (r *Ring) NonceSize() int { return max(r.nonceSize, 0) }

// Overhead returns the most that sealing adds to a plaintext with any of
// the ring's keys: the key's prefix (2 bytes and its ID) and its AEAD's
// overhead.
func (r *Ring) Overhead() int { return r.overhead }

// Seal seals plaintext with the primary key, authenticating
// additionalData, and appends the result to dst: the key's prefix (the
// byte 'K', the length of its ID, its ID), then the key's AEAD's output.
// The prefix is authenticated too. It follows [cipher.AEAD]'s rules:
// plaintext[:0] may be dst, nonce must be NonceSize bytes, and the nonce
// must never be used twice with one key. It panics on the zero Ring.
func (r *Ring) Seal(dst, nonce, plaintext, additionalData []byte) []byte {
	if len(r.keys) == 0 {
		panic("keyring: Seal on a Ring with no key (build one with New)")
	}
	k := r.keys[0]
	p := len(k.prefix)
	ret, out := grow(dst, p+len(plaintext)+k.aead.Overhead())
	// Move the plaintext to where the key's output starts and seal it
	// there: the exact overlap cipher.AEAD allows, whether or not
	// plaintext was dst's own storage.
	copy(out[p:], plaintext)
	copy(out, k.prefix)
	sealed := k.aead.Seal(out[p:p], nonce, out[p:p+len(plaintext)], k.ad(additionalData))
	return ret[:len(dst)+p+len(sealed)]
}

// Open opens what Seal wrote with any of the ring's keys, or what one of
// them sealed as a bare AEAD, and appends the plaintext to dst; see
// OpenKey.
func (r *Ring) Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error) {
	out, _, err := r.OpenKey(dst, nonce, ciphertext, additionalData)
	return out, err
}

// OpenKey is Open that also returns the ID of the key that opened
// ciphertext. It tries the key ciphertext's prefix names first, then,
// for a ciphertext written before the ring (by a key's AEAD alone), every
// key in order on the whole of ciphertext. On failure it returns an
// error that holds none of ciphertext, and leaves dst's spare capacity
// untouched. nonce must be NonceSize bytes.
func (r *Ring) OpenKey(dst, nonce, ciphertext, additionalData []byte) ([]byte, string, error) {
	if len(r.keys) == 0 {
		return nil, "", errors.New("keyring: Open on a Ring with no key (build one with New)")
	}
	// Every attempt opens into a buffer of its own: an AEAD that fails
	// may clear its output, which must not be ciphertext itself when
	// dst shares its storage and another key is still to try.
	named := ""
	if id, body, ok := splitPrefix(ciphertext); ok {
		named = id
		if k := r.key(id); k != nil && len(body) >= k.aead.Overhead() {
			if plain, err := k.aead.Open(nil, nonce, body, k.ad(additionalData)); err == nil {
				return appendPlain(dst, plain), k.id, nil
			}
		}
	}
	for _, k := range r.keys {
		if len(ciphertext) < k.aead.Overhead() {
			continue
		}
		if plain, err := k.aead.Open(nil, nonce, ciphertext, additionalData); err == nil {
			return appendPlain(dst, plain), k.id, nil
		}
	}
	if named != "" && r.key(named) == nil {
		return nil, "", fmt.Errorf("keyring: the ciphertext names key %q, which the ring (%s) does not hold", named, strings.Join(r.IDs(), ", "))
	}
	return nil, "", errors.New("keyring: message authentication failed with every key of the ring")
}

// Named returns the ID of the key that ciphertext, as Seal wrote it,
// names in its prefix, without opening it; ok is false when ciphertext
// has no well-formed prefix (it was sealed by a bare AEAD, before any
// ring, or it is not a ring's). The ID need not be one of r's keys.
func (r *Ring) Named(ciphertext []byte) (id string, ok bool) {
	id, _, ok = splitPrefix(ciphertext)
	return id, ok
}

// key returns the entry of id, nil when the ring has none.
func (r *Ring) key(id string) *entry {
	for i := range r.keys {
		if r.keys[i].id == id {
			return &r.keys[i]
		}
	}
	return nil
}

// ad is the additional data the key's AEAD authenticates for a Ring's
// ciphertext: the prefix, then the caller's. A ciphertext stripped of
// its prefix, or given another key's, does not open.
func (e *entry) ad(additionalData []byte) []byte {
	b := make([]byte, 0, len(e.prefix)+len(additionalData))
	return append(append(b, e.prefix...), additionalData...)
}

// splitPrefix returns the key ID a ciphertext's prefix names and what
// follows it; ok is false when ciphertext has no well-formed prefix.
func splitPrefix(ciphertext []byte) (id string, body []byte, ok bool) {
	if len(ciphertext) < 2 || ciphertext[0] != marker {
		return "", nil, false
	}
	n := int(ciphertext[1])
	if n == 0 || n > maxIDLen || len(ciphertext) < 2+n {
		return "", nil, false
	}
	for _, c := range ciphertext[2 : 2+n] {
		if !idByte(c) {
			return "", nil, false
		}
	}
	return string(ciphertext[2 : 2+n]), ciphertext[2+n:], true
}

// appendPlain appends plain to dst and clears plain, unless dst is
// empty and plain can be returned as it is.
func appendPlain(dst, plain []byte) []byte {
	if cap(dst) == 0 {
		return plain
	}
	out := append(dst, plain...)
	clear(plain)
	return out
}

// grow returns in extended by n bytes (reusing its storage when it has
// room), and the n new bytes.
func grow(in []byte, n int) (whole, tail []byte) {
	total := len(in) + n
	if cap(in) >= total {
		whole = in[:total]
	} else {
		whole = make([]byte, total)
		copy(whole, in)
	}
	return whole, whole[len(in):]
}

// String describes r by its key IDs, never a secret.
func (r Ring) String() string {
	return fmt.Sprintf("keyring.Ring{Primary: %q, IDs: %q}", r.Primary(), r.IDs())
}

// GoString is String, so that %#v does not walk the keys' AEADs.
func (r Ring) GoString() string { return r.String() }

// Format writes String for every verb, so that none (%x, %d…) walks the
// keys' AEADs.
func (r Ring) Format(f fmt.State, verb rune) { describe.Format(f, verb, r.String()) }

// LogValue is String, for slog.
func (r Ring) LogValue() slog.Value { return slog.StringValue(r.String()) }

// MarshalJSON writes String as a JSON string.
func (r Ring) MarshalJSON() ([]byte, error) { return describe.JSON(r.String()) }
