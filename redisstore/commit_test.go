package redisstore_test

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
	"github.com/oauthrt/oauthrt/redisstore"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
)

// oldSave writes tok under key as the previous release of the Store did:
// one SET of the token key, and no fingerprint record. It stands for a
// process of that release during a rolling upgrade, and for the data it
// left behind.
func oldSave(t *testing.T, c redis.UniversalClient, prefix, key string, tok *oauth2.Token, aead cipher.AEAD) {
	t.Helper()
	b, err := tokencodec.Encode(tok, aead, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(context.Background(), prefix+"token:"+key, b, 0).Err(); err != nil {
		t.Fatal(err)
	}
}

func wantConflict(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, oauthrt.ErrCommitConflict) {
		t.Errorf("%s: err = %v, want one wrapping ErrCommitConflict", what, err)
	} else if !strings.HasPrefix(err.Error(), "oauthrt: redisstore: ") {
		t.Errorf("%s: err = %q, want the package prefix", what, err)
	}
}

func wantToken(t *testing.T, s *redisstore.Store, key, access string) {
	t.Helper()
	tok, err := s.Load(context.Background(), key)
	if err != nil {
		t.Fatalf("Load(%q): %v", key, err)
	}
	if tok.AccessToken != access {
		t.Errorf("Load(%q).AccessToken = %q, want %q", key, tok.AccessToken, access)
	}
}

// TestCommitRace lets Stores on separate clients, standing for the
// processes of a fleet, commit over the same token at once: exactly one
// wins each round. The token they race over was written by Save (it has
// a fingerprint record), or by the previous release (it has none, and
// every Commit reads it back and commits on its exact bytes).
func TestCommitRace(t *testing.T) {
	for _, tc := range []struct {
		name    string
		aead    bool
		oldSave bool
	}{
		{"saved", false, false},
		{"saved encrypted", true, false},
		{"old release", false, true},
		{"old release encrypted", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := newClient(t)
			prefix := newPrefix(t, seed)
			var aead cipher.AEAD
			if tc.aead {
				aead = newAEAD(t)
			}
			const processes = 8
			stores := make([]*redisstore.Store, processes)
			for i := range stores {
				stores[i] = &redisstore.Store{Client: newClient(t), Prefix: prefix, AEAD: aead}
			}
			ctx := context.Background()
			prev := &oauth2.Token{AccessToken: "at-0", RefreshToken: "rt-0"}
			if tc.oldSave {
				oldSave(t, seed, prefix, "k", prev, aead)
			} else if err := stores[0].Save(ctx, "k", prev); err != nil {
				t.Fatal(err)
			}
			for round := 1; round <= 5; round++ {
				start := make(chan struct{})
				errs := make([]error, processes)
				var wg sync.WaitGroup
				for i, s := range stores {
					wg.Go(func() {
						<-start
						errs[i] = s.Commit(ctx, "k", prev, &oauth2.Token{AccessToken: fmt.Sprintf("at-%d-%d", round, i), RefreshToken: fmt.Sprintf("rt-%d-%d", round, i)})
					})
				}
				close(start)
				wg.Wait()
				winner := -1
				for i, err := range errs {
					switch {
					case err == nil && winner >= 0:
						t.Fatalf("round %d: processes %d and %d both committed", round, winner, i)
					case err == nil:
						winner = i
					default:
						wantConflict(t, err, fmt.Sprintf("round %d: the Commit of process %d", round, i))
					}
				}
				if winner < 0 {
					t.Fatalf("round %d: no process committed", round)
				}
				wantToken(t, stores[processes-1-winner], "k", fmt.Sprintf("at-%d-%d", round, winner))
				prev = &oauth2.Token{AccessToken: fmt.Sprintf("at-%d-%d", round, winner), RefreshToken: fmt.Sprintf("rt-%d-%d", round, winner)}
				if tc.oldSave {
					oldSave(t, seed, prefix, "k", prev, aead) // the same token, written again without a record
				}
			}
		})
	}
}

