package oauthrt

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"golang.org/x/oauth2"
)

// The optional capabilities below make a shared store hold the fleet
// protocol by construction rather than by timing: the protocol's steps
// are in protocol.go, and the README's "The fleet protocol" section says
// what each one buys.

// A Committer is a [TokenStore] that saves a refreshed token only if it
// still holds the token the refresh started from. The [Transport] saves
// every refreshed token with Commit when its store is a Committer, so that
// a process that lost its lease (paused, partitioned, slow) can never
// write an older token of the grant over a newer one: its commit loses,
// and it adopts the token the store holds.
//
// With a store that is not a Committer the Transport saves with Save, as
// before: the lease alone keeps refreshes apart, and a holder that lost
// its lease without knowing it (a process paused for longer than the
// lease's TTL) can overwrite the token that a later holder saved.
type Committer interface {
	TokenStore
	// Commit stores tok under key, as Save does, only if the store holds
	// prev under key: a token whose [Fingerprint] is prev's (the same
	// access token and refresh token), or, when prev is nil, no token at
	// all. The comparison and the write are one atomic step for every
	// process sharing the store. When the store holds something else,
	// Commit stores nothing and returns an error wrapping
	// [ErrCommitConflict]. A successful Commit, like Save, clears the
	// key's [GrantState] when the store is a [GrantStateStore].
	Commit(ctx context.Context, key string, prev, tok *oauth2.Token) error
}

// ErrCommitConflict means a [Committer] did not commit a token because
// the store no longer holds the token the refresh started from: another
// process committed first, or the application saved a new authorization.
// The [Transport] then uses the stored token, and never writes over it.
var ErrCommitConflict = errors.New("oauthrt: the store holds another token than the one the refresh started from")

