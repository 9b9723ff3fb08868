package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// The grant state checks hold a store that implements
// oauthrt.GrantStateStore to its contract: one state per key, beside the
// token and independent of it, except that saving or committing a token
// clears it. Times are compared to the millisecond: a store may round or
// truncate them to that precision, and drop their location.

// grantStateStore opens a store and returns it as a GrantStateStore, or
// skips the subtest, naming the capability, when the store is not one.
func grantStateStore(t *testing.T, b Backend, o Options) oauthrt.GrantStateStore {
	t.Helper()
	return openAs[oauthrt.GrantStateStore](t, b, o, "shared grant state")
}

// deadState and backoffState are grant states as the Transport writes
// them: a grant refused for good, and a backoff after transient failures.
// Their times have nanoseconds and a location, which a store may drop.
func deadState(tok *oauth2.Token) oauthrt.GrantState {
	loc := time.FixedZone("UTC-3", -3*3600)
	return oauthrt.GrantState{
		DeadToken: oauthrt.Fingerprint(tok),
		DeadCode:  "invalid_grant",
		DeadAt:    time.Date(2030, 1, 2, 3, 4, 5, 678901234, loc),
	}
}

func backoffState(failures int) oauthrt.GrantState {
	return oauthrt.GrantState{
		NextAttempt:  time.Date(2030, 6, 7, 8, 9, 10, 111222333, time.UTC).Add(time.Duration(failures) * time.Minute),
		Failures:     failures,
		FailingSince: failingSince.Add(-time.Duration(failures) * time.Second),
	}
}

// failingSince is when the backoff states' failures began, in a
// location a store may drop.
var failingSince = time.Date(2030, 6, 7, 9, 9, 9, 987654321, time.FixedZone("UTC+1", 3600))

func loadState(t *testing.T, g oauthrt.GrantStateStore, key string) oauthrt.GrantState {
	t.Helper()
	st, err := g.LoadGrantState(context.Background(), key)
	if err != nil {
		t.Fatalf("LoadGrantState(%s): %v", showKey(key), shorten(err))
	}
	return st
}

func saveState(t *testing.T, g oauthrt.GrantStateStore, key string, st oauthrt.GrantState) {
	t.Helper()
	if err := g.SaveGrantState(context.Background(), key, st); err != nil {
		t.Fatalf("SaveGrantState(%s): %v", showKey(key), shorten(err))
	}
}

// sameState reports how got differs from want, or "" when it does not:
// times within a millisecond of each other, and zero times zero.
func sameState(got, want oauthrt.GrantState) string {
	var diff string
	if got.DeadToken != want.DeadToken {
		diff += fmt.Sprintf(" DeadToken %q, want %q;", got.DeadToken, want.DeadToken)
	}
	if got.DeadCode != want.DeadCode {
		diff += fmt.Sprintf(" DeadCode %q, want %q;", got.DeadCode, want.DeadCode)
	}
	if got.Failures != want.Failures {
		diff += fmt.Sprintf(" Failures %d, want %d;", got.Failures, want.Failures)
	}
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{
		{"DeadAt", got.DeadAt, want.DeadAt},
		{"NextAttempt", got.NextAttempt, want.NextAttempt},
		{"FailingSince", got.FailingSince, want.FailingSince},
	} {
		switch {
		case f.want.IsZero() && !f.got.IsZero():
			diff += fmt.Sprintf(" %s %v, want the zero time;", f.name, f.got)
		case f.want.IsZero():
		case f.got.IsZero():
			diff += fmt.Sprintf(" %s is the zero time, want %v;", f.name, f.want)
		case f.got.Sub(f.want).Abs() >= time.Millisecond:
			diff += fmt.Sprintf(" %s %v, want %v to the millisecond;", f.name, f.got, f.want)
		}
	}
	return diff
}

func wantState(t *testing.T, g oauthrt.GrantStateStore, key string, want oauthrt.GrantState, when string) {
	t.Helper()
	got := loadState(t, g, key)
	if want.IsZero() {
		if !got.IsZero() {
			t.Errorf("LoadGrantState(%s) %s = %+v, want the zero GrantState", showKey(key), when, got)
		}
		return
	}
	if diff := sameState(got, want); diff != "" {
		t.Errorf("LoadGrantState(%s) %s:%s", showKey(key), when, diff)
	}
}

