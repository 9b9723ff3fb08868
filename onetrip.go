package oauthrt

import (
	"context"

	"golang.org/x/oauth2"
)

// oneTrip reports whether the Transport may use store's one-trip
// methods: store is a SnapshotLoader that says they act on store itself,
// not on a store it embeds.
func oneTrip(store TokenStore) bool {
	sl, ok := store.(SnapshotLoader)
	if !ok {
		return false
	}
	own, err := guardValue("the Store's OneTripStore", func() (TokenStore, error) { return sl.OneTripStore(), nil })
	return err == nil && sameStore(own, store)
}

// sameStore reports whether a and b are the same store; false when their
// dynamic type cannot be compared.
func sameStore(a, b TokenStore) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

// The interfaces of this file let a store serve a refresh in fewer round
// trips to its backend. They are optional, and each one only merges
// steps that the [Transport] otherwise takes one by one through the
// store's other methods: with all three, a refresh by one process of a
// token that expired in its memory costs two round trips (take the
// lease and read the key, then commit the new token and release the
// lease; the lease, taken a moment before the refresh token is
// presented, is confirmed only when the process was held up in between),
// where it costs eight without them; a key not in memory yet costs one
// Load more.

// A Snapshot is what a store holds for one key, read in one step: its
// token and its grant state.
type Snapshot struct {
	// Token is the stored token; nil when the store holds none for the
	// key.
	Token *oauth2.Token
	// State is the key's grant state: the zero GrantState when none is
	// kept.
	State GrantState
}

// A SnapshotLoader is a [GrantStateStore] that reads a key's token and
// its grant state in one round trip to its backend. When the store is
// one, the [Transport] reads both with LoadSnapshot, rather than with
// Load and then LoadGrantState, wherever it reads the store for a flight.
// A store that is also a [LeaseLoader] is read with Load instead (most
// reads find a good token, and Load costs less), and its lease step
// brings the grant state when a refresh is needed.
//
// A store that wraps another by embedding it would gain the embedded
// store's one-trip methods, which act on the embedded store and go around
// the wrapper's own Load, Commit or TakeLease. So the Transport uses a
// store's one-trip methods (these three interfaces) only when its
// OneTripStore returns the very store the Transport was given: a wrapper
// that embeds a store reaches it through its own methods, step by step,
// unless it declares OneTripStore itself, once it wraps these methods
// too.
type SnapshotLoader interface {
	GrantStateStore
	// LoadSnapshot returns the key's token and grant state, as Load and
	// LoadGrantState return them, read together. A key without a token
	// is not an error: the Snapshot's Token is nil. A token the store
	// cannot read is an error, as it is for Load.
	LoadSnapshot(ctx context.Context, key string) (Snapshot, error)
	// OneTripStore returns the store whose data the one-trip methods
	// read and write: the receiver itself.
	OneTripStore() TokenStore
}

// A LeaseLoader is a [LeaseLocker] that takes a key's lease only while
// the key still holds the token that needs refreshing, and reads the key
// in the same round trip. When the store is one, the [Transport] takes
// its refresh leases with TakeLeaseIf: a process that finds the token
// already refreshed by another gets that token at once, rather than
// waiting for the lease and then reading the store.
type LeaseLoader interface {
	LeaseLocker
	SnapshotLoader
	// TakeLeaseIf takes key's lease, as TakeLease does, if the store
	// holds prev under key: a token whose [Fingerprint] is prev's, or,
	// when prev is nil, no token at all. It returns the lease with the
	// key's Snapshot, read in the same atomic step. When the store holds
	// another token, it takes nothing, and returns a nil Lease with the
	// Snapshot it read. While another holder has the lease, it waits, as
	// TakeLease does, and checks both again, until it takes the lease,
	// finds another token, or ctx ends; then the error wraps ctx.Err().
	TakeLeaseIf(ctx context.Context, key string, prev *oauth2.Token) (Lease, Snapshot, error)
}

// A CommitReleaser is a [Lease] that commits a refreshed token and lets
// go of itself in one round trip. When a lease of the store is one, and
// the store is a [SnapshotLoader] whose OneTripStore is itself, the
// [Transport] saves the token refreshed under it with CommitRelease,
// rather than with the store's Commit and then the lease's Release.
type CommitReleaser interface {
	Lease
	// CommitRelease commits tok under the lease's key only if the store
	// holds prev there, exactly as the store's [Committer] Commit does
	// (and so clears the key's grant state), and releases the lease if
	// it is still this holder's, in one atomic step. It returns an error
	// wrapping [ErrCommitConflict] when the store holds another token:
	// nothing is stored, and the lease is released all the same. Any
	// other error means the store could not be asked, or could not
	// answer: either may have happened, and the lease may still be held
	// until Release or its TTL. Once the lease has lapsed, CommitRelease
	// still commits (the conditional write alone keeps the store right),
	// and releases nothing.
	CommitRelease(ctx context.Context, prev, tok *oauth2.Token) error
}
