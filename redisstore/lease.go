package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/lease"
	"github.com/redis/go-redis/v9"
)

// release deletes a lease only while it is still the caller's.
var release = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`)

// renew gives a lease a new TTL only while it is still the caller's: a
// lease that lapsed is gone from Redis, and is not set again.
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
// The lease's Renew sets the lease key's TTL again only while the key
// still holds this holder's id; once it lapsed, Renew fails with
// [oauthrt.ErrLeaseLost]. Its Release deletes the lease if it is still
// this holder's. It may be called more than once and after the lease
// lapsed, and waits at most a few seconds. It reports no error: a lease
// it could not release lapses by itself after its TTL, and meanwhile
// other holders wait.
func (s *Store) TakeLease(ctx context.Context, key string) (oauthrt.Lease, error) {
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	ttl, err := lease.TTL("redisstore", s.LeaseTTL)
	if err != nil {
		return nil, err
	}
	lk := s.leaseKey(key)
	holder := lease.NewHolder()
	ms := ttl.Milliseconds()
	uncertain := false
	err = lease.Wait(ctx, key, func(ctx context.Context) (bool, error) {
		err := c.Do(ctx, "SET", lk, holder, "NX", "PX", ms).Err()
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, redis.Nil):
			return false, nil
		default:
			// The SET may have been applied before the error (a cancelled
			// ctx, a lost connection).
			uncertain = true
			return false, fmt.Errorf("oauthrt: redisstore: %w", err)
		}
	})
	if err != nil {
		if uncertain {
			// So that no one waits a whole TTL for a lease nobody knows it
			// holds; the release deletes only this holder's.
			lease.Release(func(ctx context.Context) { _ = release.Run(ctx, c, []string{lk}, holder).Err() })()
		}
		return nil, err
	}
	return lease.New(key, ttl,
		func(ctx context.Context) (bool, error) {
			n, err := renew.Run(ctx, c, []string{lk}, holder, ms).Int()
			if err != nil {
				return false, fmt.Errorf("oauthrt: redisstore: %w", err)
			}
			return n == 1, nil
		},
		func(ctx context.Context) {
			_ = release.Run(ctx, c, []string{lk}, holder).Err() // on failure, the lease lapses
		}), nil
}
