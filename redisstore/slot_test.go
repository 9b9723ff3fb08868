package redisstore

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestCRC16(t *testing.T) {
	// The check value of CRC-16/XMODEM, which the cluster specification
	// gives for its implementation.
	if got := crc16(0, "123456789"); got != 0x31c3 {
		t.Errorf("crc16(123456789) = %#04x, want 0x31c3", got)
	}
}

func TestHashed(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"user:42", "user:42"},
		{"{user1000}.following", "user1000"},
		{"foo{}{bar}", "foo{}{bar}"}, // the first '{' is followed at once by '}'
		{"foo{{bar}}zap", "{bar"},
		{"foo{bar}{zap}", "bar"},
		{"{", "{"},
		{"}{", "}{"},
		{"a{b", "a{b"},
		{"", ""},
	} {
		if got := hashed(tc.name); got != tc.want {
			t.Errorf("hashed(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestTagEverySlot finds a tag for every slot when nothing precedes it.
// As tag's comment argues, that proves tag finds one for every slot
// whatever precedes it, so its panic is unreachable.
func TestTagEverySlot(t *testing.T) {
	for want := range uint16(slots) {
		tg := tag("", want)
		if len(tg) != tagLen || strings.Trim(tg, tagChars) != "" {
			t.Fatalf("tag(%d) = %q, want %d characters of %q", want, tg, tagLen, tagChars)
		}
		if got := slot("{" + tg + "}"); got != want {
			t.Fatalf("tag(%d) = %q, in slot %d", want, tg, got)
		}
	}
	for _, before := range []string{"a{", "oauthrt:fp:x", strings.Repeat("\xff", 1000)} {
		for _, want := range []uint16{0, 1, 5460, 5461, 12182, 16383} {
			if got := crc16(0, before+tag(before, want)) % slots; got != want {
				t.Errorf("tag(%q, %d) leads to slot %d", before, want, got)
			}
		}
	}
}

// oddPrefixes are prefixes of each kind companion tells apart.
var oddPrefixes = []string{
	"oauthrt:", "", "app:", // no braces
	"{app}:", "a{b}c{", "x{}}{y}:", // a hash tag of their own
	"app{", "a{b{c:", "}{", // a '{' they do not close
	"a{}b:", "{}", "{}{x}", // a '{' followed at once by '}'
}

// oddSlotKeys are store keys whose braces would move a naive name to
// another slot, and others.
func oddSlotKeys() []string {
	return []string{
		"", "k", "user:42", "{", "}", "{}", "}{", "{a}", "a{b}c", "a}b", "{x}{y}",
		"\xff\xfe", "\x00{\x00}", strings.Repeat("{k}", 1000), strings.Repeat("x", 100<<10),
	}
}

// TestCompanion checks, for every kind of prefix and keys with and
// without braces, that each companion name starts with the prefix, ends
// with its kind and key, hashes to the slot of the key it accompanies, and
// differs from every other name.
func TestCompanion(t *testing.T) {
	for _, p := range oddPrefixes {
		seen := map[string]string{}
		for _, k := range oddSlotKeys() {
			for _, main := range []string{"token:", "lease:"} {
				seen[p+main+k] = main + k
			}
		}
		for _, k := range oddSlotKeys() {
			for _, tc := range []struct{ main, kind string }{
				{"token:", "fp:"}, {"token:", "state:"}, {"lease:", "epoch:"},
			} {
				main := p + tc.main + k
				name := companion(p, tc.kind, k, main)
				what := short(tc.kind + k)
				if !strings.HasPrefix(name, p) || !strings.Contains(name[len(p):], tc.kind+k) {
					t.Errorf("prefix %q: the name of %s is %q", p, what, short(name))
				}
				if got, want := slot(name), slot(main); got != want {
					t.Errorf("prefix %q: %s is in slot %d, its %s in %d", p, what, got, tc.main, want)
				}
				if other, dup := seen[name]; dup {
					t.Errorf("prefix %q: %s and %s share the name %q", p, what, short(other), short(name))
				}
				seen[name] = tc.kind + k
			}
		}
	}
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// TestSlotMatchesCluster checks slot against the cluster's own CLUSTER
// KEYSLOT, for the names TestCompanion checks.
func TestSlotMatchesCluster(t *testing.T) {
	addrs := os.Getenv("OAUTHRT_TEST_REDIS_CLUSTER")
	if addrs == "" {
		t.Skip("OAUTHRT_TEST_REDIS_CLUSTER is not set: no Redis Cluster to test against (scripts/redis-cluster starts one)")
	}
	c := redis.NewClient(&redis.Options{Addr: strings.Split(addrs, ",")[0]})
	defer c.Close()
	ctx := context.Background()
	for _, p := range oddPrefixes {
		for _, k := range oddSlotKeys() {
			for _, name := range []string{p + "token:" + k, companion(p, "fp:", k, p+"token:"+k), companion(p, "epoch:", k, p+"lease:"+k)} {
				got, err := c.ClusterKeySlot(ctx, name).Result()
				if err != nil {
					t.Fatalf("CLUSTER KEYSLOT %q: %v", short(name), err)
				}
				if want := slot(name); got != int64(want) {
					t.Errorf("CLUSTER KEYSLOT %q = %d, slot says %d", short(name), got, want)
				}
			}
		}
	}
}
