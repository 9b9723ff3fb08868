package fleet_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

const (
	// saveOutageFor is how long the outage child's saves fail.
	saveOutageFor = 1500 * time.Millisecond
	// outageLeeway is the outage child's Leeway. Larger than the others',
	// it opens the child's refresh-ahead window 100ms before theirs, so
	// that the child takes the lease first and its first Save, where the
	// outage starts, comes with the fleet's first refresh.
	outageLeeway = 700 * time.Millisecond
	// outageRunFor is each child's run: the outage begins ~0.65s in, and
	// at least five more token windows follow its end.
	outageRunFor = 8 * time.Second
	// outageLeaseTTL outlasts the outage with room to spare, so that a
	// plain Locker's lease need not be renewed to cover it.
	outageLeaseTTL = 10 * time.Second
)

// TestFleetSaveOutage makes one process of the fleet unable to save the
// tokens it refreshes for 1.5s, from its first refresh on. That process
// has rotated the grant's refresh token and holds the only live one, in
// memory; the store still holds the old one. The other processes must
// wait on the lease until the new token is saved, not load the old one and
// present it: the provider would take that for theft and revoke the
// grant. Their requests wait about as long as the outage, far less than
// their 30s timeout, so none may fail.
func TestFleetSaveOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("the fleet runs for over a minute; skipped with -short")
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			requireServer(t, b)
			p := newProvider(t, lifetime, leeway)
			place := b.place(t)
			// Opened (and migrated) before the children open it.
			store, closeStore, err := b.open(place, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(closeStore)

			children := startFaultyFleet(t, b, place, p, nil,
				"FLEET_SAVE_OUTAGE="+saveOutageFor.String(), "FLEET_LEEWAY="+outageLeeway.String())
			for _, c := range children {
				c.waitFor(t, "AWAITING-TOKEN")
			}
			start := time.Now()
			at, rt, exp := p.seed(false)
			if err := store.Save(context.Background(), fleetKey, &oauth2.Token{AccessToken: at, RefreshToken: rt, TokenType: "Bearer", Expiry: exp}); err != nil {
				t.Fatal(err)
			}
			var results []childResult
			for _, c := range children {
				results = append(results, c.result(t))
			}
			checkOutage(t, "save-outage/"+b.name, store, p, results, time.Since(start))
		})
	}
}

// checkOutage asserts what a fleet run with a fault in one process (the
// first of results) must show, and reports its figures as check does,
// with the fault's.
func checkOutage(t *testing.T, name string, store oauthrt.TokenStore, p *provider, results []childResult, dur time.Duration) {
	t.Helper()
	c := p.counts()
	ok, failed := 0, 0
	kinds := map[string]int{}
	var slowest time.Duration
	lost := 0
	for i, r := range results {
		ok += r.OK
		lost += r.LeasesLost
		for k, n := range r.Failures {
			failed += n
			kinds[k] += n
		}
		if len(r.Samples) > 0 { // one is enough once the grant is dead
			t.Logf("failure sample (process %d): %s", i, r.Samples[0])
		}
		if i > 0 {
			slowest = max(slowest, r.Slowest)
		}
	}
	// The faulty process, with its larger leeway, refreshes every
	// (lifetime-outageLeeway)/2 at most.
	window := (lifetime - outageLeeway) / 2
	line := fmt.Sprintf("%-28s processes=%d requests_ok=%d requests_failed=%d refreshes=%d token_windows=%.1f invalid_grant=%d early_refreshes=%d api_401=%d revoked=%t save_failures=%d faulty_failed=%d others_slowest=%v",
		name, len(results), ok, failed, c.Refreshes, dur.Seconds()/window.Seconds(), c.InvalidGrant, c.Early, c.API401,
		c.Revoked, results[0].SaveFailures, failedOf(results[0]), slowest.Round(time.Millisecond))
	writeReport(t, line)
	if results[0].SaveFailures == 0 {
		t.Fatal("the faulty process never saved a refreshed token: the fault never happened, and the run shows nothing")
	}
	if c.InvalidGrant != 0 || c.Revoked {
		t.Errorf("invalid_grant %d times (revoked: %t): a process presented the refresh token that the faulty one had rotated", c.InvalidGrant, c.Revoked)
	}
	if failed != 0 {
		t.Errorf("%d API requests failed (%d of them in the faulty process): %v", failed, failedOf(results[0]), kinds)
	}
	if ok == 0 {
		t.Error("no API request succeeded")
	}
	if c.Early != 0 {
		t.Errorf("%d refreshes happened while the token was still fresh", c.Early)
	}
	// The first refresh, in the outage, and at least one after it.
	if max := int(dur/window) + 2; c.Refreshes > max || c.Refreshes < 2 {
		t.Errorf("%d refreshes in %v, want 2..%d: one per token window, and the fleet going on after the fault", c.Refreshes, dur, max)
	}
	tok, err := store.Load(context.Background(), fleetKey)
	if err != nil {
		t.Fatalf("loading the final token: %v", err)
	}
	if tok.AccessToken != c.CurrentAT {
		t.Errorf("the store holds %s, want the latest issued, %s", tok.AccessToken, c.CurrentAT)
	}
}

