package oauthrt

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// The refresh protocol: what one flight does to get a key's token. Its
// steps, in the order of the functions below, are those of the README's
// "The fleet protocol":
//
//  1. newest: read the newest token: the one this process refreshed but
//     the store has not taken yet (committed again first), or else the
//     store's.
//  2. settle: hand it out if it is good, or fail at once if its grant is
//     known dead.
//  3. admit: fail at once, without calling the token endpoint, while the
//     fleet knows the grant dead or the key backed off (the store's
//     GrantState, or this process's memory of both).
//  4. lease: with a store that is a Locker, take the key's lease, kept
//     alive while held when the store is a LeaseLocker (hold.go), then
//     read, settle and admit again: another process may have refreshed
//     the token, found the grant dead or backed the key off meanwhile.
//  5. fence: renew the lease right before presenting the refresh token.
//     A renewal refused proves that a later lease exists (this process
//     was paused or cut off past the lease's TTL): the token is not
//     presented, and the flight takes the lease again from step 4.
//  6. refresh: call the Refresher, under a RefreshTimeout that starts
//     only now. An answer lost on the way is asked for again at once,
//     with the same refresh token, within the provider's rotation grace
//     window. A transient failure backs the key off for the fleet; a
//     dead grant is first checked against the store (a sibling may have
//     won the refresh), and then recorded for the fleet.
//  7. commit: save the new token before anyone uses it, with Commit when
//     the store is a Committer: only if the store still holds the token
//     the refresh started from. A commit that loses adopts the stored
//     token. A store that fails keeps the token unsaved: it is used all
//     the same (its refresh token is the only live one) and committed
//     again later, and the lease stays held until the store takes it, so
//     that no other process presents the rotated refresh token the store
//     still holds.
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
	gen := s.invalidated.Load()
	w.invalidated = gen != s.honoured
	base, known := s.remembered(t, w)
	if !known {
		var st *GrantState
		var err error
		if base, st, err = s.newest(wait, t, w); err != nil {
			return nil, err
		}
		if c, err, done := s.settle(t, base, w, rep); done {
			return c, err
		}
		if leaseLoader(t.Store) && s.unsaved() == nil {
			// The lease step reads the grant state: only this process's
			// memory is asked now.
			st = &GrantState{}
		}
		if err := s.admit(wait, t, base, st); err != nil {
			return nil, err // no refresh was tried: no RefreshEvent
		}
	}
	rep.reason = reasonFor(base, w)

	var h *hold
	defer func() {
		if h != nil {
			s.letGo(h)
		}
	}()
	var unconfirmed error // the last fence the store could not answer
	for attempt, fenced := 1, false; !fenced; attempt++ {
		if attempt > maxFences {
			if unconfirmed != nil {
				return nil, fmt.Errorf("oauthrt: key %q: confirming the refresh lease before the refresh, %d times: %w", s.key, maxFences, unconfirmed)
			}
			return nil, fmt.Errorf("oauthrt: key %q: the refresh lease was lost %d times before the refresh could start: %w", s.key, maxFences, ErrLeaseLost)
		}
		var got leased
		var err error
		if h, got, err = s.lease(wait, t, base); err != nil {
			return nil, err
		}
		if got.fresh || got.changed {
			// The store is read under the new lease, or was read as the
			// lease was refused: another process may have refreshed the
			// token, found the grant dead or backed the key off.
			st := got.state
			if got.snapshot {
				base, err = s.fromSnapshot(t, got.token)
			} else {
				base, st, err = s.newest(wait, t, w)
			}
			if err != nil {
				return nil, err
			}
			if known && got.changed && attempt == 1 {
				// The lease was asked for without reading the store
				// first: a token found then is the one the read would
				// have found, and no refresh was needed.
				rep.reason = ""
			}
			if c, err, done := s.settle(t, base, w, rep); done {
				rep.loaded = err == nil && rep.reason != ""
				return c, err
			}
			if err := s.admit(wait, t, base, st); err != nil {
				rep.reason = "" // no refresh was tried: no RefreshEvent
				return nil, err
			}
			rep.reason = reasonFor(base, w)
			if got.changed {
				continue // the stored token needs refreshing too: ask for the lease over it
			}
		}
		if fenced, err = s.fenceTaken(wait, t, h); err != nil {
			if wait.Err() != nil {
				return nil, err
			}
			unconfirmed = err
		}
		if !fenced {
			s.letGo(h) // lost, or not confirmed: take it again, and read the store
			h = nil
		}
	}

	// The wait for the lease must not eat into the refresh: a process that
	// waited long would otherwise call the provider with little time left,
	// and could be cut off after the provider rotated the refresh token
	// but before the new one was saved.
	ctx, cancel := context.WithTimeout(ctx, RefreshTimeout)
	defer cancel()
	c, err := s.refresh(ctx, t, base, h, w.claims, rep)
	if err == nil {
		s.honoured = gen
	}
	return c, err
}