// TestCommitOldLayout commits over tokens written by the previous release
// of the Store, which keeps no fingerprint beside them: Commit must read
// them back to compare them, and must not take what does not open for the
// prev it was given.
func TestCommitOldLayout(t *testing.T) {
	c := newClient(t)
	prefix := newPrefix(t, c)
	ctx := context.Background()
	tokenKey := prefix + "token:k"
	// A value as the previous release wrote it, byte for byte.
	const old = `{"access_token":"at-old","token_type":"Bearer","refresh_token":"rt-old","expiry":"2026-01-02T03:04:05Z"}`
	if err := c.Set(ctx, tokenKey, old, 0).Err(); err != nil {
		t.Fatal(err)
	}
	s := &redisstore.Store{Client: c, Prefix: prefix}
	held, err := s.Load(ctx, "k")
	if err != nil {
		t.Fatalf("Load of a token in the old layout: %v", err)
	}
	if held.AccessToken != "at-old" || held.RefreshToken != "rt-old" || held.TokenType != "Bearer" {
		t.Errorf("Load of a token in the old layout = %+v", held)
	}

	next := &oauth2.Token{AccessToken: "at-next", RefreshToken: "rt-next"}
	for _, prev := range []*oauth2.Token{nil, {AccessToken: "at-old", RefreshToken: "rt-other"}, {AccessToken: "at-old"}} {
		wantConflict(t, s.Commit(ctx, "k", prev, next), fmt.Sprintf("Commit with prev %+v over the old token", prev))
	}
	if got := c.Get(ctx, tokenKey).Val(); got != old {
		t.Fatalf("conflicting Commits changed the old value to %q", got)
	}
	// The token Load returned is prev, however the old value spells it.
	if err := s.Commit(ctx, "k", &oauth2.Token{AccessToken: "at-old", RefreshToken: "rt-old"}, next); err != nil {
		t.Fatalf("Commit over the old token: %v", err)
	}
	wantToken(t, s, "k", "at-next")
	// Committed in the new layout, it is compared by its record.
	wantConflict(t, s.Commit(ctx, "k", held, &oauth2.Token{AccessToken: "at-late"}), "Commit over the replaced old token")
	if err := s.Commit(ctx, "k", next, &oauth2.Token{AccessToken: "at-3"}); err != nil {
		t.Fatalf("Commit over the committed token: %v", err)
	}
	wantToken(t, s, "k", "at-3")

	t.Run("encrypted", func(t *testing.T) {
		aead := newAEAD(t)
		s := &redisstore.Store{Client: c, Prefix: prefix, AEAD: aead}
		prev := &oauth2.Token{AccessToken: "at-sealed", RefreshToken: "rt-sealed"}
		oldSave(t, c, prefix, "sealed", prev, aead)
		wantConflict(t, s.Commit(ctx, "sealed", &oauth2.Token{AccessToken: "at-sealed"}, next), "Commit with another prev over an old sealed token")
		if err := s.Commit(ctx, "sealed", prev, next); err != nil {
			t.Fatalf("Commit over an old sealed token: %v", err)
		}
		wantToken(t, s, "sealed", "at-next")
	})

	t.Run("unreadable", func(t *testing.T) {
		prev := &oauth2.Token{AccessToken: "at-x", RefreshToken: "rt-x"}
		sealed := &redisstore.Store{Client: c, Prefix: prefix, AEAD: newAEAD(t)}
		for key, raw := range map[string]string{"corrupt": `{"access_token":"at-x","refresh`, "empty": ""} {
			if err := c.Set(ctx, prefix+"token:"+key, raw, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		oldSave(t, c, prefix, "sealed-x", prev, newAEAD(t))
		for key, want := range map[string]error{
			"corrupt":  oauthrt.ErrCorruptToken,
			"empty":    oauthrt.ErrCorruptToken,
			"sealed-x": oauthrt.ErrDecrypt, // encrypted, and s has no AEAD
		} {
			before := c.Get(ctx, prefix+"token:"+key).Val()
			err := s.Commit(ctx, key, prev, next)
			wantConflict(t, err, "Commit over an unreadable value under "+key)
			if !errors.Is(err, want) {
				t.Errorf("Commit over an unreadable value under %s: err = %v, want it to wrap %v too", key, err, want)
			}
			if err != nil && strings.Contains(err.Error(), "at-x") {
				t.Errorf("Commit over an unreadable value under %s: err = %q holds the value", key, err)
			}
			if got := c.Get(ctx, prefix+"token:"+key).Val(); got != before {
				t.Errorf("Commit over an unreadable value under %s replaced it", key)
			}
		}
		// A plain value is unreadable to a Store with an AEAD.
		oldSave(t, c, prefix, "plain-x", prev, nil)
		if err := sealed.Commit(ctx, "plain-x", prev, next); !errors.Is(err, oauthrt.ErrCommitConflict) || !errors.Is(err, oauthrt.ErrDecrypt) {
			t.Errorf("Commit with an AEAD over a plain value: err = %v, want a conflict wrapping ErrDecrypt", err)
		}
	})
}

// TestCommitStaleRecord covers a rolling upgrade: a process of the
// previous release saves a token over one this release committed, and
// leaves the fingerprint record of the replaced token beside it. A Commit
// over the replaced token must still conflict: the record no longer
// describes the stored bytes, so Commit does not trust it.
func TestCommitStaleRecord(t *testing.T) {
	c := newClient(t)
	prefix := newPrefix(t, c)
	ctx := context.Background()
	for _, aead := range []cipher.AEAD{nil, newAEAD(t)} {
		s := &redisstore.Store{Client: c, Prefix: prefix, AEAD: aead}
		a := &oauth2.Token{AccessToken: "at-a", RefreshToken: "rt-a"}
		if err := s.Save(ctx, "k", a); err != nil {
			t.Fatal(err)
		}
		b := &oauth2.Token{AccessToken: "at-b", RefreshToken: "rt-b"}
		oldSave(t, c, prefix, "k", b, aead)
		wantConflict(t, s.Commit(ctx, "k", a, &oauth2.Token{AccessToken: "at-late"}), "Commit over a token an old process replaced")
		wantToken(t, s, "k", "at-b")
		if err := s.Commit(ctx, "k", b, &oauth2.Token{AccessToken: "at-c"}); err != nil {
			t.Fatalf("Commit over the old process's token: %v", err)
		}
		wantToken(t, s, "k", "at-c")
	}
}

func TestCommitNilToken(t *testing.T) {
	c := newClient(t)
	s := &redisstore.Store{Client: c, Prefix: newPrefix(t, c)}
	err := s.Commit(context.Background(), "k", nil, nil)
	if err == nil || errors.Is(err, oauthrt.ErrCommitConflict) || !strings.HasPrefix(err.Error(), "oauthrt: redisstore: ") {
		t.Errorf("Commit of a nil token: err = %v, want a redisstore error that is not a conflict", err)
	}
	if _, err := s.Load(context.Background(), "k"); !errors.Is(err, oauthrt.ErrNoToken) {
		t.Errorf("after a Commit of a nil token: Load err = %v, want ErrNoToken", err)
	}
}
