package sqlstore_test

import (
	"context"
	"crypto/cipher"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/sqlstore"
)

func loadGrant(t *testing.T, s *sqlstore.Store, key string) oauthrt.GrantState {
	t.Helper()
	st, err := s.LoadGrantState(context.Background(), key)
	if err != nil {
		t.Fatalf("LoadGrantState(%q): %v", key, err)
	}
	return st
}

func saveGrant(t *testing.T, s *sqlstore.Store, key string, st oauthrt.GrantState) {
	t.Helper()
	if err := s.SaveGrantState(context.Background(), key, st); err != nil {
		t.Fatalf("SaveGrantState(%q): %v", key, err)
	}
}

// deadState is a grant state with every field set, its times off the
// millisecond and in another zone than UTC.
func deadState() oauthrt.GrantState {
	zone := time.FixedZone("UTC+5", 5*3600)
	return oauthrt.GrantState{
		DeadToken:    oauthrt.Fingerprint(tokenN(1)),
		DeadCode:     "invalid_grant",
		DeadAt:       time.Date(2026, 11, 30, 12, 0, 0, 123_456_789, zone),
		NextAttempt:  time.Date(1969, 7, 20, 20, 17, 40, 999_999_999, zone),
		Failures:     7,
		FailingSince: time.Date(2026, 11, 29, 23, 59, 59, 500_600_700, zone),
	}
}

// inStore is st as the store gives it back: UTC, to the millisecond.
func inStore(st oauthrt.GrantState) oauthrt.GrantState {
	ms := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return time.UnixMilli(t.UnixMilli()).UTC()
	}
	st.DeadAt, st.NextAttempt, st.FailingSince = ms(st.DeadAt), ms(st.NextAttempt), ms(st.FailingSince)
	return st
}

// TestGrantStateRoundTrip: every field comes back as saved, times in
// UTC to the millisecond; strings byte for byte; a field left zero stays
// zero.
func TestGrantStateRoundTrip(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, db testDB) {
		s := &sqlstore.Store{DB: db.DB, Table: newTable(t, db)}
		if got := loadGrant(t, s, "k"); !got.IsZero() {
			t.Errorf("grant state of a key with no row: %+v, want zero", got)
		}
		for _, st := range []oauthrt.GrantState{
			deadState(),
			{NextAttempt: time.UnixMilli(1_800_000_000_123), Failures: 1},
			{DeadToken: "fp", DeadCode: "odd \xff\x00 code"},
			{Failures: 3},
			{Failures: 2, FailingSince: time.UnixMilli(-1)},
		} {
			saveGrant(t, s, "k", st)
			if diff := cmp.Diff(inStore(st), loadGrant(t, s, "k")); diff != "" {
				t.Errorf("grant state after a save (-saved +loaded):\n%s", diff)
			}
		}
	})
}

// TestGrantStateBesideToken: the grant state of a key and its token are
// kept apart: saving one leaves the other, and a key may have a grant
// state without a token.
func TestGrantStateBesideToken(t *testing.T) {
	withAndWithoutAEAD(t, func(t *testing.T, db testDB, aead cipher.AEAD) {
		s := &sqlstore.Store{DB: db.DB, Table: newTable(t, db), AEAD: aead, LeaseTTL: time.Minute}
		ctx := context.Background()
		st := deadState()

		// A key with no token.
		saveGrant(t, s, "new", st)
		if _, err := s.Load(ctx, "new"); !errors.Is(err, oauthrt.ErrNoToken) {
			t.Errorf("Load of a key with a grant state and no token: err = %v, want ErrNoToken", err)
		}
		if got := loadGrant(t, s, "new"); got != inStore(st) {
			t.Errorf("grant state of a key with no token: %+v", got)
		}

		// A key with a token and a lease.
		if err := s.Save(ctx, "k", tokenN(1)); err != nil {
			t.Fatal(err)
		}
		l, err := s.TakeLease(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
		saveGrant(t, s, "k", st)
		if got := mustLoad(t, s, "k"); got.AccessToken != "at-1" {
			t.Errorf("after SaveGrantState: token %q, want at-1", got.AccessToken)
		}
		if err := l.Renew(ctx); err != nil {
			t.Errorf("after SaveGrantState: Renew: %v, want the lease still held", err)
		}

		// The zero state deletes it, and leaves the token.
		saveGrant(t, s, "k", oauthrt.GrantState{})
		if got := loadGrant(t, s, "k"); !got.IsZero() {
			t.Errorf("after saving the zero state: %+v", got)
		}
		if got := mustLoad(t, s, "k"); got.AccessToken != "at-1" {
			t.Errorf("after the zero SaveGrantState: token %q, want at-1", got.AccessToken)
		}
		saveGrant(t, s, "none", oauthrt.GrantState{}) // nothing to delete
		if got := loadGrant(t, s, "none"); !got.IsZero() {
			t.Errorf("after deleting nothing: %+v", got)
		}
	})
}

// TestTokenWritesClearGrantState: Save and a Commit that commits clear
// the key's grant state; a Commit that conflicts leaves it.
func TestTokenWritesClearGrantState(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, db testDB) {
		s := &sqlstore.Store{DB: db.DB, Table: newTable(t, db)}
		ctx := context.Background()
		st := deadState()

		saveGrant(t, s, "k", st)
		if err := s.Save(ctx, "k", tokenN(1)); err != nil {
			t.Fatal(err)
		}
		if got := loadGrant(t, s, "k"); !got.IsZero() {
			t.Errorf("after Save: grant state %+v, want none", got)
		}

		saveGrant(t, s, "k", st)
		if err := s.Commit(ctx, "k", tokenN(9), tokenN(2)); !errors.Is(err, oauthrt.ErrCommitConflict) {
			t.Fatalf("Commit from another token: %v, want a conflict", err)
		}
		if got := loadGrant(t, s, "k"); got != inStore(st) {
			t.Errorf("after a conflicting Commit: grant state %+v, want it kept", got)
		}
		if err := s.Commit(ctx, "k", tokenN(1), tokenN(2)); err != nil {
			t.Fatal(err)
		}
		if got := loadGrant(t, s, "k"); !got.IsZero() {
			t.Errorf("after Commit: grant state %+v, want none", got)
		}

		// Into an empty key, whose row a grant state made.
		saveGrant(t, s, "first", st)
		if err := s.Commit(ctx, "first", nil, tokenN(1)); err != nil {
			t.Fatal(err)
		}
		if got := loadGrant(t, s, "first"); !got.IsZero() {
			t.Errorf("after the first Commit: grant state %+v, want none", got)
		}
	})
}