// maxFences bounds the leases one flight takes and loses to later
// holders before the refresh: each loss means another process holds the
// lease and is refreshing, so a flight that keeps losing gives up rather
// than loop.
const maxFences = 3

// report is what a flight learns for its RefreshEvent.
type report struct {
	reason RefreshReason // "": no refresh was needed
	loaded bool          // another process had refreshed the token
	health []HealthEvent // the changes of the grant's health the flight saw
}

// changed records a change of the grant's health for the flight to report.
func (r *report) changed(ev HealthEvent) { r.health = append(r.health, ev) }

// reasonFor says why base needs a refresh.
func reasonFor(base *oauth2.Token, w why) RefreshReason {
	switch {
	case base == nil:
		return ReasonMissing
	case w.claims != "":
		return ReasonClaims
	case isToken(base, w.rejected):
		return ReasonRejected
	case w.invalidated:
		return ReasonInvalidated
	case isToken(base, w.stale) && w.keepalive:
		return ReasonKeepAlive
	case isToken(base, w.stale):
		return ReasonAhead
	}
	return ReasonExpired
}

// newest returns the newest token known for the key: one that the store
// failed to save, or else the stored one; nil when the store has none and
// the Refresher is an Issuer. The unsaved token is first saved again when
// w asks for it or its backoff is over, so that a failing store is not
// hammered by every flight. When the store is a SnapshotLoader, it reads
// the key's grant state along with the token, and returns it too; else
// the returned state is nil. A LeaseLoader is read with Load, which costs
// less: most reads find a good token, and when it needs refreshing the
// lease step reads the grant state.
func (s *keyState) newest(ctx context.Context, t *Transport, w why) (*oauth2.Token, *GrantState, error) {
	if ch := s.chain(); ch != nil {
		if ctx.Err() != nil || !w.resave && t.now().UnixNano() < s.rare.Load().nextSave.Load() {
			return ch.tok, nil, nil
		}
		tok, _ := s.resave(ctx, t, ch)
		return tok, nil, nil
	}
	if sl, ok := t.Store.(SnapshotLoader); ok && oneTrip(t.Store) && !leaseLoader(t.Store) {
		snap, err := guardValue("the Store's LoadSnapshot", func() (Snapshot, error) { return sl.LoadSnapshot(ctx, s.key) })
		if err != nil {
			return nil, nil, fmt.Errorf("oauthrt: loading the token of key %q: %w", s.key, err)
		}
		tok, err := s.fromSnapshot(t, snap.Token)
		return tok, &snap.State, err
	}
	tok, err := s.load(ctx, t)
	if _, issuer := t.Refresher.(Issuer); issuer && errors.Is(err, ErrNoToken) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("oauthrt: loading the token of key %q: %w", s.key, err)
	}
	if tok == nil {
		return nil, nil, fmt.Errorf("oauthrt: loading the token of key %q: the store returned a nil token", s.key)
	}
	return tok, nil, nil
}

