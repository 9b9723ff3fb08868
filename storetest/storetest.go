// Package storetest is the conformance suite that every
// [oauthrt.TokenStore] of this module passes, and that other
// implementations can run too:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Backend {
//			path := filepath.Join(t.TempDir(), "tokens.json")
//			return storetest.Backend{
//				Open: func(o storetest.Options) oauthrt.TokenStore {
//					return &filestore.Store{Path: path, LeaseTTL: o.LeaseTTL, AEAD: o.AEAD}
//				},
//			}
//		})
//	}
//
// It checks that Load returns every field that Save was given (Expiry to
// the second, and the raw extra fields), ErrNoToken for a missing key,
// safety under concurrent use, and that a cancelled context is honoured.
//
// Keys are arbitrary Go strings. The suite saves a distinct token under
// each of a set of odd keys: empty, invalid UTF-8 and its U+FFFD
// spelling, NUL bytes, newlines, '/', ':', "..", surrounding spaces,
// case, both Unicode normalizations of one text, keys of 10 KB and 100
// KB and their truncations. Each must either round-trip exactly, or be
// refused by Save, Lock and TakeLease alike with an error that says so
// (and then Load returns no token); no key may reach another's token or
// lease.
//
// When the store implements [oauthrt.Locker], it checks that a lease
// excludes other holders, lapses after its TTL, cannot be released by a
// holder whose lease lapsed, and that a positive LeaseTTL below
// [oauthrt.MinLeaseTTL] is refused with an error naming both. When it
// implements [oauthrt.LeaseLocker], it checks that TakeLease and Lock
// exclude each other, that Lease.TTL reports the configured TTL (the
// default for zero), that Renew keeps a lease held past its TTL, that
// Renew of a lapsed lease fails with [oauthrt.ErrLeaseLost] without
// taking it again, and that Release frees the lease but never the next
// holder's. These checks wait out TTLs of oauthrt.MinLeaseTTL, some
// seconds in all. Within one subtest every Open gets the same Options, so
// a backend may return one store per subtest, made with the first Open's.
//
// When the store implements [oauthrt.Committer], it checks that Commit
// with a nil prev writes only into an empty key; that Commit over prev
// writes only while the store holds a token with prev's access token and
// refresh token, both compared (see [oauthrt.Fingerprint]; the other
// fields may differ), and otherwise stores nothing and fails with
// [oauthrt.ErrCommitConflict]; that of 16 handles committing over one
// token at once exactly one wins, into an empty key too; that Commit
// accepts and refuses the odd keys exactly as Save does, and never
// reaches another key's token; that it honours a cancelled context; and
// that with an AEAD it compares tokens, not ciphertexts.
//
// When the store implements [oauthrt.GrantStateStore], it checks that
// LoadGrantState returns the zero GrantState and no error for a key that
// has none; that a state round-trips through every handle, its times to
// the millisecond (a store may round them and drop their location); that
// the zero state deletes it; that a state neither needs nor creates a
// token; that each odd key keeps its own; that Save and a successful
// Commit clear the key's state, and a conflicting Commit keeps it.
//
// When the store's leases are fenced ([oauthrt.FencedLease]), it checks that
// every epoch is non-zero and greater than that of every earlier lease
// on the key: after a Release, through another handle, after a lapse
// (when the lapsed holder's Renew fails with [oauthrt.ErrLeaseLost]), and
// in the order that many goroutines on two handles held the lease.
//
// When the store implements [oauthrt.KeyLister], it walks some hundred
// keys, the odd keys among them, a few a page, and checks that every key
// Save accepted is listed (a key listed twice is allowed), byte for
// byte, and no key that holds only a grant state, a lease or a deleted
// token; that a prefix lists exactly the keys that start with its bytes,
// whatever it holds (NUL, invalid UTF-8, part of a character, and the
// characters glob patterns and LIKE give a meaning: * ? [ % _ \); that an
// empty store lists nothing; and that a cursor no page returned is an
// error. When it implements [oauthrt.Deleter], it checks that Delete
// removes a key's token and grant state for every handle and every
// listing, and nothing of its neighbours'; that a Commit over the deleted
// token conflicts; that the key's lease epochs go on growing; that
// deleting nothing is not an error; and that Delete refuses exactly the
// keys Save refuses. When it implements [oauthrt.GrantStateLister], it
// checks that exactly the keys whose state is not zero are listed, with
// that state, whether or not they hold a token: not those a Save, a
// Commit, a Delete or the zero state cleared. Each of these honours a
// cancelled context.
//
// When the store implements [oauthrt.Inspector], it walks some twenty
// keys, odd ones among them, a few a page under several prefixes, and
// checks that each page is in key order, that every key holding a token
// is returned with that token and its grant state, and no key that holds
// only a grant state, a lease or a deleted token; that a held lease shows
// a Holder, an Until a TTL ahead and the lease's Epoch, a released or
// lapsed one no Holder and its Epoch, and two takings two Holders; that
// Sealed tells sealed tokens from clear ones; that a token the store's
// AEAD does not open, or that is corrupt, fails its record with
// [oauthrt.ErrDecrypt] or [oauthrt.ErrCorruptToken] and a nil Token,
// while its neighbours on the page read; and that a bad cursor and a
// cancelled context are errors.
//
// When the store implements [oauthrt.SnapshotLoader], it checks that a
// snapshot reads what Load and LoadGrantState read; when it implements
// [oauthrt.LeaseLoader], that TakeLeaseIf excludes as TakeLease does and
// takes nothing once the token changed; when its leases are
// [oauthrt.CommitReleaser], that CommitRelease commits as Commit does and
// lets the lease go. When it implements [oauthrt.BatchLoader], it checks
// that LoadMany returns, for every key and in their order (repeated,
// missing and odd keys, and more than one statement's worth), the token
// Load returns, and nil exactly where Load fails (a missing key, a
// corrupt record, one sealed with another AEAD); that it opens tokens
// sealed with the store's AEAD; and that a cancelled context is an error
// wrapping [context.Canceled].
//
// A section whose capability the store lacks skips, and its message
// names the interface: run the suite with -v to see which were skipped.
//
// With an AEAD it checks encryption at rest: what is stored holds no
// token, and a wrong or missing key gives [oauthrt.ErrDecrypt].
package storetest

