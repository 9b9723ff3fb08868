package oauthrt

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/oauth2"
)

// The refresh protocol: what one flight does to get a key's token. Its
// steps, in the order of the functions below:
//
//  1. newest: read the newest token, the one this process refreshed but
//     the store has not taken yet (saved again first), or else the
//     store's.
//  2. settle: hand it out if it is good, or fail at once if its grant is
//     known dead.
//  3. lease: with a store that is a Locker, take the key's lease, kept
//     alive while held when the store is a LeaseLocker (hold.go), then
//     read and settle again: another process may have refreshed the
//     token while this one waited.
//  4. refresh: call the Refresher, under a RefreshTimeout that starts
//     only now.
//  5. save: save the new token before anyone uses it. If the store does
//     not take it, it is used all the same (its refresh token is the only
//     live one) and saved again later; the lease stays held until the
//     store takes it, so that no other process presents the rotated
//     refresh token the store still holds.
//
// Every call into the Store, the Locker, its Lease and the Refresher goes
// through guard, so that a panic in one of them is an error like any
// other, and a rotated token is never dropped on the way.

// obtain runs the protocol for one flight. ctx carries the values of the
// request that started it, and no deadline; wait, which ends after
// RefreshTimeout or when the Transport is closed, bounds the reads of the
// store and the wait for the lease.
//
// When the store holds no token and the Refresher is an [Issuer], base is
// nil: the Issuer gets a first token. rep learns whether a refresh was
// needed, and why, and whether another process did it.
func (s *keyState) obtain(ctx, wait context.Context, t *Transport, w why, rep *report) (*cached, error) {
	base, err := s.newest(wait, t, w)
	if err != nil {
		return nil, err
	}
	if c, err, done := s.settle(t, base, w); done {
		return c, err
	}
	rep.reason = reasonFor(base, w)

	h, fresh, err := s.lease(wait, t)
	if err != nil {
		return nil, err
	}
	if h != nil {
		defer s.letGo(h)
	}
	if fresh {
		if base, err = s.newest(wait, t, w); err != nil {
			return nil, err
		}
		if c, err, done := s.settle(t, base, w); done {
			rep.loaded = err == nil
			return c, err
		}
	}

	// The wait for the lease must not eat into the refresh: a process that
	// waited long would otherwise call the provider with little time left,
	// and could be cut off after the provider rotated the refresh token
	// but before the new one was saved.
	ctx, cancel := context.WithTimeout(ctx, RefreshTimeout)
	defer cancel()
	return s.refresh(ctx, t, base, h)
}

// report is what a flight learns for its RefreshEvent.
type report struct {
	reason RefreshReason // "": no refresh was needed
	loaded bool          // another process had refreshed the token
}

// reasonFor says why base needs a refresh.
func reasonFor(base *oauth2.Token, w why) RefreshReason {
	switch {
	case base == nil:
		return ReasonMissing
	case isToken(base, w.rejected):
		return ReasonRejected
	case isToken(base, w.stale):
		return ReasonAhead
	}
	return ReasonExpired
}

// newest returns the newest token known for the key: one that the store
// failed to save, or else the stored one; nil when the store has none and
// the Refresher is an Issuer. The unsaved token is first saved again when
// w asks for it or its backoff is over, so that a failing store is not
// hammered by every flight.
func (s *keyState) newest(ctx context.Context, t *Transport, w why) (*oauth2.Token, error) {
	if s.unsaved != nil {
		if ctx.Err() != nil || !w.resave && t.now().UnixNano() < s.nextSave.Load() {
			return s.unsaved, nil
		}
		tok, _ := s.resave(ctx, t)
		return tok, nil
	}
	tok, err := s.load(ctx, t)
	if _, issuer := t.Refresher.(Issuer); issuer && errors.Is(err, ErrNoToken) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("oauthrt: loading the token of key %q: %w", s.key, err)
	}
	if tok == nil {
		return nil, fmt.Errorf("oauthrt: loading the token of key %q: the store returned a nil token", s.key)
	}
	return tok, nil
}

// settle decides whether base can be handed out as it is (done, with the
// token to send) or the grant is known dead (done, with the error), or
// base must be refreshed (not done).
func (s *keyState) settle(t *Transport, base *oauth2.Token, w why) (c *cached, err error, done bool) {
	if base == nil {
		return nil, nil, false // nothing stored: an Issuer gets a first token
	}
	needRefresh := isToken(base, w.rejected) || isToken(base, w.stale) || t.expired(base)
	if d := s.dead; d != nil {
		if base.RefreshToken == d.tok.RefreshToken {
			if needRefresh || base.AccessToken == d.tok.AccessToken {
				return nil, d.err, true // never present that refresh token again
			}
		} else {
			s.dead = nil // a new grant was saved
		}
	}
	if needRefresh {
		return nil, nil, false
	}
	return s.newCached(t, base), nil, true
}

// lease returns the key's lease for a refresh: the one this Transport
// already holds because a refreshed token awaits its save, or a new one
// (then fresh is set, and the store must be read again). It returns nil
// when the store is not a Locker.
func (s *keyState) lease(ctx context.Context, t *Transport) (h *hold, fresh bool, err error) {
	if h := s.held; h != nil {
		if !h.lost.Load() {
			return h, false, nil
		}
		s.held = nil // it lapsed: take it anew
		h.release()
	}
	h, err = s.take(ctx, t)
	if err != nil {
		return nil, false, fmt.Errorf("oauthrt: key %q: taking the store's refresh lease: %w", s.key, err)
	}
	return h, h != nil, nil
}

