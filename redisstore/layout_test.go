package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tripcount"
	"github.com/oauthrt/oauthrt/redisstore"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
)

// layoutStores returns a Store on c for each layout, all under one
// prefix, with c's commands counted in the returned counter.
func layoutStores(t *testing.T, c redis.UniversalClient) (map[redisstore.LeaseLayout]*redisstore.Store, *tripcount.Counter) {
	t.Helper()
	n := &tripcount.Counter{}
	c.AddHook(tripcount.Hook(n))
	prefix := newPrefix(t, c)
	stores := map[redisstore.LeaseLayout]*redisstore.Store{}
	for _, l := range []redisstore.LeaseLayout{redisstore.LeasesApart, redisstore.LeasesMoving, redisstore.LeasesBeside} {
		stores[l] = &redisstore.Store{Client: c, Prefix: prefix, LeaseTTL: 10 * time.Second, Leases: l}
	}
	return stores, n
}

// clients returns a single node's client and a cluster's, each skipped
// when its variable is unset.
var layoutClients = map[string]func(t *testing.T) redis.UniversalClient{
	"node":    func(t *testing.T) redis.UniversalClient { return newClient(t) },
	"cluster": func(t *testing.T) redis.UniversalClient { return newClusterClient(t) },
}

// TestLeaseLayoutsExclude checks that a lease held under one layout keeps
// the processes of the layouts next to it from taking the key's lease,
// with TakeLease and with TakeLeaseIf, until it is released: LeasesApart
// and LeasesMoving, LeasesMoving and LeasesBeside, and each with itself.
func TestLeaseLayoutsExclude(t *testing.T) {
	pairs := [][2]redisstore.LeaseLayout{
		{redisstore.LeasesApart, redisstore.LeasesMoving},
		{redisstore.LeasesMoving, redisstore.LeasesApart},
		{redisstore.LeasesMoving, redisstore.LeasesBeside},
		{redisstore.LeasesBeside, redisstore.LeasesMoving},
		{redisstore.LeasesMoving, redisstore.LeasesMoving},
		{redisstore.LeasesBeside, redisstore.LeasesBeside},
	}
	for name, open := range layoutClients {
		t.Run(name, func(t *testing.T) {
			stores, _ := layoutStores(t, open(t))
			ctx := context.Background()
			for i, p := range pairs {
				holder, other := stores[p[0]], stores[p[1]]
				key := fmt.Sprintf("k%d", i)
				tok := &oauth2.Token{AccessToken: "at", RefreshToken: "rt"}
				if err := holder.Save(ctx, key, tok); err != nil {
					t.Fatal(err)
				}
				l, err := holder.TakeLease(ctx, key)
				if err != nil {
					t.Fatalf("%v: TakeLease: %v", p[0], err)
				}
				short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
				if l2, err := other.TakeLease(short, key); !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%v holds the lease; %v's TakeLease = %v, %v; want it to wait until its context ends", p[0], p[1], l2, err)
				}
				cancel()
				short, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
				if l2, _, err := other.TakeLeaseIf(short, key, tok); !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%v holds the lease; %v's TakeLeaseIf = %v, %v; want it to wait until its context ends", p[0], p[1], l2, err)
				}
				cancel()
				l.Release()
				l2, _, err := other.TakeLeaseIf(ctx, key, tok)
				if err != nil || l2 == nil {
					t.Fatalf("%v released the lease; %v's TakeLeaseIf = %v, %v; want the lease", p[0], p[1], l2, err)
				}
				l2.Release()
			}
		})
	}
}

