package redisstore

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"os"
	"reflect"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestCommitScript runs the commit script on every combination of what
// the token group may hold, including those a Commit reaches only when
// another process rewrites the token between two runs of the script.
func TestCommitScript(t *testing.T) {
	addr := os.Getenv("OAUTHRT_TEST_REDIS")
	if addr == "" {
		t.Skip("OAUTHRT_TEST_REDIS is not set: no Redis to test against")
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	s := &Store{Client: c, Prefix: "oauthrt-test:script-" + rand.Text() + ":"}
	keys := s.tokenKeys("k")
	defer c.Del(ctx, keys...)

	sum := func(v string) string { b := sha1.Sum([]byte(v)); return hex.EncodeToString(b[:]) }
	const (
		held    = "held-bytes"
		heldFP  = "fp-held"
		other   = "other-bytes"
		otherFP = "fp-other"
		newV    = "new-bytes"
		newFP   = "fp-new"
	)
	noRecord := map[string]string{}
	valid := map[string]string{"fp": heldFP, "sum": sum(held)}
	stale := map[string]string{"fp": heldFP, "sum": sum(other)}
	for _, tc := range []struct {
		name   string
		value  string // "" for no token
		record map[string]string
		prevFP string
		exact  string // "" for no exact bytes
		want   any
	}{
		{"empty key, nil prev", "", noRecord, "", "", int64(1)},
		{"empty key, a prev", "", valid, heldFP, "", int64(0)},
		{"empty key, exact bytes", "", valid, heldFP, held, int64(0)},
		{"a token, nil prev", held, valid, "", "", int64(0)},
		{"a token without record, nil prev", held, noRecord, "", "", int64(0)},
		{"a record that matches", held, valid, heldFP, "", int64(1)},
		{"a record that does not match", held, valid, otherFP, "", int64(0)},
		{"no record", held, noRecord, heldFP, "", []any{held}},
		{"a stale record", held, stale, heldFP, "", []any{held}},
		{"the exact bytes", held, noRecord, heldFP, held, int64(1)},
		{"the exact bytes, a stale record", held, stale, otherFP, held, int64(1)},
		{"other exact bytes, no record", held, noRecord, heldFP, other, []any{held}},
		{"other exact bytes, a record that matches", held, valid, heldFP, other, int64(1)},
		{"other exact bytes, a record that does not match", held, valid, otherFP, other, int64(0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.Del(ctx, keys...).Err(); err != nil {
				t.Fatal(err)
			}
			if tc.value != "" {
				c.Set(ctx, keys[0], tc.value, 0)
			}
			if len(tc.record) > 0 {
				c.HSet(ctx, keys[1], tc.record)
			}
			c.Set(ctx, keys[2], `{"failures":1}`, 0)
			exact := "0"
			if tc.exact != "" {
				exact = "1"
			}
			got, err := commit.Run(ctx, c, keys, newV, newFP, tc.prevFP, exact, tc.exact).Result()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("the script answered %#v, want %#v", got, tc.want)
			}
			value, record, state := c.Get(ctx, keys[0]).Val(), c.HGetAll(ctx, keys[1]).Val(), c.Exists(ctx, keys[2]).Val()
			if tc.want == int64(1) {
				if want := map[string]string{"fp": newFP, "sum": sum(newV)}; value != newV || !reflect.DeepEqual(record, want) || state != 0 {
					t.Errorf("after a write: token %q, record %q, grant state kept: %t; want %q, %q, false", value, record, state == 1, newV, want)
				}
				return
			}
			if value != tc.value || !reflect.DeepEqual(record, tc.record) || state != 1 {
				t.Errorf("without a write: token %q, record %q, grant state kept: %t; want them as they were", value, record, state == 1)
			}
		})
	}
}