// letGo releases h once the flight is done with it, unless the store has
// yet to take the token refreshed under it.
func (s *keyState) letGo(h *hold) {
	if s.held != h {
		h.release()
	}
}

// refresh exchanges base for a new token and saves it. For a nil base (the
// store has no token for the key) the Refresher, an Issuer, issues one. h
// is the lease the refresh runs under, or nil.
func (s *keyState) refresh(ctx context.Context, t *Transport, base *oauth2.Token, h *hold) (*cached, error) {
	tok, err := guardValue("the Refresher", func() (*oauth2.Token, error) {
		if base == nil {
			return t.Refresher.(Issuer).Issue(ctx)
		}
		return t.Refresher.Refresh(ctx, base)
	})
	if err != nil {
		err = fmt.Errorf("oauthrt: refreshing the token of key %q: %w", s.key, err)
		if base != nil && errors.Is(err, ErrReauthRequired) {
			s.dead = &deadGrant{tok: base, err: err}
		}
		return nil, err
	}
	if tok == nil || tok.AccessToken == "" {
		return nil, fmt.Errorf("oauthrt: refreshing the token of key %q: the Refresher returned no access token", s.key)
	}
	nt := *tok
	if nt.RefreshToken == "" && base != nil {
		nt.RefreshToken = base.RefreshToken // RFC 6749 §6: not rotated
	}
	// Should the store not take nt, nt joins this Transport's chain of
	// unsaved tokens, and the lease stays held until the store takes it:
	// the other processes read the store once the lease is free, and
	// would present the refresh token just rotated away. Both are set
	// down before the save, so that nothing the save reports can undo
	// them; a save that succeeds clears them (see saved).
	if s.ours == nil {
		s.ours = make(map[string]bool)
		if base != nil {
			s.ours[base.RefreshToken] = true // the store's, as unsaved was nil
		}
	}
	s.ours[nt.RefreshToken] = true
	if h != nil && !h.lost.Load() {
		s.held = h
	}
	// The save has time of its own: a Refresher that took most of the
	// refresh's time must not leave its token none to be saved in.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if s.save(ctx, t, &nt) != nil && h != nil && s.held == h {
		h.saveAgain()
	}
	return s.newCached(t, &nt), nil
}

// saveTimeout bounds the save of a token just refreshed.
const saveTimeout = 10 * time.Second

// newCached returns tok ready for the hot path, marked if the store does
// not hold it yet.
func (s *keyState) newCached(t *Transport, tok *oauth2.Token) *cached {
	c := t.newCached(tok)
	c.unsaved = tok == s.unsaved
	return c
}

// resave saves the unsaved token again, and returns the token to use. If
// the store now holds a token this Transport did not refresh (a new
// authorization saved by the application while the store was failing
// here), that one is newer: it replaces the unsaved token, which is
// dropped rather than written over it.
func (s *keyState) resave(ctx context.Context, t *Transport) (*oauth2.Token, *SaveError) {
	tok := s.unsaved
	stored, err := s.load(ctx, t)
	if err == nil && stored != nil && !s.ours[stored.RefreshToken] && stored.AccessToken != tok.AccessToken {
		s.saved()
		return stored, nil
	}
	return tok, s.save(ctx, t, tok)
}

// save stores tok, and returns nil if the store took it. When it does
// not, tok is still used (its refresh token is the only live one), kept
// as unsaved and saved again by a later flight, no sooner than a backoff
// that doubles from one second to a minute (or sooner while the lease is
// held for it, see hold). Every failure goes to the Transport's OnError
// and Logger as a *SaveError.
func (s *keyState) save(ctx context.Context, t *Transport, tok *oauth2.Token) *SaveError {
	err := guard("the Store's Save", func() error { return t.Store.Save(ctx, s.key, tok) })
	if err == nil {
		s.saved()
		return nil
	}
	if s.unsaved != tok {
		s.unsaved, s.saveFails = tok, 0
	}
	s.saveFails++
	retry := t.now().Add(backoff(s.saveFails))
	s.nextSave.Store(retry.UnixNano())
	se := &SaveError{Key: s.key, Err: err, Attempt: s.saveFails, Retry: retry}
	t.reportError(s.key, "oauthrt: saving the refreshed token failed; keeping it in memory", se)
	return se
}

// saved forgets the unsaved token, which the store now holds or a newer
// authorization replaced, and lets go of the lease kept for it.
func (s *keyState) saved() {
	s.unsaved, s.saveFails, s.ours = nil, 0, nil
	s.nextSave.Store(0)
	if h := s.held; h != nil {
		s.held = nil
		h.release()
	}
}

// load reads the key's token from the store.
func (s *keyState) load(ctx context.Context, t *Transport) (*oauth2.Token, error) {
	return guardValue("the Store's Load", func() (*oauth2.Token, error) { return t.Store.Load(ctx, s.key) })
}

// isToken reports whether tok carries the same access token as other.
func isToken(tok, other *oauth2.Token) bool {
	return other != nil && tok.AccessToken == other.AccessToken
}