// leaseLoader reports whether the Transport may use store as a
// LeaseLoader.
func leaseLoader(store TokenStore) bool {
	_, ok := store.(LeaseLoader)
	return ok && oneTrip(store)
}

// fromSnapshot returns tok, a token a snapshot found, as newest returns
// a loaded one: a missing token is nil for an Issuer, and an error
// wrapping ErrNoToken otherwise.
func (s *keyState) fromSnapshot(t *Transport, tok *oauth2.Token) (*oauth2.Token, error) {
	if tok != nil {
		return tok, nil
	}
	if _, issuer := t.Refresher.(Issuer); issuer {
		return nil, nil
	}
	return nil, fmt.Errorf("oauthrt: loading the token of key %q: %w under key %q", s.key, ErrNoToken, s.key)
}

// remembered returns the token this Transport last used for the key,
// when the flight may skip reading the store and ask a LeaseLoader for
// the lease over that token at once: TakeLeaseIf reads the key anyway,
// and returns the stored token instead of a lease when another process
// has refreshed it. That holds while nothing else is known of the key in
// this process: no token the store has yet to take, no lease kept for
// one, no dead grant and no backoff, each of which the store must be read
// for first.
func (s *keyState) remembered(t *Transport, w why) (*oauth2.Token, bool) {
	if !leaseLoader(t.Store) || s.unsaved() != nil || s.held() != nil || s.dead() != nil || s.backoff() != nil {
		return nil, false
	}
	c := s.cur.Load()
	if c == nil || !t.needsRefresh(&c.tok, w) {
		return nil, false
	}
	return &c.tok, true
}

// needsRefresh reports whether base must be refreshed for the flight w.
// A claims flight refreshes any token, also one another process stored:
// it was not issued for the claims.
func (t *Transport) needsRefresh(base *oauth2.Token, w why) bool {
	return w.claims != "" || isToken(base, w.rejected) || isToken(base, w.stale) || w.invalidated || t.expired(base)
}

// settle decides whether base can be handed out as it is (done, with the
// token to send) or the grant is known dead (done, with the error), or
// base must be refreshed (not done).
func (s *keyState) settle(t *Transport, base *oauth2.Token, w why, rep *report) (c *cached, err error, done bool) {
	if base == nil {
		return nil, nil, false // nothing stored: an Issuer gets a first token
	}
	needRefresh := t.needsRefresh(base, w)
	if d := s.dead(); d != nil {
		if base.RefreshToken == d.tok.RefreshToken {
			if needRefresh || base.AccessToken == d.tok.AccessToken {
				return nil, d.err, true // never present that refresh token again
			}
		} else {
			s.setDead(nil) // a new grant was saved
			rep.changed(HealthEvent{Key: s.key, From: HealthDead, To: HealthHealthy, Status: GrantStatus{Key: s.key, Health: HealthHealthy}})
		}
	}
	if needRefresh {
		return nil, nil, false
	}
	return s.newCached(t, base), nil, true
}

