package oauthrt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oauthrt/oauthrt/internal/pause"
	"golang.org/x/oauth2"
)

// keyState is what a Transport knows about one key. Requests read cur
// with an atomic load; everything else belongs to the one refresh (a
// flight) that may be running for the key.
type keyState struct {
	key string
	cur atomic.Pointer[cached] // nil until loaded, and after the grant died

	mu     sync.Mutex
	flight atomic.Pointer[flight] // the refresh under way, if any; set and cleared under mu

	reporting sync.Mutex // held while a flight reports its RefreshEvent

	// Only the running flight touches these; flights of one key never
	// overlap, and mu orders one after the other.
	dead       *deadGrant    // the token whose grant the endpoint rejected
	unsaved    *oauth2.Token // a refreshed token the store failed to save
	saveFails  int           // failed saves of unsaved, in a row
	aheadFails int           // failed refreshes ahead of expiry, in a row

	// The refresh tokens of the unsaved chain: the stored one it started
	// from and each one refreshed since. A stored token with another one
	// was saved by someone else, such as a new authorization.
	ours map[string]bool

	// When a request may next start a background flight: to save unsaved
	// again, or to refresh ahead of expiry after one failed (Unix
	// nanoseconds by Transport.Now).
	nextSave  atomic.Int64
	nextAhead atomic.Int64
}

// A flight is one load-or-refresh of a key, shared by every request that
// needs it while it runs.
type flight struct {
	done    chan struct{}
	c       *cached // set before done is closed
	err     error
	waiters atomic.Int32 // requests waiting on it; read by tests
}

// why says what a flight is for, besides loading the token: the token the
// server just refused, or the token whose refresh-ahead window opened
// (then no request waits for the flight, and its failure fails nothing).
type why struct {
	rejected *oauth2.Token
	stale    *oauth2.Token
}

type deadGrant struct {
	tok *oauth2.Token
	err error
}

// token returns a token to send: the cached one when it is fresh and is
// not rejected, or else the result of a flight, joining the one under way
// if there is one. rejected is the token the server just refused, or nil.
func (s *keyState) token(ctx context.Context, t *Transport, rejected *oauth2.Token) (*cached, error) {
	if c := s.cur.Load(); c != nil && !isToken(c.tok, rejected) {
		now := t.now().UnixNano()
		if c.fresh(now) {
			if c.unsaved || c.ahead(now) {
				s.background(ctx, t, c, now)
			}
			return c, nil
		}
	}
	// A flight started for another reason may hand back the very token
	// that was rejected (it read it from the store); then one more flight,
	// with the rejection known, refreshes it.
	for range 2 {
		c, err := s.join(ctx, t, rejected)
		if err != nil || !isToken(c.tok, rejected) {
			return c, err
		}
	}
	return nil, fmt.Errorf("oauthrt: key %q: the server rejected the token just refreshed", s.key)
}

func (s *keyState) join(ctx context.Context, t *Transport, rejected *oauth2.Token) (*cached, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.gaveUp(err) // start no refresh for a request already gone
	}
	// In a storm every request but the first finds the flight under way,
	// and joins it without taking mu.
	f := s.flight.Load()
	if f == nil {
		s.mu.Lock()
		if f = s.flight.Load(); f == nil {
			// The flight that just ended may have left what we need.
			if c := s.cur.Load(); c != nil && t.fresh(c) && !isToken(c.tok, rejected) {
				s.mu.Unlock()
				return c, nil
			}
			var err error
			if f, err = s.startLocked(ctx, t, why{rejected: rejected}); err != nil {
				s.mu.Unlock()
				return nil, err
			}
		}
		s.mu.Unlock()
	}

	f.waiters.Add(1)
	select {
	case <-f.done:
		return f.c, f.err
	case <-ctx.Done():
		return nil, s.gaveUp(ctx.Err())
	}
}

// background starts a flight that no request waits for, unless one is
// running: to save an unsaved token again, or to refresh c ahead of its
// expiry. Each is tried at most once per backoff step after a failure.
// The request that called it goes on with c.
func (s *keyState) background(ctx context.Context, t *Transport, c *cached, now int64) {
	var w why
	switch {
	case c.ahead(now) && now >= s.nextAhead.Load():
		w.stale = c.tok // the flight also saves an unsaved token first
	case c.unsaved && now >= s.nextSave.Load():
	default:
		return
	}
	if s.flight.Load() != nil {
		return
	}
	s.mu.Lock()
	if s.flight.Load() == nil {
		s.startLocked(ctx, t, w) // fails only once the Transport is closed
	}
	s.mu.Unlock()
}

