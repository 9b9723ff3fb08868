package redisstore

import (
	"context"
	"fmt"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
)

// isPrevLua defines is_prev, which the scripts that act only over the
// caller's prev share. is_prev(v, record, prev, exact, found) tells
// whether v, the value of the token key (false: none), is prev: true or
// false, or nil when it cannot tell. record names the fingerprint record,
// prev is prev's fingerprint ("" for no token), exact is "1" when found
// holds the exact bytes the caller found to be prev (else "0").
//
// It cannot tell when the key holds a value whose fingerprint it does not
// know, because the fingerprint record is missing or describes other
// bytes (a value written by the previous release of the Store, or by
// hand). The caller then opens and fingerprints the value itself, and,
// when it is prev, runs its script again with the value's exact bytes.
const isPrevLua = `
local function is_prev(v, record, prev, exact, found)
	if not v then
		return prev == ""
	end
	if exact == "1" and v == found then
		return true
	end
	if prev == "" then
		return false
	end
	local rec = redis.call("HMGET", record, "sum", "fp")
	if rec[1] ~= redis.sha1hex(v) then
		return nil
	end
	return rec[2] == prev
end
`

// writeLua defines write(token, record, state, value, fp), which writes a
// token's value with its fingerprint record and deletes the grant state,
// as save does.
const writeLua = `
local function write(token, record, state, value, fp)
	redis.call("SET", token, value)
	redis.call("HSET", record, "fp", fp, "sum", redis.sha1hex(value))
	redis.call("DEL", state)
end
`

// commit writes a token's value as save does, only if the token key holds
// the caller's prev. KEYS: the token, its fingerprint record, its grant
// state. ARGV: the value, its token's fingerprint, then is_prev's prev,
// exact and found.
//
// It returns 1 when it wrote, 0 when the key holds another token, and
// {value} when it cannot tell (see isPrevLua).
var commit = redis.NewScript(isPrevLua + writeLua + `
local v = redis.call("GET", KEYS[1])
local ok = is_prev(v, KEYS[2], ARGV[3], ARGV[4], ARGV[5])
if ok == nil then
	return {v}
end
if not ok then
	return 0
end
write(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2])
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
	v, err := s.runCommit(ctx, c, commit, key, s.tokenKeys(key), prev, tok)
	if err != nil {
		return err
	}
	return v.err(key)
}

// A verdict is how a commit script's runs ended.
type verdict struct {
	// wrote is true when a run wrote the token.
	wrote bool
	// decided is true when a run found that the key holds another token;
	// false, with wrote false, when the Store found it after a run that
	// could not tell (and so the run did nothing else either).
	decided bool
	// cause is why the value the key holds is not prev when it does not
	// open, or nil.
	cause error
}

// err returns the error of a Commit with the verdict v.
func (v verdict) err(key string) error {
	switch {
	case v.wrote:
		return nil
	case v.cause != nil:
		return fmt.Errorf("%w (what it holds does not open: %w)", conflict(key), v.cause)
	}
	return conflict(key)
}

// runCommit runs script, commit or a script that answers as it does, with
// keys (the token group first) and the arguments commit takes followed by
// extra, until it decides. An error means the script could not be run, or
// its answer was lost: it may have run.
func (s *Store) runCommit(ctx context.Context, c redis.UniversalClient, script *redis.Script, key string, keys []string, prev, tok *oauth2.Token, extra ...any) (verdict, error) {
	if err := ctx.Err(); err != nil {
		return verdict{}, fmt.Errorf("oauthrt: redisstore: committing key %q: %w", key, err)
	}
	b, err := tokencodec.Encode(tok, s.AEAD, key)
	if err != nil {
		return verdict{}, fmt.Errorf("oauthrt: redisstore: committing key %q: %w", key, err)
	}
	fp, prevFP := oauthrt.Fingerprint(tok), oauthrt.Fingerprint(prev)
	exact, found := "0", ""
	// A run after the second happens only if, between the last two, the
	// value was replaced by another without a record that opens to prev
	// too (re-encrypted, say): the loop ends when the writes that do that
	// stop, or ctx ends.
	for {
		args := append([]any{b, fp, prevFP, exact, found}, extra...)
		res, err := script.Run(ctx, c, keys, args...).Result()
		if err != nil {
			return verdict{}, fmt.Errorf("oauthrt: redisstore: committing key %q: %w", key, err)
		}
		switch res := res.(type) {
		case int64:
			return verdict{wrote: res == 1, decided: true}, nil
		case []any:
			v, ok := res[0].(string)
			if len(res) != 1 || !ok {
				break
			}
			held, err := tokencodec.Decode([]byte(v), s.AEAD, key)
			if err != nil {
				return verdict{cause: err}, nil
			}
			if oauthrt.Fingerprint(held) != prevFP {
				return verdict{}, nil
			}
			exact, found = "1", v
			continue
		}
		return verdict{}, fmt.Errorf("oauthrt: redisstore: committing key %q: the commit script answered %T", key, res)
	}
}

func conflict(key string) error {
	return fmt.Errorf("oauthrt: redisstore: committing key %q: %w", key, oauthrt.ErrCommitConflict)
}
