package oauthrt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// keyState is what a Transport knows about one key. Requests read cur
// with an atomic load; everything else belongs to the one refresh (a
// flight) that may be running for the key.
//
// A Transport keeps one for every key in use, so its size is the bulk of
// what a key costs (BenchmarkManyKeys): what most keys never need (a dead
// grant, a backoff, a token the store did not take) sits in rare, which
// most keys never allocate, and the rest fits a small size class (see
// TestKeyStateSize).
type keyState struct {
	// cur, lastUse and dropped, which every request reads, come first,
	// where they share a cache line (but for one state in four, which
	// straddles two: the struct takes 80 bytes).
	cur atomic.Pointer[cached] // nil until loaded, and after the grant died

	// lastUse is when a request last used the key (Unix nanoseconds by
	// Transport.Now, to within useGranularity).
	lastUse atomic.Int64

	// dropped is set, under mu, once the state is dropped from the
	// Transport as idle (idle.go): no flight starts on it then, and
	// callers take the key's new state. Atomic, so that a lookup that
	// finds the state before its shard of the key map is rebuilt can
	// pass it over without taking mu (Transport.state).
	dropped atomic.Bool

	key string

	mu     sync.Mutex
	flight atomic.Pointer[flight] // the refresh under way, if any; set and cleared under mu

	reporting sync.Mutex // held while a flight reports its RefreshEvent

	// rare is what the protocol remembers of the key beyond its token
	// (nil: nothing). Only a flight (flights of one key never overlap,
	// and mu orders one after the other), or code holding mu while no
	// flight runs, reads its plain fields, and sets or replaces it;
	// requests load it only to read its atomic fields. A flight lets it
	// go once it holds nothing again.
	rare atomic.Pointer[keyRare]

	// invalidated counts the calls to Transport.Invalidate, made under mu;
	// honoured is the count the last successful refresh answered (flights
	// only). While they differ, the token must be refreshed, whatever its
	// expiry. 32 bits are plenty: only equality is asked of them.
	invalidated atomic.Uint32
	honoured    uint32
}

// keyRare is what few keys need remembered, allocated by the first flight
// that must remember one of them: a normal load or refresh allocates none.
type keyRare struct {
	dead    *deadGrant    // the token whose grant the endpoint rejected
	backoff *backoffState // this Transport's memory of the key's endpoint backoff, which the store's GrantState shares with the fleet
	unsaved *unsavedChain // refreshed tokens the store has yet to take

	// claimed is the token the last claims flight got, and the claims it
	// was for (under mu): a request challenged for the same claims with an
	// older token uses it rather than refresh again. nil once another
	// flight replaced the token.
	claimed *claimedToken

	aheadFails int // failed refreshes ahead of expiry, in a row

	// When a request may next start a background flight: to save the
	// unsaved token again, or to refresh ahead of expiry after one failed
	// (Unix nanoseconds by Transport.Now). Requests read them.
	nextSave  atomic.Int64
	nextAhead atomic.Int64
}

// empty reports whether r remembers nothing, and may be let go.
func (r *keyRare) empty() bool {
	return r.dead == nil && r.backoff == nil && r.unsaved == nil && r.claimed == nil &&
		r.aheadFails == 0 && r.nextSave.Load() == 0 && r.nextAhead.Load() == 0
}

// unsavedChain is the chain of tokens this Transport refreshed that the
// store has yet to take. A flight builds one for each refresh, for the
// commit, and keeps it (in keyRare) only when the store did not take the
// token.
type unsavedChain struct {
	tok   *oauth2.Token // the newest link: a refreshed token the store failed to save (nil while it is first committed)
	fails int           // failed saves of tok, in a row

	// The refresh tokens of the chain: the stored one it started from and
	// each one refreshed since. A stored token with another one was saved
	// by someone else, such as a new authorization.
	ours map[string]bool
	// links holds the Fingerprints of the chain's refreshed tokens: a
	// Committer holding one of them took it from an earlier commit of
	// this chain that reported a failure (a timeout after the write).
	// Fingerprints, not refresh tokens, since a provider that does not
	// rotate keeps one refresh token for every link and for other
	// processes' tokens too.
	links map[string]bool
	// root is the stored token the chain started from (nil: the store
	// held none), which a Committer must still hold for the chain's
	// newest token to be committed over it.
	root *oauth2.Token

	// held is the store's lease, kept after a refresh whose token the
	// store did not take, until it does: the store still holds the
	// rotated refresh token, which no other process may present.
	held *hold
}

