package oauthrt

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// The MemoryStore makes its token map at the size it is about to need,
// twice the keys it holds, rather than let it grow one key at a time
// (see putLocked); no key is lost in the moves, a key saved again takes
// no room, and Commit and Save make room alike.
func TestMemoryStoreMakesRoomAhead(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore()
	const n = 1000
	for i := range n {
		k := fmt.Sprintf("key-%d", i)
		var err error
		if i%2 == 0 {
			err = s.Save(ctx, k, &oauth2.Token{AccessToken: "a" + k})
		} else {
			err = s.Commit(ctx, k, nil, &oauth2.Token{AccessToken: "a" + k})
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Save(ctx, k, &oauth2.Token{AccessToken: "b" + k}); err != nil {
			t.Fatal(err)
		}
		if want := roomFor(i + 1); s.tokens.room != want {
			t.Fatalf("after %d keys the map was made for %d, want %d", i+1, s.tokens.room, want)
		}
	}
	for i := range n {
		k := fmt.Sprintf("key-%d", i)
		tok, err := s.Load(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if tok.AccessToken != "b"+k {
			t.Fatalf("%s: got another token than the one saved last", k)
		}
	}
}

// roomFor is the smallest power of two times 64 that holds n keys.
func roomFor(n int) int {
	r := 64
	for r < n {
		r *= 2
	}
	return r
}

// The MemoryStore keeps its tokens by value, in chunks: storing a token
// adds no object of its own to the heap (the collector marks every one
// of them on every cycle, which at a million keys was most of the
// store's cost to the requests of the process), and a token loaded is
// the caller's copy.
func TestMemoryStoreKeepsTokensInline(t *testing.T) {
	ctx := context.Background()
	const n = 20000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%d", i)
	}
	tok := &oauth2.Token{AccessToken: "at", RefreshToken: "rt", TokenType: "Bearer"}
	s := NewMemoryStore()
	before := liveObjects()
	for _, k := range keys {
		if err := s.Save(ctx, k, tok); err != nil {
			t.Fatal(err)
		}
	}
	added := liveObjects() - before
	// The map's tables and the chunks are a few hundred objects at this
	// size; a pointer per token would add n.
	if added > n/10 {
		t.Errorf("storing %d tokens added %d objects to the heap, want fewer than %d", n, added, n/10)
	}
	got, err := s.Load(ctx, keys[0])
	if err != nil {
		t.Fatal(err)
	}
	got.AccessToken = "changed by the caller"
	if again, _ := s.Load(ctx, keys[0]); again.AccessToken != "at" {
		t.Errorf("a change to a loaded token reached the store: %q", again.AccessToken)
	}
	runtime.KeepAlive(s)
}

// liveObjects returns how many objects the heap holds after a collection.
func liveObjects() int {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int(ms.HeapObjects)
}

// A key deleted from a MemoryStore gives its slot to the next new key:
// the deleted key has no token any more, the new key has its own, no
// other key's token moved, and the store handed out no slot more than
// the keys it held at most.
func TestMemoryStoreReusesDeletedSlots(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore()
	const n = 3*chunkTokens + 7
	want := map[string]string{}
	for i := range n {
		k := fmt.Sprintf("key-%d", i)
		want[k] = "at-" + k
		if err := s.Save(ctx, k, &oauth2.Token{AccessToken: want[k], RefreshToken: "rt-" + k}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i += 2 {
		k := fmt.Sprintf("key-%d", i)
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
		delete(want, k)
		if tok, err := s.Load(ctx, k); !errors.Is(err, ErrNoToken) {
			t.Fatalf("%s: deleted, yet Load gave a token (%v) and err %v", k, tok != nil, err)
		}
	}
	for i := range n / 2 {
		k := fmt.Sprintf("new-%d", i)
		want[k] = "at-" + k
		if err := s.Commit(ctx, k, nil, &oauth2.Token{AccessToken: want[k]}); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.tokens.handedOut(); got != n {
		t.Errorf("the store handed out %d slots for at most %d keys at once", got, n)
	}
	if got := s.tokens.len(); got != len(want) {
		t.Errorf("the store holds %d keys, want %d", got, len(want))
	}
	for k, at := range want {
		tok, err := s.Load(ctx, k)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if tok.AccessToken != at {
			t.Fatalf("%s: got the token of another key", k)
		}
		if strings.HasPrefix(k, "new-") && tok.RefreshToken != "" {
			t.Fatalf("%s: its slot kept the refresh token of the key deleted from it", k)
		}
	}
}
