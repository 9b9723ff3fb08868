package sqlstore_test

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tripcount"
	"github.com/oauthrt/oauthrt/sqlstore"
	"golang.org/x/oauth2"
)

// A rowsFixture is a MySQL table with two Stores on it: s, on a handle
// whose statements are counted, and another, on a handle of its own,
// which stands for another process.
type rowsFixture struct {
	db      testDB
	table   string
	s       *sqlstore.Store
	another *sqlstore.Store
	c       *tripcount.Counter
}

func newRowsFixture(t *testing.T, aead cipher.AEAD) *rowsFixture {
	t.Helper()
	return newRowsFixtureIn(t, aead, "")
}

// simultaneous is MariaDB's SQL mode in which the assignments of an
// UPDATE's SET are all evaluated on the row as it was, where by default
// each sees the ones before it; the statement that takes a lease over a
// remembered row must work in both.
const simultaneous = "SIMULTANEOUS_ASSIGNMENT"

// foundRows is not an SQL mode: it asks newRowsFixtureIn for the
// driver's clientFoundRows, with which an UPDATE's count is of the rows
// it matched rather than those it changed.
const foundRows = "clientFoundRows"

// rowsModes are the modes the remembered-row tests run in.
var rowsModes = []string{"", simultaneous, foundRows}

// newRowsFixtureIn is newRowsFixture with s's connections in the SQL
// mode mode added to the server's ("" for the server's alone); it skips
// t when the server has no such mode (MySQL has no SIMULTANEOUS_ASSIGNMENT).
func newRowsFixtureIn(t *testing.T, aead cipher.AEAD, mode string) *rowsFixture {
	t.Helper()
	db := openMySQL(t)
	if mode == foundRows {
		db = withFoundRows(t, db)
	} else if mode != "" {
		dsn, err := mysql.ParseDSN(db.dsn)
		if err != nil {
			t.Fatal(err)
		}
		if dsn.Params == nil {
			dsn.Params = map[string]string{}
		}
		dsn.Params["sql_mode"] = "CONCAT(@@sql_mode,'," + mode + "')"
		db.dsn = dsn.FormatDSN()
		probe := open(t, "mysql", db.dsn)
		var got string
		if err := probe.QueryRow(`SELECT @@SESSION.sql_mode`).Scan(&got); err != nil || !strings.Contains(got, mode) {
			t.Skipf("the server has no SQL mode %s (sql_mode %q, %v)", mode, got, err)
		}
	}
	cdb, c := openCounted(t, db)
	table := newTable(t, db)
	return &rowsFixture{
		db:      db,
		table:   table,
		s:       &sqlstore.Store{DB: cdb, Dialect: sqlstore.MySQL, Table: table, LeaseTTL: time.Minute, AEAD: aead},
		another: &sqlstore.Store{DB: db.handles(t, 1)[0], Dialect: sqlstore.MySQL, Table: table, LeaseTTL: time.Minute, AEAD: aead},
		c:       c,
	}
}

// statements runs f and returns how many statements s sent meanwhile.
func (f *rowsFixture) statements(fn func()) int {
	before := f.c.Trips()
	fn()
	return int(f.c.Trips() - before)
}

// leaseColumns reads, past the Stores, whether key's lease is held and
// its lease_epoch.
func (f *rowsFixture) leaseColumns(t *testing.T, key string) (held bool, epoch uint64) {
	t.Helper()
	err := f.db.QueryRow(fmt.Sprintf(`SELECT lease_holder IS NOT NULL, lease_epoch FROM %s WHERE token_key = ?`, f.table), key).Scan(&held, &epoch)
	if err != nil {
		t.Fatal(err)
	}
	return held, epoch
}

// takeIf calls s.TakeLeaseIf, and fails the test on an error, or when
// it waits for a lease for 10 seconds.
func takeIf(t *testing.T, s *sqlstore.Store, key string, prev *oauth2.Token) (oauthrt.Lease, oauthrt.Snapshot) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, snap, err := s.TakeLeaseIf(ctx, key, prev)
	if err != nil {
		t.Fatalf("TakeLeaseIf(%q): %v", key, err)
	}
	return l, snap
}