// rareFor returns s's rare state for a flight to write to, allocating it
// when set is true; with set false (the value written is a zero one) it
// returns nil when there is none, and nothing needs writing.
func (s *keyState) rareFor(set bool) *keyRare {
	if r := s.rare.Load(); r != nil || !set {
		return r
	}
	r := new(keyRare)
	s.rare.Store(r)
	return r
}

// letRareGo drops s's rare state once it remembers nothing; a flight
// calls it under mu as it ends.
func (s *keyState) letRareGo() {
	if r := s.rare.Load(); r != nil && r.empty() {
		s.rare.Store(nil)
	}
}

// chain returns the chain of tokens the store has yet to take, or nil.
func (s *keyState) chain() *unsavedChain {
	if r := s.rare.Load(); r != nil {
		return r.unsaved
	}
	return nil
}

// unsaved returns the refreshed token the store has yet to take, or nil.
func (s *keyState) unsaved() *oauth2.Token {
	if ch := s.chain(); ch != nil {
		return ch.tok
	}
	return nil
}

// held returns the lease kept for a token the store has yet to take, or
// nil.
func (s *keyState) held() *hold {
	if ch := s.chain(); ch != nil {
		return ch.held
	}
	return nil
}

// dead returns the token whose grant the endpoint rejected, or nil.
func (s *keyState) dead() *deadGrant {
	if r := s.rare.Load(); r != nil {
		return r.dead
	}
	return nil
}

// backoff returns the key's endpoint backoff, or nil.
func (s *keyState) backoff() *backoffState {
	if r := s.rare.Load(); r != nil {
		return r.backoff
	}
	return nil
}

// setDead records d, or forgets the dead grant for a nil d.
func (s *keyState) setDead(d *deadGrant) {
	if r := s.rareFor(d != nil); r != nil {
		r.dead = d
	}
}

// setBackoff records b, or forgets the backoff for a nil b.
func (s *keyState) setBackoff(b *backoffState) {
	if r := s.rareFor(b != nil); r != nil {
		r.backoff = b
	}
}

// claimedToken is a token a claims flight got, and the claims it was for.
type claimedToken struct {
	c      *cached
	claims string
}

// A flight is one load-or-refresh of a key, shared by every request that
// needs it while it runs.
type flight struct {
	done    chan struct{}
	c       *cached // set before done is closed
	err     error
	waiters atomic.Int32 // requests waiting on it; read by tests
	// outcome is how the flight ended, for Transport.Refresh: set before
	// done is closed. OutcomeLoaded when it refreshed nothing.
	outcome RefreshOutcome
	revoked bool   // a flight of Transport.Revoke that revoked the grant
	claims  string // the claims a claims flight refreshes for; "" for any other
}

// why says what a flight is for, besides loading the token: the token the
// server just refused, or the token whose refresh-ahead window opened
// (then no request waits for the flight, and its failure fails nothing).
type why struct {
	rejected *oauth2.Token
	stale    *oauth2.Token
	resave   bool // save the unsaved token again, even within its backoff
	// keepalive: stale is refreshed for a keep-alive sweep, which waits
	// for the outcome (see Transport.Refresh), rather than ahead of its
	// expiry in the background.
	keepalive bool
	// revoke: the flight revokes the grant and deletes it (see
	// Transport.Revoke) instead of obtaining a token.
	revoke bool
	// invalidated: Transport.Invalidate asked for a refresh that no flight
	// has made yet (set by obtain).
	invalidated bool
	// claims: the API answered rejected with a claims challenge, and the
	// flight refreshes, whatever token the store holds, with these claims
	// (JSON) given to the Refresher (see ClaimsChallenge).
	claims string
}

