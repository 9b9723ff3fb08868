package oauthrt

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/oauth2"
)

// What an application or an operator asks of a key, outside the requests:
// its health, a refresh for a keep-alive sweep, dropping what the
// Transport caches, and revoking the grant.

// Status returns the health of key's grant, as the store's GrantState
// records it for the fleet when the store is a GrantStateStore, or as this
// Transport saw it otherwise. It reads the store, and fails with an error
// wrapping ErrNoToken when the key holds no token. It never calls the
// token endpoint.
func (t *Transport) Status(ctx context.Context, key string) (GrantStatus, error) {
	if t.Store == nil {
		return GrantStatus{}, errors.New("oauthrt: Transport.Store is nil")
	}
	tok, err := guardValue("the Store's Load", func() (*oauth2.Token, error) { return t.Store.Load(ctx, key) })
	if err == nil && tok == nil {
		err = errors.New("the store returned a nil token")
	}
	if err != nil {
		return GrantStatus{}, fmt.Errorf("oauthrt: the status of key %q: loading its token: %w", key, err)
	}
	if gs, ok := t.Store.(GrantStateStore); ok {
		st, err := guardValue("the Store's LoadGrantState", func() (GrantState, error) { return gs.LoadGrantState(ctx, key) })
		if err != nil {
			return GrantStatus{}, fmt.Errorf("oauthrt: the status of key %q: loading its grant state: %w", key, err)
		}
		if st.DeadToken != "" && st.DeadToken != Fingerprint(tok) {
			st.DeadToken, st.DeadCode, st.DeadAt = "", "", time.Time{} // a token saved since, by a store of an earlier release
		}
		return StatusOf(key, st), nil
	}
	s := t.keys.Load(key)
	if s == nil {
		return GrantStatus{Key: key, Health: HealthHealthy}, nil
	}
	return s.localStatus(tok), nil
}

// localStatus is the status of s's grant as this Transport saw it, for a
// store that keeps no GrantState. It reads what the flights write without
// their lock: a status is a report, and may be a moment late.
func (s *keyState) localStatus(tok *oauth2.Token) GrantStatus {
	s.mu.Lock() // orders this read after the flight that last ended
	defer s.mu.Unlock()
	if s.flight.Load() == nil {
		if d := s.dead(); d != nil && d.tok.RefreshToken == tok.RefreshToken {
			return GrantStatus{Key: s.key, Health: HealthDead, Code: errorCode(d.err), Since: d.at}
		}
		if b := s.backoff(); b != nil && b.failures > 0 {
			return GrantStatus{Key: s.key, Health: HealthDegraded, Since: b.since, Attempts: b.failures, NextAttempt: b.next}
		}
	}
	return GrantStatus{Key: s.key, Health: HealthHealthy}
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
	if seen == nil || seen.AccessToken == "" {
		return OutcomeFailed, fmt.Errorf("oauthrt: refreshing key %q: no token was seen to refresh", key)
	}
	if err := t.check(); err != nil {
		return OutcomeFailed, err
	}
	f, err := t.exclusive(ctx, key, why{stale: seen, keepalive: true})
	if err != nil {
		return OutcomeFailed, err
	}
	return f.outcome, f.err
}

// exclusive runs a flight of key for w and returns it once done, after
// the flights under way (started for other reasons) end: w must run on
// its own, not be answered by a flight that did something else.
func (t *Transport) exclusive(ctx context.Context, key string, w why) (*flight, error) {
	for {
		s := t.state(key)
		s.mu.Lock()
		f := s.flight.Load()
		mine := f == nil
		if mine {
			var err error
			if f, err = s.startLocked(ctx, t, w); err == errDropped {
				s.mu.Unlock()
				continue
			} else if err != nil {
				s.mu.Unlock()
				return nil, err
			}
		}
		s.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, s.gaveUp(ctx.Err())
		}
		if mine {
			return f, nil
		}
	}
}

