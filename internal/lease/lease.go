// Package lease holds what the shared stores' leases have in common:
// holder identities, the time-to-live rule, the wait for a lease held
// elsewhere, and the [oauthrt.Lease] a store's TakeLease returns.
package lease

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/holder"
)

// The wait between two tries grows from minWait to maxWait. maxWait bounds
// how long a waiter may sleep after the lease was released.
const (
	minWait = 5 * time.Millisecond
	maxWait = 200 * time.Millisecond
)

// ReleaseTimeout bounds the release of a lease, which must not block its
// caller for long; a release that fails leaves the lease to lapse.
const ReleaseTimeout = 5 * time.Second

// NewHolder returns the identity of one taking of a lease: only the
// holder that wrote it may release the lease. It names the process for
// operators, "<host>/<pid>/<16 random hex digits>" (see the holder
// package), and is at most 61 bytes long.
func NewHolder() string { return holder.New() }

// TTL returns the time to live of the leases of a store whose LeaseTTL
// is ttl: oauthrt.DefaultLeaseTTL when ttl is zero or negative, ttl
// itself when it is at least oauthrt.MinLeaseTTL. A shorter positive ttl
// is an error, prefixed with the store's package pkg ("filestore"): a
// lease that short could lapse between two renewals, and two holders
// would then refresh at once.
func TTL(pkg string, ttl time.Duration) (time.Duration, error) {
	switch {
	case ttl <= 0:
		return oauthrt.DefaultLeaseTTL, nil
	case ttl < oauthrt.MinLeaseTTL:
		return 0, fmt.Errorf("oauthrt: %s: Store.LeaseTTL %v is shorter than the minimum lease TTL, oauthrt.MinLeaseTTL (%v); set it to at least that, or to zero for oauthrt.DefaultLeaseTTL", pkg, ttl, oauthrt.MinLeaseTTL)
	}
	return ttl, nil
}

// Wait calls try until it takes the lease, fails, or ctx ends, sleeping
// between tries for a jittered, doubling time from 5 ms to 200 ms.
//
// An error that came with ctx's end is reported as ctx's: a driver that
// dials with ctx's deadline fails with its own timeout at the very moment
// ctx ends, possibly before ctx.Err() says so.
//
// When ctx says how long the Transport expects the holder to keep the
// lease ([oauthrt.ExpectedHold]: about one refresh), the first pause, the
// one after the try that found the lease held, is that long (at most
// maxHint), and the tries after it start from a quarter of it: a waiter
// then asks about twice per refresh it waits for, where the doubling from
// 5 ms asks four or five times during a refresh of 50 ms.
func Wait(ctx context.Context, key string, try func(context.Context) (bool, error)) error {
	return waitError(ctx, key, poll(ctx, waitSchedule(ctx), try))
}

// waitSchedule is the schedule of Wait's pauses under ctx.
func waitSchedule(ctx context.Context) schedule {
	if d, ok := oauthrt.ExpectedHold(ctx); ok {
		d = min(d, maxHint)
		return schedule{after: d, wait: max(minWait, min(d/4, maxWait)), most: maxWait}
	}
	return schedule{wait: minWait, most: maxWait}
}

// waitError is the error of a wait for key's lease that ended with err.
func waitError(ctx context.Context, key string, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ended(ctx); cerr != nil {
		if errors.Is(err, cerr) {
			return fmt.Errorf("oauthrt: waiting for the refresh lease of key %q: %w", key, cerr)
		}
		return fmt.Errorf("oauthrt: waiting for the refresh lease of key %q: %w (%v)", key, cerr, err)
	}
	return fmt.Errorf("oauthrt: taking the refresh lease of key %q: %w", key, err)
}

// ended returns ctx.Err(), or context.DeadlineExceeded once ctx's deadline
// has passed though ctx has not yet said so; nil while ctx is live.
func ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// maxHint bounds the first pause of a wait that the Transport's expected
// hold sets: a token endpoint that took long once must not keep waiters
// asleep long after the lease is free.
const maxHint = time.Second