func testGrantStateRoundTrip(t *testing.T, b Backend) {
	g := grantStateStore(t, b, Options{})
	ctx := context.Background()
	wantState(t, g, "k", oauthrt.GrantState{}, "of a key without token or state")

	tok := pair("at-1", "rt-1")
	save(t, g, "k", tok)
	wantState(t, g, "k", oauthrt.GrantState{}, "of a key with a token and no state")

	dead := deadState(tok)
	saveState(t, g, "k", dead)
	wantState(t, g, "k", dead, "after SaveGrantState")
	sameToken(t, load(t, g, "k"), tok)

	other, ok := b.Open(Options{}).(oauthrt.GrantStateStore)
	if !ok {
		t.Fatal("Backend.Open returned a GrantStateStore once and another store the next time")
	}
	wantState(t, other, "k", dead, "through another handle")

	backoff := backoffState(3)
	saveState(t, other, "k", backoff)
	wantState(t, g, "k", backoff, "after another handle replaced it")

	saveState(t, g, "k", oauthrt.GrantState{})
	wantState(t, other, "k", oauthrt.GrantState{}, "after SaveGrantState of the zero state")
	sameToken(t, load(t, g, "k"), tok)
	saveState(t, g, "k", oauthrt.GrantState{}) // deleting nothing is no error

	// A key may have a state and no token: saving one creates no token.
	saveState(t, g, "no-token", backoff)
	wantState(t, g, "no-token", backoff, "of a key without a token")
	if got, err := g.Load(ctx, "no-token"); !errors.Is(err, oauthrt.ErrNoToken) {
		t.Errorf("Load of a key that has only a grant state: token %v, err = %v; want ErrNoToken", got != nil, err)
	}
	saveState(t, g, "no-token", oauthrt.GrantState{})
	wantState(t, g, "no-token", oauthrt.GrantState{}, "after its state was deleted")

	// Each field on its own survives: a store may not drop one that is
	// set alone, or make up one that is not.
	for i, st := range []oauthrt.GrantState{
		{DeadToken: oauthrt.Fingerprint(tok)},
		{DeadCode: "invalid_grant"},
		{DeadAt: dead.DeadAt},
		{NextAttempt: backoff.NextAttempt},
		{Failures: 1},
		{Failures: 1 << 30},
		{FailingSince: failingSince},
		{Failures: 2, FailingSince: failingSince, NextAttempt: backoff.NextAttempt},
	} {
		key := fmt.Sprintf("field-%d", i)
		saveState(t, g, key, st)
		wantState(t, g, key, st, fmt.Sprintf("after saving %+v", st))
	}
}

// testGrantStateKeys saves a distinct state under each odd key: a key
// Save accepts must keep its own, and a key may be refused, but never
// reach another's state.
func testGrantStateKeys(t *testing.T, b Backend) {
	g := grantStateStore(t, b, Options{})
	ctx := context.Background()
	groups := oddKeyGroups()
	var keys []string
	first := map[string]bool{} // the first key of each group
	for _, grp := range groups {
		keys = append(keys, grp...)
		first[grp[0]] = true
	}
	saved := map[string]bool{}
	for i, k := range keys {
		if err := g.Save(ctx, k, pair(fmt.Sprintf("at-%d", i), "")); err == nil {
			saved[k] = true
		}
	}
	kept := map[string]bool{}
	for i, k := range keys {
		err := g.SaveGrantState(ctx, k, backoffState(i+1))
		switch {
		case err == nil:
			kept[k] = true
		case saved[k]:
			t.Errorf("SaveGrantState(%s) refused a key Save accepts: %v", showKey(k), shorten(err))
		default:
			refusedKey(t, "SaveGrantState", k, err)
		}
	}
	for i, k := range keys {
		st, err := g.LoadGrantState(ctx, k)
		switch {
		case !kept[k] && err == nil && !st.IsZero():
			t.Errorf("LoadGrantState(%s) of a key SaveGrantState refused returned %+v", showKey(k), st)
		case !kept[k]:
		case err != nil:
			t.Errorf("LoadGrantState(%s): %v", showKey(k), shorten(err))
		default:
			if diff := sameState(st, backoffState(i+1)); diff != "" {
				t.Errorf("LoadGrantState(%s) is not the state saved under it (another key's?):%s", showKey(k), diff)
			}
		}
	}
	// Deleting one key's state leaves its neighbours' alone.
	for _, grp := range groups {
		k := grp[0]
		if !kept[k] {
			continue
		}
		saveState(t, g, k, oauthrt.GrantState{})
		wantState(t, g, k, oauthrt.GrantState{}, "after its state was deleted")
	}
	for i, k := range keys {
		if kept[k] && !first[k] {
			wantState(t, g, k, backoffState(i+1), "after a neighbour's state was deleted")
		}
	}
}

