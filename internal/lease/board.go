package lease

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/oauthrt/oauthrt"
)

// A Board wakes this process's waiters for a lease held elsewhere when
// the store's backend announces that the lease was released, so that they
// ask the store again then, rather than on a timer. With the token the
// holder committed in the announcement, a waiter learns it without asking
// the store at all: a refresh that four processes need then costs the
// holder's two round trips and one for each waiter, where polling costs at
// least two for each waiter.
//
// Announcements are hints: a waiter acts on one only as it would on what
// it read from the store at that moment, and a waiter that hears nothing
// still asks again after a fallback pause (a holder that died lets its
// lease lapse without a word, and an announcement made while the Board
// was reconnecting is lost). The Board listens only while someone waits:
// the first waiter that finds the lease held starts Listen (one whose
// first ask settles its wait, as most do, never needs to hear anything),
// and it is stopped once no one has waited for linger.
//
// A store keeps one Board per backend it listens to; the zero Board with
// Listen set is ready to use. A nil *Board never wakes anyone: WaitOn
// then polls as Wait does.
type Board struct {
	// Listen subscribes to the backend's announcements. It calls ready
	// once subscribed, and again each time it subscribed anew after losing
	// its connection (announcements may have been missed meanwhile), and
	// announce for each announcement, until ctx ends. record is the
	// token value the holder committed as it released the lease, as the
	// store holds it; nil when it released the lease without committing,
	// or when the value did not fit the announcement: waiters then ask
	// the store again. Listen returns when ctx ends, or with an error
	// when it cannot listen: one wrapping errors.ErrUnsupported (the
	// backend or its driver cannot announce) stops the Board for good,
	// and any other error makes it try again no sooner than a second
	// later; its waiters poll meanwhile.
	Listen func(ctx context.Context, ready func(), announce func(key string, record []byte)) error

	// Topic names a waiter's key as announcements name it, for a backend
	// whose announcements do not carry the key itself (sqlstore announces
	// a hash of it, which a stranger who hears it cannot read). nil: the
	// key itself.
	Topic func(key string) string

	mu          sync.Mutex
	watches     map[string]map[*watch]struct{}
	count       int                // watches registered
	gen         uint64             // the current (or last) Listen's number
	stop        context.CancelFunc // ends the current Listen; nil while none runs
	live        bool               // the current Listen is subscribed
	idle        *time.Timer        // stops Listen once no one has waited for linger
	failed      time.Time          // when Listen last failed
	unsupported bool               // Listen can never work

	pause    time.Duration // tests: every pause of a waiter, when positive
	fallback time.Duration // tests: the first fallback pause, when positive; see SetFallback
}

// SetFallback sets the first fallback pause of b's waiters while b
// listens, for tests that count a waiter's asks on a loaded machine,
// where an announcement may take longer than the usual fallback to
// arrive. Call it before b's first use.
func (b *Board) SetFallback(d time.Duration) { b.fallback = d }

// linger is how long a Board keeps listening once no one waits: long
// enough for the next waiter of a busy fleet to find it listening, short
// enough that it leaves no goroutine behind for long.
const linger = 100 * time.Millisecond

// relisten is how long a Board waits, after Listen failed, before it
// tries again.
const relisten = time.Second

// A watch is one waiter's registration for announcements about its key.
type watch struct {
	key string      // as announcements name it: see Board.Topic
	c   chan []byte // capacity 1: the newest announcement not yet taken; nil means "ask again"
}

// watch registers a waiter for announcements about key. It keeps a
// lingering Listen running, but starts none: see listen.
func (b *Board) watch(key string) *watch {
	if b.Topic != nil {
		key = b.Topic(key)
	}
	w := &watch{key: key, c: make(chan []byte, 1)}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.watches == nil {
		b.watches = make(map[string]map[*watch]struct{})
	}
	ws := b.watches[key]
	if ws == nil {
		ws = make(map[*watch]struct{})
		b.watches[key] = ws
	}
	ws[w] = struct{}{}
	b.count++
	if b.idle != nil {
		b.idle.Stop()
		b.idle = nil
	}
	return w
}

// listen starts listening if no Listen runs, for a waiter that found the
// lease held. Its first ask, made before, is covered all the same: the
// Board's becoming ready makes it ask again.
func (b *Board) listen() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.start()
}

