package oauthrt

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/oauth2"
)

// The capabilities below serve a grant's whole life rather than one
// refresh: walking a store's keys (for keep-alive sweeps and operators),
// listing the grants that are not healthy, deleting a grant, and revoking
// it at the provider.

// A KeyLister is a [TokenStore] that can enumerate its keys a page at a
// time, for a sweep over every grant (see the keepalive package) without
// loading every token.
type KeyLister interface {
	TokenStore
	// ListKeys returns keys that hold a token and start with prefix ("":
	// every key), a page at a time. cursor is "" for the first page, and
	// the next returned by the page before for the ones after; next is ""
	// after the last page. limit is a hint of how many keys a page holds
	// (zero or less: the store's default); a page may hold fewer, even
	// none, before the last. A walk from "" to next == "" returns every
	// key that held a token throughout it at least once, and may return a
	// key more than once (Redis' SCAN does); a key saved or deleted during
	// the walk may or may not appear. A cursor is opaque: it is only good
	// for the same store, prefix and limit.
	ListKeys(ctx context.Context, prefix, cursor string, limit int) (keys []string, next string, err error)
}

// A Deleter is a [TokenStore] that can delete a key's token.
type Deleter interface {
	TokenStore
	// Delete removes the token stored under key, with its GrantState and
	// anything else the store keeps beside it but the lease's fencing
	// epoch, which keeps growing. Deleting a key that holds nothing is
	// not an error. After Delete, Load returns an error wrapping
	// ErrNoToken, and a Commit whose prev is the deleted token fails with
	// ErrCommitConflict.
	Delete(ctx context.Context, key string) error
}

// A GrantStateLister is a [GrantStateStore] that can list the keys whose
// [GrantState] is not zero (the grants that are degraded or dead, see
// [Health]) without reading any token, a page at a time.
type GrantStateLister interface {
	GrantStateStore
	// ListGrantStates returns the keys starting with prefix whose
	// GrantState is not zero, with that state, a page at a time, as
	// [KeyLister.ListKeys] pages keys: cursor "" for the first page, next
	// "" after the last, limit a hint, and a key possibly listed twice.
	ListGrantStates(ctx context.Context, prefix, cursor string, limit int) (states []KeyGrantState, next string, err error)
}

// KeyGrantState is a key and its [GrantState], as
// [GrantStateLister.ListGrantStates] lists them.
type KeyGrantState struct {
	Key   string
	State GrantState
}

// Health is how a grant is doing, for operators: see [GrantStatus].
type Health string

// The health of a grant.
const (
	// HealthHealthy: the last refresh succeeded, or none failed since the
	// grant was saved.
	HealthHealthy Health = "healthy"
	// HealthDegraded: the token endpoint failed transiently (a 5xx or
	// 429 answer, a network error) on the last attempts; the key is backed
	// off, and the grant is expected to recover. A burst of such failures,
	// however long, never makes a grant dead.
	HealthDegraded Health = "degraded"
	// HealthDead: the provider refused the refresh token for good
	// (invalid_grant and the like): the user must authorize again.
	HealthDead Health = "dead"
	// HealthRevoked: the grant was revoked and deleted (see
	// Transport.Revoke). Only a HealthEvent says it: the key then has no
	// token, and Status fails with ErrNoToken.
	HealthRevoked Health = "revoked"
)

// Health returns the health st records: dead when DeadToken is set,
// degraded when Failures is not zero, and healthy otherwise.
func (st GrantState) Health() Health {
	switch {
	case st.DeadToken != "":
		return HealthDead
	case st.Failures > 0:
		return HealthDegraded
	}
	return HealthHealthy
}

// GrantStatus is the health of a key's grant, as [Transport.Status] and
// [ListStatuses] report it. It holds no token.
type GrantStatus struct {
	// Key is the store key of the grant.
	Key string
	// Health is how the grant is doing.
	Health Health
	// Since is when the grant became degraded (its first transient
	// failure in a row) or dead (when the provider refused it); zero for a
	// healthy grant, or when the store did not record it.
	Since time.Time
	// Attempts counts the transient failures in a row of a degraded grant;
	// 0 otherwise.
	Attempts int
	// NextAttempt is when a degraded grant's token endpoint may be called
	// again; zero otherwise.
	NextAttempt time.Time
	// Code is the provider's error code that killed a dead grant, such as
	// "invalid_grant" or "bad_refresh_token"; "" otherwise, or when the
	// provider gave none.
	Code string
}

