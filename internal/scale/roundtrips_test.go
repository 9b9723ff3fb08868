package scale_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
)

// fleetBoundOf is the bound asserted on the round trips per refresh of
// four processes that contend for every key, or 0 for none.
//
// The target is 6: the winner's 2, and about one for each of the
// 3 others, which then learns the winner's token. It holds by
// construction where calls of the store, not trips, are counted: the
// MemoryStore, whose TakeLeaseIf waits for a release without polling,
// and the file store, whose TakeLeaseIf polls the lease file and reads
// the token file between tries, all within one call (5 in every run).
// PostgreSQL (with sqlstore/pglisten as the Store's Listener), Redis,
// MySQL and SQLite (with a sqlstore/localbus as the Store's Listener and
// Announcer: the four handles stand for processes of one host) meet it
// because the release of a lease is announced with the committed token
// (pg_notify and PUBLISH in the releasing statement or script, the bus
// after the statement): a waiter asks once, finds the lease held, and
// learns the token from the announcement without asking again. On SQLite
// that one ask is an UPDATE … RETURNING that reads the row whether it
// takes the lease or not; on MySQL, the UPDATE over the remembered row,
// whose LAST_INSERT_ID tells that the lease is held. A process that asks
// only after the winner committed and released (one slowed down, on a
// loaded machine) reads the new token in that one ask: the take is
// conditioned on the token bytes its Store last saw (sqlstore's row
// memory), so it does not take the lease over the new token and spend a
// statement releasing it. Without that condition, CI measured 6.39 on
// SQLite, with 119 of the 300 waiters taking and releasing. Measured on
// 2026-12-01: 5.24 to 5.28 trips on PostgreSQL (LISTEN and UNLISTEN
// included), 5.13 to 5.24 on MySQL, 5.12 to 5.25 on SQLite and 5.32 to
// 5.35 on Redis. Redis Cluster with a Prefix that holds a hash tag
// ("clustertag": all of a Store's keys in one slot) is Redis. Redis
// Cluster with each key's lease in its token's slot
// (redisstore.LeasesBeside, "clusterbeside") is Redis too. Redis Cluster
// with the default key names (LeasesApart: a key's token and lease in
// different slots) cannot meet it: the holder's take and commit are two
// commands each, one per slot, and each waiter asks at least once, so 7
// is its floor; it announces the release without the token, and its
// waiters ask at least twice, each ask two commands: measured 13.8.
// What is asserted there is a regression bound of ten times the
// backend's one-process bound.
//
// The announced backends are held to 6 in the full run only: with -short
// (25 keys, where the listeners' own LISTEN and UNLISTEN weigh four times
// as much) or under the race detector (which delays announcements past
// the waiters' fallback pause), they measured 5.4 to 7.1, and are held to
// the regression bound.
func fleetBoundOf(b backend) float64 {
	switch b.name {
	case "file", "filedir", "memory":
		return 6
	case "postgres", "redis", "clustertag", "clusterbeside", "mysql", "sqlite":
		if !testing.Short() && !raceDetector {
			return 6
		}
	}
	return 10 * b.warm
}

