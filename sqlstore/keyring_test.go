package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/cipher"
	"errors"
	"testing"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/keyring"
	"github.com/oauthrt/oauthrt/sqlstore"
	"golang.org/x/oauth2"
)

// TestKeyringRotation rotates a table's key with a keyring, on SQLite:
// tokens saved under ring(old), or under old's bare AEAD before any
// ring, load with ring(new, old); Save and Commit then seal with new, so
// that with ring(new) alone the tokens written again load and the
// untouched ones fail with ErrDecrypt.
func TestKeyringRotation(t *testing.T) {
	key := func(id string, c byte) keyring.Key {
		k, err := keyring.NewAESGCM(id, bytes.Repeat([]byte{c}, 32))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	ring := func(keys ...keyring.Key) *keyring.Ring {
		r, err := keyring.New(keys...)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	oldKey, newKey := key("old", 1), key("new", 2)
	ctx := context.Background()
	db := openSQLite(t)
	open := func(aead cipher.AEAD) *sqlstore.Store {
		return &sqlstore.Store{DB: db.DB, Dialect: db.dialect, AEAD: aead}
	}
	tok := func(at string) *oauth2.Token { return &oauth2.Token{AccessToken: at, RefreshToken: "rt-" + at} }

	before := open(ring(oldKey))
	if err := before.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"saved", "committed", "untouched"} {
		if err := before.Save(ctx, k, tok(k+"-1")); err != nil {
			t.Fatal(err)
		}
	}
	if err := open(oldKey.AEAD).Save(ctx, "bare", tok("bare-1")); err != nil {
		t.Fatal(err)
	}

	during := open(ring(newKey, oldKey))
	loaded := map[string]*oauth2.Token{}
	for _, k := range []string{"saved", "committed", "untouched", "bare"} {
		got, err := during.Load(ctx, k)
		if err != nil {
			t.Fatalf("ring(new, old): Load(%q): %v", k, err)
		}
		if got.AccessToken != k+"-1" {
			t.Errorf("ring(new, old): Load(%q) = %q", k, got.AccessToken)
		}
		loaded[k] = got
	}
	if err := during.Save(ctx, "saved", tok("saved-2")); err != nil {
		t.Fatal(err)
	}
	if err := during.Commit(ctx, "committed", loaded["committed"], tok("committed-2")); err != nil {
		t.Fatal(err)
	}

	after := open(ring(newKey))
	for k, want := range map[string]string{"saved": "saved-2", "committed": "committed-2"} {
		got, err := after.Load(ctx, k)
		if err != nil {
			t.Fatalf("ring(new): Load(%q): %v", k, err)
		}
		if got.AccessToken != want {
			t.Errorf("ring(new): Load(%q) = %q; want %q", k, got.AccessToken, want)
		}
	}
	for _, k := range []string{"untouched", "bare"} {
		if got, err := after.Load(ctx, k); !errors.Is(err, oauthrt.ErrDecrypt) {
			t.Errorf("ring(new): Load(%q) = %v, %v; want ErrDecrypt", k, got, err)
		}
	}
}
