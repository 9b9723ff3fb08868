package redisstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tripcount"
	"github.com/oauthrt/oauthrt/redisstore"
	"golang.org/x/oauth2"
)

// TestInspectOnePipeline counts what a page of Inspect sends: the SCAN
// calls of the same page of ListKeys, and one pipeline that reads the
// token, grant state, lease and epoch of all its keys.
func TestInspectOnePipeline(t *testing.T) {
	c := newClient(t)
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

	before := sent.Trips()
	keys, _, err := s.ListKeys(ctx, "k-", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	listed := sent.Trips() - before
	before = sent.Trips()
	recs, _, err := s.Inspect(ctx, "k-", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := sent.Trips() - before; got != listed+1 {
		t.Errorf("a page of Inspect sent %d commands and pipelines; want the %d SCAN calls of ListKeys and one pipeline", got, listed)
	}
	if len(recs) != len(keys) || len(recs) != 20 {
		t.Fatalf("Inspect returned %d records and ListKeys %d keys; want 20 each", len(recs), len(keys))
	}
	for _, r := range recs {
		if r.Token == nil || r.State.Failures != 1 || (r.Key == "k-03") != (r.Lease.Holder != "") {
			t.Errorf("record of %q: token %v, state %+v, lease %+v", r.Key, r.Token != nil, r.State, r.Lease)
		}
	}
}
