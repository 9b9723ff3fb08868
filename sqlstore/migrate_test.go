package sqlstore_test

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"

	"github.com/oauthrt/oauthrt/sqlstore"
)

// columnsOf returns the names of table's columns, sorted.
func columnsOf(t *testing.T, db *sql.DB, table string) []string {
	t.Helper()
	rows, err := db.Query("SELECT * FROM " + table + " WHERE 1 = 0")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cols {
		cols[i] = strings.ToLower(c)
	}
	slices.Sort(cols)
	return cols
}

// TestMigrateAddsOnlyMissingColumns: a table that has some of the new
// columns (an upgrade cut short) gets the others.
func TestMigrateAddsOnlyMissingColumns(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, db testDB) {
		old := newOldTable(t, db)
		if _, err := db.Exec("ALTER TABLE " + old.table + " ADD COLUMN lease_epoch BIGINT NOT NULL DEFAULT 0"); err != nil {
			t.Fatal(err)
		}
		s := &sqlstore.Store{DB: db.DB, Table: old.table}
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got, want := columnsOf(t, db.DB, old.table), columnsOf(t, db.DB, newTable(t, db)); !slices.Equal(got, want) {
			t.Errorf("columns after Migrate: %v, want %v", got, want)
		}
	})
}
