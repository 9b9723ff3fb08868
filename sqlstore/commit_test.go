package sqlstore_test

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/sqlstore"
	"golang.org/x/oauth2"
)

// race commits a token of its own from each store at once, all from
// prev, and returns the index of the one that committed; it fails t
// unless exactly one did and every other one reported a conflict.
func race(t *testing.T, stores []*sqlstore.Store, key string, prev *oauth2.Token, base int) int {
	t.Helper()
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, s := range stores {
		wg.Go(func() {
			<-start
			errs[i] = s.Commit(context.Background(), key, prev, tokenN(base+i))
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("two Commits from the same prev both committed: %d and %d", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, oauthrt.ErrCommitConflict):
			t.Fatalf("Commit %d: %v, want nil or a conflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("none of %d Commits from the store's token committed", len(stores))
	}
	return winner
}

// TestCommitRace commits from several handles on the database at once,
// as several processes would, from the same prev: exactly one commits,
// and the store holds its token.
func TestCommitRace(t *testing.T) {
	const processes, rounds = 6, 10
	withAndWithoutAEAD(t, func(t *testing.T, db testDB, aead cipher.AEAD) {
		table := newTable(t, db)
		var stores []*sqlstore.Store
		for _, h := range db.handles(t, processes) {
			stores = append(stores, &sqlstore.Store{DB: h, Table: table, AEAD: aead})
		}
		ctx := context.Background()

		// A key with no row, then one whose row only carries a lease.
		w := race(t, stores, "fresh", nil, 0)
		if got := mustLoad(t, stores[0], "fresh"); got.AccessToken != tokenN(w).AccessToken {
			t.Errorf("after the race into an empty key: stored %q, want the winner's %q", got.AccessToken, tokenN(w).AccessToken)
		}
		unlock, err := stores[0].Lock(ctx, "leased")
		if err != nil {
			t.Fatal(err)
		}
		unlock()
		w = race(t, stores, "leased", nil, 0)
		if got := mustLoad(t, stores[0], "leased"); got.AccessToken != tokenN(w).AccessToken {
			t.Errorf("after the race into a lease row: stored %q, want the winner's %q", got.AccessToken, tokenN(w).AccessToken)
		}

		prev := tokenN(-1)
		if err := stores[0].Save(ctx, "k", prev); err != nil {
			t.Fatal(err)
		}
		for r := range rounds {
			base := (r + 1) * 100
			w := race(t, stores, "k", mustLoad(t, stores[r%processes], "k"), base)
			if got := mustLoad(t, stores[0], "k"); got.AccessToken != tokenN(base+w).AccessToken {
				t.Fatalf("round %d: stored %q, want the winner's %q", r, got.AccessToken, tokenN(base+w).AccessToken)
			}
		}
	})
}

// TestCommitConflicts: Commit writes nothing unless the row holds prev,
// or, for a nil prev, no token.
func TestCommitConflicts(t *testing.T) {
	withAndWithoutAEAD(t, func(t *testing.T, db testDB, aead cipher.AEAD) {
		table := newTable(t, db)
		s := &sqlstore.Store{DB: db.DB, Table: table, AEAD: aead}
		ctx := context.Background()
		wantConflict := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, oauthrt.ErrCommitConflict) || !strings.HasPrefix(err.Error(), "oauthrt: sqlstore: ") {
				t.Errorf("%s: err = %v, want an oauthrt: sqlstore: error wrapping ErrCommitConflict", what, err)
			}
		}

		wantConflict("a prev over no row", s.Commit(ctx, "none", tokenN(1), tokenN(2)))
		if _, err := s.Load(ctx, "none"); !errors.Is(err, oauthrt.ErrNoToken) {
			t.Errorf("after a conflict over no row: Load err = %v, want ErrNoToken", err)
		}
		unlock, err := s.Lock(ctx, "leased")
		if err != nil {
			t.Fatal(err)
		}
		unlock()
		wantConflict("a prev over a lease row", s.Commit(ctx, "leased", tokenN(1), tokenN(2)))
		if _, err := s.Load(ctx, "leased"); !errors.Is(err, oauthrt.ErrNoToken) {
			t.Errorf("after a conflict over a lease row: Load err = %v, want ErrNoToken", err)
		}

		if err := s.Save(ctx, "k", tokenN(1)); err != nil {
			t.Fatal(err)
		}
		wantConflict("a nil prev over a token", s.Commit(ctx, "k", nil, tokenN(2)))
		wantConflict("another prev", s.Commit(ctx, "k", tokenN(3), tokenN(2)))
		if got := mustLoad(t, s, "k"); got.AccessToken != "at-1" {
			t.Errorf("after conflicts: stored %q, want at-1", got.AccessToken)
		}
		if err := s.Commit(ctx, "k", nil, nil); err == nil {
			t.Error("Commit of a nil token succeeded")
		}

		// The same token committed over itself, as the Transport never
		// does but a caller may.
		for range 2 {
			if err := s.Commit(ctx, "k", tokenN(1), tokenN(1)); err != nil {
				t.Errorf("Commit of the stored token over itself: %v", err)
			}
		}
	})
}

// TestCommitAgainstOtherWriters: the fingerprint Commit compares is the
// one of the token the row holds when it writes, whoever wrote it: a
// process of the previous release, which knows nothing of Commit, or an
// application writing the column itself.
func TestCommitAgainstOtherWriters(t *testing.T) {
	withAndWithoutAEAD(t, func(t *testing.T, db testDB, aead cipher.AEAD) {
		old := newOldTable(t, db)
		s := &sqlstore.Store{DB: db.DB, Table: old.table, AEAD: aead}
		ctx := context.Background()
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Save(ctx, "k", tokenN(1)); err != nil {
			t.Fatal(err)
		}
		prev := mustLoad(t, s, "k")

		// A process of the previous release refreshes meanwhile.
		old.save(t, "k", tokenN(2), aead)
		err := s.Commit(ctx, "k", prev, tokenN(3))
		if !errors.Is(err, oauthrt.ErrCommitConflict) {
			t.Errorf("Commit over a token the previous release saved: err = %v, want a conflict", err)
		}
		if got := mustLoad(t, s, "k"); got.AccessToken != "at-2" {
			t.Fatalf("stored %q, want the previous release's at-2", got.AccessToken)
		}

		// It saves the token the store held again, as another value at rest
		// when sealed: the row holds prev's fingerprint again.
		old.save(t, "k", prev, aead)
		if err := s.Commit(ctx, "k", prev, tokenN(3)); err != nil {
			t.Errorf("Commit over prev saved again: %v", err)
		}
		if got := mustLoad(t, s, "k"); got.AccessToken != "at-3" {
			t.Errorf("stored %q, want at-3", got.AccessToken)
		}
	})
}

// TestCommitUndecodable: a row that holds no token the Store can read is
// an error, not a conflict, so that the Transport does not adopt it.
func TestCommitUndecodable(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, db testDB) {
		s := &sqlstore.Store{DB: db.DB, Table: newTable(t, db)}
		ctx := context.Background()
		if _, err := db.Exec(fmt.Sprintf(db.put, s.Table), "k", []byte("not a token")); err != nil {
			t.Fatal(err)
		}
		err := s.Commit(ctx, "k", tokenN(1), tokenN(2))
		if !errors.Is(err, oauthrt.ErrCorruptToken) || errors.Is(err, oauthrt.ErrCommitConflict) {
			t.Errorf("Commit over a corrupt row: err = %v, want ErrCorruptToken and no conflict", err)
		}
		if raw, err := rawToken(db, s.Table, "k"); err != nil || string(raw) != "not a token" {
			t.Errorf("the corrupt row now holds %q, %v", raw, err)
		}
	})
}

// TestCommitSameBytesMySQL: MySQL counts the rows an UPDATE changed, not
// those it matched. With the session's clock stopped, committing the
// stored token over itself changes no column; Commit must still see that
// it committed.
func TestCommitSameBytesMySQL(t *testing.T) {
	cfg, err := mysql.ParseDSN(mysqlDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["timestamp"] = "1000000000" // the session's clock stands still
	db := openMySQL(t)
	db.DB = open(t, "mysql", cfg.FormatDSN())
	s := &sqlstore.Store{DB: db.DB, Table: newTable(t, db)}
	ctx := context.Background()
	if err := s.Save(ctx, "k", tokenN(1)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Commit(ctx, "k", tokenN(1), tokenN(1)); err != nil {
			t.Errorf("Commit of the stored token over itself: %v", err)
		}
	}
}
