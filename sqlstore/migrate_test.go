package sqlstore_test

import (
	"context"
	"crypto/cipher"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
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

// TestMigrateFromPreviousRelease makes a table as the previous release
// left it, with a token, a held lease and a lease-only row, upgrades it
// with Migrate from several processes at once, and uses it: what the
// previous release wrote is still there, and Commit, grant states and
// fenced leases work on it, beside processes of the previous release
// that still run.
func TestMigrateFromPreviousRelease(t *testing.T) {
	withAndWithoutAEAD(t, func(t *testing.T, db testDB, aead cipher.AEAD) {
		old := newOldTable(t, db)
		ctx := context.Background()
		old.save(t, "token", tokenN(1), aead)
		old.save(t, "held", tokenN(2), aead)
		if !old.take(t, "held", "old-holder", time.Minute) {
			t.Fatal("the previous release did not take the lease")
		}
		if !old.take(t, "lease-only", "old-holder", time.Minute) {
			t.Fatal("the previous release did not take the lease")
		}
		expire(t, db, old.table, "lease-only")

		var wg sync.WaitGroup
		for _, h := range db.handles(t, 4) {
			s := &sqlstore.Store{DB: h, Table: old.table}
			wg.Go(func() {
				if err := s.Migrate(ctx); err != nil {
					t.Errorf("Migrate of the previous release's table: %v", err)
				}
			})
		}
		wg.Wait()
		s := &sqlstore.Store{DB: db.DB, Table: old.table, AEAD: aead, LeaseTTL: time.Minute}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate of a migrated table: %v", err)
		}
		if got, want := columnsOf(t, db.DB, old.table), columnsOf(t, db.DB, newTable(t, db)); !slices.Equal(got, want) {
			t.Fatalf("columns after Migrate: %v, want those of a new table: %v", got, want)
		}

		// What the previous release wrote.
		if got := mustLoad(t, s, "token"); got.AccessToken != "at-1" || got.RefreshToken != "rt-1" {
			t.Errorf("Load of the previous release's token: %+v", got)
		}
		if _, err := s.Load(ctx, "lease-only"); !errors.Is(err, oauthrt.ErrNoToken) {
			t.Errorf("Load of the previous release's lease row: err = %v, want ErrNoToken", err)
		}
		for _, key := range []string{"token", "held", "lease-only"} {
			if got := loadGrant(t, s, key); !got.IsZero() {
				t.Errorf("grant state of the previous release's row %q: %+v, want none", key, got)
			}
		}
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if l, err := s.TakeLease(short, "held"); !errors.Is(err, context.DeadlineExceeded) {
			if err == nil {
				l.Release()
			}
			t.Errorf("TakeLease of a lease the previous release holds: err = %v, want it to wait", err)
		}

		// This release's writes on those rows.
		if err := s.Commit(ctx, "token", tokenN(1), tokenN(3)); err != nil {
			t.Errorf("Commit over the previous release's token: %v", err)
		}
		if err := s.Commit(ctx, "lease-only", nil, tokenN(4)); err != nil {
			t.Errorf("Commit into the previous release's lease row: %v", err)
		}
		saveGrant(t, s, "held", deadState())
		if got := loadGrant(t, s, "held"); got != inStore(deadState()) {
			t.Errorf("grant state on the previous release's row: %+v", got)
		}
		if l := takeFenced(t, s, "lease-only"); l.Epoch() != 1 {
			t.Errorf("first fenced lease on the previous release's lease row: epoch %d, want 1", l.Epoch())
		} else {
			l.Release()
		}

		// A process of the previous release still runs on the table.
		old.save(t, "token", tokenN(5), aead)
		if got := mustLoad(t, s, "token"); got.AccessToken != "at-5" {
			t.Errorf("after a save by the previous release: %q, want at-5", got.AccessToken)
		}
		if !old.take(t, "new-key", "old-holder", time.Minute) {
			t.Error("the previous release could not take a lease in the migrated table")
		}
	})
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

// TestMigrateAddsFailingSince upgrades a table that has every column but
// grant_failing_since, added after the others, with a grant state its
// release wrote: the state is kept, with a zero FailingSince, and new
// states keep theirs.
func TestMigrateAddsFailingSince(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, db testDB) {
		table := newTable(t, db)
		if _, err := db.Exec("ALTER TABLE " + table + " DROP COLUMN grant_failing_since"); err != nil {
			t.Fatal(err)
		}
		before := inStore(deadState())
		before.FailingSince = time.Time{}
		r := oldRelease{db, table}
		r.exec(t, `INSERT INTO {table} (token_key, grant_dead_token, grant_dead_code, grant_dead_at, grant_next_attempt, grant_failures) VALUES (?, ?, ?, ?, ?, ?)`,
			"k", before.DeadToken, before.DeadCode, before.DeadAt.UnixMilli(), before.NextAttempt.UnixMilli(), before.Failures)

		s := &sqlstore.Store{DB: db.DB, Table: table}
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got, want := columnsOf(t, db.DB, table), columnsOf(t, db.DB, newTable(t, db)); !slices.Equal(got, want) {
			t.Fatalf("columns after Migrate: %v, want %v", got, want)
		}
		if got := loadGrant(t, s, "k"); got != before {
			t.Errorf("grant state written before the upgrade: %+v, want %+v", got, before)
		}
		saveGrant(t, s, "k", deadState())
		if got := loadGrant(t, s, "k"); got != inStore(deadState()) {
			t.Errorf("grant state after the upgrade: %+v, want %+v", got, inStore(deadState()))
		}
	})
}
