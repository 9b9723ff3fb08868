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
	// asked is when the store was asked for the lease (the monotonic
	// clock), which it took no earlier; zero when not known.
	asked time.Time

	saving   chan struct{} // closed once a refreshed token awaits its save
	saveOnce sync.Once
	done     chan struct{} // closed by release
	doneOnce sync.Once
}

// take takes the key's lease from the store, and starts keeping it; it
// returns nil when the store is not a Locker.
func (s *keyState) take(ctx context.Context, t *Transport) (*hold, error) {
	switch l := t.Store.(type) {
	case LeaseLocker:
		asked := time.Now()
		lease, err := guardValue("the store's TakeLease", func() (Lease, error) { return l.TakeLease(ctx, s.key) })
		if err != nil {
			return nil, err
		}
		if lease == nil {
			return nil, errors.New("oauthrt: the store's TakeLease returned a nil Lease")
		}
		return s.keepLease(t, lease, asked)
	case Locker:
		unlock, err := guardValue("the store's Lock", func() (func(), error) { return l.Lock(ctx, s.key) })
		if err != nil {
			return nil, err
		}
		if unlock == nil {
			unlock = func() {}
		}
		h := &hold{saving: make(chan struct{}), done: make(chan struct{})}
		h.unlock = s.guardedRelease(t, "the Locker's unlock", unlock)
		s.startKeeping(t, h)
		return h, nil
	}
	return nil, nil
}

// keepLease holds lease, a LeaseLocker's, taken by a call that started
// at asked, and starts keeping it; a lease whose TTL is below
// MinLeaseTTL is released and refused.
func (s *keyState) keepLease(t *Transport, lease Lease, asked time.Time) (*hold, error) {
	h := &hold{lease: lease, asked: asked, saving: make(chan struct{}), done: make(chan struct{})}
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
	s.startKeeping(t, h)
	return h, nil
}

// startKeeping starts h's keeper.
func (s *keyState) startKeeping(t *Transport, h *hold) {
	lc := t.lifecycle()
	lc.keepers.add()
	go func() {
		defer lc.keepers.done()
		s.keep(t, h)
	}()
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

// released stops h's keeper, once, without asking the store: the lease
// was released along with a commit (CommitReleaser).
func (h *hold) released() { h.doneOnce.Do(func() { close(h.done) }) }

// heldSaveWait is the pause before the n-th save of a refreshed token
// the store did not take, while the lease is kept for it: 100ms doubling
// to 2s. It is shorter than the backoff of saves without a lease, since
// the rest of the fleet waits for this one.
func heldSaveWait(n int) time.Duration {
	return min(heldSaveFirst<<min(n-1, 10), 2*time.Second)
}

// heldSaveFirst is heldSaveWait's first pause; a variable for the tests.
var heldSaveFirst = 100 * time.Millisecond

// lostSaveWait is the pause between saves once the lease kept for the
// token has lapsed: as short as the first, since other processes may now
// take the lease and read the rotated refresh token the store still
// holds; the sooner the store takes the new one, the fewer of them do.
// lostSaving bounds how long saves go on at that pace, so that a
// Transport dropped without Close ends its keeper.
func lostSaveWait() time.Duration { return 2 * heldSaveFirst }

const lostSaving = RefreshTimeout

// keep keeps h until it is released (or Close has made its last saves):
//   - it renews a LeaseLocker's lease every third of its TTL, and marks
//     the lease lost when a renewal says so, or none succeeded for a
//     whole TTL; a plain Locker's lease, which it cannot renew, counts as
//     lost once RefreshTimeout has passed, since its TTL may be no longer;
//   - once h is kept for a token the store has yet to take, it starts a
//     flight to save it after each pause of heldSaveWait (lostSaveWait
//     once the lease is lost, for at most lostSaving), until Close starts
//     (Close makes the last save).
func (s *keyState) keep(t *Transport, h *hold) {
	lc := t.lifecycle()
	closing, finished := lc.ctx.Done(), lc.done.Done()
	var renewC, lapseC, saveC <-chan time.Time
	var renewT *time.Timer
	if h.lease != nil {
		renewT = time.NewTimer(h.ttl / 3)
		defer renewT.Stop()
		renewC = renewT.C
	} else {
		lapseT := time.NewTimer(RefreshTimeout)
		defer lapseT.Stop()
		lapseC = lapseT.C
	}
	saveT := time.NewTimer(time.Hour)
	saveT.Stop()
	defer saveT.Stop()
	renewed := time.Now()
	var lostAt time.Time
	lose := func() {
		h.lost.Store(true)
		lostAt = time.Now()
		renewC, lapseC = nil, nil
	}
	saving := h.saving
	saves := 0
	for {
		select {
		case <-h.done:
			return
		case <-finished:
			return
		case <-closing:
			closing, saving, saveC = nil, nil, nil // Close saves last
		case <-saving:
			saving = nil
			saveT.Reset(heldSaveWait(1))
			saveC = saveT.C
		case <-saveC:
			if h.lost.Load() && time.Since(lostAt) >= lostSaving {
				return // later requests save it, with backoff
			}
			saves++
			s.startSave(t, h)
			if h.lost.Load() {
				saveT.Reset(lostSaveWait())
			} else {
				saveT.Reset(heldSaveWait(saves + 1))
			}
		case <-lapseC:
			lose()
		case <-renewC:
			start := time.Now()
			err := s.renew(h, renewed.Add(h.ttl).Sub(start))
			switch {
			case err == nil:
				renewed = start
				renewT.Reset(h.ttl / 3)
			case errors.Is(err, ErrLeaseLost) || time.Since(renewed) >= h.ttl:
				if !errors.Is(err, ErrLeaseLost) {
					err = fmt.Errorf("%w: not renewed within its TTL (%v): %w", ErrLeaseLost, h.ttl, err)
				}
				lose()
				t.reportError(s.key, "oauthrt: the refresh lease lapsed while held", fmt.Errorf("oauthrt: keeping the refresh lease of key %q: %w", s.key, err))
			default:
				// The store could not be asked: try again soon, while the
				// lease may still be held.
				renewT.Reset(max(min(h.ttl/10, time.Until(renewed.Add(h.ttl))), 0))
			}
		}
	}
}

// renew renews h's lease, waiting at most a third of its TTL, and never
// past left, the time the lease has before it lapses. Close does not cut
// it short: a refresh Close waits for still runs under the lease.
func (s *keyState) renew(h *hold, left time.Duration) error {
	if left <= 0 {
		return fmt.Errorf("%w: its TTL (%v) ran out before it was renewed", ErrLeaseLost, h.ttl)
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(h.ttl/3, left))
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
	if s.flight.Load() == nil && s.held() == h {
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
