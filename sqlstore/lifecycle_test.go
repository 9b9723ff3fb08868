package sqlstore_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt/sqlstore"
	"golang.org/x/oauth2"
)

// TestListKeysPostgresCollation lists the keys of a table whose key column
// has a linguistic collation (ICU's English), as a database created with
// a locale such as en_US.UTF-8 gives it: there "A" sorts between "a" and
// "ab", so a range of the column's order would list it under "a". Pages
// follow the column's order, and a prefix is matched on bytes.
func TestListKeysPostgresCollation(t *testing.T) {
	db := openPostgres(t)
	table := newTable(t, db)
	if _, err := db.Exec("ALTER TABLE " + table + ` ALTER COLUMN token_key TYPE TEXT COLLATE "en-x-icu"`); err != nil {
		t.Skipf("no ICU collation to test with: %v", err)
	}
	s := &sqlstore.Store{DB: db.DB, Table: table}
	ctx := context.Background()
	keys := []string{"a", "A", "a-b", "ab", "Ab", "aB", "b", "B", "e", "é", "e\u0301", "ea", "Ea", "\u00e9a"}
	for _, k := range keys {
		if err := s.Save(ctx, k, &oauth2.Token{AccessToken: "at"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, prefix := range []string{"", "a", "A", "e", "é", "\xc3", "a-"} {
		var got []string
		cursor := ""
		for page := 0; ; page++ {
			if page > len(keys) {
				t.Fatalf("prefix %q: the walk did not end", prefix)
			}
			ks, next, err := s.ListKeys(ctx, prefix, cursor, 1)
			if err != nil {
				t.Fatalf("prefix %q: %v", prefix, err)
			}
			got = append(got, ks...)
			if next == "" {
				break
			}
			cursor = next
		}
		var want []string
		for _, k := range keys {
			if strings.HasPrefix(k, prefix) {
				want = append(want, k)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("keys under %q, one a page (-want +got):\n%s", prefix, diff)
		}
	}
}
