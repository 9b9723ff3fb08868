package redisstore_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/redisstore"
	"github.com/oauthrt/oauthrt/storetest"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
)

// newClient returns a client of the Redis named by OAUTHRT_TEST_REDIS, or
// skips the test. It is closed when the test ends.
func newClient(t *testing.T) *redis.Client {
	t.Helper()
	addr := os.Getenv("OAUTHRT_TEST_REDIS")
	if addr == "" {
		t.Skip("OAUTHRT_TEST_REDIS is not set: no Redis to test against")
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("OAUTHRT_TEST_REDIS=%s: %v", addr, err)
	}
	return c
}

// newClusterClient returns a client of the Redis Cluster whose nodes
// OAUTHRT_TEST_REDIS_CLUSTER lists (comma-separated host:port, as
// scripts/redis-cluster prints them), or skips the test. It is closed
// when the test ends.
func newClusterClient(t *testing.T) *redis.ClusterClient {
	t.Helper()
	addrs := os.Getenv("OAUTHRT_TEST_REDIS_CLUSTER")
	if addrs == "" {
		t.Skip("OAUTHRT_TEST_REDIS_CLUSTER is not set: no Redis Cluster to test against (scripts/redis-cluster starts one)")
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ",")})
	t.Cleanup(func() { c.Close() })
	if err := c.ForEachMaster(context.Background(), func(ctx context.Context, n *redis.Client) error {
		return n.Ping(ctx).Err()
	}); err != nil {
		t.Fatalf("OAUTHRT_TEST_REDIS_CLUSTER=%s: %v", addrs, err)
	}
	return c
}

// newPrefix returns a fresh key prefix, and deletes every key under it
// when the test ends (before the client is closed).
func newPrefix(t *testing.T, c redis.UniversalClient) string {
	t.Helper()
	prefix := "oauthrt-test:" + randomHex(t) + ":"
	t.Cleanup(func() { deleteUnder(t, c, prefix) })
	return prefix
}

// deleteUnder deletes every key under prefix.
func deleteUnder(t *testing.T, c redis.UniversalClient, prefix string) {
	t.Helper()
	ctx := context.Background()
	for _, k := range keysUnder(t, c, prefix) {
		if err := c.Del(ctx, k).Err(); err != nil {
			t.Errorf("deleting %q: %v", k, err)
		}
	}
}