// checkTaken fails the test unless TakeLeaseIf took l over a snapshot
// holding tok and state, with the epoch the row now holds, as epoch.
func (f *rowsFixture) checkTaken(t *testing.T, key string, l oauthrt.Lease, snap oauthrt.Snapshot, tok *oauth2.Token, state oauthrt.GrantState, epoch uint64) {
	t.Helper()
	if l == nil {
		t.Fatalf("TakeLeaseIf took no lease; the snapshot holds %v", accessOf(snap.Token))
	}
	if got := accessOf(snap.Token); got != tok.AccessToken {
		t.Errorf("the snapshot holds %q, want %q", got, tok.AccessToken)
	}
	if snap.State.Failures != state.Failures || !snap.State.NextAttempt.Equal(state.NextAttempt) {
		t.Errorf("the snapshot's grant state is %+v, want %+v", snap.State, state)
	}
	held, rowEpoch := f.leaseColumns(t, key)
	if !held {
		t.Error("the row's lease is free after TakeLeaseIf took it")
	}
	if got := l.(oauthrt.FencedLease).Epoch(); got != epoch || rowEpoch != epoch {
		t.Errorf("the lease's epoch is %d and the row's %d, want %d", got, rowEpoch, epoch)
	}
}

func accessOf(tok *oauth2.Token) string {
	if tok == nil {
		return "<none>"
	}
	return tok.AccessToken
}

// TestTakeLeaseIfOverARememberedRow: on MySQL, a TakeLeaseIf that follows
// a Load, a CommitRelease, or a TakeLeaseIf that found another token,
// through the same Store, takes the lease with one statement, over the
// row as it was seen, with the epoch after it; the leases it takes
// commit as any other does.
func TestTakeLeaseIfOverARememberedRow(t *testing.T) {
	test := func(t *testing.T, aead cipher.AEAD) {
		f := newRowsFixture(t, aead)
		ctx := context.Background()
		state := oauthrt.GrantState{Failures: 1, NextAttempt: time.UnixMilli(1_700_000_000_000).UTC()}
		if err := f.another.Save(ctx, "k", tokenN(1)); err != nil {
			t.Fatal(err)
		}
		if err := f.another.SaveGrantState(ctx, "k", state); err != nil {
			t.Fatal(err)
		}

		if n := f.statements(func() { mustLoad(t, f.s, "k") }); n != 1 {
			t.Errorf("Load: %d statements, want 1", n)
		}
		var l oauthrt.Lease
		var snap oauthrt.Snapshot
		if n := f.statements(func() { l, snap = takeIf(t, f.s, "k", tokenN(1)) }); n != 1 {
			t.Errorf("TakeLeaseIf after Load: %d statements, want 1", n)
		}
		f.checkTaken(t, "k", l, snap, tokenN(1), state, 1)
		var err error
		if n := f.statements(func() { err = l.(oauthrt.CommitReleaser).CommitRelease(ctx, snap.Token, tokenN(2)) }); err != nil || n != 1 {
			t.Fatalf("CommitRelease: %d statements, err = %v; want 1, nil", n, err)
		}
		mustBeFree(t, f.another, "k")

		// mustBeFree took and released a lease: epoch 2.
		if n := f.statements(func() { mustLoad(t, f.s, "k") }); n != 1 {
			t.Errorf("Load: %d statements, want 1", n)
		}
		if n := f.statements(func() { l, snap = takeIf(t, f.s, "k", tokenN(2)) }); n != 1 {
			t.Errorf("TakeLeaseIf after Load: %d statements, want 1", n)
		}
		f.checkTaken(t, "k", l, snap, tokenN(2), oauthrt.GrantState{}, 3)
		if err := l.(oauthrt.CommitReleaser).CommitRelease(ctx, snap.Token, tokenN(3)); err != nil {
			t.Fatal(err)
		}
		// The CommitRelease told the Store what the row holds.
		if n := f.statements(func() { l, snap = takeIf(t, f.s, "k", tokenN(3)) }); n != 1 {
			t.Errorf("TakeLeaseIf after CommitRelease: %d statements, want 1", n)
		}
		f.checkTaken(t, "k", l, snap, tokenN(3), oauthrt.GrantState{}, 4)
		if err := l.(oauthrt.CommitReleaser).CommitRelease(ctx, snap.Token, tokenN(4)); err != nil {
			t.Fatal(err)
		}

		// Another process commits: the remembered row is stale, and the
		// TakeLeaseIf that finds so remembers the row it reads instead.
		if err := f.another.Commit(ctx, "k", tokenN(4), tokenN(5)); err != nil {
			t.Fatal(err)
		}
		if n := f.statements(func() { l, snap = takeIf(t, f.s, "k", tokenN(4)) }); l != nil || accessOf(snap.Token) != "at-5" || n != 2 {
			t.Errorf("TakeLeaseIf over a stale row: lease %v, snapshot %s, %d statements; want none, at-5, 2", l != nil, accessOf(snap.Token), n)
		}
		if n := f.statements(func() { l, snap = takeIf(t, f.s, "k", tokenN(5)) }); n != 1 {
			t.Errorf("TakeLeaseIf after a TakeLeaseIf that found another token: %d statements, want 1", n)
		}
		f.checkTaken(t, "k", l, snap, tokenN(5), oauthrt.GrantState{}, 5)
		l.Release()
	}
	t.Run("plain", func(t *testing.T) { test(t, nil) })
	t.Run("sealed", func(t *testing.T) { test(t, newAEAD(t)) })
}

