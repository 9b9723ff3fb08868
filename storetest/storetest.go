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
// When the store implements [oauthrt.Locker], it checks that a lease
// excludes other holders, lapses after its TTL, and cannot be released by
// a holder whose lease lapsed. With an AEAD it checks encryption at rest:
// what is stored holds no token, and a wrong or missing key gives
// [oauthrt.ErrDecrypt].
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
	// oauthrt.Locker. Zero means the store's default.
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

func ctxWithin(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