// startLocked starts a flight on a goroutine of its own; s.mu must be
// held.
func (s *keyState) startLocked(ctx context.Context, t *Transport, w why) (*flight, error) {
	lc := t.lifecycle()
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.closed {
		return nil, ErrClosed
	}
	f := &flight{done: make(chan struct{})}
	s.flight.Store(f)
	lc.flights.Add(1)
	go func() {
		defer lc.flights.Done()
		s.run(context.WithoutCancel(ctx), t, f, w)
	}()
	return f, nil
}

// gaveUp is the error of a request whose context ended before it had a
// token.
func (s *keyState) gaveUp(err error) error {
	return fmt.Errorf("oauthrt: waiting for the token of key %q: %w", s.key, err)
}

// run carries out flight f and publishes its outcome. ctx carries the
// values, not the cancellation, of the request that started it.
func (s *keyState) run(ctx context.Context, t *Transport, f *flight, w why) {
	start := time.Now()
	var rep report
	// The refresh itself (the Refresher and the Save after it) is bounded
	// by RefreshTimeout only: cutting it off could drop a rotated refresh
	// token. Waiting (store reads, the lease) also ends when the Transport
	// is closed.
	ctx, cancel := context.WithTimeout(ctx, RefreshTimeout)
	defer cancel()
	wait, stopWait := context.WithCancel(ctx)
	defer stopWait()
	defer context.AfterFunc(t.lifecycle().ctx, stopWait)()

	defer func() {
		if v := recover(); v != nil {
			// A panic here would take the whole process down; the value
			// may hold a token, so only its type is kept.
			f.c, f.err = nil, fmt.Errorf("oauthrt: key %q: the Store or Refresher panicked (%T)", s.key, v)
		}
		s.mu.Lock()
		switch {
		case f.err == nil:
			s.cur.Store(f.c)
		case w.stale != nil:
			// Nobody waits for this flight; the token it meant to replace
			// is still good until it expires, and stays in use.
			s.aheadFailed(t, f.err)
		case errors.Is(f.err, ErrReauthRequired):
			s.cur.Store(nil) // every request must now see the dead grant
		}
		s.flight.Store(nil)
		announce := rep.reason != "" && (t.OnRefresh != nil || t.Logger != nil)
		if announce {
			// Taken before the next flight can start, so that the key's
			// events are reported in order, after the requests went on.
			s.reporting.Lock()
		}
		s.mu.Unlock()
		close(f.done)
		if announce {
			defer s.reporting.Unlock()
			t.refreshed(RefreshEvent{Key: s.key, Reason: rep.reason, Outcome: outcomeOf(f.err, rep.loaded), Duration: time.Since(start), Err: f.err})
		}
	}()
	f.c, f.err = s.obtain(ctx, wait, t, w, &rep)
	if f.err == nil && w.stale != nil {
		s.aheadFails = 0
		s.nextAhead.Store(0)
	}
}

// aheadFailed reports a failed refresh ahead of expiry and puts off the
// next one, doubling from one second to a minute.
func (s *keyState) aheadFailed(t *Transport, err error) {
	s.aheadFails++
	next := t.now().Add(backoff(s.aheadFails))
	s.nextAhead.Store(next.UnixNano())
	t.reportError(s.key, "oauthrt: refreshing ahead of expiry failed; the current token is still used", err)
}

// backoff is the pause after n failures in a row: 1s, 2s, 4s, … 1m.
func backoff(n int) time.Duration {
	return min(time.Second<<min(n-1, 6), time.Minute)
}

