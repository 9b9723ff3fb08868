package oauthrt

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A Locker is an optional interface for a [TokenStore] shared by several
// processes. Its Lock takes a lease on key, so that one process in the
// whole fleet refreshes the key's token while the others wait for it and
// then use the token it saved. Without it, each process refreshes on its
// own, and a provider that rotates refresh tokens revokes the grant the
// second time one is used (RFC 9700 §4.14.2).
//
// When the Store implements Locker, the Transport refreshes a key like
// this: it takes the lease, loads the token again (another process may
// have refreshed it meanwhile, and then that token is used), otherwise
// refreshes and saves, and releases the lease. If the store does not take
// the refreshed token, the lease is not released until it does: the
// Transport saves it again while holding the lease, so that no other
// process reads the rotated refresh token still stored and presents it.
//
// Lock blocks until the lease is held or ctx ends; it polls or subscribes
// with a bounded backoff, and returns an error wrapping ctx.Err() when ctx
// ends first. The lease lapses by itself after a bounded time to live, so
// that a process that crashed while holding it cannot block the others
// for ever. A plain Locker's lease is not renewed, so keep that TTL longer
// than [RefreshTimeout], or a slow refresh could outlive its lease; a
// [LeaseLocker]'s is. unlock releases the lease if it is still this
// holder's; it may be called more than once, and after the lease lapsed,
// and must not block for long. Lock must be safe for concurrent use, and
// must accept every key its store's Save accepts.
type Locker interface {
	Lock(ctx context.Context, key string) (unlock func(), err error)
}

// DefaultLeaseTTL is the time to live of a lease taken through a
// [LeaseLocker] when the store's own setting is zero. The [Transport]
// renews its leases every third of their TTL, so a refresh may take
// longer than the TTL; the TTL only bounds how long a holder that died
// (SIGKILL, a lost host) blocks the rest of the fleet: at most about 15
// seconds. A lease taken through a plain Lock is not renewed, and may
// lapse during a slow refresh; the stores' conditional commit
// ([Committer]) then keeps the store right.
const DefaultLeaseTTL = 15 * time.Second

// MinLeaseTTL is the shortest lease time to live the stores of this
// module accept: Lock and TakeLease refuse a shorter positive LeaseTTL
// with an error, and so does the [Transport] for a [Lease] whose TTL is
// shorter. A lease taken through a [LeaseLocker] is renewed by the
// Transport every third of its TTL for as long as it holds it, so the TTL
// need not outlast a refresh, only the time between two renewals with
// room for a slow store. A lease taken through a plain [Locker] is not
// renewed: its TTL must outlast a whole refresh, more than
// [RefreshTimeout].
const MinLeaseTTL = 2 * time.Second

// ErrLeaseLost is returned, wrapped, by [Lease.Renew] when the lease
// lapsed: another holder may have taken it since.
var ErrLeaseLost = errors.New("oauthrt: the refresh lease was lost")

// A Lease is one holding of a key's refresh lease, taken through a
// [LeaseLocker]. Its methods must be safe for concurrent use.
type Lease interface {
	// TTL is how long the lease lasts after it was taken or last renewed,
	// unless it is released first.
	TTL() time.Duration

	// Renew extends the lease to a full TTL from now. Once the lease has
	// lapsed, Renew fails with an error wrapping ErrLeaseLost and does
	// not take it again; any other error means the store could not be
	// asked, and the lease may still be held until its TTL runs out.
	Renew(ctx context.Context) error

	// Release releases the lease if it is still this holder's. It may be
	// called more than once, and after the lease lapsed, and must not
	// block for long; a release that fails leaves the lease to lapse.
	Release()
}

// A LeaseLocker is a [Locker] whose leases can be kept alive. When the
// Store implements it, the [Transport] takes its refresh leases through
// TakeLease and renews them every third of their TTL while it holds
// them: while the Refresher is called, and while a refreshed token the
// store failed to take is saved again, so that the other processes wait
// rather than present the rotated refresh token the store still holds.
type LeaseLocker interface {
	Locker
	// TakeLease takes the lease of key as Lock does, waiting while
	// another holder has it until ctx ends.
	TakeLease(ctx context.Context, key string) (Lease, error)
}

// ErrDecrypt means a store holds a token it cannot decrypt: the store was
// given a different AEAD key than the one the token was written with, or
// none, or the ciphertext was tampered with. The error text never holds
// the key or the data.
var ErrDecrypt = errors.New("oauthrt: stored token cannot be decrypted (wrong key, missing key, or tampered data)")

// ErrCorruptToken means what a store holds for a key is not a token it
// can read. Stores return it rather than pretending nothing is stored,
// so that a damaged file or row is never silently replaced.
var ErrCorruptToken = errors.New("oauthrt: stored token is corrupt")

// SaveError reports that a token the Transport obtained from the
// Refresher could not be saved. The Transport goes on using the token,
// keeps it in memory, and saves it again on later requests (at most once
// per backoff step) until the store takes it; its refresh token is the
// only live one, and the old one is never presented again. SaveErrors
// reach [Transport.OnError] and [Transport.Logger], never a request.
type SaveError struct {
	Key string // the store key
	Err error  // what Save returned
	// Attempt counts the saves of this token that have failed, from 1.
	Attempt int
	// Retry is the earliest time a later request will try again.
	Retry time.Time
}

// Error names the key and the attempt, and gives the store's error; it
// holds no token.
func (e *SaveError) Error() string {
	return fmt.Sprintf("oauthrt: saving the refreshed token of key %q failed (attempt %d; kept in memory): %v", e.Key, e.Attempt, e.Err)
}

// Unwrap returns the store's error.
func (e *SaveError) Unwrap() error { return e.Err }

// ExpectedHold returns how long the [Transport] that asks a store for a
// lease (through ctx, the context of TakeLease, TakeLeaseIf or Lock)
// expects the lease's current holder to keep it: about as long as its own
// recent refreshes took, since every process of the fleet refreshes at the
// same token endpoint. A store that polls for a lease held elsewhere can
// wait about that long before it asks again, rather than asking many
// times while the holder's refresh runs: each ask is a round trip. ok is
// false when the Transport knows no such time yet (it has not refreshed a
// token), and for a context a Transport did not pass. Stores are free to
// ignore it; this module's stores wait that long after the first ask that
// found the lease held, then poll as before.
func ExpectedHold(ctx context.Context) (d time.Duration, ok bool) {
	d, ok = ctx.Value(expectedHoldKey{}).(time.Duration)
	return d, ok && d > 0
}

type expectedHoldKey struct{}

// withExpectedHold returns ctx carrying the time t's recent refreshes
// took, when it knows one (see ExpectedHold).
func (t *Transport) withExpectedHold(ctx context.Context) context.Context {
	if d := time.Duration(t.refreshTime.Load()); d > 0 {
		return context.WithValue(ctx, expectedHoldKey{}, d)
	}
	return ctx
}

// timedRefresh records how long a refresh that succeeded took: an
// exponentially weighted average, each refresh counting for an eighth.
// Concurrent refreshes may each miss the other's update, which only
// slows the average down.
func (t *Transport) timedRefresh(d time.Duration) {
	old := time.Duration(t.refreshTime.Load())
	if old <= 0 {
		t.refreshTime.Store(int64(d))
		return
	}
	t.refreshTime.Store(int64(old + (d-old)/8))
}