// failedOf counts a child's failed requests.
func failedOf(r childResult) int {
	n := 0
	for _, k := range r.Failures {
		n += k
	}
	return n
}

const (
	// manyGrants is how many keys, each with a grant of its own, the
	// too-many-clients fleet refreshes.
	manyGrants = 200
	// tooManyClientsFor is how long, from its first refresh, half of
	// the faulty process's saves and leases fail.
	tooManyClientsFor = 3 * time.Second
)

// TestFleetTooManyClients is the save outage as PostgreSQL makes it under
// load: the server refuses one process's new connections with "sorry,
// too many clients already", so that half of its saves and of its leases
// fail, at random, for 3s, while 4 processes refresh 200 keys, each with
// a grant of its own. No grant may be lost. The faulty process's requests
// may fail while it cannot take a lease (its store is down); the others'
// may not.
func TestFleetTooManyClients(t *testing.T) {
	if testing.Short() {
		t.Skip("the fleet runs for over a minute; skipped with -short")
	}
	b := backend{"postgres", "OAUTHRT_TEST_POSTGRES"}
	requireServer(t, b)
	g := newGrants(t, lifetime)
	place := b.place(t)
	store, closeStore, err := b.open(place, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeStore)

	children := startFaultyFleet(t, b, place, g, []string{fmt.Sprintf("FLEET_KEYS=%d", manyGrants)},
		"FLEET_SAVE_OUTAGE="+tooManyClientsFor.String(), "FLEET_TOO_MANY_CLIENTS=1")
	for _, c := range children {
		c.waitFor(t, "AWAITING-TOKEN")
	}
	start := time.Now()
	for _, key := range manyKeys(manyGrants) { // the children wait for the last
		at, rt, exp := g.seed()
		if err := store.Save(context.Background(), key, &oauth2.Token{AccessToken: at, RefreshToken: rt, TokenType: "Bearer", Expiry: exp}); err != nil {
			t.Fatal(err)
		}
	}
	var results []childResult
	for _, c := range children {
		results = append(results, c.result(t))
	}
	dur := time.Since(start)

	c := g.counts()
	ok, othersFailed := 0, 0
	kinds := map[string]int{}
	var slowest time.Duration
	lost := 0
	for i, r := range results {
		ok += r.OK
		lost += r.LeasesLost
		for k, n := range r.Failures {
			kinds[fmt.Sprintf("process %d: %s", i, k)] += n
			if i > 0 {
				othersFailed += n
			}
		}
		if len(r.Samples) > 0 {
			t.Logf("failure sample (process %d): %s", i, r.Samples[0])
		}
		if i > 0 {
			slowest = max(slowest, r.Slowest)
		}
	}
	line := fmt.Sprintf("%-28s processes=%d keys=%d requests_ok=%d requests_failed=%d refreshes=%d invalid_grant=%d revoked_grants=%d save_failures=%d lease_failures=%d leases_lost=%d faulty_failed=%d others_slowest=%v seconds=%.1f",
		"too-many-clients/"+b.name, len(results), manyGrants, ok, othersFailed+failedOf(results[0]), c.Refreshes, c.InvalidGrant, c.Revoked,
		results[0].SaveFailures, results[0].LeaseFailures, lost, failedOf(results[0]), slowest.Round(time.Millisecond), dur.Seconds())
	writeReport(t, line)
	if results[0].SaveFailures == 0 {
		t.Fatal("the faulty process never had a save refused: the fault never happened, and the run shows nothing")
	}
	if c.InvalidGrant != 0 || c.Revoked != 0 {
		t.Errorf("%d grants revoked (%d invalid_grant answers): a process presented a refresh token that another had rotated", c.Revoked, c.InvalidGrant)
	}
	if othersFailed != 0 {
		t.Errorf("%d API requests failed in the processes with a working store: %v", othersFailed, kinds)
	}
	if ok == 0 {
		t.Error("no API request succeeded")
	}
	if c.Refreshes < manyGrants {
		t.Errorf("%d refreshes of %d grants in %v: the fleet did not go on", c.Refreshes, manyGrants, dur)
	}
}

// startFaultyFleet starts the fleet's processes, which wait for their
// tokens to be seeded: each with the environment all, and the first, the
// faulty one, also with faulty.
func startFaultyFleet(t *testing.T, b backend, place string, e endpoints, all []string, faulty ...string) []*child {
	var children []*child
	for i := range processes {
		extra := append([]string{"FLEET_AWAIT_TOKEN=1"}, all...)
		if i == 0 {
			extra = append(extra, faulty...)
		}
		children = append(children, startChild(t, b, place, e, outageLeaseTTL, outageRunFor, goroutines, extra...))
	}
	return children
}