// Fingerprint returns a digest of tok's access token and refresh token,
// which tells two tokens apart without holding either: the hex SHA-256
// of both, each prefixed by its length. It is "" for a nil tok. Stores
// that keep tokens encrypted can keep the fingerprint beside them, in
// the clear, to compare tokens in a conditional write ([Committer]); a
// fingerprint reveals nothing usable about a token drawn at random, as
// access and refresh tokens are.
func Fingerprint(tok *oauth2.Token) string {
	if tok == nil {
		return ""
	}
	h := sha256.New()
	var n [8]byte
	for _, s := range []string{tok.AccessToken, tok.RefreshToken} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// GrantState is what the whole fleet knows about a key's grant, beside
// its token: whether the token endpoint refused it for good, and when
// the endpoint may next be called after a transient failure. The zero
// value means neither: the grant is not known dead, and nothing waits.
type GrantState struct {
	// DeadToken is the Fingerprint of the stored token whose refresh the
	// token endpoint refused for good (invalid_grant and the like). While
	// the store still holds that token, no process presents its refresh
	// token again: each fails at once with an error wrapping
	// [ErrReauthRequired]. "" means the grant is not known dead.
	DeadToken string
	// DeadCode is the OAuth error code the endpoint refused the grant
	// with, such as "invalid_grant"; "" when it gave none, or the grant
	// is not dead.
	DeadCode string
	// DeadAt is when the grant was found dead; zero when it was not.
	DeadAt time.Time
	// NextAttempt is the earliest time any process may call the token
	// endpoint for the key again, after a transient failure (a 5xx or
	// 429 answer, or a network error); it honours Retry-After. Zero
	// means no wait.
	NextAttempt time.Time
	// Failures counts the transient failures in a row that NextAttempt
	// backs off from; 0 after a success.
	Failures int
	// FailingSince is when the first of those Failures happened: since
	// when the grant is degraded (see [Health]). Zero when Failures is 0,
	// or when a store or process of an earlier release recorded them.
	FailingSince time.Time
}

// IsZero reports whether st records nothing.
func (st GrantState) IsZero() bool { return st == GrantState{} }

// A GrantStateStore is a [TokenStore] that keeps each key's [GrantState]
// for every process sharing it, so that a dead refresh token is presented
// once per fleet rather than once per process, and a failing token
// endpoint is called at most once per backoff step by the whole fleet.
// Without it, each process keeps that state in its own memory.
//
// Saving or committing a token under a key clears the key's grant state:
// a new grant is not dead, and a refresh that succeeded ends the backoff.
type GrantStateStore interface {
	TokenStore
	// LoadGrantState returns the key's grant state: the zero GrantState,
	// and no error, when none is kept (whether or not a token is).
	LoadGrantState(ctx context.Context, key string) (GrantState, error)
	// SaveGrantState replaces the key's grant state; the zero GrantState
	// deletes it. It leaves the key's token as it is, and may be called
	// for a key that has none.
	SaveGrantState(ctx context.Context, key string, st GrantState) error
}

// A FencedLease is a [Lease] with a fencing token: an epoch that grows
// with every lease taken on the key. Before it presents a refresh token,
// the [Transport] renews its lease: a Renew that fails with
// [ErrLeaseLost] proves a later lease exists, and the refresh token is not
// presented. Every lease of this module's stores is a FencedLease.
type FencedLease interface {
	Lease
	// Epoch is the lease's fencing token. It is never 0, and is greater
	// than the epoch of every lease taken earlier on the same key through
	// the same store, by any process, for as long as the store keeps its
	// data.
	Epoch() uint64
}

// A TransientError is a failed refresh that may succeed later with the
// same refresh token: the token endpoint answered 5xx or 429, could not
// be reached, or took the request and its answer was lost. Refreshers
// return it (this module's all do) so that the [Transport] can back the
// key off, for the whole fleet with a [GrantStateStore], and retry a lost
// answer within the provider's rotation grace window ([RotationGracer]).
// An error that is not a TransientError (and does not wrap
// [ErrReauthRequired]) is not backed off across refreshes.
type TransientError struct {
	// Err is the failure; never nil.
	Err error
	// RetryAfter is the wait the endpoint asked for (Retry-After), or 0.
	RetryAfter time.Duration
	// AnswerLost reports that the request was sent and no answer came
	// back (the connection was reset or timed out after the request was
	// written): the provider may have rotated the refresh token.
	AnswerLost bool
}

func (e *TransientError) Error() string {
	if e.Err == nil {
		return "oauthrt: the token endpoint failed transiently"
	}
	return e.Err.Error()
}

func (e *TransientError) Unwrap() error { return e.Err }

// A BackoffError is the error of a request whose token needed a refresh
// while its key was backed off after transient failures of the token
// endpoint: no process of the fleet calls the endpoint for the key before
// Next, and the request fails at once instead of waiting. Requests whose
// token is still valid are not affected.
type BackoffError struct {
	Key  string    // the store key
	Next time.Time // when the endpoint may be called again
	// Err is the failure that started or prolonged the backoff, when this
	// Transport saw it; nil when the backoff was learned from the store.
	Err error
}

func (e *BackoffError) Error() string {
	msg := fmt.Sprintf("oauthrt: key %q: the token endpoint is backed off until %s", e.Key, e.Next.UTC().Format(time.RFC3339Nano))
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *BackoffError) Unwrap() error { return e.Err }

// A RotationGracer is a [Refresher] that knows its provider's rotation
// grace window: how long a refresh token stays usable after it was
// presented and rotated. Okta, Atlassian and Xero keep one; a provider
// without one revokes the grant the second time a refresh token is
// presented.
//
// A refresh whose answer was lost (a [TransientError] with AnswerLost) is
// retried at once with the same refresh token while the window, counted
// from the first attempt, is open: the provider may have rotated the token
// and its answer with the new one never arrived. Past the window the
// refresh fails; the next one presents the refresh token again, which a
// provider that did rotate refuses with invalid_grant, and the grant is
// reported dead (see the README's "What cannot be saved"). A Refresher that
// is not a RotationGracer gets [DefaultRotationGrace].
type RotationGracer interface {
	Refresher
	// RotationGrace returns the window; 0 or less means the provider has
	// none, and a lost answer is not retried within the refresh.
	RotationGrace() time.Duration
}

// DefaultRotationGrace is the rotation grace window assumed for a
// Refresher that does not say (see [RotationGracer]).
const DefaultRotationGrace = 5 * time.Second
