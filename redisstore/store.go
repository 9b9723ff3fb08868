package redisstore

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
)

// defaultPrefix is prepended to the Redis keys when Store.Prefix is "".
const defaultPrefix = "oauthrt:"

var errNilClient = errors.New("oauthrt: redisstore: Store.Client is nil")

// Store is an [oauthrt.TokenStore] and [oauthrt.LeaseLocker] on Redis. See the
// package documentation for the keys it writes.
//
// A Store is safe for concurrent use, and any number of Stores, in any
// number of processes, may share one Redis. Its fields must be set before
// its first use and not changed afterwards.
type Store struct {
	// Client talks to Redis. Required: with a nil Client every method
	// returns an error.
	Client redis.UniversalClient

	// Prefix is prepended to every Redis key the Store uses. "" means
	// "oauthrt:".
	Prefix string

	// LeaseTTL is how long a lease taken by Lock or TakeLease lives
	// unless renewed or released. Zero or negative means
	// [oauthrt.DefaultLeaseTTL]. A positive LeaseTTL shorter than
	// [oauthrt.MinLeaseTTL] makes Lock and TakeLease fail. A lease taken
	// by Lock is never renewed: keep its TTL longer than
	// [oauthrt.RefreshTimeout].
	LeaseTTL time.Duration

	// AEAD encrypts tokens at rest, for example AES-GCM. nil means tokens
	// are stored unencrypted.
	AEAD cipher.AEAD
}

var (
	_ oauthrt.TokenStore  = (*Store)(nil)
	_ oauthrt.LeaseLocker = (*Store)(nil)
)

func (s *Store) client() (redis.UniversalClient, error) {
	if s.Client == nil {
		return nil, errNilClient
	}
	return s.Client, nil
}

func (s *Store) prefix() string {
	if s.Prefix == "" {
		return defaultPrefix
	}
	return s.Prefix
}

func (s *Store) tokenKey(key string) string { return s.prefix() + "token:" + key }

func (s *Store) leaseKey(key string) string { return s.prefix() + "lease:" + key }

// Load returns the token stored under key, or an error wrapping
// [oauthrt.ErrNoToken] when there is none.
func (s *Store) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("oauthrt: redisstore: loading key %q: %w", key, err)
	}
	b, err := c.Get(ctx, s.tokenKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%w under key %q", oauthrt.ErrNoToken, key)
	}
	if err != nil {
		return nil, fmt.Errorf("oauthrt: redisstore: loading key %q: %w", key, err)
	}
	tok, err := tokencodec.Decode(b, s.AEAD, key)
	if err != nil {
		return nil, fmt.Errorf("oauthrt: redisstore: key %q: %w", key, err)
	}
	return tok, nil
}

// Save stores tok under key, replacing the earlier token, in one SET. A
// nil tok is an error, and so is a ctx that has already ended: then
// nothing is stored.
func (s *Store) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("oauthrt: redisstore: saving key %q: %w", key, err)
	}
	b, err := tokencodec.Encode(tok, s.AEAD, key)
	if err != nil {
		return fmt.Errorf("oauthrt: redisstore: saving key %q: %w", key, err)
	}
	if err := c.Set(ctx, s.tokenKey(key), b, 0).Err(); err != nil {
		return fmt.Errorf("oauthrt: redisstore: saving key %q: %w", key, err)
	}
	return nil
}

// String describes the store's settings: never its client's options,
// its AEAD or a token.
func (s Store) String() string {
	return fmt.Sprintf("redisstore.Store{Prefix: %q, Encrypted: %t}", s.prefix(), s.AEAD != nil)
}