// admit fails, without calling the token endpoint, while the key is
// backed off or the fleet found base's grant dead: this Transport's
// memory is asked first, then the store when it is a GrantStateStore.
// known is the grant state read along with base, if it was; when nil,
// admit reads it.
func (s *keyState) admit(ctx context.Context, t *Transport, base *oauth2.Token, known *GrantState) error {
	now := t.now()
	if b := s.backoff(); b != nil && now.Before(b.next) {
		return &BackoffError{Key: s.key, Next: b.next, Err: b.err}
	}
	var st GrantState
	if known != nil {
		st = *known
	} else {
		gs, ok := t.Store.(GrantStateStore)
		if !ok {
			return nil
		}
		var err error
		st, err = guardValue("the Store's LoadGrantState", func() (GrantState, error) { return gs.LoadGrantState(ctx, s.key) })
		if err != nil {
			// The endpoint may still be called: without the record, this
			// process is no worse off than one with a store that keeps none.
			t.reportError(s.key, "oauthrt: reading the grant's fleet state failed", fmt.Errorf("oauthrt: loading the grant state of key %q: %w", s.key, err))
			return nil
		}
	}
	if base != nil && st.DeadToken != "" && st.DeadToken == Fingerprint(base) && s.unsaved() == nil {
		err := fmt.Errorf("oauthrt: key %q: the token endpoint refused the grant for good at %s (%s), as another process of the fleet found: %w",
			s.key, st.DeadAt.UTC().Format(time.RFC3339), codeOrNone(st.DeadCode), ErrReauthRequired)
		s.setDead(&deadGrant{tok: base, err: err, at: st.DeadAt})
		return err
	}
	if now.Before(st.NextAttempt) {
		s.setBackoff(&backoffState{next: st.NextAttempt, failures: st.Failures, since: st.FailingSince})
		return &BackoffError{Key: s.key, Next: st.NextAttempt}
	}
	switch b := s.backoff(); {
	case st.Failures == 0:
		s.setBackoff(nil)
	case b == nil:
		s.setBackoff(&backoffState{failures: st.Failures, since: st.FailingSince})
	default:
		b.failures, b.since = st.Failures, st.FailingSince
	}
	return nil
}

func codeOrNone(code string) string {
	if code == "" {
		return "no error code"
	}
	return code
}

// leased is what lease found besides the lease itself.
type leased struct {
	fresh   bool // a new lease: the store must be read under it
	changed bool // no lease: the store holds another token than base
	// snapshot says that token and state hold what the store held as the
	// lease was taken or refused (a LeaseLoader's TakeLeaseIf); else the
	// store must still be read.
	snapshot bool
	token    *oauth2.Token
	state    *GrantState
}

// lease returns the key's lease for a refresh of base: the one this
// Transport already holds because a refreshed token awaits its save, or
// a new one. It returns no lease when the store is not a Locker. A
// LeaseLoader is asked for the lease only while it holds base, and reads
// the key as it answers: when it holds another token, there is no lease,
// and got says what it holds.
func (s *keyState) lease(ctx context.Context, t *Transport, base *oauth2.Token) (h *hold, got leased, err error) {
	if h := s.kept(); h != nil {
		return h, got, nil
	}
	if ll, ok := t.Store.(LeaseLoader); ok && s.unsaved() == nil && oneTrip(t.Store) {
		var lease Lease
		var snap Snapshot
		ctx := t.withExpectedHold(ctx)
		asked := time.Now()
		err := guard("the store's TakeLeaseIf", func() (err error) {
			lease, snap, err = ll.TakeLeaseIf(ctx, s.key, base)
			return err
		})
		if err != nil {
			return nil, got, fmt.Errorf("oauthrt: key %q: taking the store's refresh lease: %w", s.key, err)
		}
		got = leased{snapshot: true, token: snap.Token, state: &snap.State}
		if lease == nil {
			got.changed = true
			return nil, got, nil
		}
		if h, err = s.keepLease(t, lease, asked); err != nil {
			return nil, leased{}, fmt.Errorf("oauthrt: key %q: taking the store's refresh lease: %w", s.key, err)
		}
		got.fresh = true
		return h, got, nil
	}
	h, err = s.take(t.withExpectedHold(ctx), t)
	if err != nil {
		return nil, got, fmt.Errorf("oauthrt: key %q: taking the store's refresh lease: %w", s.key, err)
	}
	got.fresh = h != nil
	return h, got, nil
}

// kept returns the lease this Transport keeps for a refreshed token the
// store has yet to take, or nil; one that lapsed is let go.
func (s *keyState) kept() *hold {
	ch := s.chain()
	if ch == nil {
		return nil
	}
	h := ch.held
	if h != nil && h.lost.Load() {
		ch.held = nil
		h.release()
		return nil
	}
	return h
}

