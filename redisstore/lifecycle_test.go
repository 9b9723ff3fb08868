package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/redisstore"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
)

// walkKeys lists every key of s under prefix, limit a page, as a sorted
// set.
func walkKeys(t *testing.T, s *redisstore.Store, prefix string, limit int) []string {
	t.Helper()
	seen := map[string]bool{}
	cursor := ""
	for page := 0; ; page++ {
		if page == 10000 {
			t.Fatal("ListKeys: the walk did not end")
		}
		keys, next, err := s.ListKeys(context.Background(), prefix, cursor, limit)
		if err != nil {
			t.Fatalf("ListKeys(%q), page %d: %v", prefix, page, err)
		}
		for _, k := range keys {
			seen[k] = true
		}
		if next == "" {
			return slices.Sorted(maps.Keys(seen))
		}
		cursor = next
	}
}

// walkStates lists every grant state of s under prefix, limit a page.
func walkStates(t *testing.T, s *redisstore.Store, prefix string, limit int) map[string]oauthrt.GrantState {
	t.Helper()
	seen := map[string]oauthrt.GrantState{}
	cursor := ""
	for page := 0; ; page++ {
		if page == 10000 {
			t.Fatal("ListGrantStates: the walk did not end")
		}
		states, next, err := s.ListGrantStates(context.Background(), prefix, cursor, limit)
		if err != nil {
			t.Fatalf("ListGrantStates(%q), page %d: %v", prefix, page, err)
		}
		for _, ks := range states {
			seen[ks.Key] = ks.State
		}
		if next == "" {
			return seen
		}
		cursor = next
	}
}

// TestListPrefixVariants lists keys and grant states under Store prefixes
// with braces and glob characters of their own, on a single node and on
// a cluster, for keys with braces: every prefix makes the companion keys'
// names differently, and the names of a store with another prefix must
// not be taken for its own.
func TestListPrefixVariants(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client func(t *testing.T) redis.UniversalClient
	}{
		{"node", func(t *testing.T) redis.UniversalClient { return newClient(t) }},
		{"cluster", func(t *testing.T) redis.UniversalClient { return newClusterClient(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.client(t)
			base := newPrefix(t, c)
			ctx := context.Background()
			keys := []string{"", "{", "}", "{}", "}{", "{a}b", "a{b}c", "\xff{\x00}", "state:x", "token:x", "k*?[]\\"}
			variants := []string{"", "{app}:", "app{", "a{}b:", "g*?[]\\:"}
			stores := map[string]*redisstore.Store{}
			for _, v := range variants {
				s := &redisstore.Store{Client: c, Prefix: base + v}
				stores[v] = s
				for i, k := range keys {
					if err := s.Save(ctx, k, &oauth2.Token{AccessToken: "at", RefreshToken: "rt"}); err != nil {
						t.Fatal(err)
					}
					if err := s.SaveGrantState(ctx, k, oauthrt.GrantState{Failures: i + 1}); err != nil {
						t.Fatal(err)
					}
				}
				if err := s.Delete(ctx, "}{"); err != nil {
					t.Fatal(err)
				}
			}
			want := slices.Sorted(slices.Values(slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return k == "}{" })))
			for _, v := range variants {
				s := stores[v]
				if got := walkKeys(t, s, "", 1); !slices.Equal(got, want) {
					t.Errorf("prefix %q: ListKeys = %q, want %q", v, got, want)
				}
				if got := walkKeys(t, s, "{", 2); !slices.Equal(got, []string{"{", "{a}b", "{}"}) {
					t.Errorf("prefix %q: ListKeys under \"{\" = %q", v, got)
				}
				states := walkStates(t, s, "", 1)
				if got := slices.Sorted(maps.Keys(states)); !slices.Equal(got, want) {
					t.Errorf("prefix %q: ListGrantStates lists %q, want %q", v, got, want)
				}
				for i, k := range keys {
					if st, ok := states[k]; ok && st.Failures != i+1 {
						t.Errorf("prefix %q: ListGrantStates gives %q the state %+v, want Failures %d", v, k, st, i+1)
					}
				}
			}
		})
	}
}

