package scale_test

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkFleetRefresh measures a fleet whose keys all expire at the
// same moment: four Transports, each with a handle of its own on the
// store, eight goroutines each, against a token endpoint that answers in
// 50 ms. Every Transport has served every key while it was valid; then
// their clock moves past the keys' expiry, and every Transport requests
// every key again, each starting a quarter of the keys further on than
// the one before, as processes that do not move in step. It reports the
// seconds until every Transport has a refreshed token for every key
// (s/fleet), the refreshes per second, and the store's round trips per
// refresh (calls, for the file store). A key refreshed twice, or a
// refresh token presented twice, fails it.
//
// OAUTHRT_SCALE_KEYS sets the number of keys: 500 by default, so that
// one iteration of every backend takes a few seconds; scripts/bench sets
// 10000. The file store's token-file layout (Path) runs a tenth of them
// (metric "keys"): each of its commits rewrites and syncs the whole file,
// and 500 keys took it 31 s on a 2-core machine, more than all the other
// backends together; its Dir layout ("filedir") runs them all.
func BenchmarkFleetRefresh(b *testing.B) {
	n := 500
	if v := os.Getenv("OAUTHRT_SCALE_KEYS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("OAUTHRT_SCALE_KEYS=%q: want a positive number of keys", v)
		}
	}
	for _, be := range backends {
		switch be.name {
		case "cluster", "clustertag", "clusterbeside", "memory":
			continue
		}
		b.Run("backend="+be.name, func(b *testing.B) {
			be.skip(b)
			n := n
			if be.name == "file" {
				n = max(n/10, 1)
			}
			var elapsed time.Duration
			var trips, prepares int64
			for i := range b.N {
				b.StopTimer()
				s := newSite(b, be)
				e := newEndpoint(b)
				keys := keyNames("k"+strconv.Itoa(i)+"x", n)
				e.seed(b, s.open(b, &meter{callLevel: be.callLevel}), keys, time.Now().Add(time.Hour))
				f := newFleet(b, s, e, 4)
				if _, err := f.run(8, each(keys)); err != nil {
					b.Fatal(err)
				}
				f.clock.advance(2 * time.Hour)
				e.latency.Store(int64(50 * time.Millisecond))
				before := f.m.read()
				b.StartTimer()
				d, err := f.run(8, func(proc int) []string {
					at := proc * len(keys) / 4
					return append(keys[at:len(keys):len(keys)], keys[:at]...)
				})
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				elapsed += d
				r := f.m.read().minus(before)
				trips, prepares = trips+r.trips, prepares+r.prepares
				wrong, _ := e.refreshed(keys)
				if len(wrong) > 0 {
					b.Fatalf("%d keys refreshed other than once, such as %s", len(wrong), wrong[0])
				}
				if twice := e.presentedTwice(); twice > 0 {
					b.Fatalf("%d refresh tokens presented twice", twice)
				}
				b.StartTimer()
			}
			fleets := float64(b.N)
			b.ReportMetric(elapsed.Seconds()/fleets, "s/fleet")
			b.ReportMetric(float64(n)*fleets/elapsed.Seconds(), "refreshes/s")
			b.ReportMetric(float64(trips)/(float64(n)*fleets), "round-trips/refresh")
			if prepares > 0 { // MySQL prepares each statement apart: one trip more each
				b.ReportMetric(float64(prepares)/(float64(n)*fleets), "prepares/refresh")
			}
			b.ReportMetric(float64(n), "keys")
		})
	}
}