// fence renews h, a LeaseLocker's lease, right before its refresh token
// is presented, and reports whether it is still held. Not held (a later
// lease exists, or this one lapsed while the process was paused) means
// the refresh must not happen under it. A store that cannot be asked
// (the error) does not confirm it either: the lease may be lost, and the
// renewal may only have timed out because this process was paused while
// it ran; obtain takes the lease again, and gives up after maxFences.
// There is nothing to renew for a plain Locker's lease, or without a
// store lease at all.
func (s *keyState) fence(ctx context.Context, t *Transport, h *hold) (bool, error) {
	if h == nil || h.lease == nil {
		return true, nil
	}
	err := ErrLeaseLost
	if !h.lost.Load() {
		err = s.renew(h, h.ttl)
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrLeaseLost):
		h.lost.Store(true)
		s.forget(h)
		if ctx.Err() != nil {
			return false, fmt.Errorf("oauthrt: key %q: the refresh lease was lost before the refresh: %w", s.key, ctx.Err())
		}
		return false, nil
	}
	s.forget(h)
	return false, err
}

// forget forgets h, when it is the lease kept for the unsaved token: it
// was lost, or could not be confirmed.
func (s *keyState) forget(h *hold) {
	if ch := s.chain(); ch != nil && ch.held == h {
		ch.held = nil
	}
}

// fenceTaken is fence before the first refresh under h. A lease the
// store was asked for less than a third of its TTL ago is not renewed:
// the store took it no later than it answered and no earlier than it
// was asked, so it has at least two thirds of its TTL left, as much as a
// lease the keeper renews every third of its TTL ever has, and a
// renewal would confirm no more than the take did. That saves a round
// trip per refresh. A pause of the process between the take and here (a
// stop, a long collection, a slow read of the store) moves the monotonic
// clock on, and the store is asked. A lease kept from an earlier flight,
// and the attempts after an answer lost on the way (call), are always
// fenced.
func (s *keyState) fenceTaken(ctx context.Context, t *Transport, h *hold) (bool, error) {
	if h != nil && h.lease != nil && !h.lost.Load() && !h.asked.IsZero() && !fenceEveryLease.Load() &&
		time.Since(h.asked) < h.ttl/3 {
		return true, nil
	}
	return s.fence(ctx, t, h)
}

// fenceEveryLease turns fenceTaken's shortcut off, for the tests of what
// the fence guards against.
var fenceEveryLease atomic.Bool

// letGo releases h once the flight is done with it, unless the store has
// yet to take the token refreshed under it.
func (s *keyState) letGo(h *hold) {
	if s.held() != h {
		h.release()
	}
}

// refresh exchanges base for a new token and commits it. For a nil base
// (the store has no token for the key) the Refresher, an Issuer, issues
// one. h is the lease the refresh runs under, or nil; claims, the claims
// challenge the new token must satisfy, or "".
func (s *keyState) refresh(ctx context.Context, t *Transport, base *oauth2.Token, h *hold, claims string, rep *report) (*cached, error) {
	tok, err := s.call(ctx, t, base, h, claims)
	if err != nil {
		return s.failed(ctx, t, base, err, rep)
	}
	if tok == nil || tok.AccessToken == "" {
		return nil, fmt.Errorf("oauthrt: refreshing the token of key %q: the Refresher returned no access token", s.key)
	}
	if s.backoff().failing() {
		rep.changed(HealthEvent{Key: s.key, From: HealthDegraded, To: HealthHealthy, Status: GrantStatus{Key: s.key, Health: HealthHealthy}})
	}
	s.setBackoff(nil)
	nt := *tok
	if nt.RefreshToken == "" && base != nil {
		nt.RefreshToken = base.RefreshToken // RFC 6749 §6: not rotated
	}
	// Should the store not take nt, nt joins this Transport's chain of
	// unsaved tokens, and the lease stays held until the store takes it:
	// the other processes read the store once the lease is free, and
	// would present the refresh token just rotated away. Both are set
	// down in the chain before the save, so that nothing the save reports
	// can undo them; a save that succeeds clears them (see saved), and
	// one that fails keeps the chain (see saveResult).
	ch := s.chain()
	if ch == nil {
		// root is the store's token, which the commit expects.
		ch = &unsavedChain{root: base, ours: make(map[string]bool), links: make(map[string]bool)}
		if base != nil {
			ch.ours[base.RefreshToken] = true
		}
	}
	ch.ours[nt.RefreshToken] = true
	ch.links[Fingerprint(&nt)] = true
	if h != nil && !h.lost.Load() {
		ch.held = h
	}
	// The save has time of its own: a Refresher that took most of the
	// refresh's time must not leave its token none to be saved in.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	stored, err := s.commit(ctx, t, ch, &nt)
	switch {
	case stored != nil:
		rep.loaded = true
		return s.newCached(t, stored), nil // another process won: nt is dropped
	case err != nil && h != nil && s.held() == h:
		h.saveAgain()
	}
	return s.newCached(t, &nt), nil
}