import (
	"context"
	"crypto/cipher"
	"time"

	"github.com/oauthrt/oauthrt"
)

// Options are the settings the suite gives Backend.Open.
type Options struct {
	// LeaseTTL is the lease time to live for a store that implements
	// oauthrt.Locker. Zero means the store's default. Every Open of one
	// subtest gets the same LeaseTTL.
	LeaseTTL time.Duration
	// AEAD encrypts tokens at rest. nil means none.
	AEAD cipher.AEAD
}

// Backend is one empty storage location (a file, a table, a key prefix)
// that the suite's checks use.
type Backend struct {
	// Open returns a store on the backend, set up with o. Required. Every
	// store it returns must share the data, as the processes of a fleet
	// share one database.
	Open func(o Options) oauthrt.TokenStore

	// Raw returns the bytes held at rest for key, as the store's codec
	// wrote them. Optional: without it the suite cannot check that
	// encrypted data holds no token.
	Raw func(key string) ([]byte, error)

	// Put writes raw bytes for key, as Raw returns them. Optional: without
	// it the suite cannot check corrupt and misplaced data.
	Put func(key string, raw []byte) error

	// NoEncryption skips the encryption checks, for a store (such as
	// oauthrt.MemoryStore) that keeps nothing at rest and takes no AEAD.
	NoEncryption bool
}

// shortWait bounds a Lock that the suite expects to fail because another
// holder has the lease for a minute. It only makes the test wait; its
// length decides no outcome.
const shortWait = 150 * time.Millisecond

// longWait bounds a Lock that the suite expects to succeed.
const longWait = 30 * time.Second

// freeWait bounds a Lock that the suite expects to find the lease free:
// shorter than oauthrt.MinLeaseTTL, so that a lease still held (or taken
// again) until its TTL runs out makes it fail.
const freeWait = time.Second

// lapseSlack is how much longer than a TTL the suite waits for a lease
// to lapse, for the clocks of a store and its host to disagree a little.
const lapseSlack = 500 * time.Millisecond

func ctxWithin(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