// TestRoundTripsPerRefresh counts the round trips each backend spends on
// a refresh, through real Transports against a token endpoint that
// rotates refresh tokens, for one process and for four:
//
//   - cold: one Transport refreshes keys it has never served: it reads
//     each key (Load) before it takes the lease. Reported only.
//   - warm: one Transport refreshes keys it served while their tokens were
//     valid, once its clock has moved past their expiry: it asks for the
//     lease over the token it holds at once (TakeLeaseIf, Renew,
//     CommitRelease). Held to the backend's bound.
//   - four processes: four Transports, each with a handle of its own on
//     the same data, eight goroutines each, request the same warm keys in
//     the same order, all at once, against an endpoint slow enough that
//     they contend for every key: one refreshes, the other three wait
//     for its lease (TakeLeaseIf polls, or hears the release announced)
//     and get its token.
//
// Every key must be refreshed exactly once in each phase, and no refresh
// token presented twice. The trips are those of the driver or client
// (statements, commands) for the SQL and Redis stores, and the calls of
// the store for the file and memory stores (tripcount.Wrap), counted from
// the moment the keys are seeded on. Each backend's line goes to the log,
// and is appended to the file $OAUTHRT_SCALE_REPORT names, if any.
func TestRoundTripsPerRefresh(t *testing.T) {
	n := 100
	if testing.Short() {
		n = 25
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			b.skip(t)
			s := newSite(t, b)
			e := newEndpoint(t)
			seeder := s.open(t, &meter{callLevel: b.callLevel})
			line := fmt.Sprintf("%-8s %d keys:", b.name, n)

			// One process, cold keys.
			keys := keyNames("cold", n)
			e.seed(t, seeder, keys, time.Now().Add(-time.Hour))
			m := &meter{callLevel: b.callLevel}
			tr := newTransport(t, s.open(t, m), e, &clock{})
			before := m.read()
			for _, k := range keys {
				if err := get(tr, k); err != nil {
					t.Fatal(err)
				}
			}
			cold := m.read().minus(before)
			checkOnce(t, e, keys, "one process, cold keys")
			line += " 1 proc cold " + perRefresh(cold, n, b)

			// One process, warm keys.
			keys = keyNames("warm", n)
			e.seed(t, seeder, keys, time.Now().Add(time.Hour))
			m = &meter{callLevel: b.callLevel}
			c := &clock{}
			tr = newTransport(t, s.open(t, m), e, c)
			for _, k := range keys {
				if err := get(tr, k); err != nil {
					t.Fatal(err)
				}
			}
			c.advance(2 * time.Hour)
			before = m.read()
			for _, k := range keys {
				if err := get(tr, k); err != nil {
					t.Fatal(err)
				}
			}
			warm := m.read().minus(before)
			checkOnce(t, e, keys, "one process, warm keys")
			line += "; warm " + perRefresh(warm, n, b)
			if b.warm > 0 && float64(warm.trips)/float64(n) > b.warm {
				t.Errorf("one process, warm keys: %d round trips for %d refreshes, more than %v each", warm.trips, n, b.warm)
			}

			// Four processes, warm keys, contending for each, on a store
			// that holds only them: the keys of the phases above are
			// deleted, so that a token file (Path) is the size of the
			// keys at stake, not three times it.
			forget(t, seeder, keyNames("cold", n), keys)
			keys = keyNames("fleet", n)
			e.seed(t, seeder, keys, time.Now().Add(time.Hour))
			f := newFleet(t, s, e, 4)
			if _, err := f.run(8, each(keys)); err != nil {
				t.Fatal(err)
			}
			f.clock.advance(2 * time.Hour)
			e.latency.Store(int64(20 * time.Millisecond))
			before = f.m.read()
			if _, err := f.run(8, each(keys)); err != nil {
				t.Fatal(err)
			}
			four := f.m.read().minus(before)
			e.latency.Store(0)
			checkOnce(t, e, keys, "four processes")
			line += "; 4 procs " + perRefresh(four, n, b)
			if bound := fleetBoundOf(b); bound > 0 && float64(four.trips)/float64(n) > bound {
				t.Errorf("four processes: %d round trips for %d refreshes, more than %v each", four.trips, n, bound)
			}

			t.Log(line)
			report(t, line)
		})
	}
}

// forget deletes the keys of each list from s, when s can delete.
func forget(t *testing.T, s oauthrt.TokenStore, lists ...[]string) {
	t.Helper()
	d, ok := s.(oauthrt.Deleter)
	if !ok {
		t.Logf("%T is no Deleter", s)
		return
	}
	for _, keys := range lists {
		for _, k := range keys {
			if err := d.Delete(context.Background(), k); err != nil {
				t.Fatalf("deleting key %s: %v", k, err)
			}
		}
	}
}

// checkOnce fails the test unless the endpoint refreshed every key
// exactly once, and no refresh token twice.
func checkOnce(t *testing.T, e *endpoint, keys []string, phase string) {
	t.Helper()
	if wrong, _ := e.refreshed(keys); len(wrong) > 0 {
		t.Errorf("%s: keys refreshed other than once: %s", phase, strings.Join(wrong, ", "))
	}
	if n := e.presentedTwice(); n > 0 {
		t.Errorf("%s: %d refresh tokens presented twice", phase, n)
	}
}

// perRefresh formats what r counted for n refreshes.
func perRefresh(r reading, n int, b backend) string {
	unit := "trips"
	if b.callLevel {
		unit = "calls"
	}
	s := fmt.Sprintf("%.2f %s/refresh", float64(r.trips)/float64(n), unit)
	if r.prepares > 0 {
		s += fmt.Sprintf(" (+%.2f prepares)", float64(r.prepares)/float64(n))
	}
	if r.takes > 0 && !b.callLevel {
		s += fmt.Sprintf(" [%d lease takes, %d trips in them]", r.takes, r.inTakes)
	} else if r.takes > 0 {
		s += fmt.Sprintf(" [%d lease takes]", r.takes)
	}
	return s
}

// report appends line to the file $OAUTHRT_SCALE_REPORT names, if any.
func report(tb testing.TB, line string) {
	path := os.Getenv("OAUTHRT_SCALE_REPORT")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		tb.Errorf("OAUTHRT_SCALE_REPORT: %v", err)
		return
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, line); err != nil {
		tb.Errorf("OAUTHRT_SCALE_REPORT: %v", err)
	}
}