// call presents base's refresh token to the Refresher (or asks an Issuer
// for a first token). An answer lost on the way (a TransientError with
// AnswerLost) is asked for again at once, with the same refresh token,
// while the provider's rotation grace window, counted from the first
// attempt, is open: the provider may have rotated the token, and still
// accepts the old one within the window. Each attempt is fenced anew.
// The Refresher finds claims, and only these, in its context (see
// ClaimsChallenge): the request that started the flight may have put
// others there.
func (s *keyState) call(ctx context.Context, t *Transport, base *oauth2.Token, h *hold, claims string) (*oauth2.Token, error) {
	rctx := withClaims(ctx, claims)
	grace := rotationGrace(t.Refresher)
	first := time.Now()
	for {
		start := time.Now()
		tok, err := guardValue("the Refresher", func() (*oauth2.Token, error) {
			if base == nil {
				return t.Refresher.(Issuer).Issue(rctx)
			}
			return t.Refresher.Refresh(rctx, base)
		})
		if err == nil {
			t.timedRefresh(time.Since(start))
		}
		var te *TransientError
		if err == nil || !errors.As(err, &te) || !te.AnswerLost || time.Since(first) >= grace || ctx.Err() != nil {
			return tok, err
		}
		if held, ferr := s.fence(ctx, t, h); ferr != nil || !held {
			return nil, err // a later holder presents it, if anyone does
		}
	}
}

// rotationGrace is r's rotation grace window (see RotationGracer).
func rotationGrace(r Refresher) time.Duration {
	if g, ok := r.(RotationGracer); ok {
		d, err := guardValue("the Refresher's RotationGrace", func() (time.Duration, error) { return g.RotationGrace(), nil })
		if err != nil {
			return 0
		}
		return d
	}
	return DefaultRotationGrace
}

