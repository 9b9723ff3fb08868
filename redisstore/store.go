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

// Store is an [oauthrt.TokenStore] on Redis, and an [oauthrt.Committer],
// an [oauthrt.GrantStateStore], an [oauthrt.LeaseLocker] whose leases
// are [oauthrt.FencedLease]s and [oauthrt.CommitReleaser]s, an
// [oauthrt.SnapshotLoader], an [oauthrt.LeaseLoader], an
// [oauthrt.BatchLoader], an
// [oauthrt.KeyLister], an [oauthrt.GrantStateLister], an
// [oauthrt.Deleter] and an [oauthrt.Inspector]. See the package documentation for the keys it
// writes; it works alike on a single node and on Redis Cluster.
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

	// Leases says where each key's refresh lease is kept: the zero value,
	// LeasesApart, where every release before this field kept it. On
	// Redis Cluster, LeasesBeside keeps it in its token's hash slot, and
	// halves the round trips of a refresh; a fleet moves to it through
	// LeasesMoving (see LeaseLayout). A value that is none of the three
	// makes the methods that take leases fail.
	Leases LeaseLayout
}

var (
	_ oauthrt.TokenStore       = (*Store)(nil)
	_ oauthrt.LeaseLocker      = (*Store)(nil)
	_ oauthrt.Committer        = (*Store)(nil)
	_ oauthrt.GrantStateStore  = (*Store)(nil)
	_ oauthrt.KeyLister        = (*Store)(nil)
	_ oauthrt.GrantStateLister = (*Store)(nil)
	_ oauthrt.Deleter          = (*Store)(nil)
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

// The names of the Redis keys of the store key k, for the prefix p. The
// token and lease keys are named as by the previous release; the others
// accompany one of them in its hash slot (see companion).

// tokenKey names the key holding k's token.
func (s *Store) tokenKey(key string) string { return s.prefix() + "token:" + key }

// tokenKeys names the keys of k's token, in the order the scripts take
// them: the token, its fingerprint record and its grant state.
func (s *Store) tokenKeys(key string) []string {
	p, token := s.prefix(), s.tokenKey(key)
	return []string{token, companion(p, "fp:", key, token), companion(p, "state:", key, token)}
}

// stateKey names the key holding k's grant state.
func (s *Store) stateKey(key string) string {
	return companion(s.prefix(), "state:", key, s.tokenKey(key))
}

// leaseKeys names the keys of k's lease, in the order the take script
// takes them: the lease and its epoch counter. Under LeasesMoving they
// are those beside the token, which TakeLeaseIf takes with the token; the
// Store takes the others first (see LeaseLayout).
func (s *Store) leaseKeys(key string) []string {
	if s.Leases == LeasesApart {
		return s.apartLeaseKeys(key)
	}
	return s.besideLeaseKeys(key)
}

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

// save writes a token's value with its fingerprint record, and deletes
// the grant state, in one step. KEYS: the token, its fingerprint record,
// its grant state. ARGV: the value, its token's fingerprint.
var save = redis.NewScript(`
redis.call("SET", KEYS[1], ARGV[1])
redis.call("HSET", KEYS[2], "fp", ARGV[2], "sum", redis.sha1hex(ARGV[1]))
redis.call("DEL", KEYS[3])
return 1
`)

// Save stores tok under key, replacing the earlier token, and clears the
// key's grant state, in one script. A nil tok is an error, and so is a
// ctx that has already ended: then nothing is stored.
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
	if err := save.Run(ctx, c, s.tokenKeys(key), b, oauthrt.Fingerprint(tok)).Err(); err != nil {
		return fmt.Errorf("oauthrt: redisstore: saving key %q: %w", key, err)
	}
	return nil
}

// String describes the store's settings: never its client's options,
// its AEAD or a token.
func (s Store) String() string {
	if s.Leases != LeasesApart {
		return fmt.Sprintf("redisstore.Store{Prefix: %q, Encrypted: %t, Leases: %v}", s.prefix(), s.AEAD != nil, s.Leases)
	}
	return fmt.Sprintf("redisstore.Store{Prefix: %q, Encrypted: %t}", s.prefix(), s.AEAD != nil)
}
