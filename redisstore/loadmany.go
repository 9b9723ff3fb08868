package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
)

var _ oauthrt.BatchLoader = (*Store)(nil)

// BatchStore returns s: its LoadMany reads s itself. A type that embeds a
// *Store gains this method too, and returns the embedded Store, so the
// Transport reads such a wrapper key by key through its own Load. See
// [oauthrt.BatchLoader].
func (s *Store) BatchStore() oauthrt.TokenStore { return s }

// LoadMany reads the tokens of keys with one pipeline of GETs (on Redis
// Cluster, one per node that holds some of them), and returns them in
// the order of keys: nil where a key holds no token, or one that cannot
// be decoded (Load says why). A ctx that has already ended, or a
// pipeline that fails, is an error. See [oauthrt.BatchLoader].
func (s *Store) LoadMany(ctx context.Context, keys []string) ([]*oauth2.Token, error) {
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("oauthrt: redisstore: loading %d keys: %w", len(keys), err)
	}
	toks := make([]*oauth2.Token, len(keys))
	if len(keys) == 0 {
		return toks, nil
	}
	cmds := make([]*redis.StringCmd, len(keys))
	_, err = c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, s.tokenKey(k))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("oauthrt: redisstore: loading %d keys: %w", len(keys), err)
	}
	for i, cmd := range cmds {
		b, err := cmd.Bytes()
		if err != nil {
			if !errors.Is(err, redis.Nil) {
				return nil, fmt.Errorf("oauthrt: redisstore: loading %d keys: %w", len(keys), err)
			}
			continue
		}
		if tok, err := tokencodec.Decode(b, s.AEAD, keys[i]); err == nil {
			toks[i] = tok
		}
	}
	return toks, nil
}
