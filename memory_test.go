package oauthrt_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// The state a Transport keeps for each key fits the allocator's 80-byte
// size class. With many keys it is most of what a key costs
// (BenchmarkManyKeys), and one field more moves every key to the next
// class, 96 bytes: what few keys need belongs in the state's rare part,
// which most keys never allocate (TestRareStateOnlyWhileNeeded).
func TestKeyStateSize(t *testing.T) {
	const limit = 80
	if got := oauthrt.KeyStateSize; got > limit {
		t.Errorf("a key's state takes %d bytes, want at most %d", got, limit)
	}
}

// A key's cached token, which holds the Transport's copy of the token,
// fits the allocator's 144-byte size class: every key in use holds one,
// and one field more would move it to the 160-byte class. What few tokens
// need (DPoP, a token the store has yet to take) sits behind its extras
// pointer.
func TestCachedTokenSize(t *testing.T) {
	const limit = 144
	if got := oauthrt.CachedSize; got > limit {
		t.Errorf("a cached token takes %d bytes, want at most %d", got, limit)
	}
}

// A key whose token is loaded and then refreshed keeps no rare state,
// also under a store's lease and commit; one whose refreshed token the
// store refused keeps it until the store takes the token, and then lets
// it go.
func TestRareStateOnlyWhileNeeded(t *testing.T) {
	step := func(t *testing.T, f *fixture, what string, wantRare bool) {
		t.Helper()
		if code, _ := f.get(t); code != 200 {
			t.Fatalf("%s: status %d", what, code)
		}
		waitNoFlight(t, f.tr, "k")
		if got := oauthrt.HasRareState(f.tr, "k"); got != wantRare {
			t.Errorf("%s: rare state kept: %v, want %v", what, got, wantRare)
		}
	}
	t.Run("store with leases and commits", func(t *testing.T) {
		f := newFixture(t)
		store := oauthrt.NewMemoryStore()
		store.Save(context.Background(), "k", f.store.mustLoad(t, "k"))
		f.tr.Store = store
		step(t, f, "first load", false)
		f.clock.Advance(time.Hour)
		step(t, f, "refresh", false)
		if n := f.issuer.calls.Load(); n != 1 {
			t.Fatalf("%d refreshes, want 1", n)
		}
	})
	t.Run("store that fails", func(t *testing.T) {
		f := newFixture(t)
		step(t, f, "first load", false)
		f.clock.Advance(time.Hour)
		step(t, f, "refresh", false)

		f.store.failSaves(errBoom)
		f.clock.Advance(time.Hour)
		step(t, f, "refresh whose token the store refused", true)
		if n := f.issuer.calls.Load(); n != 2 {
			t.Fatalf("%d refreshes, want 2", n)
		}
		f.store.saveErr.Store(nil)
		f.clock.Advance(2 * time.Second) // past the first save's backoff
		step(t, f, "the token saved again", false)
		if got := f.store.mustLoad(t, "k").AccessToken; got != "at-3" {
			t.Errorf("store holds %s, want at-3", got)
		}
	})
}

// maxKeyBytes bounds the heap one key in use takes in a Transport beyond
// its access token's bytes: BenchmarkManyKeys measured 295 bytes over a
// MemoryStore (the key's state, its cached token with the Transport's
// copy of the token, its Authorization value, and its entry in the
// Transport's map) and 331 over a store that hands out a new token at
// each Load (which the cached copy replaces), and about 10% more leaves
// room for the maps to stand at another point of their growth.
const maxKeyBytes = 365

// A Transport holding 20,000 keys in use takes at most maxKeyBytes of heap
// per key beyond the access token, and keeps each access token's bytes
// once: with access tokens of jwtSize bytes (as JWTs are) from a store
// that decodes a new token at each Load, as sqlstore and redisstore do, a
// key costs one access token more, not two.
func TestHeapPerKey(t *testing.T) {
	if testing.Short() {
		t.Skip("uses 20,000 keys")
	}
	keys := tenantKeys(20_000)
	for _, tc := range []struct {
		name   string
		access int // the access tokens' length
		store  func(oauthrt.TokenStore) oauthrt.TokenStore
	}{
		{"memory store", 0, func(s oauthrt.TokenStore) oauthrt.TokenStore { return s }},
		{"decoding store, JWT-sized access tokens", jwtSize, func(s oauthrt.TokenStore) oauthrt.TokenStore { return copyingStore{s} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tokens := func(i int) *oauth2.Token {
				tok := validToken(i)
				if tc.access > 0 {
					tok.AccessToken += strings.Repeat("x", tc.access-len(tok.AccessToken))
				}
				return tok
			}
			_, before, used := keysInUse(t, keys, time.Now(), tokens, tc.store)
			perKey := float64(used-before) / float64(len(keys))
			t.Logf("heap: %.0f B per key", perKey)
			if limit := tc.access + maxKeyBytes; perKey > float64(limit) {
				t.Errorf("%.0f B of heap per key in use, want at most %d", perKey, limit)
			}
		})
	}
	runtime.KeepAlive(keys) // the strings are the store's too: not the Transport's to count
}

// tenantKeys returns n keys.
func tenantKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("tenant-%06d", i)
	}
	return keys
}

// manyKeysInUse saves a valid token under each of keys in a new
// MemoryStore, makes a Transport over it whose clock stays at now, and
// sends one request for each key through it. It returns the Transport,
// closed when the test ends, and the live heap before the Transport was
// made and after the requests.
func manyKeysInUse(t *testing.T, keys []string, now time.Time) (tr *oauthrt.Transport, before, used int64) {
	t.Helper()
	return keysInUse(t, keys, now, validToken, func(s oauthrt.TokenStore) oauthrt.TokenStore { return s })
}

// keysInUse is manyKeysInUse with the token tokens(i) under keys[i], and
// the Transport's store wrapped by wrap.
func keysInUse(t *testing.T, keys []string, now time.Time, tokens func(int) *oauth2.Token, wrap func(oauthrt.TokenStore) oauthrt.TokenStore) (tr *oauthrt.Transport, before, used int64) {
	t.Helper()
	store := oauthrt.NewMemoryStore()
	for i, k := range keys {
		if err := store.Save(context.Background(), k, tokens(i)); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(http.MethodGet, "https://api.example/", nil)
	if err != nil {
		t.Fatal(err)
	}
	before = heapInUse()
	tr = &oauthrt.Transport{Base: newCanned(), Store: wrap(store), Refresher: oauthrt.RefresherFunc(nil), RefreshAhead: -1,
		IdleKeyTimeout: time.Minute, Now: func() time.Time { return now }}
	t.Cleanup(func() { tr.Close() })
	for _, k := range keys {
		if _, err := tr.RoundTrip(req.WithContext(oauthrt.WithKey(context.Background(), k))); err != nil {
			t.Fatal(err)
		}
	}
	return tr, before, heapInUse()
}
