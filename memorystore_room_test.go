package oauthrt

import (
	"context"
	"fmt"
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
		if want := roomFor(i + 1); s.room != want {
			t.Fatalf("after %d keys the map was made for %d, want %d", i+1, s.room, want)
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