// failing reports whether b records transient failures; b may be nil.
func (b *backoffState) failing() bool { return b != nil && b.failures > 0 }

// backoffState is a key's endpoint backoff after transient failures.
type backoffState struct {
	next     time.Time // no endpoint call before then (by Transport.Now)
	failures int       // transient failures in a row
	since    time.Time // when the first of them happened (zero: unknown)
	err      error     // the last one, when this Transport saw it
}

type deadGrant struct {
	tok *oauth2.Token
	err error
	at  time.Time // when it was found dead (by Transport.Now)
}

// token returns a token to send: the cached one when it is fresh and is
// not rejected, or else the result of a flight, joining the one under way
// if there is one. rejected is the token the server just refused, or nil.
func (s *keyState) token(ctx context.Context, t *Transport, rejected *oauth2.Token) (*cached, error) {
	if c := s.cur.Load(); c != nil && !isToken(&c.tok, rejected) {
		now := t.now().UnixNano()
		s.used(now)
		if c.fresh(now) {
			if c.unsaved() || c.ahead(now) {
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
		if err != nil || !isToken(&c.tok, rejected) {
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
			if c := s.cur.Load(); c != nil && t.fresh(c) && !isToken(&c.tok, rejected) {
				s.mu.Unlock()
				return c, nil
			}
			w := why{rejected: rejected}
			if ctx.Done() == nil {
				// A request whose context never ends could not leave the
				// flight before it ends anyway: it runs the flight itself,
				// sparing the handoff to a goroutine of its own and back,
				// which made a cold start read keys at half the store's
				// own rate. The flight is the same: it runs under a
				// context without cancellation, Close waits for it, and
				// other requests join it.
				f, err := s.registerLocked(t, w)
				s.mu.Unlock()
				if err == errDropped {
					return t.state(s.key).join(ctx, t, rejected)
				}
				if err != nil {
					return nil, err
				}
				f.waiters.Add(1)
				s.fly(ctx, t, f, w, true)
				return f.c, f.err
			}
			var err error
			if f, err = s.startLocked(ctx, t, w); err != nil {
				s.mu.Unlock()
				if err == errDropped {
					return t.state(s.key).join(ctx, t, rejected)
				}
				return nil, err
			}
		}
		s.mu.Unlock()
	}
	return s.wait(ctx, f)
}

// claimsToken returns a token refreshed with claims, the claims
// challenge the API answered rejected with. Unlike token, it does not
// take the cached or the stored token, nor join a flight started for
// another reason, whose token was not asked for these claims: it waits
// for that flight to end, then runs one of its own (flights of one key
// never overlap). It joins a claims flight for the same claims, and
// takes the token such a flight got, unless that is the one rejected.
func (s *keyState) claimsToken(ctx context.Context, t *Transport, rejected *oauth2.Token, claims string) (*cached, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, s.gaveUp(err)
		}
		s.mu.Lock()
		f := s.flight.Load()
		if f == nil {
			if c := s.cur.Load(); c != nil && s.claimed(c, claims) && !isToken(&c.tok, rejected) && t.fresh(c) {
				s.mu.Unlock()
				return c, nil
			}
			var err error
			f, err = s.startLocked(ctx, t, why{rejected: rejected, claims: claims})
			s.mu.Unlock()
			if err == errDropped {
				return t.state(s.key).claimsToken(ctx, t, rejected, claims)
			}
			if err != nil {
				return nil, err
			}
			return s.wait(ctx, f)
		}
		s.mu.Unlock()
		if f.claims == claims {
			return s.wait(ctx, f)
		}
		f.waiters.Add(1)
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, s.gaveUp(ctx.Err())
		}
	}
}