// TestTakeLeaseIfOverAChangedRow: on MySQL, when the row has changed
// since the Store last saw it, TakeLeaseIf finds so with the UPDATE that
// would have taken the lease over it, reads the row, and does what the
// row as it is calls for; it never takes a lease over the remembered
// row, nor with its epoch.
func TestTakeLeaseIfOverAChangedRow(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, f *rowsFixture)
		plain  changedRowWant
		sealed changedRowWant // when it differs from plain
	}{{
		name:  "nothing changed",
		plain: changedRowWant{lease: true, tok: tokenN(1), epoch: 1, statements: 1},
	}, {
		name: "another process committed",
		change: func(t *testing.T, f *rowsFixture) {
			l, snap := takeIf(t, f.another, "k", tokenN(1))
			if err := l.(oauthrt.CommitReleaser).CommitRelease(context.Background(), snap.Token, tokenN(2)); err != nil {
				t.Fatal(err)
			}
		},
		plain: changedRowWant{tok: tokenN(2), statements: 2},
	}, {
		name: "another process took the lease and released it",
		change: func(t *testing.T, f *rowsFixture) {
			takeFenced(t, f.another, "k").Release()
		},
		plain: changedRowWant{lease: true, tok: tokenN(1), epoch: 2, statements: 3},
	}, {
		name: "another process saved a grant state",
		change: func(t *testing.T, f *rowsFixture) {
			if err := f.another.SaveGrantState(context.Background(), "k", oauthrt.GrantState{Failures: 3}); err != nil {
				t.Fatal(err)
			}
		},
		plain: changedRowWant{lease: true, tok: tokenN(1), failures: 3, epoch: 1, statements: 3},
	}, {
		name: "another process deleted the token",
		change: func(t *testing.T, f *rowsFixture) {
			if err := f.another.Delete(context.Background(), "k"); err != nil {
				t.Fatal(err)
			}
		},
		plain: changedRowWant{statements: 2},
	}, {
		// The same token, saved again: the same bytes in the clear, which
		// the row holds as it was seen, and new bytes when sealed.
		name: "another process saved the same token",
		change: func(t *testing.T, f *rowsFixture) {
			if err := f.another.Save(context.Background(), "k", tokenN(1)); err != nil {
				t.Fatal(err)
			}
		},
		plain:  changedRowWant{lease: true, tok: tokenN(1), epoch: 1, statements: 1},
		sealed: changedRowWant{lease: true, tok: tokenN(1), epoch: 1, statements: 3},
	}, {
		// The Store's own writes forget the row: TakeLeaseIf reads it
		// first, without a vain UPDATE.
		name: "this Store deleted the token",
		change: func(t *testing.T, f *rowsFixture) {
			if err := f.s.Delete(context.Background(), "k"); err != nil {
				t.Fatal(err)
			}
		},
		plain: changedRowWant{statements: 1},
	}, {
		name: "this Store saved a grant state",
		change: func(t *testing.T, f *rowsFixture) {
			if err := f.s.SaveGrantState(context.Background(), "k", oauthrt.GrantState{Failures: 2}); err != nil {
				t.Fatal(err)
			}
		},
		plain: changedRowWant{lease: true, tok: tokenN(1), failures: 2, epoch: 1, statements: 2},
	}}
	for _, mode := range rowsModes {
		for _, sealed := range []bool{false, true} {
			for _, c := range cases {
				w := c.plain
				if sealed && c.sealed != (changedRowWant{}) {
					w = c.sealed
				}
				name := fmt.Sprintf("%s/sealed=%t", c.name, sealed)
				if mode != "" {
					name += "/" + mode
				}
				t.Run(name, func(t *testing.T) { changedRowCase(t, mode, sealed, w, c.change) })
			}
		}
	}
}

