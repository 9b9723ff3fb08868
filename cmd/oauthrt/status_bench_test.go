package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// bigStore is how many keys BenchmarkStatus100k seeds: 100,000, or the
// number in OAUTHRT_STATUS_KEYS, which .ci/run sets lower so that its
// run of every benchmark once keeps this one from rotting without
// spending a minute seeding.
var bigStore = func() int {
	if n, err := strconv.Atoi(os.Getenv("OAUTHRT_STATUS_KEYS")); err == nil && n >= 100 {
		return n
	}
	return 100_000
}()

// BenchmarkStatus100k times the built command's status on a store of
// 100,000 keys, on PostgreSQL and on Redis (each skipped when its
// OAUTHRT_TEST_* variable is unset): the first page, the dead grants
// (which walks every record), and every record as JSON. One in a hundred
// grants is dead and one in a hundred degraded. It reports milliseconds
// per run of the command, process start included; run it with
// -benchtime=1x.
func BenchmarkStatus100k(b *testing.B) {
	for _, name := range []string{"postgres", "redis"} {
		var be backend
		for _, c := range backends(b) {
			if c.name == name {
				be = c
			}
		}
		if be.name == "" {
			b.Run(name, func(b *testing.B) { b.Skipf("%s is not configured: set its OAUTHRT_TEST_* variable", name) })
			continue
		}
		s := openedWith(b, be, nil)
		start := time.Now()
		dead := seedBig(b, s)
		b.Logf("%s: seeded %d keys in %v", name, bigStore, time.Since(start).Round(time.Millisecond))
		env := withStore(be)

		for _, c := range []struct {
			name, unit string
			args       []string
			check      func(b *testing.B, out string)
		}{
			{"page", "ms/page", []string{"status"}, func(b *testing.B, out string) {
				if _, rows := tableRows(b, out); len(rows) != 50 {
					b.Errorf("status: %d rows, want 50", len(rows))
				}
			}},
			{"dead", "ms/dead", []string{"status", "--state", "dead", "--all", "--json"}, func(b *testing.B, out string) {
				if n := len(statusPage(b, out).Records); n != dead {
					b.Errorf("status --state dead: %d records, want %d", n, dead)
				}
			}},
			{"all", "ms/all", []string{"status", "--all", "--json"}, func(b *testing.B, out string) {
				if n := len(statusPage(b, out).Records); n != bigStore {
					b.Errorf("status --all --json: %d records, want %d", n, bigStore)
				}
			}},
		} {
			b.Run(name+"/"+c.name, func(b *testing.B) {
				var out string
				start := time.Now()
				for range b.N {
					out = mustRun(b, env, c.args...)
				}
				b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), c.unit)
				b.StopTimer()
				c.check(b, out)
			})
		}
	}
}

// seedBig saves bigStore keys in s through the store's API, from 16
// goroutines, and returns how many of them it made dead.
func seedBig(b *testing.B, s *store) (dead int) {
	b.Helper()
	ctx := context.Background()
	gs := s.TokenStore.(oauthrt.GrantStateStore)
	now := time.Now()
	var next, deads atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(bigStore) {
					return
				}
				key := fmt.Sprintf("tenant-%03d/user-%06d", i%1000, i)
				tok := &oauth2.Token{
					AccessToken:  fmt.Sprintf("bench-access-%d", i),
					RefreshToken: fmt.Sprintf("bench-refresh-%d", i),
					TokenType:    "Bearer",
					Expiry:       now.Add(time.Duration(i%7200) * time.Second),
					ExpiresIn:    3600,
				}
				if err := s.Save(ctx, key, tok); err != nil {
					errs <- err
					return
				}
				var st oauthrt.GrantState
				switch i % 100 {
				case 7:
					st = oauthrt.GrantState{DeadToken: oauthrt.Fingerprint(tok), DeadCode: "invalid_grant", DeadAt: now.Add(-time.Hour)}
					deads.Add(1)
				case 8:
					st = oauthrt.GrantState{Failures: 2, FailingSince: now.Add(-time.Minute), NextAttempt: now.Add(time.Minute)}
				default:
					continue
				}
				if err := gs.SaveGrantState(ctx, key, st); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatalf("seeding: %v", err)
	}
	return int(deads.Load())
}
