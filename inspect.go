package oauthrt

import (
	"context"
	"time"

	"golang.org/x/oauth2"
)

// An Inspector is a [TokenStore] that describes what it holds for each
// key to an operator, a page at a time: the token, the grant state, the
// lease and the key that seals the token, read together, so that a tool
// can list a large store without one read per key and per fact. The
// oauthrt command's status, show, export, migrate and rekey read stores
// through it.
type Inspector interface {
	TokenStore
	// Inspect returns the records of the keys that hold a token and start
	// with prefix ("": every key), a page at a time, in ascending byte
	// order of their keys within a page. cursor is "" for the first page,
	// and the next returned by the page before for the ones after; next
	// is "" after the last page. limit is a hint of how many records a
	// page holds (zero or less: the store's default); a page may hold
	// fewer, even none, before the last. A walk from "" to next == ""
	// returns every key that held a token throughout it at least once,
	// and may return a key more than once. A cursor is opaque: it is only
	// good for the same store, prefix and limit.
	//
	// A token that does not decode (a wrong or missing key, a damaged
	// value) fails its record, not the page: its Record has a nil Token
	// and an Err that says why.
	Inspect(ctx context.Context, prefix, cursor string, limit int) (records []Record, next string, err error)
}

// A Record is what a store holds for one key, as [Inspector.Inspect]
// reports it. Printed (with fmt, slog or encoding/json), it shows its
// key, whether its token was read, its grant state's health, its sealing
// and its lease, never the token: read Token to export it, and use
// [Fingerprint] to show a token to people.
type Record struct {
	// Key is the store key.
	Key string
	// Token is the key's token; nil when it could not be read, and Err
	// then says why.
	Token *oauth2.Token
	// Err is why the token could not be read: an error wrapping
	// [ErrDecrypt] (the store's key does not open it) or
	// [ErrCorruptToken] (it is not a token). nil when Token is set. It
	// holds none of the stored bytes.
	Err error
	// State is the key's grant state; zero when none is kept.
	State GrantState
	// Lease is the key's lease; its zero value when no lease is held.
	Lease LeaseInfo
	// Sealed reports whether the token is stored encrypted.
	Sealed bool
	// KeyID names the key of the store's keyring (see the keyring
	// package) that opened the token; "" when the token is stored in the
	// clear, when the store seals with a single AEAD rather than a
	// keyring, or when no key of the keyring opens it.
	KeyID string
}

// LeaseInfo describes a key's lease, for operators: who holds it and
// until when. Its zero value means no lease is held.
type LeaseInfo struct {
	// Holder identifies the lease's taker: the host name and process ID
	// of the process, then a random part unique to the taking, such as
	// "worker-7/4121/9f3c5e0a1b2d4c6e". "" means no lease is held, or the
	// last one has lapsed.
	Holder string
	// Until is when the lease lapses unless renewed, by the store's
	// clock; zero when Holder is "".
	Until time.Time
	// Epoch is the fencing epoch of the key's latest lease (see
	// [FencedLease]); it stays after the lease is released. 0 when no
	// lease was ever taken, or the store keeps no epoch.
	Epoch uint64
}
