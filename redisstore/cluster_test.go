package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/redisstore"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
)

// spreadKeys returns store keys whose token keys, under prefix, live on
// different masters of the cluster: one on each.
func spreadKeys(t *testing.T, c *redis.ClusterClient, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	var n atomic.Int32 // ForEachMaster calls its function concurrently
	if err := c.ForEachMaster(ctx, func(context.Context, *redis.Client) error { n.Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	masters := int(n.Load())
	if masters < 2 {
		t.Fatalf("the cluster has %d master, want several", masters)
	}
	byNode := map[string]string{}
	var keys []string
	for i := 0; len(byNode) < masters; i++ {
		if i == 10000 {
			t.Fatalf("10000 keys reach %d of the %d masters", len(byNode), masters)
		}
		k := fmt.Sprintf("spread-%d", i)
		n, err := c.MasterForKey(ctx, prefix+"token:"+k)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := byNode[n.Options().Addr]; !ok {
			byNode[n.Options().Addr] = k
			keys = append(keys, k)
		}
	}
	return keys
}

// TestClusterKeys runs every operation of the Store on Redis Cluster, for
// keys on every master, keys holding braces (which must not move the keys
// a script touches to different slots), and prefixes with braces of their
// own.
func TestClusterKeys(t *testing.T) {
	c := newClusterClient(t)
	base := newPrefix(t, c)
	keys := append(spreadKeys(t, c, base), "", "{", "}", "{}", "}{", "{a}b", "a{b}c", "\xff{\x00}", strings.Repeat("{k}", 10<<10))
	for _, variant := range []string{"", "{app}:", "app{", "a{}b:"} {
		prefix := base + variant
		t.Run(fmt.Sprintf("prefix %q", variant), func(t *testing.T) {
			s := &redisstore.Store{Client: c, Prefix: prefix, LeaseTTL: 10 * time.Second}
			for i, k := range keys {
				exercise(t, c, s, k, fmt.Sprintf("key %d", i))
			}
		})
	}
}

// exercise runs every operation of s on key, and checks their results.
func exercise(t *testing.T, c redis.UniversalClient, s *redisstore.Store, key, name string) {
	t.Helper()
	ctx := context.Background()
	fail := func(what string, err error) {
		t.Helper()
		t.Errorf("%s: %s: %v", name, what, err)
	}
	a := &oauth2.Token{AccessToken: "at-a", RefreshToken: "rt-a"}
	b := &oauth2.Token{AccessToken: "at-b", RefreshToken: "rt-b"}
	if err := s.Commit(ctx, key, nil, a); err != nil {
		fail("Commit into the empty key", err)
		return
	}
	if err := s.SaveGrantState(ctx, key, oauthrt.GrantState{Failures: 1}); err != nil {
		fail("SaveGrantState", err)
	}
	if err := s.Commit(ctx, key, a, b); err != nil {
		fail("Commit", err)
	}
	if err := s.Commit(ctx, key, a, a); !errors.Is(err, oauthrt.ErrCommitConflict) {
		fail("Commit over a replaced token: want a conflict", err)
	}
	if st, err := s.LoadGrantState(ctx, key); err != nil || !st.IsZero() {
		fail(fmt.Sprintf("LoadGrantState after Commit = %+v", st), err)
	}
	// A token of the previous release, without a fingerprint record.
	if err := c.Set(ctx, s.Prefix+"token:"+key, `{"access_token":"at-old","refresh_token":"rt-old"}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, key, &oauth2.Token{AccessToken: "at-old", RefreshToken: "rt-old"}, a); err != nil {
		fail("Commit over a token of the previous release", err)
	}
	if err := s.Save(ctx, key, b); err != nil {
		fail("Save", err)
	}
	if tok, err := s.Load(ctx, key); err != nil || tok.AccessToken != "at-b" {
		fail(fmt.Sprintf("Load = %v", tok), err)
	}

	l1, err := s.TakeLease(ctx, key)
	if err != nil {
		fail("TakeLease", err)
		return
	}
	if err := l1.Renew(ctx); err != nil {
		fail("Renew", err)
	}
	l1.Release()
	l2, err := s.TakeLease(ctx, key)
	if err != nil {
		fail("TakeLease after Release", err)
		return
	}
	defer l2.Release()
	if e1, e2 := l1.(oauthrt.FencedLease).Epoch(), l2.(oauthrt.FencedLease).Epoch(); e2 <= e1 {
		t.Errorf("%s: epoch %d after %d", name, e2, e1)
	}
}
