package oauthrt

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oauthrt/oauthrt/internal/holder"
	"golang.org/x/oauth2"
)

// A TokenStore keeps one token per key: in memory, in a file, a database
// or a cache shared by many processes.
//
// Implementations must be safe for concurrent use by multiple goroutines,
// and should honour ctx. A key is any Go string, including the empty
// string, invalid UTF-8, NUL and very long strings: a store keeps it
// exactly as given, or refuses it (in Save, Load and Lock alike) with an
// error saying why; it never keeps a token under a different key. Load returns a token the caller must not modify;
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
// ready to use. Every key, any Go string, is kept exactly as given.
//
// It suits single-process programs and tests; tokens saved in it are lost
// when the process exits. It is also a [LeaseLocker], so that several
// Transports of one process sharing a MemoryStore refresh each key once
// between them, as one Transport would.
type MemoryStore struct {
	// LeaseTTL is how long a refresh lease lasts unless it is renewed or
	// released. Zero or negative means DefaultLeaseTTL; a positive value
	// below MinLeaseTTL makes Lock and TakeLease fail.
	LeaseTTL time.Duration

	mu     sync.RWMutex
	tokens *memoryTokens // nil until the first token is stored
	leases map[string]*memoryLease
	epochs map[string]uint64     // the last lease epoch of each key
	states map[string]GrantState // only keys with a non-zero state
}

var (
	_ LeaseLocker      = (*MemoryStore)(nil)
	_ Committer        = (*MemoryStore)(nil)
	_ GrantStateStore  = (*MemoryStore)(nil)
	_ KeyLister        = (*MemoryStore)(nil)
	_ GrantStateLister = (*MemoryStore)(nil)
	_ Deleter          = (*MemoryStore)(nil)
	_ LeaseLoader      = (*MemoryStore)(nil)
	_ FencedLease      = (*memoryLease)(nil)
	_ CommitReleaser   = (*memoryLease)(nil)
)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{}
}

// Load returns the token stored under key, or an error wrapping
// [ErrNoToken]. The token is a copy, the caller's to keep or change.
func (s *MemoryStore) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	tok := s.tokens.get(key)
	s.mu.RUnlock()
	if tok == nil {
		return nil, fmt.Errorf("%w under key %q", ErrNoToken, key)
	}
	return tok, nil
}

// Save stores a copy of tok under key. A nil tok is an error.
func (s *MemoryStore) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if tok == nil {
		return errors.New("oauthrt: MemoryStore.Save: nil token")
	}
	s.mu.Lock()
	s.putLocked(key, tok)
	s.mu.Unlock()
	return nil
}

// Commit stores a copy of tok under key if the store holds prev (nil: no
// token) under key, or else returns an error wrapping
// [ErrCommitConflict]. See [Committer].
func (s *MemoryStore) Commit(ctx context.Context, key string, prev, tok *oauth2.Token) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if tok == nil {
		return errors.New("oauthrt: MemoryStore.Commit: nil token")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commitLocked(key, prev, tok)
}

// commitLocked is Commit's comparison and write; s.mu must be held.
func (s *MemoryStore) commitLocked(key string, prev, tok *oauth2.Token) error {
	if Fingerprint(s.tokens.held(key)) != Fingerprint(prev) {
		return fmt.Errorf("oauthrt: MemoryStore: committing the token of key %q: %w", key, ErrCommitConflict)
	}
	s.putLocked(key, tok)
	return nil
}

// putLocked stores a copy of tok under key, and clears the key's grant
// state; s.mu must be held.
func (s *MemoryStore) putLocked(key string, tok *oauth2.Token) {
	if s.tokens == nil {
		s.tokens = new(memoryTokens)
	}
	s.tokens.put(key, tok)
	delete(s.states, key)
}