// TestListNeedsOnlyScan lists through a Redis user that may run SCAN and
// read the grant state keys under the Store's prefix, and nothing else:
// no KEYS, and no GET of a token. The listings must work with that.
func TestListNeedsOnlyScan(t *testing.T) {
	admin := newClient(t)
	prefix := newPrefix(t, admin)
	ctx := context.Background()
	owner := &redisstore.Store{Client: admin, Prefix: prefix}
	var keys []string
	for i := range 30 {
		k := fmt.Sprintf("k%02d", i)
		keys = append(keys, k)
		if err := owner.Save(ctx, k, &oauth2.Token{AccessToken: "at", RefreshToken: "rt"}); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if err := owner.SaveGrantState(ctx, k, oauthrt.GrantState{Failures: 1, FailingSince: time.Unix(1, 0)}); err != nil {
				t.Fatal(err)
			}
		}
	}

	user, password := "oauthrt-test-"+randomHex(t), randomHex(t)
	if err := admin.Do(ctx, "ACL", "SETUSER", user, "on", ">"+password, "resetkeys", "resetchannels",
		"-@all", "+@connection", "+scan", "+get", "%R~"+escapeGlob(prefix)+"{*").Err(); err != nil {
		t.Skipf("this Redis takes no ACL with read-only key patterns (Redis 7): %v", err)
	}
	t.Cleanup(func() { admin.Do(context.Background(), "ACL", "DELUSER", user) })
	limited := redis.NewClient(&redis.Options{Addr: admin.Options().Addr, Username: user, Password: password})
	t.Cleanup(func() { limited.Close() })
	s := &redisstore.Store{Client: limited, Prefix: prefix}

	if _, err := s.Load(ctx, "k00"); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("Load through the limited user: err = %v, want NOPERM: the ACL does not bite", err)
	}
	if err := limited.Keys(ctx, escapeGlob(prefix)+"*").Err(); err == nil {
		t.Fatal("KEYS through the limited user succeeded: the ACL does not bite")
	}
	if got := walkKeys(t, s, "", 4); !slices.Equal(got, keys) {
		t.Errorf("ListKeys = %q, want %q", got, keys)
	}
	states := walkStates(t, s, "k1", 2)
	if got, want := slices.Sorted(maps.Keys(states)), []string{"k12", "k15", "k18"}; !slices.Equal(got, want) {
		t.Errorf("ListGrantStates under \"k1\" lists %q, want %q", got, want)
	}
	if st := states["k12"]; !st.FailingSince.Equal(time.Unix(1, 0)) || st.Failures != 1 {
		t.Errorf("ListGrantStates gives k12 the state %+v", st)
	}
}

// TestListClusterCursor pages through a cluster's masters one key at a
// time, and checks that a cursor of a walk begun under another slot map
// is refused rather than continued: the walk could miss keys.
func TestListClusterCursor(t *testing.T) {
	c := newClusterClient(t)
	prefix := newPrefix(t, c)
	ctx := context.Background()
	s := &redisstore.Store{Client: c, Prefix: prefix}
	keys := spreadKeys(t, c, prefix)
	for _, k := range keys {
		if err := s.Save(ctx, k, &oauth2.Token{AccessToken: "at"}); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := walkKeys(t, s, "", 1), slices.Sorted(slices.Values(keys)); !slices.Equal(got, want) {
		t.Errorf("ListKeys over the masters = %q, want %q", got, want)
	}

	_, next, err := s.ListKeys(ctx, "", "", 1)
	if err != nil || next == "" {
		t.Fatalf("first page: next %q, err %v; want a cursor", next, err)
	}
	fields := strings.SplitN(next, ".", 3)
	if len(fields) != 3 || len(fields[1]) != 16 {
		t.Fatalf("cursor %q is not c1.<fingerprint>.…", next)
	}
	moved := fields[0] + "." + strings.Repeat("0", 16) + "." + fields[2]
	if _, _, err := s.ListKeys(ctx, "", moved, 1); err == nil || !strings.Contains(err.Error(), "walk again") {
		t.Errorf("ListKeys from a cursor of another slot map: err = %v, want one saying to walk again", err)
	}
	if _, _, err := (&redisstore.Store{Client: newClient(t), Prefix: prefix}).ListKeys(ctx, "", next, 1); err == nil {
		t.Error("a single node took a cluster's cursor")
	}
}

// TestDeleteKeepsEpoch: Delete removes the token, its fingerprint record
// and its grant state, and leaves the lease and the epoch counter.
func TestDeleteKeepsEpoch(t *testing.T) {
	c := newClient(t)
	prefix := newPrefix(t, c)
	ctx := context.Background()
	s := &redisstore.Store{Client: c, Prefix: prefix, LeaseTTL: 10 * time.Second}
	if err := s.Save(ctx, "k", &oauth2.Token{AccessToken: "at"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveGrantState(ctx, "k", oauthrt.GrantState{Failures: 1}); err != nil {
		t.Fatal(err)
	}
	l, err := s.TakeLease(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	before := keysUnder(t, c, prefix)
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	after := keysUnder(t, c, prefix)
	if len(before) != 5 || len(after) != 2 {
		t.Fatalf("keys before Delete %q, after %q; want 5, then the lease and the epoch counter", before, after)
	}
	for _, k := range after {
		if !strings.HasPrefix(k, prefix+"lease:") && !strings.Contains(k, "}epoch:") {
			t.Errorf("Delete left %q", k)
		}
	}
	if err := l.Renew(ctx); err != nil {
		t.Errorf("Renew of a lease held across Delete: %v", err)
	}
	if _, err := s.Load(ctx, "k"); !errors.Is(err, oauthrt.ErrNoToken) {
		t.Errorf("Load after Delete: %v", err)
	}
}
