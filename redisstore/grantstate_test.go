package redisstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/redisstore"
	"golang.org/x/oauth2"
)

// TestGrantState round-trips a grant state, and checks which writes
// clear it: Save and a successful Commit do, a conflicting Commit and
// SaveGrantState of another key do not.
func TestGrantState(t *testing.T) {
	c := newClient(t)
	prefix := newPrefix(t, c)
	ctx := context.Background()
	s := &redisstore.Store{Client: c, Prefix: prefix}
	load := func(key string) oauthrt.GrantState {
		t.Helper()
		st, err := s.LoadGrantState(ctx, key)
		if err != nil {
			t.Fatalf("LoadGrantState(%q): %v", key, err)
		}
		return st
	}
	saveState := func(key string, st oauthrt.GrantState) {
		t.Helper()
		if err := s.SaveGrantState(ctx, key, st); err != nil {
			t.Fatalf("SaveGrantState(%q): %v", key, err)
		}
	}
	wantState := func(key string, want oauthrt.GrantState, when string) {
		t.Helper()
		got := load(key)
		if got.DeadToken != want.DeadToken || got.DeadCode != want.DeadCode || !got.DeadAt.Equal(want.DeadAt) ||
			!got.NextAttempt.Equal(want.NextAttempt) || got.Failures != want.Failures {
			t.Errorf("%s: LoadGrantState(%q) = %+v, want %+v", when, key, got, want)
		}
	}

	if st := load("k"); !st.IsZero() {
		t.Errorf("LoadGrantState of a key without token or state = %+v, want the zero state", st)
	}
	// Times keep their nanoseconds, and come back in UTC.
	paris := time.FixedZone("CET", 3600)
	dead := oauthrt.GrantState{
		DeadToken: oauthrt.Fingerprint(&oauth2.Token{AccessToken: "at", RefreshToken: "rt"}),
		DeadCode:  "invalid_grant",
		DeadAt:    time.Date(2026, 3, 4, 5, 6, 7, 123456789, paris),
		Failures:  3,
	}
	saveState("k", dead)
	wantState("k", dead, "for a key without token")
	if got := load("k"); got.DeadAt.Location() != time.UTC {
		t.Errorf("DeadAt came back in %v, want UTC", got.DeadAt.Location())
	}
	if _, err := s.Load(ctx, "k"); err == nil {
		t.Errorf("SaveGrantState stored a token")
	}
	backoff := oauthrt.GrantState{NextAttempt: time.Now().Add(time.Minute), Failures: 1}
	saveState("other", backoff)
	wantState("k", dead, "after SaveGrantState of another key")

	tok := &oauth2.Token{AccessToken: "at-1", RefreshToken: "rt-1"}
	if err := s.Save(ctx, "k", tok); err != nil {
		t.Fatal(err)
	}
	wantState("k", oauthrt.GrantState{}, "after Save")
	wantState("other", backoff, "after Save of another key")

	saveState("k", dead)
	wantState("k", dead, "beside a token")
	wantToken(t, s, "k", "at-1")
	next := &oauth2.Token{AccessToken: "at-2", RefreshToken: "rt-2"}
	wantConflict(t, s.Commit(ctx, "k", next, next), "Commit over another token")
	wantState("k", dead, "after a conflicting Commit")
	if err := s.Commit(ctx, "k", tok, next); err != nil {
		t.Fatal(err)
	}
	wantState("k", oauthrt.GrantState{}, "after Commit")

	// The zero state deletes the record: no key is left behind.
	saveState("other", oauthrt.GrantState{})
	wantState("other", oauthrt.GrantState{}, "after saving the zero state")
	for _, k := range keysUnder(t, c, prefix) {
		if strings.Contains(k, "state:") {
			t.Errorf("key %q is left after every grant state was cleared", k)
		}
	}
}

func TestGrantStateCorrupt(t *testing.T) {
	c := newClient(t)
	prefix := newPrefix(t, c)
	ctx := context.Background()
	s := &redisstore.Store{Client: c, Prefix: prefix}
	if err := s.SaveGrantState(ctx, "k", oauthrt.GrantState{Failures: 1}); err != nil {
		t.Fatal(err)
	}
	for _, k := range keysUnder(t, c, prefix) {
		if err := c.Set(ctx, k, `{"failures":`, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.LoadGrantState(ctx, "k")
	if err == nil || !strings.HasPrefix(err.Error(), "oauthrt: redisstore: ") || !strings.Contains(err.Error(), `"k"`) {
		t.Errorf("LoadGrantState of a corrupt record: err = %v, want a redisstore error naming the key", err)
	}
}

func TestGrantStateNilClient(t *testing.T) {
	s := &redisstore.Store{}
	ctx := context.Background()
	const want = "oauthrt: redisstore: Store.Client is nil"
	if _, err := s.LoadGrantState(ctx, "k"); err == nil || err.Error() != want {
		t.Errorf("LoadGrantState: err = %v, want %q", err, want)
	}
	if err := s.SaveGrantState(ctx, "k", oauthrt.GrantState{Failures: 1}); err == nil || err.Error() != want {
		t.Errorf("SaveGrantState: err = %v, want %q", err, want)
	}
	if err := s.Commit(ctx, "k", nil, &oauth2.Token{AccessToken: "at"}); err == nil || err.Error() != want {
		t.Errorf("Commit: err = %v, want %q", err, want)
	}
}