// LoadGrantState returns the key's [GrantState]; the zero one when none
// is kept.
func (s *MemoryStore) LoadGrantState(ctx context.Context, key string) (GrantState, error) {
	if err := ctx.Err(); err != nil {
		return GrantState{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.states[key], nil
}

// SaveGrantState replaces the key's [GrantState]; the zero one deletes
// it.
func (s *MemoryStore) SaveGrantState(ctx context.Context, key string, st GrantState) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.IsZero() {
		delete(s.states, key)
		return nil
	}
	if s.states == nil {
		s.states = make(map[string]GrantState)
	}
	s.states[key] = st
	return nil
}

// String describes the store without its tokens.
func (s *MemoryStore) String() string {
	s.mu.RLock()
	n := s.tokens.len()
	s.mu.RUnlock()
	return fmt.Sprintf("oauthrt.MemoryStore{%d keys}", n)
}

// GoString is like String, so that %#v does not print tokens either.
func (s *MemoryStore) GoString() string { return s.String() }

// Lock takes the refresh lease of key, waiting while another holder has
// it, until ctx ends. See [Locker].
func (s *MemoryStore) Lock(ctx context.Context, key string) (unlock func(), err error) {
	l, err := s.TakeLease(ctx, key)
	if err != nil {
		return nil, err
	}
	return l.Release, nil
}

// TakeLease takes the refresh lease of key for LeaseTTL, waiting while
// another holder has it, until ctx ends; then the error wraps ctx.Err().
func (s *MemoryStore) TakeLease(ctx context.Context, key string) (Lease, error) {
	l, _, err := s.takeLease(ctx, key, nil, false)
	if l == nil {
		return nil, err // not a typed nil
	}
	return l, err
}

// TakeLeaseIf takes the refresh lease of key as TakeLease does if the
// store holds prev (nil: no token) under key, and returns it with the
// key's token and grant state; when the store holds another token it
// returns a nil Lease with them. See [LeaseLoader].
func (s *MemoryStore) TakeLeaseIf(ctx context.Context, key string, prev *oauth2.Token) (Lease, Snapshot, error) {
	l, snap, err := s.takeLease(ctx, key, prev, true)
	if l == nil {
		return nil, snap, err
	}
	return l, snap, err
}

// OneTripStore returns s: its one-trip methods act on s itself. See
// [SnapshotLoader].
func (s *MemoryStore) OneTripStore() TokenStore { return s }

// LoadSnapshot returns the key's token (nil: none) and grant state. See
// [SnapshotLoader].
func (s *MemoryStore) LoadSnapshot(ctx context.Context, key string) (Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return Snapshot{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.snapshotLocked(key), nil
}

// snapshotLocked returns the key's snapshot; s.mu must be held.
func (s *MemoryStore) snapshotLocked(key string) Snapshot {
	return Snapshot{Token: s.tokens.get(key), State: s.states[key]}
}

// takeLease takes key's lease, waiting while it is held; when
// conditional, only while the store holds prev under key, and otherwise
// it returns no lease. The snapshot is read as the lease is taken.
func (s *MemoryStore) takeLease(ctx context.Context, key string, prev *oauth2.Token, conditional bool) (*memoryLease, Snapshot, error) {
	ttl, err := memoryLeaseTTL(s.LeaseTTL)
	if err != nil {
		return nil, Snapshot{}, err
	}
	want := Fingerprint(prev)
	var timer *time.Timer
	for {
		if err := ctx.Err(); err != nil {
			return nil, Snapshot{}, fmt.Errorf("oauthrt: MemoryStore: waiting for the refresh lease of key %q: %w", key, err)
		}
		s.mu.Lock()
		snap := s.snapshotLocked(key)
		if conditional && Fingerprint(snap.Token) != want {
			s.mu.Unlock()
			return nil, snap, nil
		}
		now := time.Now()
		held := s.leases[key]
		if held == nil || !now.Before(held.until) {
			if s.leases == nil {
				s.leases = make(map[string]*memoryLease)
				s.epochs = make(map[string]uint64)
			}
			s.epochs[key]++
			l := &memoryLease{store: s, key: key, holder: holder.New(), ttl: ttl, epoch: s.epochs[key], until: now.Add(ttl), released: make(chan struct{})}
			s.leases[key] = l
			s.mu.Unlock()
			return l, snap, nil
		}
		released, left := held.released, held.until.Sub(now)
		s.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(left)
			defer timer.Stop()
		} else {
			timer.Reset(left)
		}
		select {
		case <-released:
		case <-timer.C:
		case <-ctx.Done():
		}
	}
}

// memoryLeaseTTL resolves MemoryStore.LeaseTTL.
func memoryLeaseTTL(ttl time.Duration) (time.Duration, error) {
	switch {
	case ttl <= 0:
		return DefaultLeaseTTL, nil
	case ttl < MinLeaseTTL:
		return 0, fmt.Errorf("oauthrt: MemoryStore.LeaseTTL %v is shorter than MinLeaseTTL (%v)", ttl, MinLeaseTTL)
	}
	return ttl, nil
}

// memoryLease is a lease of a MemoryStore; its until is guarded by the
// store's mu.
type memoryLease struct {
	store    *MemoryStore
	key      string
	holder   string // names the taking for Inspect
	ttl      time.Duration
	epoch    uint64
	until    time.Time
	released chan struct{} // closed when released while current
}

func (l *memoryLease) TTL() time.Duration { return l.ttl }

func (l *memoryLease) Epoch() uint64 { return l.epoch }

func (l *memoryLease) Renew(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("oauthrt: MemoryStore: renewing the refresh lease of key %q: %w", l.key, err)
	}
	s := l.store
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.leases[l.key] != l || !now.Before(l.until) {
		return fmt.Errorf("%w: key %q", ErrLeaseLost, l.key)
	}
	l.until = now.Add(l.ttl)
	return nil
}