// claimed reports whether c is the token the last claims flight got for
// claims. s.mu must be held, with no flight under way.
func (s *keyState) claimed(c *cached, claims string) bool {
	r := s.rare.Load()
	return r != nil && r.claimed != nil && r.claimed.c == c && r.claimed.claims == claims
}

// wait waits for flight f, or for ctx to end, and returns f's token.
func (s *keyState) wait(ctx context.Context, f *flight) (*cached, error) {
	f.waiters.Add(1)
	done := ctx.Done()
	if done == nil { // a context that never ends: a receive is cheaper than a select
		<-f.done
		return f.c, f.err
	}
	select {
	case <-f.done:
		return f.c, f.err
	case <-done:
		return nil, s.gaveUp(ctx.Err())
	}
}

// background starts a flight that no request waits for, unless one is
// running: to save an unsaved token again, or to refresh c ahead of its
// expiry. Each is tried at most once per backoff step after a failure.
// The request that called it goes on with c.
func (s *keyState) background(ctx context.Context, t *Transport, c *cached, now int64) {
	var nextAhead, nextSave int64
	if r := s.rare.Load(); r != nil {
		nextAhead, nextSave = r.nextAhead.Load(), r.nextSave.Load()
	}
	var w why
	switch {
	case c.ahead(now) && now >= nextAhead:
		w.stale = &c.tok // the flight also saves an unsaved token first
	case c.unsaved() && now >= nextSave:
		w.resave = true
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
	f, err := s.registerLocked(t, w)
	if err != nil {
		return nil, err
	}
	go s.fly(ctx, t, f, w, false)
	return f, nil
}

// registerLocked makes a new flight for w the key's flight, counted among
// the Transport's flights for Close, for the caller to run with fly; s.mu
// must be held.
func (s *keyState) registerLocked(t *Transport, w why) (*flight, error) {
	if s.dropped.Load() {
		return nil, errDropped
	}
	s.used(t.now().UnixNano())
	lc := t.lifecycle()
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.closed {
		return nil, ErrClosed
	}
	f := &flight{done: make(chan struct{}), claims: w.claims}
	s.flight.Store(f)
	lc.flights.add()
	return f, nil
}

// fly runs flight f, which registerLocked made, to its end. ctx carries
// the values, not the cancellation, of the request that started it.
func (s *keyState) fly(ctx context.Context, t *Transport, f *flight, w why, inline bool) {
	defer t.lifecycle().flights.done()
	s.run(context.WithoutCancel(ctx), t, f, w, inline)
}

// gaveUp is the error of a request whose context ended before it had a
// token.
func (s *keyState) gaveUp(err error) error {
	return fmt.Errorf("oauthrt: waiting for the token of key %q: %w", s.key, err)
}

// run carries out flight f and publishes its outcome. ctx carries the
// values, not the cancellation, of the request that started it.
//
// inline says that the request that started the flight runs it on its
// own goroutine: the events the flight reports are then handed to a
// goroutine of their own, so that the request goes on first, as the
// requests that joined it do.
func (s *keyState) run(ctx context.Context, t *Transport, f *flight, w why, inline bool) {
	start := time.Now()
	var rep report
	// Waiting (store reads, the lease) is bounded by RefreshTimeout (to
	// within waitGrain), and ends when the Transport is closed. The
	// refresh itself gets a RefreshTimeout of its own once the lease is
	// held (see obtain).
	wait := t.lifecycle().waitFor(ctx)

	defer func() {
		if v := recover(); v != nil {
			// Calls into the Store, lease and Refresher are guarded
			// already; this is a last resort (Transport.Now, or a bug
			// here), since a panic would take the process down. The value
			// may hold a token, so only its type is kept.
			f.c, f.err = nil, fmt.Errorf("oauthrt: key %q: the refresh panicked (%T)", s.key, v)
		}
		s.mu.Lock()
		switch {
		case f.err == nil && s.invalidated.Load() != s.honoured:
			s.cur.Store(nil) // invalidated meanwhile: the next request refreshes
		case f.err == nil:
			s.cur.Store(f.c)
			// The token a claims flight got is remembered until another
			// flight replaces it.
			if r := s.rareFor(w.claims != ""); r != nil {
				r.claimed = nil
				if w.claims != "" {
					r.claimed = &claimedToken{c: f.c, claims: w.claims}
				}
			}
		case w.stale != nil && !w.keepalive:
			// Nobody waits for this flight; the token it meant to replace
			// is still good until it expires, and stays in use. Close
			// ending its waits is no failure, and is not reported.
			if !endedByClose(t, f.err) {
				s.aheadFailed(t, f.err)
			}
		case errors.Is(f.err, ErrReauthRequired):
			s.cur.Store(nil) // every request must now see the dead grant
		}
		s.letRareGo()
		s.flight.Store(nil)
		f.outcome = OutcomeLoaded
		if rep.reason != "" {
			f.outcome = outcomeOf(f.err, rep.loaded)
		} else if f.err != nil {
			f.outcome = outcomeOf(f.err, false)
		}
		announce := rep.reason != "" && (t.OnRefresh != nil || t.Logger != nil) || len(rep.health) > 0 && (t.OnHealth != nil || t.Logger != nil)
		if announce {
			// Taken before the next flight can start, so that the key's
			// events are reported in order, after the requests went on.
			s.reporting.Lock()
		}
		s.mu.Unlock()
		close(f.done)
		if !announce {
			return
		}
		report := func() {
			defer s.reporting.Unlock()
			for _, ev := range rep.health {
				t.healthChanged(ev)
			}
			if rep.reason != "" {
				t.refreshed(RefreshEvent{Key: s.key, Reason: rep.reason, Outcome: outcomeOf(f.err, rep.loaded), Duration: time.Since(start), Err: f.err})
			}
		}
		if !inline {
			report()
			return
		}
		// The request that ran the flight goes on now, as those that
		// joined it do; the events follow on a goroutine of their own,
		// which Close waits for as for a flight.
		lc := t.lifecycle()
		lc.flights.add()
		go func() {
			defer lc.flights.done()
			report()
		}()
	}()
	if w.revoke {
		if f.err = s.revoke(ctx, wait, t, &rep); f.err == nil {
			// What the requests that joined the flight get.
			f.revoked, f.err = true, fmt.Errorf("oauthrt: key %q: the grant was revoked: %w", s.key, ErrNoToken)
		}
		return
	}
	f.c, f.err = s.obtain(ctx, wait, t, w, &rep)
	if r := s.rareFor(false); r != nil && f.err == nil && w.stale != nil {
		r.aheadFails = 0
		r.nextAhead.Store(0)
	}
}

// endedByClose reports whether err is a flight's wait that Close cut
// short: Close has started, and err is the cancellation of a wait.
func endedByClose(t *Transport, err error) bool {
	return t.lifecycle().ctx.Err() != nil && errors.Is(err, context.Canceled)
}

// aheadFailed reports a failed refresh ahead of expiry and puts off the
// next one, doubling from one second to a minute.
func (s *keyState) aheadFailed(t *Transport, err error) {
	r := s.rareFor(true)
	r.aheadFails++
	next := t.now().Add(backoff(r.aheadFails))
	if be := (*BackoffError)(nil); errors.As(err, &be) && be.Next.After(next) {
		next = be.Next // the endpoint is backed off for the fleet
	}
	r.nextAhead.Store(next.UnixNano())
	t.reportError(s.key, "oauthrt: refreshing ahead of expiry failed; the current token is still used", err)
}

// backoff is the pause after n failures in a row: 1s, 2s, 4s, … 1m.
func backoff(n int) time.Duration {
	return min(time.Second<<min(n-1, 6), time.Minute)
}
