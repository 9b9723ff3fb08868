package oauthrt

import (
	"context"
	"sync"
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
