package keyring_test

import (
	"context"
	"crypto/cipher"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt/keyring"
	"github.com/oauthrt/oauthrt/sqlstore"
	"golang.org/x/oauth2"
	_ "modernc.org/sqlite"
)

// ringOf returns a ring of new keys with ids, the first the primary.
func ringOf(t *testing.T, ids ...string) []keyring.Key {
	t.Helper()
	keys := make([]keyring.Key, len(ids))
	for i, id := range ids {
		secret := make([]byte, 32)
		secret[0] = byte(i + 1)
		secret[1] = id[0]
		k, err := keyring.NewAESGCM(id, secret)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
	}
	return keys
}

func mustRing(t *testing.T, keys ...keyring.Key) *keyring.Ring {
	t.Helper()
	r, err := keyring.New(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Count counts each record under the key that seals it, over several
// pages, with the records no key opens and those in the clear apart, on
// SQLite.
func TestCount(t *testing.T) {
	ctx := context.Background()
	keys := ringOf(t, "new", "old", "gone")
	newKey, oldKey, gone := keys[0], keys[1], keys[2]
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "tokens.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	with := func(aead cipher.AEAD) *sqlstore.Store {
		return &sqlstore.Store{DB: db, Dialect: sqlstore.SQLite, AEAD: aead}
	}
	if err := with(nil).Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	seed := func(s *sqlstore.Store, prefix string, n int) {
		t.Helper()
		for i := range n {
			tok := &oauth2.Token{AccessToken: fmt.Sprintf("at-%s-%d", prefix, i), RefreshToken: "rt"}
			if err := s.Save(ctx, fmt.Sprintf("%s/%04d", prefix, i), tok); err != nil {
				t.Fatal(err)
			}
		}
	}
	seed(with(mustRing(t, oldKey)), "a", 1003) // more than a page
	seed(with(mustRing(t, newKey, oldKey)), "b", 7)
	seed(with(mustRing(t, gone)), "c", 2)
	seed(with(nil), "d", 3)
	seed(with(oldKey.AEAD), "e", 4) // a bare AEAD, before the ring: the ring names the key that opens it

	s := with(mustRing(t, newKey, oldKey))
	got, err := keyring.Count(ctx, s, "")
	if err != nil {
		t.Fatal(err)
	}
	want := keyring.Counts{ByKey: map[string]int{"old": 1007, "new": 7}, Unreadable: 2, Clear: 3}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Count (-want +got):\n%s", diff)
	}
	if got.Total() != 1019 {
		t.Errorf("Total = %d; want 1019", got.Total())
	}

	got, err = keyring.Count(ctx, s, "b/")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(keyring.Counts{ByKey: map[string]int{"new": 7}}, got); diff != "" {
		t.Errorf("Count of prefix b/ (-want +got):\n%s", diff)
	}
}