// failed handles a refresh that failed. A transient failure backs the
// key off, for the whole fleet when the store keeps grant state. A dead
// grant is first checked against the store: when it holds another token
// than base, and not one of this Transport's chain, a sibling process
// refreshed first (and the provider refused base as already used), so
// its token is adopted. Otherwise the grant is dead, for the fleet too.
func (s *keyState) failed(ctx context.Context, t *Transport, base *oauth2.Token, err error, rep *report) (*cached, error) {
	err = fmt.Errorf("oauthrt: refreshing the token of key %q: %w", s.key, err)
	st := GrantState{}
	var te *TransientError
	switch {
	case errors.As(err, &te):
		now := t.now()
		b := s.backoff()
		if b == nil {
			b = &backoffState{}
			s.setBackoff(b)
		}
		if b.failures == 0 || b.since.IsZero() {
			b.since = now
		}
		b.failures++
		wait := backoff(b.failures)
		if te.RetryAfter > wait {
			wait = min(te.RetryAfter, maxRetryAfter)
		}
		b.next, b.err = now.Add(wait), err
		st = GrantState{NextAttempt: b.next, Failures: b.failures, FailingSince: b.since}
		err = &BackoffError{Key: s.key, Next: b.next, Err: err}
		if b.failures == 1 {
			rep.changed(HealthEvent{Key: s.key, From: HealthHealthy, To: HealthDegraded, Status: StatusOf(s.key, st), Err: err})
		}
	case base != nil && errors.Is(err, ErrReauthRequired):
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
		defer cancel()
		if stored, lerr := s.load(ctx, t); lerr == nil && stored != nil &&
			stored.RefreshToken != base.RefreshToken && !s.ours(stored) {
			rep.loaded = true
			return s.newCached(t, stored), nil
		}
		s.setDead(&deadGrant{tok: base, err: err, at: t.now()})
		st = GrantState{DeadToken: Fingerprint(base), DeadCode: errorCode(err), DeadAt: t.now()}
		from := HealthHealthy
		if s.backoff().failing() {
			from = HealthDegraded
		}
		s.setBackoff(nil)
		rep.changed(HealthEvent{Key: s.key, From: from, To: HealthDead, Status: StatusOf(s.key, st), Err: err})
		if s.unsaved() != nil {
			return nil, err // the store does not hold base: nothing to record
		}
	default:
		return nil, err
	}
	if gs, ok := t.Store.(GrantStateStore); ok {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
		defer cancel()
		if serr := guard("the Store's SaveGrantState", func() error { return gs.SaveGrantState(ctx, s.key, st) }); serr != nil {
			t.reportError(s.key, "oauthrt: recording the grant's fleet state failed", fmt.Errorf("oauthrt: saving the grant state of key %q: %w", s.key, serr))
		}
	}
	return nil, err
}

// maxRetryAfter caps the wait a Retry-After may ask of the fleet.
const maxRetryAfter = time.Hour

// errorCode returns the OAuth error code in err, or "".
func errorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// saveTimeout bounds the save of a token just refreshed.
const saveTimeout = 10 * time.Second

// newCached returns tok ready for the hot path, marked if the store does
// not hold it yet.
func (s *keyState) newCached(t *Transport, tok *oauth2.Token) *cached {
	c := t.newCached(tok)
	if tok == s.unsaved() {
		c.more().unsaved = true
	}
	return c
}

// resave commits the unsaved token again, and returns the token to use:
// the unsaved one, or the stored one when the store holds a token this
// Transport did not refresh (another process's, or a new authorization
// saved by the application while the store was failing here), which is
// newer and replaces the unsaved token rather than being written over.
func (s *keyState) resave(ctx context.Context, t *Transport, ch *unsavedChain) (*oauth2.Token, *SaveError) {
	tok := ch.tok
	if _, ok := t.Store.(Committer); !ok {
		stored, err := s.load(ctx, t)
		if err == nil && stored != nil && !ch.ours[stored.RefreshToken] && stored.AccessToken != tok.AccessToken {
			s.saved(ch)
			return stored, nil
		}
	}
	stored, err := s.commit(ctx, t, ch, tok)
	if stored != nil {
		return stored, nil
	}
	return tok, err
}

