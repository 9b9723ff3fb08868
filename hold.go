package oauthrt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// A hold is a key's refresh lease as the Transport holds it: taken for a
// refresh, renewed while held when the store is a LeaseLocker, and kept
// past the refresh while the store has not taken the refreshed token.
type hold struct {
	lease  Lease         // nil for a plain Locker's lease, which is not renewed
	ttl    time.Duration // the lease's TTL; 0 for a plain Locker's
	unlock func()        // releases the lease; guarded
	lost   atomic.Bool   // the lease lapsed while held

	saving   chan struct{} // closed once a refreshed token awaits its save
	saveOnce sync.Once
	done     chan struct{} // closed by release
	doneOnce sync.Once
}

// take takes the key's lease from the store, and starts keeping it; it
// returns nil when the store is not a Locker.
func (s *keyState) take(ctx context.Context, t *Transport) (*hold, error) {
	h := &hold{saving: make(chan struct{}), done: make(chan struct{})}
	switch l := t.Store.(type) {
	case LeaseLocker:
		lease, err := guardValue("the store's TakeLease", func() (Lease, error) { return l.TakeLease(ctx, s.key) })
		if err != nil {
			return nil, err
		}
		if lease == nil {
			return nil, errors.New("oauthrt: the store's TakeLease returned a nil Lease")
		}
		h.lease = lease
		h.unlock = s.guardedRelease(t, "the Lease's Release", lease.Release)
		ttl, err := guardValue("the Lease's TTL", func() (time.Duration, error) { return lease.TTL(), nil })
		if err == nil && ttl < MinLeaseTTL {
			err = fmt.Errorf("oauthrt: the store's lease TTL %v is shorter than MinLeaseTTL (%v), and could lapse between two renewals", ttl, MinLeaseTTL)
		}
		if err != nil {
			h.unlock()
			return nil, err
		}
		h.ttl = ttl
	case Locker:
		unlock, err := guardValue("the store's Lock", func() (func(), error) { return l.Lock(ctx, s.key) })
		if err != nil {
			return nil, err
		}
		if unlock == nil {
			unlock = func() {}
		}
		h.unlock = s.guardedRelease(t, "the Locker's unlock", unlock)
	default:
		return nil, nil
	}
	lc := t.lifecycle()
	lc.flights.add() // within the flight's own count, so never from zero
	go func() {
		defer lc.flights.done()
		s.keep(t, h)
	}()
	return h, nil
}

// guardedRelease returns release with a panic in it reported, not raised.
func (s *keyState) guardedRelease(t *Transport, what string, release func()) func() {
	return func() {
		if err := guard(what, func() error { release(); return nil }); err != nil {
			t.reportError(s.key, "oauthrt: releasing the refresh lease failed; it will lapse", err)
		}
	}
}

// saveAgain marks h as kept for a token the store has yet to take: its
// keeper then starts a save at each of heldSaveWait's pauses.
func (h *hold) saveAgain() { h.saveOnce.Do(func() { close(h.saving) }) }

// release releases the lease, once, and stops its keeper.
func (h *hold) release() {
	h.doneOnce.Do(func() {
		close(h.done)
		h.unlock()
	})
}

// heldSaveWait is the pause before the n-th save of a refreshed token
// the store did not take, while the lease is kept for it: 100ms doubling
// to 2s. It is shorter than the backoff of saves without a lease, since
// the rest of the fleet waits for this one.
func heldSaveWait(n int) time.Duration {
	return min(heldSaveFirst<<min(n-1, 10), 2*time.Second)
}

// heldSaveFirst is heldSaveWait's first pause; a variable for the tests.
var heldSaveFirst = 100 * time.Millisecond

// keep renews h's lease every third of its TTL, and once h is kept for a
// token the store has yet to take, starts a flight to save it after each
// pause of heldSaveWait. It returns when h is released, when its lease is
// lost, or when the Transport is closed (Close then saves one last time;
// a lease it cannot save for lapses).
func (s *keyState) keep(t *Transport, h *hold) {
	done := t.lifecycle().ctx.Done()
	var renewC, saveC <-chan time.Time
	var renewT, saveT *time.Timer
	if h.lease != nil {
		renewT = time.NewTimer(h.ttl / 3)
		defer renewT.Stop()
		renewC = renewT.C
	}
	renewed := time.Now()
	saving := h.saving
	saves := 0
	for {
		select {
		case <-h.done:
			return
		case <-done:
			return
		case <-saving:
			saving = nil
			saveT = time.NewTimer(heldSaveWait(1))
			defer saveT.Stop()
			saveC = saveT.C
		case <-saveC:
			saves++
			s.startSave(t, h)
			saveT.Reset(heldSaveWait(saves + 1))
		case <-renewC:
			err := s.renew(t, h)
			now := time.Now()
			switch {
			case err == nil:
				renewed = now
				renewT.Reset(h.ttl / 3)
			case errors.Is(err, ErrLeaseLost) || now.Sub(renewed) >= h.ttl:
				h.lost.Store(true)
				if !errors.Is(err, ErrLeaseLost) {
					err = fmt.Errorf("%w: not renewed within its TTL (%v): %w", ErrLeaseLost, h.ttl, err)
				}
				t.reportError(s.key, "oauthrt: the refresh lease lapsed while held", fmt.Errorf("oauthrt: key %q: %w", s.key, err))
				return
			default:
				// The store could not be asked: try again soon, while the
				// lease may still be held.
				renewT.Reset(min(h.ttl/10, h.ttl-now.Sub(renewed)))
			}
		}
	}
}

// renew renews h's lease, waiting at most a third of its TTL.
func (s *keyState) renew(t *Transport, h *hold) error {
	ctx, cancel := context.WithTimeout(t.lifecycle().ctx, h.ttl/3)
	defer cancel()
	return guard("the Lease's Renew", func() error { return h.lease.Renew(ctx) })
}

// startSave starts a flight that saves the token h is kept for, unless a
// flight is under way or h no longer is kept.
func (s *keyState) startSave(t *Transport, h *hold) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// With no flight under way, mu orders this read after the last
	// flight's writes.
	if s.flight.Load() == nil && s.held == h {
		s.startLocked(context.Background(), t, why{resave: true}) // fails only once closed
	}
}

// guard calls fn and turns a panic in it into an error naming what
// panicked, so that a panicking Store, Locker or Refresher fails one
// refresh instead of the process. The panic's value is not kept: it may
// hold a token.
func guard(what string, fn func() error) (err error) {
	_, err = guardValue(what, func() (struct{}, error) { return struct{}{}, fn() })
	return err
}

// guardValue is guard for a function returning a value.
func guardValue[T any](what string, fn func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			var zero T
			v, err = zero, fmt.Errorf("oauthrt: %s panicked (%T)", what, p)
		}
	}()
	return fn()
}