// Invalidate drops what the Transport caches for key, and makes the next
// request for key refresh the token, through the refresh protocol, even
// when it has not expired: for a token the application knows is no good
// (its scopes changed, the provider revoked the access token). A refresh
// under way is not stopped, but its token is not kept.
func (t *Transport) Invalidate(key string) {
	for {
		s := t.state(key)
		s.mu.Lock()
		if !s.dropped.Load() {
			s.invalidated.Add(1)
			s.cur.Store(nil)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

// Revoke ends key's grant: it revokes the stored token at the provider
// (the Refresher must be a Revoker), then deletes it from the store (which
// must be a Deleter), under the store's lease when it is a Locker, so that
// no refresh runs meanwhile, and drops what the Transport caches. It
// reports a HealthEvent to HealthRevoked. When the provider has no
// revocation endpoint, or the store cannot delete, it fails before
// anything is sent, with an error wrapping ErrRevokeUnsupported or saying
// so. A revocation that fails leaves the token stored, to be revoked
// again. A key that holds no token fails with an error wrapping
// ErrNoToken.
//
// Requests for key waiting meanwhile fail with an error wrapping
// ErrNoToken; later ones find no token, until the application saves a new
// authorization.
func (t *Transport) Revoke(ctx context.Context, key string) error {
	if err := t.check(); err != nil {
		return err
	}
	if _, ok := t.Refresher.(Revoker); !ok {
		return fmt.Errorf("oauthrt: revoking key %q: the Refresher (%T) cannot revoke: %w", key, t.Refresher, ErrRevokeUnsupported)
	}
	if _, ok := t.Store.(Deleter); !ok {
		return fmt.Errorf("oauthrt: revoking key %q: the store (%T) cannot delete a token: it is no Deleter; nothing was revoked", key, t.Store)
	}
	f, err := t.exclusive(ctx, key, why{revoke: true})
	if err != nil {
		return err
	}
	if f.revoked {
		return nil
	}
	return f.err
}

// revoke is the flight of Transport.Revoke. The token revoked is the
// newest this Transport knows: one the store has not taken yet holds the
// grant's live refresh token.
func (s *keyState) revoke(ctx, wait context.Context, t *Transport, rep *report) error {
	// The lease this Transport keeps for a token the store has not taken
	// yet, or a new one: taking a new one while keeping the first would
	// wait on itself.
	h := s.kept()
	var err error
	if h == nil {
		if h, err = s.take(wait, t); err != nil {
			return fmt.Errorf("oauthrt: revoking key %q: taking the store's refresh lease: %w", s.key, err)
		}
	}
	if h != nil {
		defer s.letGo(h)
	}
	ctx, cancel := context.WithTimeout(ctx, RefreshTimeout)
	defer cancel()
	tok := s.unsaved()
	if tok == nil {
		if tok, err = s.load(ctx, t); err == nil && tok == nil {
			err = errors.New("the store returned a nil token")
		}
		if err != nil {
			return fmt.Errorf("oauthrt: revoking key %q: loading its token: %w", s.key, err)
		}
	}
	rv := t.Refresher.(Revoker)
	if err := guard("the Refresher's Revoke", func() error { return rv.Revoke(ctx, tok) }); err != nil {
		return fmt.Errorf("oauthrt: revoking key %q at the provider: %w", s.key, err)
	}
	from := HealthHealthy
	switch {
	case s.dead() != nil:
		from = HealthDead
	case s.backoff().failing():
		from = HealthDegraded
	}
	s.cur.Store(nil)
	s.setDead(nil)
	s.setBackoff(nil)
	if ch := s.chain(); ch != nil {
		s.saved(ch) // its grant is revoked: nothing left to save
	}
	del := t.Store.(Deleter)
	if err := guard("the Store's Delete", func() error { return del.Delete(ctx, s.key) }); err != nil {
		return fmt.Errorf("oauthrt: key %q was revoked at the provider, but deleting it from the store failed: %w", s.key, err)
	}
	rep.changed(HealthEvent{Key: s.key, From: from, To: HealthRevoked, Status: GrantStatus{Key: s.key, Health: HealthRevoked}})
	return nil
}
