package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
	"github.com/redis/go-redis/v9"
)

var _ oauthrt.Inspector = (*Store)(nil)

// Inspect returns the records of the keys that start with prefix and hold
// a token, a page at a time, as ListKeys pages keys: the SCAN calls of
// ListKeys, then one pipeline that reads, for each key found, its token,
// grant state, lease and its PTTL, and epoch counter. On Redis Cluster
// the client sends the pipeline's commands to each master at once, one
// round trip each. A key deleted since the SCAN is left out, and each
// page is sorted in byte order of the keys; as SCAN does, a walk may
// return a key twice. A lease's Until is the local clock plus the lease
// key's PTTL. See [oauthrt.Inspector].
func (s *Store) Inspect(ctx context.Context, prefix, cursor string, limit int) (records []oauthrt.Record, next string, err error) {
	keys, next, err := s.scanKeys(ctx, "inspecting keys", prefix, cursor, limit)
	if err != nil {
		return nil, "", err
	}
	slices.Sort(keys)
	if records, err = s.inspect(ctx, keys); err != nil {
		return nil, "", fmt.Errorf("oauthrt: redisstore: inspecting keys: %w", err)
	}
	return records, next, nil
}

// inspected are the commands of the pipeline that reads one key.
type inspected struct {
	token, state, lease, epoch *redis.StringCmd
	pttl                       *redis.DurationCmd
}

// inspect reads the records of keys, in their order, with one pipeline.
func (s *Store) inspect(ctx context.Context, keys []string) ([]oauthrt.Record, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	pipe := c.Pipeline()
	cmds := make([]inspected, len(keys))
	for i, k := range keys {
		lk := s.leaseKeys(k)
		cmds[i] = inspected{
			token: pipe.Get(ctx, s.tokenKey(k)),
			state: pipe.Get(ctx, s.stateKey(k)),
			lease: pipe.Get(ctx, lk[0]),
			pttl:  pipe.PTTL(ctx, lk[0]),
			epoch: pipe.Get(ctx, lk[1]),
		}
	}
	_, _ = pipe.Exec(ctx) // each command's error is read below
	now := time.Now()
	records := make([]oauthrt.Record, 0, len(keys))
	for i, k := range keys {
		cmd := cmds[i]
		b, err := cmd.token.Bytes()
		switch {
		case errors.Is(err, redis.Nil): // deleted since the SCAN
			continue
		case err != nil:
			return nil, fmt.Errorf("reading the token of key %q: %w", k, err)
		}
		r := oauthrt.Record{Key: k, Sealed: tokencodec.IsSealed(b)}
		if r.Token, r.KeyID, r.Err = tokencodec.DecodeKey(b, s.AEAD, k); r.Err != nil {
			r.Err = fmt.Errorf("oauthrt: redisstore: key %q: %w", k, r.Err)
		}
		if st, err := cmd.state.Bytes(); err == nil {
			if r.State, err = parseGrantState(k, st); err != nil {
				return nil, err
			}
		} else if !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("reading the grant state of key %q: %w", k, err)
		}
		if r.Lease, err = leaseInfo(cmd, now); err != nil {
			return nil, fmt.Errorf("reading the lease of key %q: %w", k, err)
		}
		records = append(records, r)
	}
	return records, nil
}

// leaseInfo is what the lease and epoch commands of a key read, at now.
// The lease's value is the holder id followed by ':' and the epoch, or a
// bare holder id, written by the previous release.
func leaseInfo(cmd inspected, now time.Time) (oauthrt.LeaseInfo, error) {
	var info oauthrt.LeaseInfo
	epoch, err := cmd.epoch.Uint64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return info, err
	}
	info.Epoch = epoch
	v, err := cmd.lease.Result()
	if errors.Is(err, redis.Nil) {
		return info, nil
	}
	if err != nil {
		return info, err
	}
	ttl, err := cmd.pttl.Result()
	if err != nil || ttl <= 0 { // lapsed since the GET, or without a TTL (set by hand)
		return info, err
	}
	if i := strings.LastIndexByte(v, ':'); i >= 0 {
		v = v[:i]
	}
	info.Holder, info.Until = v, now.Add(ttl).Round(0)
	return info, nil
}
