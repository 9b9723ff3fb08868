package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/oauthrt/oauthrt/internal/lease"
	"github.com/redis/go-redis/v9"
)

// release deletes a lease only while it is still the caller's.
var release = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`)

// Lock takes the refresh lease of key for this Store's LeaseTTL, waiting
// while another holder has it, until ctx ends; then the error wraps
// ctx.Err().
//
// unlock releases the lease if it is still this holder's. It may be
// called more than once and after the lease lapsed, and waits at most a
// few seconds. It reports no error: a lease it could not release lapses
// by itself after its TTL, and meanwhile other holders wait.
func (s *Store) Lock(ctx context.Context, key string) (unlock func(), err error) {
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	lk := s.leaseKey(key)
	holder := lease.NewHolder()
	ms := max(lease.TTL(s.LeaseTTL).Milliseconds(), 1)
	err = lease.Wait(ctx, key, func(ctx context.Context) (bool, error) {
		err := c.Do(ctx, "SET", lk, holder, "NX", "PX", ms).Err()
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, redis.Nil):
			return false, nil
		default:
			return false, fmt.Errorf("oauthrt: redisstore: %w", err)
		}
	})
	if err != nil {
		return nil, err
	}
	return lease.Release(func(ctx context.Context) {
		_ = release.Run(ctx, c, []string{lk}, holder).Err() // on failure, the lease lapses
	}), nil
}
