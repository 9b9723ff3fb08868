package oauthrt

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/oauth2"
)

// A TokenStore keeps one token per key: in memory, in a file, a database
// or a cache shared by many processes.
//
// Implementations must be safe for concurrent use by multiple goroutines,
// and should honour ctx. Load returns a token the caller must not modify;
// Save must not keep a reference the caller could later modify (copy it,
// or encode it). A store shared between processes is the source of truth:
// the [Transport] reads it before every refresh, so that a token another
// process refreshed is used instead of being refreshed again.
type TokenStore interface {
	// Load returns the token stored under key, or an error wrapping ErrNoToken.
	Load(ctx context.Context, key string) (*oauth2.Token, error)
	// Save stores tok under key, replacing the earlier token.
	Save(ctx context.Context, key string, tok *oauth2.Token) error
}

// ErrNoToken means nothing is stored under the key: the user has not
// authorized the application yet, or the token was deleted. Stores wrap
// it, and so does the [Transport] when it has no token to send.
var ErrNoToken = errors.New("oauthrt: no token stored")

// MemoryStore is a [TokenStore] that keeps tokens in this process's
// memory. It is safe for concurrent use. The zero value is an empty store
// ready to use.
//
// It suits single-process programs and tests; tokens saved in it are lost
// when the process exits.
type MemoryStore struct {
	mu     sync.RWMutex
	tokens map[string]*storedToken
}

var _ TokenStore = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{}
}

// Load returns the token stored under key, or an error wrapping
// [ErrNoToken]. The token must not be modified.
func (s *MemoryStore) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	tok := s.tokens[key]
	s.mu.RUnlock()
	if tok == nil {
		return nil, fmt.Errorf("%w under key %q", ErrNoToken, key)
	}
	return tok.tok, nil
}

// Save stores a copy of tok under key. A nil tok is an error.
func (s *MemoryStore) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if tok == nil {
		return errors.New("oauthrt: MemoryStore.Save: nil token")
	}
	cp := *tok
	s.mu.Lock()
	if s.tokens == nil {
		s.tokens = make(map[string]*storedToken)
	}
	s.tokens[key] = &storedToken{tok: &cp}
	s.mu.Unlock()
	return nil
}

// String describes the store without its tokens.
func (s *MemoryStore) String() string {
	s.mu.RLock()
	n := len(s.tokens)
	s.mu.RUnlock()
	return fmt.Sprintf("oauthrt.MemoryStore{%d keys}", n)
}

// GoString is like String, so that %#v does not print tokens either.
func (s *MemoryStore) GoString() string { return s.String() }
