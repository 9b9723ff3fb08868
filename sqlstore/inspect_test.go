package sqlstore_test

import (
	"context"
	"testing"

	"github.com/oauthrt/oauthrt/sqlstore"
	"golang.org/x/oauth2"
)

// TestInspectPostgresCollation inspects the keys of a table whose key
// column has a linguistic collation, in which "A" sorts between "a" and
// "ab": every page is still in byte order, and the walk finds every key.
func TestInspectPostgresCollation(t *testing.T) {
	db := openPostgres(t)
	table := newTable(t, db)
	if _, err := db.Exec("ALTER TABLE " + table + ` ALTER COLUMN token_key TYPE TEXT COLLATE "en-x-icu"`); err != nil {
		t.Skipf("no ICU collation to test with: %v", err)
	}
	s := &sqlstore.Store{DB: db.DB, Table: table}
	ctx := context.Background()
	keys := []string{"a", "A", "a-b", "ab", "Ab", "aB", "b", "B", "e", "é", "ea", "Ea"}
	for _, k := range keys {
		if err := s.Save(ctx, k, &oauth2.Token{AccessToken: "at"}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	cursor := ""
	for page := 0; ; page++ {
		if page > len(keys) {
			t.Fatal("the walk did not end")
		}
		recs, next, err := s.Inspect(ctx, "", cursor, 5)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range recs {
			if i > 0 && recs[i-1].Key >= r.Key {
				t.Errorf("page %d: key %q follows %q; want byte order", page, r.Key, recs[i-1].Key)
			}
			seen[r.Key] = true
		}
		if next == "" {
			break
		}
		cursor = next
	}
	for _, k := range keys {
		if !seen[k] {
			t.Errorf("the walk missed key %q", k)
		}
	}
}
