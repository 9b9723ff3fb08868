package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/keyring"
	"golang.org/x/oauth2"
)

// The keyring check holds a store to what rotating its key with a
// keyring.Ring needs: tokens sealed under the old key (by a ring, or by
// the key's bare AEAD before any ring) load with ring(new, old); every
// write seals with the ring's first key, a Save, a Commit and a lease's
// CommitRelease of the unchanged token alike (the last is how the
// oauthrt command's rekey rewrites a record); and with ring(new) alone,
// the tokens written again load and the others fail with ErrDecrypt.

// ringOf returns the ring of keys made from the seeds, the first one
// primary.
func ringOf(t *testing.T, ids string, seeds ...byte) *keyring.Ring {
	t.Helper()
	keys := make([]keyring.Key, len(seeds))
	for i, seed := range seeds {
		keys[i] = keyring.Key{ID: ids[i : i+1], AEAD: newAEAD(t, seed)}
	}
	r, err := keyring.New(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func testKeyringRotation(t *testing.T, b Backend) {
	if b.NoEncryption {
		t.Skip("the store has no encryption at rest")
	}
	ctx := context.Background()
	tok := func(k string, n string) *oauth2.Token {
		t := fullToken()
		t.AccessToken, t.RefreshToken = "at-"+k+"-"+n, "rt-"+k+"-"+n
		return t
	}
	const oldSeed, newSeed = 21, 22
	before := b.Open(Options{AEAD: ringOf(t, "o", oldSeed)})
	for _, k := range []string{"saved", "committed", "resealed", "untouched"} {
		save(t, before, k, tok(k, "1"))
	}
	save(t, b.Open(Options{AEAD: newAEAD(t, oldSeed)}), "bare", tok("bare", "1"))

	during := b.Open(Options{AEAD: ringOf(t, "no", newSeed, oldSeed)})
	for _, k := range []string{"saved", "committed", "resealed", "untouched", "bare"} {
		sameToken(t, load(t, during, k), tok(k, "1"))
	}
	save(t, during, "saved", tok("saved", "2"))
	written := map[string]*oauth2.Token{"saved": tok("saved", "2")}
	if c, ok := during.(oauthrt.Committer); ok {
		commit(t, c, "committed", tok("committed", "1"), tok("committed", "2"))
		written["committed"] = tok("committed", "2")
	}
	if ll, ok := during.(oauthrt.LeaseLocker); ok {
		lease, err := ll.TakeLease(ctx, "resealed")
		if err != nil {
			t.Fatalf("TakeLease(resealed): %v", shorten(err))
		}
		cr := commitReleaser(t, lease)
		same := load(t, during, "resealed")
		if err := cr.CommitRelease(ctx, same, same); err != nil {
			t.Fatalf("CommitRelease of the unchanged token: %v", shorten(err))
		}
		written["resealed"] = tok("resealed", "1")
	}
	if in, ok := during.(oauthrt.Inspector); ok {
		for k, r := range walkRecords(t, in, "", 0) {
			want := "o"
			if written[k] != nil {
				want = "n"
			}
			if r.Err != nil || !r.Sealed || r.KeyID != want {
				t.Errorf("Inspect with ring(n, o): key %s: sealed %t, KeyID %q, err %v; want sealed with %q", showKey(k), r.Sealed, r.KeyID, shorten(r.Err), want)
			}
		}
	}

	after := b.Open(Options{AEAD: ringOf(t, "n", newSeed)})
	for k, want := range written {
		sameToken(t, load(t, after, k), want)
	}
	for _, k := range []string{"untouched", "bare"} {
		if got, err := after.Load(ctx, k); !errors.Is(err, oauthrt.ErrDecrypt) {
			t.Errorf("ring(n) alone: Load(%s) = %v, %v; want an error wrapping ErrDecrypt", showKey(k), got != nil, shorten(err))
		}
	}
}
