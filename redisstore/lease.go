package redisstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/lease"
	"github.com/redis/go-redis/v9"
)

// take takes a lease that no one holds, with the next epoch of its key.
// KEYS: the lease, its epoch counter. ARGV: the holder id followed by
// ':', the TTL in milliseconds. The lease's value is ARGV[1] followed by
// the epoch in decimal. It returns the epoch, or 0 when the lease is held
// (by this release's holders or by the previous one's, whose value is a
// bare holder id).
var take = redis.NewScript(`
if redis.call("EXISTS", KEYS[1]) == 1 then
	return 0
end
local epoch = redis.call("INCR", KEYS[2])
if epoch < 1 then
	return redis.error_reply("the epoch counter is below 1: something other than a Store wrote it")
end
redis.call("SET", KEYS[1], ARGV[1] .. epoch, "PX", ARGV[2])
return epoch
`)

// release deletes a lease only while it is still the caller's: while its
// value starts with ARGV[1], the holder id and ':'. A holder id is drawn
// at random for each taking, so it names one lease, epoch included, and
// the lease can be released by a holder that does not know its epoch (a
// take whose answer was lost).
var release = redis.NewScript(`
local v = redis.call("GET", KEYS[1])
if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0
`)

// renew gives a lease a new TTL only while it still holds the caller's
// value, holder id and epoch: a lease that lapsed is gone from Redis, or
// holds another holder's value and a later epoch, and is not set again.
var renew = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end`)

// Lock takes the refresh lease of key as TakeLease does, and returns its
// Release.
func (s *Store) Lock(ctx context.Context, key string) (unlock func(), err error) {
	l, err := s.TakeLease(ctx, key)
	if err != nil {
		return nil, err
	}
	return l.Release, nil
}

// TakeLease takes the refresh lease of key for this Store's LeaseTTL,
// waiting while another holder has it, until ctx ends; then the error
// wraps ctx.Err().
//
// The Lease is an [oauthrt.FencedLease]: the take script increments the
// key's epoch counter, which never expires, and writes the epoch into the
// lease's value beside a random holder id. The lease's Renew sets the
// lease key's TTL again only while the key still holds that value; once
// the lease lapsed, or a later one was taken, Renew fails with an error
// wrapping [oauthrt.ErrLeaseLost]. Its Release deletes the lease if it is
// still this holder's. It may be called more than once and after the
// lease lapsed, and waits at most a few seconds. It reports no error: a
// lease it could not release lapses by itself after its TTL, and
// meanwhile other holders wait.
func (s *Store) TakeLease(ctx context.Context, key string) (oauthrt.Lease, error) {
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	ttl, err := lease.TTL("redisstore", s.LeaseTTL)
	if err != nil {
		return nil, err
	}
	keys := s.leaseKeys(key)
	holder := lease.NewHolder() + ":"
	ms := ttl.Milliseconds()
	var epoch int64
	uncertain := false
	err = lease.Wait(ctx, key, func(ctx context.Context) (bool, error) {
		e, err := take.Run(ctx, c, keys, holder, ms).Int64()
		if err != nil {
			// The script may have run before the error (a cancelled ctx,
			// a lost connection).
			uncertain = true
			return false, fmt.Errorf("oauthrt: redisstore: %w", err)
		}
		epoch = e
		return e > 0, nil
	})
	if err != nil {
		if uncertain {
			// So that no one waits a whole TTL for a lease nobody knows it
			// holds; the release deletes only this holder's.
			lease.Release(func(ctx context.Context) { _ = release.Run(ctx, c, keys[:1], holder).Err() })()
		}
		return nil, err
	}
	value := holder + strconv.FormatInt(epoch, 10)
	l := lease.New(key, ttl,
		func(ctx context.Context) (bool, error) {
			n, err := renew.Run(ctx, c, keys[:1], value, ms).Int()
			if err != nil {
				return false, fmt.Errorf("oauthrt: redisstore: %w", err)
			}
			return n == 1, nil
		},
		func(ctx context.Context) {
			_ = release.Run(ctx, c, keys[:1], holder).Err() // on failure, the lease lapses
		})
	return &fencedLease{Lease: l, epoch: uint64(epoch)}, nil
}

// fencedLease is a lease with the epoch the take script gave it.
type fencedLease struct {
	oauthrt.Lease
	epoch uint64
}

var _ oauthrt.FencedLease = (*fencedLease)(nil)

// Epoch returns the lease's epoch: the value of the key's epoch counter
// that the take script incremented, at least 1.
func (l *fencedLease) Epoch() uint64 { return l.epoch }