// StatusOf returns the GrantStatus that st records for key.
func StatusOf(key string, st GrantState) GrantStatus {
	gs := GrantStatus{Key: key, Health: st.Health()}
	switch gs.Health {
	case HealthDead:
		gs.Since, gs.Code = st.DeadAt, st.DeadCode
	case HealthDegraded:
		gs.Since, gs.Attempts, gs.NextAttempt = st.FailingSince, st.Failures, st.NextAttempt
	}
	return gs
}

// A HealthEvent reports that a key's grant changed health, for
// Transport.OnHealth: the Transport that saw the change reports it, once.
// It holds no token or secret.
type HealthEvent struct {
	// Key is the store key of the grant.
	Key string
	// From is the health before; To the health now.
	From, To Health
	// Status is the grant's status now; for HealthRevoked, only its Key
	// and Health are set.
	Status GrantStatus
	// Err is the error that made the grant degraded or dead; nil for a
	// change to healthy or revoked.
	Err error
}

// A Revoker is a [Refresher] whose provider can revoke a grant's tokens,
// for [Transport.Revoke]: with RFC 7009's revocation endpoint, or the
// provider's own.
type Revoker interface {
	Refresher
	// Revoke revokes tok at the provider: its refresh token, which ends
	// the grant, and its access token where the provider needs both named.
	// A token the provider does not know (already revoked or expired) is
	// not an error, as RFC 7009 §2.2 says. A Revoker whose provider has
	// no revocation endpoint returns an error wrapping
	// ErrRevokeUnsupported, and sends nothing.
	Revoke(ctx context.Context, tok *oauth2.Token) error
}

// ErrRevokeUnsupported means a grant cannot be revoked at its provider:
// the Refresher is no [Revoker], or its provider has no revocation
// endpoint. Nothing was sent, and nothing was deleted.
var ErrRevokeUnsupported = errors.New("oauthrt: the provider has no revocation endpoint")

// ListStatuses returns the status of the grants whose keys start with
// prefix and whose health is one of healths (none: every health but
// revoked), a page at a time, as [KeyLister] pages keys: cursor "" for
// the first page, next "" after the last, limit a hint. It reads no
// token. Degraded and dead grants come from the store's grant states, so
// the store must be a [GrantStateLister]. Listing healthy grants walks
// the keys, so the store must also be a [KeyLister]; a key is healthy
// when it has a token and no grant state.
func ListStatuses(ctx context.Context, store TokenStore, prefix, cursor string, limit int, healths ...Health) ([]GrantStatus, string, error) {
	gl, ok := store.(GrantStateLister)
	if !ok {
		return nil, "", fmt.Errorf("oauthrt: listing grant statuses: the store (%T) is no GrantStateLister", store)
	}
	want := func(h Health) bool { return len(healths) == 0 && h != HealthRevoked || slices.Contains(healths, h) }
	var out []GrantStatus
	if !want(HealthHealthy) {
		states, next, err := gl.ListGrantStates(ctx, prefix, cursor, limit)
		if err != nil {
			return nil, "", fmt.Errorf("oauthrt: listing grant statuses: %w", err)
		}
		for _, ks := range states {
			if st := StatusOf(ks.Key, ks.State); want(st.Health) {
				out = append(out, st)
			}
		}
		return out, next, nil
	}
	kl, ok := store.(KeyLister)
	if !ok {
		return nil, "", fmt.Errorf("oauthrt: listing healthy grants: the store (%T) is no KeyLister", store)
	}
	keys, next, err := kl.ListKeys(ctx, prefix, cursor, limit)
	if err != nil {
		return nil, "", fmt.Errorf("oauthrt: listing grant statuses: %w", err)
	}
	for _, k := range keys {
		gs, err := gl.LoadGrantState(ctx, k)
		if err != nil {
			return nil, "", fmt.Errorf("oauthrt: listing grant statuses: the grant state of key %q: %w", k, err)
		}
		if st := StatusOf(k, gs); want(st.Health) {
			out = append(out, st)
		}
	}
	return out, next, nil
}