// What a TakeLeaseIf over a changed row should do.
type changedRowWant struct {
	lease      bool
	tok        *oauth2.Token // the snapshot's
	failures   int
	epoch      uint64 // of the lease taken
	statements int
}

// changedRowCase is one case of TestTakeLeaseIfOverAChangedRow: the
// counted Store, its connections in SQL mode mode, loads key k holding
// tokenN(1), change changes the row, and a TakeLeaseIf over tokenN(1)
// must do what w says.
func changedRowCase(t *testing.T, mode string, sealed bool, w changedRowWant, change func(*testing.T, *rowsFixture)) {
	var aead cipher.AEAD
	if sealed {
		aead = newAEAD(t)
	}
	f := newRowsFixtureIn(t, aead, mode)
	ctx := context.Background()
	if err := f.another.Save(ctx, "k", tokenN(1)); err != nil {
		t.Fatal(err)
	}
	mustLoad(t, f.s, "k")
	if change != nil {
		change(t, f)
	}
	var l oauthrt.Lease
	var snap oauthrt.Snapshot
	n := f.statements(func() { l, snap = takeIf(t, f.s, "k", tokenN(1)) })
	if n != w.statements {
		t.Errorf("%d statements, want %d", n, w.statements)
	}
	if !w.lease {
		if l != nil {
			l.Release()
			t.Fatalf("TakeLeaseIf took the lease over %s, want the snapshot %s and no lease", accessOf(snap.Token), accessOf(w.tok))
		}
		if got, want := accessOf(snap.Token), accessOf(w.tok); got != want {
			t.Errorf("the snapshot holds %s, want %s", got, want)
		}
		if held, _ := f.leaseColumns(t, "k"); held {
			t.Error("the row's lease is held after a TakeLeaseIf that took none")
		}
		return
	}
	f.checkTaken(t, "k", l, snap, w.tok, oauthrt.GrantState{Failures: w.failures}, w.epoch)
	// The lease commits over the bytes the row holds.
	if err := l.(oauthrt.CommitReleaser).CommitRelease(ctx, snap.Token, tokenN(9)); err != nil {
		t.Fatalf("CommitRelease: %v", err)
	}
	if tok := mustLoad(t, f.another, "k"); tok.AccessToken != "at-9" {
		t.Errorf("after CommitRelease the row holds %s, want at-9", tok.AccessToken)
	}
}

// TestTakeLeaseIfRememberedRowLeaseHeld: on MySQL, a TakeLeaseIf over a
// row the Store remembers, whose lease another process holds, does not
// take it: it waits, reading the row, until its ctx ends, and the holder
// keeps the lease. Once the lease is released, it takes it.
func TestTakeLeaseIfRememberedRowLeaseHeld(t *testing.T) {
	for _, mode := range rowsModes {
		t.Run("mode="+mode, func(t *testing.T) { rememberedRowLeaseHeld(t, mode) })
	}
}

