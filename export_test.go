package oauthrt

import (
	"time"
	"unsafe"
)

// Hooks into unexported state for the tests of package oauthrt_test.

// FlightWaiters returns how many requests wait on the refresh under way
// for key, or -1 when none is under way.
func FlightWaiters(t *Transport, key string) int32 {
	s := t.state(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flight.Load()
	if f == nil {
		return -1
	}
	return f.waiters.Load()
}

// LockKey takes the lock of key's refresh state and returns its unlock.
func LockKey(t *Transport, key string) (unlock func()) {
	s := t.state(key)
	s.mu.Lock()
	return s.mu.Unlock
}

var (
	BearerError        = bearerError
	CredentialsAllowed = credentialsAllowed
)

// Challenge is one challenge of a WWW-Authenticate header, as the
// Transport's parser reads it.
type Challenge struct {
	Scheme  string
	Params  map[string]string
	Token68 string
}

// Challenges returns the challenges the Transport's parser reads in the
// WWW-Authenticate header values.
func Challenges(values []string) []Challenge {
	var out []Challenge
	for _, c := range parseChallenges(values) {
		out = append(out, Challenge{Scheme: c.scheme, Params: c.params, Token68: c.token68})
	}
	return out
}

// ShortSaveRetries makes the saves of a token kept under a lease retry
// after a millisecond, doubling, until the test ends.
func ShortSaveRetries(t interface{ Cleanup(func()) }) {
	old := heldSaveFirst
	heldSaveFirst = time.Millisecond
	t.Cleanup(func() { heldSaveFirst = old })
}

// FenceEveryLease makes a flight renew even the lease it has just taken
// before it refreshes, until the test ends: the tests of the fence lose
// a lease as soon as it is taken, which only a paused process sees.
func FenceEveryLease(t interface{ Cleanup(func()) }) {
	fenceEveryLease.Store(true)
	t.Cleanup(func() { fenceEveryLease.Store(false) })
}

// ShortCloseWait makes Close wait at most d for the refreshes under way,
// until the test ends.
func ShortCloseWait(t interface{ Cleanup(func()) }, d time.Duration) {
	old := closeWait
	closeWait = d
	t.Cleanup(func() { closeWait = old })
}

// FlightDone returns a channel closed when the refresh under way for key
// ends, or a closed one when none is under way.
func FlightDone(t *Transport, key string) <-chan struct{} {
	s := t.state(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flight.Load()
	if f == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return f.done
}

// DropIdle drops the states of t's keys idle at now, as its timer does,
// and returns how many it dropped.
func DropIdle(t *Transport, now time.Time) int { return t.dropIdle(now) }

// KeyStates returns how many keys t keeps a state for.
func KeyStates(t *Transport) int {
	n := 0
	t.keys.Range(func(*keyState) bool { n++; return true })
	return n
}

// HasRareState reports whether t keeps, for key, what few keys need
// remembered (keyRare): a dead grant, a backoff, a token the store did not
// take, the token of a claims challenge, a failed refresh ahead of expiry.
func HasRareState(t *Transport, key string) bool {
	s := t.keys.Load(key)
	return s != nil && s.rare.Load() != nil
}

// KeyStateSize is the size of the state a Transport keeps per key.
const KeyStateSize = unsafe.Sizeof(keyState{})

// CachedSize is the size of a cached token, which every key in use holds.
const CachedSize = unsafe.Sizeof(cached{})

// OnBatchQueued calls f with each key that waits to be read in a batch,
// until the test ends.
func OnBatchQueued(tb interface{ Cleanup(func()) }, f func(key string)) {
	batchQueued = f
	tb.Cleanup(func() { batchQueued = nil })
}

// BatchSlots is how many reads of the store go alone before the next
// waits for a batch.
const BatchSlots = batchSlots