func testGrantStateCancelledContext(t *testing.T, b Backend) {
	g := grantStateStore(t, b, Options{})
	st := backoffState(1)
	saveState(t, g, "k", st)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.LoadGrantState(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("LoadGrantState with a cancelled context: err = %v, want context.Canceled", err)
	}
	if err := g.SaveGrantState(ctx, "k", backoffState(2)); !errors.Is(err, context.Canceled) {
		t.Errorf("SaveGrantState with a cancelled context: err = %v, want context.Canceled", err)
	}
	if err := g.SaveGrantState(ctx, "k", oauthrt.GrantState{}); !errors.Is(err, context.Canceled) {
		t.Errorf("SaveGrantState of the zero state with a cancelled context: err = %v, want context.Canceled", err)
	}
	wantState(t, g, "k", st, "after SaveGrantStates with a cancelled context")
}

// testSaveClearsGrantState checks that a saved token ends the key's
// grant state, and no other key's.
func testSaveClearsGrantState(t *testing.T, b Backend) {
	g := grantStateStore(t, b, Options{})
	old := pair("at-old", "rt-old")
	save(t, g, "k", old)
	saveState(t, g, "k", deadState(old))
	saveState(t, g, "neighbour", backoffState(2))
	save(t, g, "k", pair("at-new", "rt-new"))
	wantState(t, g, "k", oauthrt.GrantState{}, "after Save of a new token")
	wantState(t, g, "neighbour", backoffState(2), "after Save under another key")

	// A first token clears a state kept for a key without one.
	saveState(t, g, "fresh", backoffState(1))
	save(t, g, "fresh", pair("at-fresh", "rt-fresh"))
	wantState(t, g, "fresh", oauthrt.GrantState{}, "after Save of its first token")
}

// testCommitClearsGrantState checks that a successful Commit ends the
// key's grant state, and a conflicting one, which stores nothing, keeps
// it.
func testCommitClearsGrantState(t *testing.T, b Backend) {
	c := committer(t, b, Options{})
	g, ok := c.(oauthrt.GrantStateStore)
	if !ok {
		t.Skip("the store implements oauthrt.Committer but not oauthrt.GrantStateStore: nothing to clear")
	}
	ctx := context.Background()
	old := pair("at-old", "rt-old")
	save(t, c, "k", old)
	dead := deadState(old)
	saveState(t, g, "k", dead)
	saveState(t, g, "neighbour", backoffState(2))

	wantConflict(t, c.Commit(ctx, "k", pair("at-other", "rt-other"), pair("at-x", "rt-x")), "Commit over another token")
	wantState(t, g, "k", dead, "after a Commit that conflicted")

	next := pair("at-next", "rt-next")
	commit(t, c, "k", old, next)
	wantState(t, g, "k", oauthrt.GrantState{}, "after a Commit")
	wantState(t, g, "neighbour", backoffState(2), "after a Commit under another key")

	// Into an empty key that has a state.
	saveState(t, g, "fresh", backoffState(1))
	wantConflict(t, c.Commit(ctx, "fresh", old, next), "Commit over a token into an empty key")
	wantState(t, g, "fresh", backoffState(1), "after a Commit into it conflicted")
	commit(t, c, "fresh", nil, next)
	wantState(t, g, "fresh", oauthrt.GrantState{}, "after the first Commit of a token")
}
