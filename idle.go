package oauthrt

import (
	"errors"
	"time"
	"weak"
)

// What a Transport knows of a key (its keyState: the cached token, the
// refresh under way, the protocol's memory) is dropped once no request has
// used the key for IdleKeyTimeout, so that a service that has touched a
// million keys over a day does not hold a million states. A state that
// still matters is kept: a refresh under way, a refreshed token the store
// has yet to take (and the lease kept for it), a grant known dead or
// degraded (which a store without grant state remembers nowhere else, and
// Status reports), and an Invalidate not yet honoured.

// DefaultIdleKeyTimeout is how long a Transport keeps what it knows of a
// key that no request uses, when Transport.IdleKeyTimeout is zero.
const DefaultIdleKeyTimeout = 10 * time.Minute

// useGranularity is how stale a key's last use may be: a request records
// its use only when the last record is older, so that requests for one
// key do not all write to one cache line.
const useGranularity = int64(time.Second)

// errDropped is the error of startLocked on a state already dropped: the
// caller takes the key's current state and starts the flight there.
var errDropped = errors.New("oauthrt: key state dropped")

func (t *Transport) idleKeyTimeout() time.Duration {
	return setting(t.IdleKeyTimeout, DefaultIdleKeyTimeout)
}

// used records that a request used s at now (Unix nanoseconds by
// Transport.Now).
func (s *keyState) used(now int64) {
	if now-s.lastUse.Load() > useGranularity {
		s.lastUse.Store(now)
	}
}

// droppableLocked reports whether s may be dropped at now: idle for
// timeout, and holding nothing that only it knows. s.mu must be held,
// which orders the read of the flight-only fields after the key's last
// flight.
func (s *keyState) droppableLocked(now int64, timeout time.Duration) bool {
	return now-s.lastUse.Load() >= int64(timeout) &&
		s.flight.Load() == nil && s.unsaved() == nil && s.held() == nil && s.dead() == nil &&
		s.backoff() == nil &&
		s.invalidated.Load() == s.honoured
}

// dropIdle drops the states of the keys idle at now, and returns how
// many it dropped.
func (t *Transport) dropIdle(now time.Time) int {
	timeout := t.idleKeyTimeout()
	if timeout <= 0 {
		return 0
	}
	n := now.UnixNano()
	dropped := t.keys.DropIf(func(s *keyState) bool {
		if n-s.lastUse.Load() < int64(timeout) {
			return false // the common case, without the lock
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.droppableLocked(n, timeout) {
			return false
		}
		s.dropped.Store(true)
		return true
	})
	return dropped
}

// watchIdle starts the timer that drops idle keys, once per Transport:
// it fires every quarter of IdleKeyTimeout (at least a second, at most a
// minute) until Close, or until the Transport, dropped without Close, is
// collected. A timer, not a goroutine, waits between sweeps.
func (t *Transport) watchIdle() {
	timeout := t.idleKeyTimeout()
	if timeout <= 0 {
		return
	}
	lc := t.lifecycle()
	lc.idleOnce.Do(func() {
		every := min(max(timeout/4, time.Second), time.Minute)
		lc.mu.Lock()
		defer lc.mu.Unlock()
		if lc.closed {
			return
		}
		// The timer holds the Transport weakly, so that one dropped
		// without Close is still collected, and the timer then stops.
		wt := weak.Make(t)
		var tick func()
		tick = func() {
			t := wt.Value()
			if t == nil {
				return
			}
			t.dropIdle(t.now())
			lc.mu.Lock()
			defer lc.mu.Unlock()
			if !lc.closed {
				lc.idle = time.AfterFunc(every, tick)
			}
		}
		lc.idle = time.AfterFunc(every, tick)
	})
}