func rememberedRowLeaseHeld(t *testing.T, mode string) {
	f := newRowsFixtureIn(t, nil, mode)
	ctx := context.Background()
	if err := f.another.Save(ctx, "k", tokenN(1)); err != nil {
		t.Fatal(err)
	}
	mustLoad(t, f.s, "k")
	holder := takeFenced(t, f.another, "k")

	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	l, _, err := f.s.TakeLeaseIf(wctx, "k", tokenN(1))
	if l != nil {
		l.Release()
		t.Fatal("TakeLeaseIf took a lease another process holds")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want one wrapping context.DeadlineExceeded", err)
	}
	if err := holder.Renew(ctx); err != nil {
		t.Fatalf("the holder's Renew: %v; the lease is no longer its", err)
	}
	holder.Release()

	l, snap := takeIf(t, f.s, "k", tokenN(1))
	f.checkTaken(t, "k", l, snap, tokenN(1), oauthrt.GrantState{}, holder.Epoch()+1)
	l.Release()
}

// TestRememberedRowsUnderContention: goroutines of two Stores, on two
// handles, refresh one key over and over as Transports would (Load,
// TakeLeaseIf over what they loaded, CommitRelease), so that each Store's
// memory is often stale. Every lease taken must commit, and no token may
// be refreshed twice.
func TestRememberedRowsUnderContention(t *testing.T) {
	forEachDatabase(t, rememberedRowsUnderContention)
	// On MySQL, again with the driver counting the rows an UPDATE
	// matched: the UPDATE that takes a lease over a remembered row
	// matches the row whether it takes it or not.
	t.Run("MySQL/"+foundRows, func(t *testing.T) { rememberedRowsUnderContention(t, withFoundRows(t, openMySQL(t))) })
}

// withFoundRows returns db, a MySQL, with the handles it opens from now
// on in the driver's clientFoundRows.
func withFoundRows(t *testing.T, db testDB) testDB {
	t.Helper()
	dsn, err := mysql.ParseDSN(db.dsn)
	if err != nil {
		t.Fatal(err)
	}
	dsn.ClientFoundRows = true
	db.dsn = dsn.FormatDSN()
	return db
}

func rememberedRowsUnderContention(t *testing.T, db testDB) {
	table := newTable(t, db)
	hs := db.handles(t, 2)
	stores := []*sqlstore.Store{
		{DB: hs[0], Table: table, LeaseTTL: time.Minute},
		{DB: hs[1], Table: table, LeaseTTL: time.Minute},
	}
	ctx := context.Background()
	if err := stores[0].Save(ctx, "k", tokenN(0)); err != nil {
		t.Fatal(err)
	}
	const refreshes = 60
	var mu sync.Mutex
	refreshed := map[string]bool{} // the access tokens refreshed
	next := 1
	var wg sync.WaitGroup
	for g := range 8 {
		s := stores[g%2]
		wg.Go(func() {
			for {
				mu.Lock()
				done := next > refreshes
				mu.Unlock()
				if done {
					return
				}
				tok, err := s.Load(ctx, "k")
				if err != nil {
					t.Error(err)
					return
				}
				l, snap, err := s.TakeLeaseIf(ctx, "k", tok)
				if err != nil {
					t.Error(err)
					return
				}
				if l == nil {
					continue
				}
				mu.Lock()
				from := snap.Token.AccessToken
				if refreshed[from] {
					t.Errorf("%s was refreshed twice", from)
				}
				refreshed[from] = true
				nt := tokenN(next)
				next++
				mu.Unlock()
				if err := l.(oauthrt.CommitReleaser).CommitRelease(ctx, snap.Token, nt); err != nil {
					t.Errorf("CommitRelease over %s: %v", from, err)
					return
				}
			}
		})
	}
	wg.Wait()
	// The leases ran one after the other, each committing the token
	// numbered as it was taken: the row holds the last.
	if tok := mustLoad(t, stores[0], "k"); len(refreshed) != next-1 || tok.AccessToken != fmt.Sprintf("at-%d", next-1) {
		t.Errorf("%d refreshes, the last to at-%d, and the row holds %s", len(refreshed), next-1, tok.AccessToken)
	}
}
