package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tripcount"
	"github.com/oauthrt/oauthrt/sqlstore"
	"golang.org/x/oauth2"
)

// TestStatementsPerCall counts the statements each step of a refresh
// sends to the database, through a driver wrapped to count them, and
// holds them to what the package doc promises: a refresh by one process
// costs TakeLeaseIf, Renew and CommitRelease, three statements on every
// database, and on MySQL four when the Store has not seen the key's row
// before. A statement added to any of them fails the test.
func TestStatementsPerCall(t *testing.T) {
	type counts struct{ sqlite, postgres, mysql int }
	want := map[string]counts{
		"TakeLeaseIf over a row this Store has not seen": {1, 1, 2}, // MySQL: the SELECT, the UPDATE
		"LoadSnapshot":                          {1, 1, 1},
		"TakeLeaseIf over the stored token":     {1, 1, 1}, // MySQL: the UPDATE, over the row LoadSnapshot read
		"Renew":                                 {1, 1, 1},
		"CommitRelease":                         {1, 1, 1},
		"TakeLeaseIf over another token":        {2, 2, 1}, // PostgreSQL and SQLite take, compare, and release
		"TakeLeaseIf(nil) of a key without row": {3, 3, 4}, // the try, the INSERT of the row, the try again
		"TakeLeaseIf(tok) of a key without row": {1, 1, 1},
		"CommitRelease into an empty row":       {1, 1, 1},
		"CommitRelease of TakeLease's lease":    {2, 2, 2}, // the SELECT of the bytes it does not know
		"CommitRelease in conflict":             {3, 3, 3}, // the UPDATE, the SELECT that finds another token, the release
		// Over a row remembered: PostgreSQL and SQLite take the lease only
		// over the bytes remembered, so a token replaced since is read,
		// not taken and released; MySQL's UPDATE finds the row changed,
		// and the SELECT reads it. The same token saved anew is taken
		// over what the row holds: one statement more everywhere.
		"TakeLeaseIf over a token replaced since this Store read it":   {1, 1, 2},
		"TakeLeaseIf over a token saved anew since this Store read it": {2, 2, 3},
	}
	forEachDatabase(t, func(t *testing.T, db testDB) {
		cdb, c := openCounted(t, db)
		table := newTable(t, db)
		s := &sqlstore.Store{DB: cdb, Dialect: db.dialect, Table: table, LeaseTTL: time.Minute}
		plain := &sqlstore.Store{DB: db.DB, Table: table, LeaseTTL: time.Minute} // not counted
		ctx := context.Background()
		prev, next := tokenN(1), tokenN(2)
		if err := plain.Save(ctx, "k", prev); err != nil {
			t.Fatal(err)
		}
		if err := plain.SaveGrantState(ctx, "k", oauthrt.GrantState{Failures: 1}); err != nil {
			t.Fatal(err)
		}
		count := func(call string, f func() error) {
			t.Helper()
			before, prepared := c.Trips(), c.Prepares()
			if err := f(); err != nil {
				t.Fatalf("%s: %v", call, err)
			}
			got := int(c.Trips() - before)
			w := want[call]
			n := map[string]int{"sqlite": w.sqlite, "postgres": w.postgres, "mysql": w.mysql}[db.dialect.String()]
			if got != n {
				t.Errorf("%s: %d statements, want %d", call, got, n)
			}
			t.Logf("%s: %d statements (%d of them prepared apart by the driver)", call, got, c.Prepares()-prepared)
		}
		takeIf := func(key string, prev *oauth2.Token, wantLease bool) func() (oauthrt.Lease, error) {
			return func() (oauthrt.Lease, error) {
				l, _, err := s.TakeLeaseIf(ctx, key, prev)
				if err == nil && (l != nil) != wantLease {
					err = errors.New("TakeLeaseIf took a lease it should not, or none it should")
				}
				return l, err
			}
		}

		// A Store of its own remembers no row.
		other := &sqlstore.Store{DB: cdb, Dialect: db.dialect, Table: table, LeaseTTL: time.Minute}
		var l oauthrt.Lease
		count("TakeLeaseIf over a row this Store has not seen", func() (err error) {
			l, _, err = other.TakeLeaseIf(ctx, "k", prev)
			if err == nil && l == nil {
				err = errors.New("TakeLeaseIf took no lease")
			}
			return err
		})
		l.Release()

		count("LoadSnapshot", func() error {
			snap, err := s.LoadSnapshot(ctx, "k")
			if err == nil && (snap.Token == nil || snap.Token.AccessToken != prev.AccessToken || snap.State.Failures != 1) {
				err = errors.New("LoadSnapshot read another snapshot than the one saved")
			}
			return err
		})

		// One refresh.
		count("TakeLeaseIf over the stored token", func() (err error) { l, err = takeIf("k", prev, true)(); return err })
		count("Renew", func() error { return l.Renew(ctx) })
		count("CommitRelease", func() error { return l.(oauthrt.CommitReleaser).CommitRelease(ctx, prev, next) })
		if tok := mustLoad(t, plain, "k"); tok.AccessToken != next.AccessToken {
			t.Fatalf("after CommitRelease the store holds %q, want %q", tok.AccessToken, next.AccessToken)
		}
		mustBeFree(t, plain, "k")

		count("TakeLeaseIf over another token", func() error { _, err := takeIf("k", prev, false)(); return err })
		mustBeFree(t, plain, "k")
		count("TakeLeaseIf(tok) of a key without row", func() error { _, err := takeIf("new", prev, false)(); return err })
		count("TakeLeaseIf(nil) of a key without row", func() (err error) { l, err = takeIf("new", nil, true)(); return err })
		count("CommitRelease into an empty row", func() error { return l.(oauthrt.CommitReleaser).CommitRelease(ctx, nil, next) })
		mustBeFree(t, plain, "new")

		l, err := s.TakeLease(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		count("CommitRelease of TakeLease's lease", func() error { return l.(oauthrt.CommitReleaser).CommitRelease(ctx, next, prev) })
		mustBeFree(t, plain, "k")

		if l, err = takeIf("k", prev, true)(); err != nil {
			t.Fatal(err)
		}
		if err := plain.Save(ctx, "k", tokenN(3)); err != nil {
			t.Fatal(err)
		}
		count("CommitRelease in conflict", func() error {
			err := l.(oauthrt.CommitReleaser).CommitRelease(ctx, prev, next)
			if errors.Is(err, oauthrt.ErrCommitConflict) {
				return nil
			}
			return fmt.Errorf("err = %v, want a conflict", err)
		})
		mustBeFree(t, plain, "k")

		// Another process replaces the token this Store last read, then
		// saves the new one again, in other bytes (another expiry).
		if _, err := s.LoadSnapshot(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if err := plain.Save(ctx, "k", tokenN(4)); err != nil {
			t.Fatal(err)
		}
		count("TakeLeaseIf over a token replaced since this Store read it", func() error {
			_, snap, err := s.TakeLeaseIf(ctx, "k", tokenN(3))
			if err == nil && accessOf(snap.Token) != tokenN(4).AccessToken {
				err = fmt.Errorf("TakeLeaseIf read %s, want %s", accessOf(snap.Token), tokenN(4).AccessToken)
			}
			return err
		})
		mustBeFree(t, plain, "k")
		again := tokenN(4)
		again.Expiry = time.Now().Add(time.Hour)
		if err := plain.Save(ctx, "k", again); err != nil {
			t.Fatal(err)
		}
		count("TakeLeaseIf over a token saved anew since this Store read it", func() (err error) { l, err = takeIf("k", tokenN(4), true)(); return err })
		l.Release()
		mustBeFree(t, plain, "k")
	})
}

// mustBeFree fails the test unless key's lease is free: a TakeLease of
// it succeeds at once.
func mustBeFree(t *testing.T, s *sqlstore.Store, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	l, err := s.TakeLease(ctx, key)
	if err != nil {
		t.Fatalf("the lease of %q is not free: %v", key, err)
	}
	l.Release()
}

// openCounted opens another handle on db's database whose connections
// count their statements (internal/tripcount: each statement run is a
// trip, and those the driver prepares apart count as prepares).
func openCounted(t *testing.T, db testDB) (*sql.DB, *tripcount.Counter) {
	t.Helper()
	c := &tripcount.Counter{}
	conn, err := tripcount.Connector(db.DB.Driver(), db.dsn, c)
	if err != nil {
		t.Fatal(err)
	}
	cdb := sql.OpenDB(conn)
	t.Cleanup(func() { cdb.Close() })
	return cdb, c
}