// TestLeaseLayoutsEpochs checks that the epochs of a key's leases keep
// growing as a fleet moves from LeasesApart through LeasesMoving to
// LeasesBeside, whichever layout takes the next lease: the first lease
// beside the token starts above the epochs of LeasesApart, and a lease
// of LeasesApart after one of LeasesMoving is above it.
func TestLeaseLayoutsEpochs(t *testing.T) {
	a, m, b := redisstore.LeasesApart, redisstore.LeasesMoving, redisstore.LeasesBeside
	for name, open := range layoutClients {
		t.Run(name, func(t *testing.T) {
			stores, _ := layoutStores(t, open(t))
			ctx := context.Background()
			for i, order := range [][]redisstore.LeaseLayout{
				{a, a, a, b, b},       // straight to LeasesBeside (a fleet that stopped)
				{a, a, m, a, m, m, a}, // the move's first step
				{a, m, b, m, b, b, m}, // and its second
				{m, m, b},
				{b, m, a},
			} {
				key := fmt.Sprintf("k%d", i)
				var last uint64
				for j, layout := range order {
					l, err := stores[layout].TakeLease(ctx, key)
					if err != nil {
						t.Fatalf("%v: lease %d: TakeLease under %v: %v", order, j, layout, err)
					}
					e := l.(oauthrt.FencedLease).Epoch()
					l.Release()
					if e <= last {
						t.Errorf("%v: lease %d, under %v, has epoch %d after %d", order, j, layout, e, last)
					}
					last = e
				}
			}
		})
	}
}

// TestLeasesBesideOnCluster checks what LeasesBeside is for: on Redis
// Cluster, with the default key names, a refresh costs TakeLeaseIf and
// CommitRelease one script each, as on a single node, where LeasesApart
// costs two commands each, the first refresh of a key as any other.
// LeasesMoving costs what LeasesApart does: the other lease's take and
// release.
func TestLeasesBesideOnCluster(t *testing.T) {
	c := newClusterClient(t)
	stores, n := layoutStores(t, c)
	ctx := context.Background()
	refresh := func(layout redisstore.LeaseLayout, key string, prev, next *oauth2.Token) int64 {
		t.Helper()
		before := n.Trips()
		l, snap, err := stores[layout].TakeLeaseIf(ctx, key, prev)
		if err != nil || l == nil || snap.Token == nil || snap.Token.AccessToken != prev.AccessToken {
			t.Fatalf("%v: TakeLeaseIf = %v, %+v, %v; want the lease over the stored token", layout, l, snap, err)
		}
		if err := l.(oauthrt.CommitReleaser).CommitRelease(ctx, prev, next); err != nil {
			t.Fatalf("%v: CommitRelease: %v", layout, err)
		}
		return n.Trips() - before
	}
	tok := func(i int) *oauth2.Token {
		return &oauth2.Token{AccessToken: fmt.Sprint("at-", i), RefreshToken: fmt.Sprint("rt-", i)}
	}
	for _, tc := range []struct {
		layout        redisstore.LeaseLayout
		first, second int64
	}{
		{redisstore.LeasesApart, 4, 4},
		{redisstore.LeasesBeside, 2, 2},
		{redisstore.LeasesMoving, 4, 4},
	} {
		key := "k-" + tc.layout.String()
		if err := stores[tc.layout].Save(ctx, key, tok(0)); err != nil {
			t.Fatal(err)
		}
		if got := refresh(tc.layout, key, tok(0), tok(1)); got != tc.first {
			t.Errorf("%v: the first refresh of a key cost %d commands, want %d", tc.layout, got, tc.first)
		}
		if got := refresh(tc.layout, key, tok(1), tok(2)); got != tc.second {
			t.Errorf("%v: a refresh cost %d commands, want %d", tc.layout, got, tc.second)
		}
		if got, err := stores[tc.layout].Load(ctx, key); err != nil || got.AccessToken != tok(2).AccessToken {
			t.Errorf("%v: after two refreshes the store holds %v, %v", tc.layout, got, err)
		}
	}
}

// TestLeaseLayoutInvalid checks that a Store whose Leases is none of the
// layouts refuses to take leases, with an error that names the field.
func TestLeaseLayoutInvalid(t *testing.T) {
	s := &redisstore.Store{Client: newClient(t), Leases: redisstore.LeaseLayout(7)}
	ctx := context.Background()
	if _, err := s.TakeLease(ctx, "k"); err == nil || !containsAll(err.Error(), "redisstore", "Leases", "LeaseLayout(7)") {
		t.Errorf("TakeLease: %v", err)
	}
	if _, _, err := s.TakeLeaseIf(ctx, "k", nil); err == nil || !containsAll(err.Error(), "redisstore", "Leases") {
		t.Errorf("TakeLeaseIf: %v", err)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
