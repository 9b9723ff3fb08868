package redisstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tripcount"
	"github.com/oauthrt/oauthrt/redisstore"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
)

// TestInspectOnePipeline counts what a page of Inspect sends: the SCAN
// calls of the same page of ListKeys, and one pipeline that reads the
// token, grant state, lease and epoch of all its keys.
func TestInspectOnePipeline(t *testing.T) {
	// A logical database of its own, which no other test writes: SCAN
	// walks the whole keyspace, and keys that other packages' tests add
	// meanwhile would change how many calls a walk takes between the two
	// walks compared below.
	c := redis.NewClient(&redis.Options{Addr: newClient(t).Options().Addr, DB: 11})
	t.Cleanup(func() { c.Close() })
	var sent tripcount.Counter
	c.AddHook(tripcount.Hook(&sent))
	s := &redisstore.Store{Client: c, Prefix: newPrefix(t, c)}
	ctx := context.Background()
	for i := range 20 {
		key := fmt.Sprintf("k-%02d", i)
		if err := s.Save(ctx, key, &oauth2.Token{AccessToken: "at"}); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveGrantState(ctx, key, oauthrt.GrantState{Failures: 1}); err != nil {
			t.Fatal(err)
		}
	}
	lease, err := s.TakeLease(ctx, "k-03")
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()

	// SCAN may spread the keys over several pages, even in a small
	// keyspace (other tests' keys share the server): walk every page of
	// both, and count one pipeline more than ListKeys for each page of
	// Inspect that holds a key.
	before := sent.Trips()
	var keys []string
	for cursor := ""; ; {
		page, next, err := s.ListKeys(ctx, "k-", cursor, 100)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, page...)
		if cursor = next; cursor == "" {
			break
		}
	}
	listed := sent.Trips() - before
	before = sent.Trips()
	var recs []oauthrt.Record
	pages := 0
	for cursor := ""; ; {
		page, next, err := s.Inspect(ctx, "k-", cursor, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 0 {
			pages++
		}
		recs = append(recs, page...)
		if cursor = next; cursor == "" {
			break
		}
	}
	if got := sent.Trips() - before; got != listed+int64(pages) {
		t.Errorf("Inspect sent %d commands and pipelines over %d pages with keys; want the %d SCAN calls of ListKeys and one pipeline a page", got, pages, listed)
	}
	slices.SortFunc(recs, func(a, b oauthrt.Record) int { return strings.Compare(a.Key, b.Key) })
	recs = slices.CompactFunc(recs, func(a, b oauthrt.Record) bool { return a.Key == b.Key })
	slices.Sort(keys)
	keys = slices.Compact(keys)
	if len(recs) != len(keys) || len(recs) != 20 {
		t.Fatalf("Inspect returned %d keys and ListKeys %d; want 20 each", len(recs), len(keys))
	}
	for _, r := range recs {
		if r.Token == nil || r.State.Failures != 1 || (r.Key == "k-03") != (r.Lease.Holder != "") {
			t.Errorf("record of %q: token %v, state %+v, lease %+v", r.Key, r.Token != nil, r.State, r.Lease)
		}
	}
}
