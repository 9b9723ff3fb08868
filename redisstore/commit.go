package redisstore

import (
	"context"
	"fmt"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
)

// commit writes a token's value as save does, only if the token key holds
// the caller's prev. KEYS: the token, its fingerprint record, its grant
// state. ARGV: the value, its token's fingerprint, prev's fingerprint (""
// for no token), "1" when ARGV[5] holds the exact bytes the caller found
// to be prev (else "0"), those bytes.
//
// It returns 1 when it wrote, 0 when the key holds another token, and
// {value} when it cannot tell: the key holds a value whose fingerprint it
// does not know, because the fingerprint record is missing or describes
// other bytes (a value written by the previous release of the Store, or
// by hand). The caller then opens and fingerprints the value itself, and,
// when it is prev, runs the script again with the value's exact bytes.
var commit = redis.NewScript(`
local v = redis.call("GET", KEYS[1])
local ok
if not v then
	ok = ARGV[3] == ""
elseif ARGV[4] == "1" and v == ARGV[5] then
	ok = true
elseif ARGV[3] == "" then
	ok = false
else
	local rec = redis.call("HMGET", KEYS[2], "sum", "fp")
	if rec[1] ~= redis.sha1hex(v) then
		return {v}
	end
	ok = rec[2] == ARGV[3]
end
if not ok then
	return 0
end
redis.call("SET", KEYS[1], ARGV[1])
redis.call("HSET", KEYS[2], "fp", ARGV[2], "sum", redis.sha1hex(ARGV[1]))
redis.call("DEL", KEYS[3])
return 1
`)

// Commit stores tok under key, as Save does, only if the store holds prev
// under key (compared by [oauthrt.Fingerprint]), or no token at all when
// prev is nil; otherwise it stores nothing and returns an error wrapping
// [oauthrt.ErrCommitConflict]. The comparison and the write are one Lua
// script, so they are one atomic step for every process sharing the
// Redis; a Commit, like a Save, clears the key's grant state in the same
// script.
//
// A token written by the previous release of the Store, or by anything
// else that set the token key alone, has no fingerprint record beside it.
// Commit then reads the value back, opens it and fingerprints it, and, if
// it is prev, commits on condition that the token key still holds those
// exact bytes. A value that does not open (see [Store.Load]) is not prev:
// the error wraps [oauthrt.ErrCommitConflict] and the reason the value
// does not open.
func (s *Store) Commit(ctx context.Context, key string, prev, tok *oauth2.Token) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("oauthrt: redisstore: committing key %q: %w", key, err)
	}
	b, err := tokencodec.Encode(tok, s.AEAD, key)
	if err != nil {
		return fmt.Errorf("oauthrt: redisstore: committing key %q: %w", key, err)
	}
	keys := s.tokenKeys(key)
	fp, prevFP := oauthrt.Fingerprint(tok), oauthrt.Fingerprint(prev)
	exact, found := "0", ""
	// A run after the second happens only if, between the last two, the
	// value was replaced by another without a record that opens to prev
	// too (re-encrypted, say): the loop ends when the writes that do that
	// stop, or ctx ends.
	for {
		res, err := commit.Run(ctx, c, keys, b, fp, prevFP, exact, found).Result()
		if err != nil {
			return fmt.Errorf("oauthrt: redisstore: committing key %q: %w", key, err)
		}
		switch res := res.(type) {
		case int64:
			if res == 0 {
				return conflict(key)
			}
			return nil
		case []any:
			v, ok := res[0].(string)
			if len(res) != 1 || !ok {
				break
			}
			held, err := tokencodec.Decode([]byte(v), s.AEAD, key)
			if err != nil {
				return fmt.Errorf("%w (what it holds does not open: %w)", conflict(key), err)
			}
			if oauthrt.Fingerprint(held) != prevFP {
				return conflict(key)
			}
			exact, found = "1", v
			continue
		}
		return fmt.Errorf("oauthrt: redisstore: committing key %q: the commit script answered %T", key, res)
	}
}

func conflict(key string) error {
	return fmt.Errorf("oauthrt: redisstore: committing key %q: %w", key, oauthrt.ErrCommitConflict)
}