// start starts a Listen if none runs and one may; under mu.
func (b *Board) start() {
	if b.stop != nil || b.unsupported || b.Listen == nil {
		return
	}
	if !b.failed.IsZero() && time.Since(b.failed) < relisten {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.gen++
	b.stop, b.live = cancel, false
	go b.run(ctx, b.gen)
}

// run runs one Listen, numbered gen: its callbacks act only while it is
// the current one.
func (b *Board) run(ctx context.Context, gen uint64) {
	ready := func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.gen != gen || ctx.Err() != nil {
			return
		}
		b.live = true
		b.pokeAll() // whoever asked before now may have missed a release
	}
	announce := func(key string, record []byte) {
		if len(record) == 0 {
			record = nil
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.gen != gen {
			return
		}
		for w := range b.watches[key] {
			w.put(record)
		}
	}
	err := b.Listen(ctx, ready, announce)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gen != gen {
		return
	}
	b.stop, b.live = nil, false
	switch {
	case ctx.Err() != nil:
	case errors.Is(err, errors.ErrUnsupported):
		b.unsupported = true
	default:
		b.failed = time.Now()
	}
	b.pokeAll() // back to polling: ask now, and then at the polling pace
}

// pokeAll tells every waiter to ask again; under mu.
func (b *Board) pokeAll() {
	for _, ws := range b.watches {
		for w := range ws {
			w.put(nil)
		}
	}
}

// put hands w the newest announcement, replacing one not yet taken; under
// the Board's mu, so puts do not race each other.
func (w *watch) put(record []byte) {
	select {
	case <-w.c:
	default:
	}
	w.c <- record
}

// unwatch removes w, and stops listening after linger once no one waits.
func (b *Board) unwatch(w *watch) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ws := b.watches[w.key]
	if _, ok := ws[w]; !ok {
		return
	}
	delete(ws, w)
	if len(ws) == 0 {
		delete(b.watches, w.key)
	}
	b.count--
	if b.count == 0 && b.stop != nil && b.idle == nil {
		gen := b.gen
		b.idle = time.AfterFunc(linger, func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			if b.gen != gen || b.count > 0 || b.stop == nil {
				return
			}
			b.stop()
			b.stop, b.live, b.idle = nil, false, nil
		})
	}
}

// listening reports whether the Board hears the backend's announcements.
func (b *Board) listening() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.live
}

// The fallback pause of a waiter on a listening Board, the time after
// which it asks again though it heard nothing, grows from four times the
// expected hold (at least minFallback) up to maxFallback. Releases are
// announced: it only bounds the wait for a lease whose holder died and
// let it lapse, or whose release was announced while the Board was not
// listening. That is how late a waiter may find a lapsed lease, so it is
// kept to a quarter of the shortest lease TTL: at 2 s, a fleet whose
// holder was stopped recovered 3.1 s after the fault with a 2 s lease
// (the chaos suite, Redis), past the TTL + 1 s it is held to.
const (
	minFallback = 200 * time.Millisecond
	maxFallback = oauthrt.MinLeaseTTL / 4
)

// WaitOn is Wait for a store whose backend announces the releases of its
// leases on b. A waiter asks (calls try) once, then again each time the
// key's lease is announced released, and after a fallback pause when it
// hears nothing; while b is not listening it polls as Wait does. An
// announcement that carries the committed record is first offered to
// woken, which reports whether it settles the wait, as a try that found
// that record would: then WaitOn returns without asking the store again.
// A nil b, or a nil woken, makes WaitOn wait as Wait does, or ask again at
// each announcement, respectively.
func WaitOn(ctx context.Context, b *Board, key string, try func(context.Context) (bool, error), woken func(record []byte) bool) error {
	if b == nil || b.Listen == nil {
		return Wait(ctx, key, try)
	}
	w := b.watch(key)
	defer b.unwatch(w)
	return waitError(ctx, key, waitOn(ctx, b, w, try, woken))
}

func waitOn(ctx context.Context, b *Board, w *watch, try func(context.Context) (bool, error), woken func(record []byte) bool) error {
	hold, _ := oauthrt.ExpectedHold(ctx)
	poll := waitSchedule(ctx)
	fallback := min(maxFallback, max(minFallback, 4*hold))
	if b.fallback > 0 {
		fallback = b.fallback
	}
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
		if p.timer == nil { // the first try found the lease held
			b.listen()
		}
		var d time.Duration
		switch {
		case b.pause > 0:
			d = b.pause
		case b.listening():
			d, fallback = fallback, max(fallback, min(2*fallback, maxFallback))
		default:
			d = poll.next()
		}
		select {
		case record := <-w.c:
			if record != nil && woken != nil && woken(record) {
				return nil
			}
			// Released: ask again.
		case <-p.start(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
