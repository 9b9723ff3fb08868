package oauthrt

import (
	"context"
	"errors"

	"golang.org/x/oauth2"
)

// What an application or an operator asks of a key, outside the requests:
// its health, a refresh for a keep-alive sweep, dropping what the
// Transport caches, and revoking the grant.

var errNotYet = errors.New("oauthrt: not implemented yet")

// Status returns the health of key's grant, as the store's GrantState
// records it for the fleet when the store is a GrantStateStore, or as this
// Transport saw it otherwise. It reads the store, and fails with an error
// wrapping ErrNoToken when the key holds no token. It never calls the
// token endpoint.
func (t *Transport) Status(ctx context.Context, key string) (GrantStatus, error) {
	return GrantStatus{}, errNotYet
}

// Refresh refreshes key's token through the Transport's refresh protocol
// (the store's lease, the fence, the commit) unless the store no longer
// holds seen, the token the caller read: then another process or request
// refreshed it meanwhile, and Refresh reports OutcomeLoaded without
// calling the token endpoint. It waits for the refresh, which reports a
// RefreshEvent with ReasonKeepAlive, and returns OutcomeRefreshed, or
// the error: OutcomeFailed or OutcomeReauthRequired. A nil seen is an
// error. It is what a keep-alive sweep calls for an idle grant (see the
// keepalive package); requests never need it.
func (t *Transport) Refresh(ctx context.Context, key string, seen *oauth2.Token) (RefreshOutcome, error) {
	return OutcomeFailed, errNotYet
}

// Invalidate drops what the Transport caches for key, and makes the next
// request for key refresh the token, through the refresh protocol, even
// when it has not expired: for a token the application knows is no good
// (its scopes changed, the provider revoked the access token). A refresh
// under way is not stopped.
func (t *Transport) Invalidate(key string) {}

// Revoke ends key's grant: it revokes the stored token at the provider
// (the Refresher must be a Revoker), then deletes it from the store (which
// must be a Deleter), under the store's lease when it is a Locker, so that
// no refresh runs meanwhile, and drops what the Transport caches. It
// reports a HealthEvent to HealthRevoked. When the provider has no
// revocation endpoint, or the store cannot delete, it fails before
// anything is sent, with an error wrapping ErrRevokeUnsupported or saying
// so. A revocation that fails leaves the token stored, to be revoked
// again.
func (t *Transport) Revoke(ctx context.Context, key string) error {
	return errNotYet
}

// ListStatuses returns the status of the grants whose keys start with
// prefix and whose health is one of healths (none: every health), a page
// at a time, as KeyLister pages keys: cursor "" for the first page, next
// "" after the last, limit a hint. It reads no token: dead and degraded
// grants come from a GrantStateLister's states; healthy ones need the
// store to be a KeyLister too, and are the keys without a state.
func ListStatuses(ctx context.Context, store TokenStore, prefix, cursor string, limit int, healths ...Health) ([]GrantStatus, string, error) {
	return nil, "", errNotYet
}