func (l *memoryLease) Release() {
	s := l.store
	s.mu.Lock()
	defer s.mu.Unlock()
	l.releaseLocked()
}

// releaseLocked releases l if it is still the key's lease; the store's
// mu must be held.
func (l *memoryLease) releaseLocked() {
	s := l.store
	if s.leases[l.key] == l {
		delete(s.leases, l.key)
		close(l.released)
	}
}

// CommitRelease commits tok over prev as the store's Commit does, and
// releases the lease if it is still this holder's, in one step. See
// [CommitReleaser].
func (l *memoryLease) CommitRelease(ctx context.Context, prev, tok *oauth2.Token) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if tok == nil {
		return errors.New("oauthrt: MemoryStore: CommitRelease: nil token")
	}
	s := l.store
	s.mu.Lock()
	defer s.mu.Unlock()
	defer l.releaseLocked()
	return s.commitLocked(l.key, prev, tok)
}

// ListKeys returns, in byte order, up to limit keys (zero or less: 1000)
// that start with prefix and hold a token, after cursor. See [KeyLister].
func (s *MemoryStore) ListKeys(ctx context.Context, prefix, cursor string, limit int) ([]string, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	after, first, err := memoryCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	s.mu.RLock()
	keys := pageOf(s.tokens.keys(), prefix, after, first, pageLimit(limit))
	s.mu.RUnlock()
	return keys, nextCursor(keys, pageLimit(limit)), nil
}

// ListGrantStates returns, in byte order of their keys, up to limit keys
// (zero or less: 1000) that start with prefix and have a grant state
// that is not zero, after cursor. See [GrantStateLister].
func (s *MemoryStore) ListGrantStates(ctx context.Context, prefix, cursor string, limit int) ([]KeyGrantState, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	after, first, err := memoryCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	keys := pageOf(maps.Keys(s.states), prefix, after, first, pageLimit(limit))
	states := make([]KeyGrantState, len(keys))
	for i, k := range keys {
		states[i] = KeyGrantState{Key: k, State: s.states[k]}
	}
	return states, nextCursor(keys, pageLimit(limit)), nil
}

// Delete removes the token stored under key and its grant state. See
// [Deleter].
func (s *MemoryStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.tokens.delete(key)
	delete(s.states, key)
	s.mu.Unlock()
	return nil
}

// defaultPage is how many keys a page holds when the caller gives no
// limit.
const defaultPage = 1000

func pageLimit(limit int) int {
	if limit <= 0 {
		return defaultPage
	}
	return limit
}

// A MemoryStore's cursor is "k" followed by the last key of the page
// before: "k" alone is a cursor after the key "".
func memoryCursor(cursor string) (after string, first bool, err error) {
	if cursor == "" {
		return "", true, nil
	}
	if !strings.HasPrefix(cursor, "k") {
		return "", false, errors.New("oauthrt: MemoryStore: not a cursor of this store")
	}
	return cursor[1:], false, nil
}

// nextCursor is the cursor after a page of keys: "" when the page was
// not full, so there are no more.
func nextCursor(keys []string, limit int) string {
	if len(keys) < limit {
		return ""
	}
	return "k" + keys[len(keys)-1]
}

// pageOf returns, sorted, the first limit keys of all that start with
// prefix and come after after (or from the first, when first is set),
// in one pass that keeps at most limit of them.
func pageOf(all iter.Seq[string], prefix, after string, first bool, limit int) []string {
	var page []string
	for k := range all {
		if !strings.HasPrefix(k, prefix) || !first && k <= after {
			continue
		}
		if len(page) == limit {
			if k >= page[limit-1] {
				continue
			}
			page = page[:limit-1]
		}
		i, _ := slices.BinarySearch(page, k)
		page = slices.Insert(page, i, k)
	}
	return page
}