// commit saves tok, the newest link of ch, this Transport's chain of
// refreshed tokens, and returns nil, nil if the store took it. With a
// Committer it commits only over the stored token the chain started from
// (ch.root), or over a later link of the chain that an earlier commit
// stored without saying so (a timeout after the write); when the store
// holds anything else, tok is dropped and the stored token is returned,
// to be used instead.
//
// When the store does not take tok, tok is still used (its refresh token
// is the only live one), kept as unsaved and saved again by a later
// flight, no sooner than a backoff that doubles from one second to a
// minute (or sooner while the lease is held for it, see hold). Every
// failure goes to the Transport's OnError and Logger as a *SaveError.
func (s *keyState) commit(ctx context.Context, t *Transport, ch *unsavedChain, tok *oauth2.Token) (*oauth2.Token, *SaveError) {
	c, ok := t.Store.(Committer)
	if !ok {
		return nil, s.saveResult(t, ch, tok, guard("the Store's Save", func() error { return t.Store.Save(ctx, s.key, tok) }))
	}
	prev := ch.root
	for range 3 {
		err := s.commitOnce(ctx, t, c, ch, prev, tok)
		if !errors.Is(err, ErrCommitConflict) {
			return nil, s.saveResult(t, ch, tok, err)
		}
		stored, lerr := s.load(ctx, t)
		switch {
		case lerr != nil && !errors.Is(lerr, ErrNoToken):
			return nil, s.saveResult(t, ch, tok, fmt.Errorf("%w; then reading the stored token: %w", err, lerr))
		case lerr != nil || stored == nil:
			prev = nil // deleted meanwhile: nothing to lose
		case ch.links[Fingerprint(stored)] && Fingerprint(stored) != Fingerprint(tok):
			prev = stored // an earlier link of this chain, stored after all
		case Fingerprint(stored) == Fingerprint(tok):
			s.saved(ch)
			return nil, nil
		default:
			s.saved(ch) // another process's token, or a new authorization
			return stored, nil
		}
	}
	return nil, s.saveResult(t, ch, tok, errors.New("oauthrt: the stored token kept changing under the commit"))
}

// commitOnce commits tok over prev, and lets go of the lease kept for it
// in the same step when the lease is a CommitReleaser.
func (s *keyState) commitOnce(ctx context.Context, t *Transport, c Committer, ch *unsavedChain, prev, tok *oauth2.Token) error {
	h := ch.held
	var cr CommitReleaser
	if h != nil && !h.lost.Load() && oneTrip(t.Store) {
		cr, _ = h.lease.(CommitReleaser)
	}
	if cr == nil {
		return guard("the Store's Commit", func() error { return c.Commit(ctx, s.key, prev, tok) })
	}
	err := guard("the Lease's CommitRelease", func() error { return cr.CommitRelease(ctx, prev, tok) })
	if err == nil || errors.Is(err, ErrCommitConflict) {
		ch.held = nil
		h.released()
	}
	return err
}

// saveResult records the outcome of saving tok, the newest link of ch:
// nil for a store that took it, else a *SaveError reported and tok kept
// as unsaved, with ch.
func (s *keyState) saveResult(t *Transport, ch *unsavedChain, tok *oauth2.Token, err error) *SaveError {
	if err == nil {
		s.saved(ch)
		return nil
	}
	if ch.tok != tok {
		ch.tok, ch.fails = tok, 0
	}
	ch.fails++
	r := s.rareFor(true)
	r.unsaved = ch
	retry := t.now().Add(backoff(ch.fails))
	r.nextSave.Store(retry.UnixNano())
	se := &SaveError{Key: s.key, Err: err, Attempt: ch.fails, Retry: retry}
	t.reportError(s.key, "oauthrt: saving the refreshed token failed; keeping it in memory", se)
	return se
}

// saved forgets ch, the chain of unsaved tokens, whose newest the store
// now holds or a newer token replaced, and lets go of the lease kept for
// it.
func (s *keyState) saved(ch *unsavedChain) {
	if r := s.rare.Load(); r != nil {
		r.unsaved = nil
		r.nextSave.Store(0)
	}
	if h := ch.held; h != nil {
		ch.held = nil
		h.release()
	}
}

// ours reports whether stored carries a refresh token of the chain of
// unsaved tokens.
func (s *keyState) ours(stored *oauth2.Token) bool {
	ch := s.chain()
	return ch != nil && ch.ours[stored.RefreshToken]
}

// load reads the key's token from the store.
func (s *keyState) load(ctx context.Context, t *Transport) (*oauth2.Token, error) {
	if bl := batchLoader(t); bl != nil {
		return t.loads.load(ctx, t, bl, s.key)
	}
	return storeLoad(ctx, t, s.key)
}

// isToken reports whether tok carries the same access token as other.
func isToken(tok, other *oauth2.Token) bool {
	return other != nil && tok.AccessToken == other.AccessToken
}