// Poll calls try until it reports done, returns an error, or ctx ends
// (then Poll returns ctx.Err()), sleeping between tries for a jittered
// time that doubles from first up to most.
func Poll(ctx context.Context, first, most time.Duration, try func(context.Context) (bool, error)) error {
	return poll(ctx, schedule{wait: first, most: most}, try)
}

// A schedule is the pauses between the tries of a poll: after, when
// positive (with up to an eighth more, to spread the waiters out), then a
// jittered time that doubles from wait up to most.
type schedule struct{ after, wait, most time.Duration }

// next returns the next pause.
func (s *schedule) next() time.Duration {
	if s.after > 0 {
		d := s.after + mrand.N(s.after/8+1)
		s.after = 0
		return d
	}
	d := s.wait/2 + mrand.N(s.wait/2+1) // spread the waiters out
	s.wait = min(2*s.wait, s.most)
	return d
}

// poll calls try until it reports done, returns an error, or ctx ends
// (then poll returns ctx.Err()), pausing between tries as s says.
func poll(ctx context.Context, s schedule, try func(context.Context) (bool, error)) error {
	var p pause
	defer p.stop()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		done, err := try(ctx)
		if err != nil || done {
			return err
		}
		select {
		case <-p.start(s.next()):
		case <-ctx.Done():
		}
	}
}

// A pause is a waiter's one timer, made at its first pause and reset for
// each one after it.
type pause struct{ timer *time.Timer }

// start starts a pause of d, and returns the channel that ends it.
func (p *pause) start(d time.Duration) <-chan time.Time {
	if p.timer == nil {
		p.timer = time.NewTimer(d)
	} else {
		p.timer.Reset(d)
	}
	return p.timer.C
}

// stop stops the pause under way, if any.
func (p *pause) stop() {
	if p.timer != nil {
		p.timer.Stop()
	}
}

// Release returns the unlock function of a lease: it calls release once,
// however often it is called, under a context bounded by ReleaseTimeout.
// release reports nothing: a lease it fails to release lapses by itself.
func Release(release func(ctx context.Context)) (unlock func()) {
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), ReleaseTimeout)
			defer cancel()
			release(ctx)
		})
	}
}

// New returns the oauthrt.Lease of one taking of key's lease for ttl.
//
// renew extends the lease to a full ttl from now, and reports whether it
// was still this holder's; false makes Renew fail with an error wrapping
// oauthrt.ErrLeaseLost, now and on every later call, without asking the
// store again. An error from renew means the store could not be asked.
// release is called as by Release, at most once; after it, Renew reports
// the lease lost.
func New(key string, ttl time.Duration, renew func(context.Context) (bool, error), release func(context.Context)) oauthrt.Lease {
	h := &held{key: key, ttl: ttl, renew: renew}
	h.release = Release(func(ctx context.Context) {
		h.gone.Store(true)
		release(ctx)
	})
	return h
}

type held struct {
	key     string
	ttl     time.Duration
	renew   func(context.Context) (bool, error)
	release func()
	gone    atomic.Bool // lost or released: never renewed again
}

func (h *held) TTL() time.Duration { return h.ttl }

func (h *held) Renew(ctx context.Context) error {
	if h.gone.Load() {
		return h.lost()
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("oauthrt: renewing the refresh lease of key %q: %w", h.key, err)
	}
	ok, err := h.renew(ctx)
	if err != nil {
		return fmt.Errorf("oauthrt: renewing the refresh lease of key %q: %w", h.key, err)
	}
	if !ok {
		h.gone.Store(true)
		return h.lost()
	}
	return nil
}

func (h *held) lost() error {
	return fmt.Errorf("%w: key %q (its TTL of %v ran out, or it was released)", oauthrt.ErrLeaseLost, h.key, h.ttl)
}

func (h *held) Release() { h.release() }
