package oauthrt

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// lifecycle tracks the goroutines a Transport starts, for Close.
type lifecycle struct {
	ctx    context.Context // cancelled when Close starts
	cancel context.CancelFunc

	// done is cancelled when Close has made its last saves: the keepers of
	// leases still held stop renewing them then, not before, since a
	// refresh Close waits for still runs under its lease.
	done    context.Context
	endDone context.CancelFunc

	mu     sync.Mutex
	closed bool
	// idle is the timer of the next sweep of idle keys (idle.go), started
	// once, with the first key; Close stops it.
	idle     *time.Timer
	idleOnce sync.Once
	flights  goroutines // the flights
	keepers  goroutines // the keepers of the flights' leases (hold.go)

	bound atomic.Pointer[waitBound] // the newest; see waitFor
}

// A waitBound is a deadline that the flights starting within one
// waitGrain share: it ends their waits (store reads, the lease) no sooner
// than RefreshTimeout after they started and no later than waitGrain
// after that, or when Close starts. A context.WithTimeout of its own for
// each flight costs a timer and a registration with Close's context,
// under a lock every flight shares: on a cold start, where every first
// request for a key runs a flight, that was a tenth of the time a key
// took (BenchmarkColdStart in internal/scale).
type waitBound struct {
	ctx    context.Context
	cancel context.CancelFunc // ends ctx early; Close ends it anyway
	until  int64              // the monotonic time (see sinceStart) up to which flights may start under it
}

// waitGrain is how far apart the deadlines of two waitBounds are; at most
// RefreshTimeout/waitGrain + 1 of them are alive at once.
const waitGrain = time.Second

// waitFor returns the context of a flight's waits: the values of ctx, the
// flight's context, with the deadline and cancellation of the current
// waitBound.
func (lc *lifecycle) waitFor(ctx context.Context) context.Context {
	now := sinceStart()
	b := lc.bound.Load()
	if b == nil || now >= b.until {
		nb := &waitBound{until: now + int64(waitGrain)}
		nb.ctx, nb.cancel = context.WithTimeout(lc.ctx, RefreshTimeout+waitGrain)
		if lc.bound.CompareAndSwap(b, nb) {
			b = nb
		} else {
			nb.cancel() // another flight made one first: use it
			b = lc.bound.Load()
		}
	}
	return &boundCtx{Context: b.ctx, values: ctx}
}

// processStart anchors sinceStart, a monotonic clock: waitBounds are on
// the real clock, which Transport.Now may not be.
var processStart = time.Now()

// sinceStart returns the monotonic time since the process started, in
// nanoseconds.
func sinceStart() int64 { return int64(time.Since(processStart)) }

// A boundCtx is a flight's wait: the values of the flight's context, and
// the deadline and cancellation of a waitBound. Its values come first;
// the flight's context has no cancellation of its own (it is a
// context.WithoutCancel), so contexts derived from a boundCtx find the
// waitBound's, and are cancelled with it without a goroutine each.
type boundCtx struct {
	context.Context // the waitBound's
	values          context.Context
}

func (c *boundCtx) Value(key any) any {
	if v := c.values.Value(key); v != nil {
		return v
	}
	return c.Context.Value(key)
}

func (t *Transport) lifecycle() *lifecycle {
	t.lifeOnce.Do(func() {
		lc := new(lifecycle)
		lc.ctx, lc.cancel = context.WithCancel(context.Background())
		lc.done, lc.endDone = context.WithCancel(context.Background())
		t.life = lc
	})
	return t.life
}

// finish ends Close: the keepers let their leases go, and are waited for.
func (lc *lifecycle) finish() {
	lc.endDone()
	lc.keepers.wait(keeperStopWait)
}

// closeWait bounds Close's wait for the flights under way: as long as a
// refresh and its save may take, which a Refresher and Store that honour
// their contexts never exceed. A variable for the tests.
var closeWait = RefreshTimeout + saveTimeout

// closeSaveTimeout bounds Close's last saves of tokens the store did not
// take.
const closeSaveTimeout = 10 * time.Second

// keeperStopWait bounds Close's wait for the keepers of leases, which end
// as soon as they are told to.
const keeperStopWait = 5 * time.Second

// goroutines counts running goroutines, and lets Close wait, for a bounded
// time, until none runs. Unlike a sync.WaitGroup it needs no goroutine of
// its own to wait with a timeout, and may be added to while waited on.
type goroutines struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0
}

func (g *goroutines) add() {
	g.mu.Lock()
	if g.n == 0 {
		g.idle = make(chan struct{})
	}
	g.n++
	g.mu.Unlock()
}

func (g *goroutines) done() {
	g.mu.Lock()
	g.n--
	if g.n == 0 {
		close(g.idle)
	}
	g.mu.Unlock()
}

// wait waits until no goroutine runs, at most d.
func (g *goroutines) wait(d time.Duration) {
	g.mu.Lock()
	idle := g.idle
	running := g.n > 0
	g.mu.Unlock()
	if !running {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-idle:
	case <-timer.C:
	}
}
