package sqlstore_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/sqlstore"
)

func takeFenced(t *testing.T, s *sqlstore.Store, key string) oauthrt.FencedLease {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := s.TakeLease(ctx, key)
	if err != nil {
		t.Fatalf("TakeLease(%q): %v", key, err)
	}
	f, ok := l.(oauthrt.FencedLease)
	if !ok {
		l.Release()
		t.Fatalf("TakeLease returned a %T, not an oauthrt.FencedLease", l)
	}
	return f
}

// TestEpochGrows: each lease's epoch is greater than the last one's on
// the key, whether the last was released, lapsed, or taken through
// another handle, and whatever was saved in between; Renew of a lease
// fails once a later one was taken.
func TestEpochGrows(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, db testDB) {
		table := newTable(t, db)
		hs := db.handles(t, 2)
		a := &sqlstore.Store{DB: hs[0], Table: table, LeaseTTL: time.Minute}
		b := &sqlstore.Store{DB: hs[1], Table: table, LeaseTTL: time.Minute}
		ctx := context.Background()

		var epochs []uint64
		l := takeFenced(t, a, "k")
		epochs = append(epochs, l.Epoch())
		l.Release()

		l = takeFenced(t, b, "k") // after a release, by another process
		epochs = append(epochs, l.Epoch())
		expire(t, db, table, "k") // its TTL runs out

		if err := a.Save(ctx, "k", tokenN(1)); err != nil {
			t.Fatal(err)
		}
		if err := a.SaveGrantState(ctx, "k", oauthrt.GrantState{Failures: 1}); err != nil {
			t.Fatal(err)
		}
		next := takeFenced(t, a, "k") // after a lapse and some saves
		epochs = append(epochs, next.Epoch())
		if err := l.Renew(ctx); !errors.Is(err, oauthrt.ErrLeaseLost) {
			t.Errorf("Renew of a lapsed lease after a later one was taken: err = %v, want ErrLeaseLost", err)
		}
		if err := next.Renew(ctx); err != nil {
			t.Errorf("Renew of the current lease: %v", err)
		}
		next.Release()

		unlock, err := b.Lock(ctx, "k") // Lock takes a lease too
		if err != nil {
			t.Fatal(err)
		}
		unlock()
		l = takeFenced(t, a, "k")
		epochs = append(epochs, l.Epoch())
		l.Release()

		if epochs[0] == 0 || !slices.IsSorted(epochs) || len(slices.Compact(slices.Clone(epochs))) != len(epochs) {
			t.Errorf("epochs %v: want them above 0 and strictly growing", epochs)
		}
		// Another key has its own epochs.
		if o := takeFenced(t, b, "other"); o.Epoch() != 1 {
			t.Errorf("first lease on another key: epoch %d, want 1", o.Epoch())
		} else {
			o.Release()
		}
	})
}

// TestEpochsOfRacingTakers: takers on several handles, each taking and
// releasing the lease in turn, get each an epoch of its own, and every
// epoch from 1 up is handed out once.
func TestEpochsOfRacingTakers(t *testing.T) {
	const processes, takes = 4, 5
	forEachDatabase(t, func(t *testing.T, db testDB) {
		table := newTable(t, db)
		var mu sync.Mutex
		var epochs []uint64
		var wg sync.WaitGroup
		for _, h := range db.handles(t, processes) {
			s := &sqlstore.Store{DB: h, Table: table, LeaseTTL: time.Minute}
			wg.Go(func() {
				for range takes {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					l, err := s.TakeLease(ctx, "k")
					cancel()
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					epochs = append(epochs, l.(oauthrt.FencedLease).Epoch())
					mu.Unlock()
					l.Release()
				}
			})
		}
		wg.Wait()
		slices.Sort(epochs)
		for i, e := range epochs {
			if e != uint64(i+1) {
				t.Fatalf("epochs handed out: %v, want 1 to %d once each", epochs, processes*takes)
			}
		}
	})
}

// TestRenewAfterAnOldReleaseTook: while a fleet is upgraded, a process of
// the previous release takes leases without moving the epoch. A lease of
// this release that lapsed must still fail to renew once such a process
// took the lease, though the epoch did not change.
func TestRenewAfterAnOldReleaseTook(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, db testDB) {
		old := newOldTable(t, db)
		s := &sqlstore.Store{DB: db.DB, Table: old.table, LeaseTTL: time.Minute}
		ctx := context.Background()
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		l := takeFenced(t, s, "k")
		defer l.Release()
		if old.take(t, "k", "old-holder", time.Minute) {
			t.Fatal("the previous release took a lease this release holds")
		}
		expire(t, db, old.table, "k")
		if !old.take(t, "k", "old-holder", time.Minute) {
			t.Fatal("the previous release could not take a lapsed lease")
		}
		if err := l.Renew(ctx); !errors.Is(err, oauthrt.ErrLeaseLost) {
			t.Errorf("Renew after the previous release took the lease: err = %v, want ErrLeaseLost", err)
		}
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if l2, err := s.TakeLease(short, "k"); !errors.Is(err, context.DeadlineExceeded) {
			if err == nil {
				l2.Release()
			}
			t.Errorf("TakeLease while the previous release holds the lease: err = %v, want it to wait", err)
		}
	})
}