// obtain reads the newest token for the key and refreshes it if it has
// expired or was rejected, saving the new token before handing it out.
// With a Store that is a Locker, the refresh happens under the store's
// lease, after reading the store once more: another process may have
// refreshed the token while this one waited.
//
// ctx bounds the refresh; wait, which ends earlier when the Transport is
// closed, bounds the reads of the store and the wait for the lease.
//
// When the store holds no token and the Refresher is an [Issuer], base is
// nil: the Issuer gets a first token. rep learns whether a refresh was
// needed, and why, and whether another process did it.
func (s *keyState) obtain(ctx, wait context.Context, t *Transport, w why, rep *report) (*cached, error) {
	base, err := s.newest(wait, t)
	if err != nil {
		return nil, err
	}
	if c, err, done := s.settle(t, base, w); done {
		return c, err
	}
	rep.reason = reasonFor(base, w)
	if l, ok := t.Store.(Locker); ok {
		unlock, err := l.Lock(wait, s.key)
		if err != nil {
			return nil, fmt.Errorf("oauthrt: key %q: taking the store's refresh lease: %w", s.key, err)
		}
		defer unlock()
		if base, err = s.newest(wait, t); err != nil {
			return nil, err
		}
		if c, err, done := s.settle(t, base, w); done {
			rep.loaded = err == nil
			return c, err
		}
	}
	return s.refresh(ctx, t, base)
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

// refresh exchanges base for a new token and saves it. For a nil base (the
// store has no token for the key) the Refresher, an Issuer, issues one.
func (s *keyState) refresh(ctx context.Context, t *Transport, base *oauth2.Token) (*cached, error) {
	var (
		tok *oauth2.Token
		err error
	)
	if base == nil {
		tok, err = t.Refresher.(Issuer).Issue(ctx)
	} else {
		tok, err = t.Refresher.Refresh(ctx, base)
	}
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
	// Under a lease, other processes wait for this save and then read the
	// store: a save lost to a passing fault would have them refresh with
	// the old, rotated refresh token. So it is tried a few times before
	// the lease is released.
	attempts := 1
	if _, ok := t.Store.(Locker); ok {
		attempts = 1 + len(saveRetryWaits)
	}
	for i := range attempts {
		if i > 0 && !pause.For(ctx, saveRetryWaits[i-1]) {
			break
		}
		if s.save(ctx, t, &nt, i == attempts-1) == nil {
			break
		}
	}
	if s.unsaved == &nt {
		if s.ours == nil {
			s.ours = make(map[string]bool)
			if base != nil {
				s.ours[base.RefreshToken] = true // the store's, as unsaved was nil
			}
		}
		s.ours[nt.RefreshToken] = true
	}
	return s.newCached(t, &nt), nil
}

// saveRetryWaits are the pauses between the saves of a refreshed token
// under a lease.
var saveRetryWaits = []time.Duration{100 * time.Millisecond, 400 * time.Millisecond}

// newCached returns tok ready for the hot path, marked if the store does
// not hold it yet.
func (s *keyState) newCached(t *Transport, tok *oauth2.Token) *cached {
	c := t.newCached(tok)
	c.unsaved = tok == s.unsaved
	return c
}

// newest returns the newest token known for the key: one that the store
// failed to save (after trying again), or else the stored one; nil when
// the store has none and the Refresher is an Issuer.
func (s *keyState) newest(ctx context.Context, t *Transport) (*oauth2.Token, error) {
	if s.unsaved != nil {
		if ctx.Err() != nil {
			return s.unsaved, nil
		}
		tok, _ := s.resave(ctx, t)
		return tok, nil
	}
	tok, err := t.Store.Load(ctx, s.key)
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

// resave saves the unsaved token again, and returns the token to use. If
// the store now holds a token this Transport did not refresh (a new
// authorization saved by the application while the store was failing
// here), that one is newer: it replaces the unsaved token, which is
// dropped rather than written over it.
func (s *keyState) resave(ctx context.Context, t *Transport) (*oauth2.Token, *SaveError) {
	tok := s.unsaved
	stored, err := t.Store.Load(ctx, s.key)
	if err == nil && stored != nil && !s.ours[stored.RefreshToken] && stored.AccessToken != tok.AccessToken {
		s.unsaved, s.saveFails, s.ours = nil, 0, nil
		s.nextSave.Store(0)
		return stored, nil
	}
	return tok, s.save(ctx, t, tok, true)
}

// save stores tok, and returns nil if the store took it. When it does
// not, tok is still used (its refresh token is the only live one), kept
// as unsaved and saved again by a later flight, no sooner than a backoff
// that doubles from one second to a minute. When report is set, the
// failure goes to the Transport's OnError and Logger as a *SaveError.
func (s *keyState) save(ctx context.Context, t *Transport, tok *oauth2.Token, report bool) *SaveError {
	err := t.Store.Save(ctx, s.key, tok)
	if err == nil {
		s.unsaved, s.saveFails, s.ours = nil, 0, nil
		s.nextSave.Store(0)
		return nil
	}
	if s.unsaved != tok {
		s.unsaved, s.saveFails = tok, 0
	}
	s.saveFails++
	retry := t.now().Add(backoff(s.saveFails))
	s.nextSave.Store(retry.UnixNano())
	se := &SaveError{Key: s.key, Err: err, Attempt: s.saveFails, Retry: retry}
	if report {
		t.reportError(s.key, "oauthrt: saving the refreshed token failed; keeping it in memory", se)
	}
	return se
}

// isToken reports whether tok carries the same access token as other.
func isToken(tok, other *oauth2.Token) bool {
	return other != nil && tok.AccessToken == other.AccessToken
}
