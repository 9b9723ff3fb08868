package redisstore_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
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

// newPrefix returns a fresh key prefix, and deletes every key under it
// when the test ends (before the client is closed).
func newPrefix(t *testing.T, c *redis.Client) string {
	t.Helper()
	prefix := "oauthrt-test:" + randomHex(t) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, escapeGlob(prefix)+"*", 100).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("scanning the keys under %q: %v", prefix, err)
		}
		if len(keys) > 0 {
			if err := c.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("deleting the keys under %q: %v", prefix, err)
			}
		}
	})
	return prefix
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
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// keysUnder lists the Redis keys under prefix.
func keysUnder(t *testing.T, c *redis.Client, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	iter := c.Scan(ctx, 0, escapeGlob(prefix)+"*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		c := newClient(t)
		prefix := newPrefix(t, c)
		ctx := context.Background()
		return storetest.Backend{
			Open: func(o storetest.Options) oauthrt.TokenStore {
				return &redisstore.Store{Client: c, Prefix: prefix, LeaseTTL: o.LeaseTTL, AEAD: o.AEAD}
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

func TestKeyLayout(t *testing.T) {
	c := newClient(t)
	prefix := newPrefix(t, c)
	ctx := context.Background()
	s := &redisstore.Store{Client: c, Prefix: prefix, LeaseTTL: 10 * time.Second}
	const key = "org:42 x"
	tokenKey, leaseKey := prefix+"token:"+key, prefix+"lease:"+key

	if err := s.Save(ctx, key, &oauth2.Token{AccessToken: "at-layout", RefreshToken: "rt-layout"}); err != nil {
		t.Fatal(err)
	}
	raw, err := c.Get(ctx, tokenKey).Bytes()
	if err != nil {
		t.Fatalf("GET %q: %v", tokenKey, err)
	}
	if !strings.Contains(string(raw), `"refresh_token":"rt-layout"`) {
		t.Errorf("GET %q = %q, want the token's JSON", tokenKey, raw)
	}
	if ttl := c.PTTL(ctx, tokenKey).Val(); ttl != -1 {
		t.Errorf("PTTL %q = %v, want -1 (no expiry)", tokenKey, ttl)
	}

	unlock, err := s.Lock(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	ttl := c.PTTL(ctx, leaseKey).Val()
	if ttl <= 0 || ttl > s.LeaseTTL {
		t.Errorf("PTTL %q = %v while held, want in (0, %v]", leaseKey, ttl, s.LeaseTTL)
	}
	if holder := c.Get(ctx, leaseKey).Val(); holder == "" {
		t.Errorf("GET %q is empty while held", leaseKey)
	}
	got := keysUnder(t, c, prefix)
	if len(got) != 2 {
		t.Errorf("keys under the prefix = %q, want only %q and %q", got, tokenKey, leaseKey)
	}
	unlock()
	if n := c.Exists(ctx, leaseKey).Val(); n != 0 {
		t.Errorf("the lease key still exists after unlock")
	}
	unlock() // idempotent
}

func TestDefaultPrefix(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	key := "redisstore-test-" + randomHex(t)
	tokenKey, leaseKey := "oauthrt:token:"+key, "oauthrt:lease:"+key
	t.Cleanup(func() { c.Del(context.Background(), tokenKey, leaseKey) })

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