func randomHex(t *testing.T) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// escapeGlob makes s match only itself in a Redis MATCH pattern.
func escapeGlob(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`*?[]\`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// keysUnder lists the Redis keys under prefix, on every master of a
// cluster.
func keysUnder(t *testing.T, c redis.UniversalClient, prefix string) []string {
	t.Helper()
	return keysMatching(t, c, escapeGlob(prefix)+"*")
}

// keysMatching lists the Redis keys that match the glob pattern, on every
// master of a cluster, in order.
func keysMatching(t *testing.T, c redis.UniversalClient, pattern string) []string {
	t.Helper()
	var mu sync.Mutex
	var keys []string
	scan := func(ctx context.Context, n redis.Cmdable) error {
		iter := n.Scan(ctx, 0, pattern, 100).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			keys = append(keys, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	ctx := context.Background()
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return scan(ctx, n) })
	} else {
		err = scan(ctx, c)
	}
	if err != nil {
		t.Fatalf("scanning the keys matching %q: %v", pattern, err)
	}
	slices.Sort(keys)
	return keys
}

// conformance runs the conformance suite against c, with the Store's
// leases in the layout given.
func conformance(t *testing.T, layout redisstore.LeaseLayout, newClient func(t *testing.T) redis.UniversalClient) {
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		c := newClient(t)
		prefix := newPrefix(t, c)
		ctx := context.Background()
		return storetest.Backend{
			Open: func(o storetest.Options) oauthrt.TokenStore {
				return &redisstore.Store{Client: c, Prefix: prefix, LeaseTTL: o.LeaseTTL, AEAD: o.AEAD, Leases: layout}
			},
			Raw: func(key string) ([]byte, error) {
				return c.Get(ctx, prefix+"token:"+key).Bytes()
			},
			Put: func(key string, raw []byte) error {
				return c.Set(ctx, prefix+"token:"+key, raw, 0).Err()
			},
		}
	})
}

func TestConformance(t *testing.T) {
	conformance(t, redisstore.LeasesApart, func(t *testing.T) redis.UniversalClient { return newClient(t) })
}

// TestClusterConformance holds the Store to the suite on Redis Cluster,
// where every script must keep to one hash slot. The suite's keys land on
// all three masters (TestClusterKeysSpread checks that).
func TestClusterConformance(t *testing.T) {
	clusterConformance(t, redisstore.LeasesApart)
}

// TestClusterConformanceLeasesBeside is TestClusterConformance with each
// key's lease in its token's slot.
func TestClusterConformanceLeasesBeside(t *testing.T) {
	clusterConformance(t, redisstore.LeasesBeside)
}

// TestClusterConformanceLeasesMoving is TestClusterConformance with each
// key's two leases, in their two slots, taken as one.
func TestClusterConformanceLeasesMoving(t *testing.T) {
	clusterConformance(t, redisstore.LeasesMoving)
}

func clusterConformance(t *testing.T, layout redisstore.LeaseLayout) {
	newClusterClient(t) // skips the whole suite at once when there is no cluster
	conformance(t, layout, func(t *testing.T) redis.UniversalClient { return newClusterClient(t) })
}

// TestKeyLayout checks the keys the package documentation describes: the
// token and lease keys named as by the previous release, and beside them
// the fingerprint record, the grant state and the epoch counter, whose
// names carry a hash tag.
func TestKeyLayout(t *testing.T) {
	c := newClient(t)
	prefix := newPrefix(t, c)
	ctx := context.Background()
	s := &redisstore.Store{Client: c, Prefix: prefix, LeaseTTL: 10 * time.Second}
	const key = "org:42 x"
	tokenKey, leaseKey := prefix+"token:"+key, prefix+"lease:"+key
	tagged := func(kind string) *regexp.Regexp {
		return regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `\{[0-9a-z]{4}\}` + kind + regexp.QuoteMeta(key) + `$`)
	}
	// find returns the one key under the prefix that re matches.
	find := func(re *regexp.Regexp) string {
		t.Helper()
		var found []string
		for _, k := range keysUnder(t, c, prefix) {
			if re.MatchString(k) {
				found = append(found, k)
			}
		}
		if len(found) != 1 {
			t.Fatalf("keys matching %s: %q, want one", re, found)
		}
		return found[0]
	}
	noExpiry := func(k string) {
		t.Helper()
		if ttl := c.PTTL(ctx, k).Val(); ttl != -1 {
			t.Errorf("PTTL %q = %v, want -1 (no expiry)", k, ttl)
		}
	}

	tok := &oauth2.Token{AccessToken: "at-layout", RefreshToken: "rt-layout"}
	if err := s.Save(ctx, key, tok); err != nil {
		t.Fatal(err)
	}
	raw, err := c.Get(ctx, tokenKey).Bytes()
	if err != nil {
		t.Fatalf("GET %q: %v", tokenKey, err)
	}
	if !strings.Contains(string(raw), `"refresh_token":"rt-layout"`) {
		t.Errorf("GET %q = %q, want the token's JSON", tokenKey, raw)
	}
	noExpiry(tokenKey)
	fpKey := find(tagged("fp:"))
	sum := sha1.Sum(raw)
	want := map[string]string{"fp": oauthrt.Fingerprint(tok), "sum": hex.EncodeToString(sum[:])}
	if got := c.HGetAll(ctx, fpKey).Val(); !maps.Equal(got, want) {
		t.Errorf("HGETALL %q = %q, want %q", fpKey, got, want)
	}
	noExpiry(fpKey)

	if err := s.SaveGrantState(ctx, key, oauthrt.GrantState{Failures: 2}); err != nil {
		t.Fatal(err)
	}
	stateKey := find(tagged("state:"))
	if got := c.Get(ctx, stateKey).Val(); got != `{"failures":2}` {
		t.Errorf("GET %q = %q, want the grant state's JSON", stateKey, got)
	}
	noExpiry(stateKey)
	if err := s.Save(ctx, key, tok); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, stateKey).Val(); n != 0 {
		t.Errorf("the grant state key survived a Save")
	}

	unlock, err := s.Lock(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	ttl := c.PTTL(ctx, leaseKey).Val()
	if ttl <= 0 || ttl > s.LeaseTTL {
		t.Errorf("PTTL %q = %v while held, want in (0, %v]", leaseKey, ttl, s.LeaseTTL)
	}
	if v := c.Get(ctx, leaseKey).Val(); !regexp.MustCompile(`^[A-Za-z0-9.-]{1,24}/[0-9]+/[0-9a-f]{16}:1$`).MatchString(v) {
		t.Errorf("GET %q = %q while held, want a holder id (host/pid/random), ':' and the epoch 1", leaseKey, v)
	}
	epochKey := find(tagged("epoch:"))
	if got := c.Get(ctx, epochKey).Val(); got != "1" {
		t.Errorf("GET %q = %q, want 1", epochKey, got)
	}
	noExpiry(epochKey)
	if got, want := keysUnder(t, c, prefix), []string{tokenKey, leaseKey, fpKey, epochKey}; !sameSet(got, want) {
		t.Errorf("keys under the prefix = %q, want %q", got, want)
	}
	unlock()
	if n := c.Exists(ctx, leaseKey).Val(); n != 0 {
		t.Errorf("the lease key still exists after unlock")
	}
	if n := c.Exists(ctx, epochKey).Val(); n != 1 {
		t.Errorf("the epoch counter was deleted with the lease")
	}
	unlock() // idempotent
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestDefaultPrefix(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	key := "redisstore-test-" + randomHex(t)
	tokenKey, leaseKey := "oauthrt:token:"+key, "oauthrt:lease:"+key
	t.Cleanup(func() {
		for _, k := range keysMatching(t, c, "oauthrt:*"+escapeGlob(key)) {
			c.Del(context.Background(), k)
		}
	})

	s := &redisstore.Store{Client: c}
	if err := s.Save(ctx, key, &oauth2.Token{AccessToken: "at-default"}); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, tokenKey).Val(); n != 1 {
		t.Errorf("EXISTS %q = %d, want 1", tokenKey, n)
	}
	unlock, err := s.Lock(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ttl := c.PTTL(ctx, leaseKey).Val()
	if ttl <= 0 || ttl > oauthrt.DefaultLeaseTTL {
		t.Errorf("PTTL %q = %v, want in (0, %v] (the default lease TTL)", leaseKey, ttl, oauthrt.DefaultLeaseTTL)
	}
}

func TestNilClient(t *testing.T) {
	s := &redisstore.Store{}
	ctx := context.Background()
	const want = "oauthrt: redisstore: Store.Client is nil"
	if _, err := s.Load(ctx, "k"); err == nil || err.Error() != want {
		t.Errorf("Load: err = %v, want %q", err, want)
	}
	if err := s.Save(ctx, "k", &oauth2.Token{AccessToken: "at"}); err == nil || err.Error() != want {
		t.Errorf("Save: err = %v, want %q", err, want)
	}
	unlock, err := s.Lock(ctx, "k")
	if err == nil || err.Error() != want {
		t.Errorf("Lock: err = %v, want %q", err, want)
	}
	if unlock != nil {
		t.Error("Lock returned an unlock func with its error")
	}
	if _, _, err := s.ListKeys(ctx, "", "", 0); err == nil || err.Error() != want {
		t.Errorf("ListKeys: err = %v, want %q", err, want)
	}
	if _, _, err := s.ListGrantStates(ctx, "", "", 0); err == nil || err.Error() != want {
		t.Errorf("ListGrantStates: err = %v, want %q", err, want)
	}
	if err := s.Delete(ctx, "k"); err == nil || err.Error() != want {
		t.Errorf("Delete: err = %v, want %q", err, want)
	}
}

func newAEAD(t *testing.T) cipher.AEAD {
	t.Helper()
	block, err := aes.NewCipher([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return aead
}

func TestStringHidesSecrets(t *testing.T) {
	const password = "hunter2-secret"
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", Password: password}) // never dialled
	defer c.Close()
	for _, tc := range []struct {
		s    *redisstore.Store
		want string
	}{
		{&redisstore.Store{Client: c}, `redisstore.Store{Prefix: "oauthrt:", Encrypted: false}`},
		{&redisstore.Store{Client: c, Prefix: "app:", AEAD: newAEAD(t)}, `redisstore.Store{Prefix: "app:", Encrypted: true}`},
		{&redisstore.Store{Client: c, Leases: redisstore.LeasesBeside}, `redisstore.Store{Prefix: "oauthrt:", Encrypted: false, Leases: LeasesBeside}`},
	} {
		got := fmt.Sprintf("%v %+v %#v", tc.s, tc.s, tc.s)
		if want := tc.want + " " + tc.want + " " + tc.want; got != want {
			t.Errorf("formatted store = %s, want %s", got, want)
		}
		if strings.Contains(got, password) || strings.Contains(got, "0123456789abcdef") {
			t.Errorf("formatted store %s holds a secret", got)
		}
	}

	t.Run("after a Save", func(t *testing.T) {
		c := newClient(t)
		s := &redisstore.Store{Client: c, Prefix: newPrefix(t, c)}
		if err := s.Save(context.Background(), "k", &oauth2.Token{AccessToken: "at-secret", RefreshToken: "rt-secret"}); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%v %+v %#v", s, s, s); strings.Contains(got, "secret") {
			t.Errorf("formatted store %s holds a token", got)
		}
	})
}

func TestErrorsHideTokens(t *testing.T) {
	c := newClient(t)
	prefix := newPrefix(t, c)
	ctx := context.Background()
	if err := c.Set(ctx, prefix+"token:k", `{"access_token":"at-secret","refresh`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	s := &redisstore.Store{Client: c, Prefix: prefix}
	_, err := s.Load(ctx, "k")
	if !errors.Is(err, oauthrt.ErrCorruptToken) {
		t.Fatalf("Load: err = %v, want ErrCorruptToken", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "oauthrt: redisstore: ") || strings.Contains(msg, "secret") {
		t.Errorf("Load: err = %q, want the package prefix and no token", msg)
	}
}

func TestGlobKeysVerbatim(t *testing.T) {
	c := newClient(t)
	prefix := newPrefix(t, c)
	ctx := context.Background()
	s := &redisstore.Store{Client: c, Prefix: prefix, LeaseTTL: 10 * time.Second}
	const glob = "a*b?[c]"
	// Keys that the glob would match as a pattern, and keys it resembles.
	others := []string{"aXbYc", "abYc", "a*b?c", "a*b?[c]x", "a*b"}
	for _, k := range others {
		if err := s.Save(ctx, k, &oauth2.Token{AccessToken: "at-" + k}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Save(ctx, glob, &oauth2.Token{AccessToken: "at-glob"}); err != nil {
		t.Fatal(err)
	}
	raw, err := c.Get(ctx, prefix+"token:"+glob).Bytes()
	if err != nil {
		t.Fatalf("GET of the exact key: %v", err)
	}
	if !strings.Contains(string(raw), `"at-glob"`) {
		t.Errorf("GET of the exact key = %q, want the glob key's token", raw)
	}
	for _, k := range others {
		tok, err := s.Load(ctx, k)
		if err != nil {
			t.Fatalf("Load(%q): %v", k, err)
		}
		if tok.AccessToken != "at-"+k {
			t.Errorf("Load(%q).AccessToken = %q: saving %q touched it", k, tok.AccessToken, glob)
		}
	}

	unlock, err := s.Lock(ctx, glob)
	if err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, prefix+"lease:"+glob).Val(); n != 1 {
		t.Errorf("EXISTS of the exact lease key = %d, want 1", n)
	}
	if got := keysUnder(t, c, prefix+"lease:"); len(got) != 1 {
		t.Errorf("lease keys = %q, want only the glob key's", got)
	}
	for _, k := range others {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		u, err := s.Lock(ctx, k) // not held: the glob's lease is not theirs
		cancel()
		if err != nil {
			t.Errorf("Lock(%q) while %q is held: %v", k, glob, err)
			continue
		}
		u()
	}
	unlock()
	if n := c.Exists(ctx, prefix+"lease:"+glob).Val(); n != 0 {
		t.Errorf("the glob key's lease survived unlock")
	}
}
