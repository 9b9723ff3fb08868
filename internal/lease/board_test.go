package lease

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A backend plays a store's announcing backend for the Board's tests: its
// Listen reports each start and stop, and relays what the test sends.
type backend struct {
	started   chan context.Context // each Listen's ctx, as it starts
	stopped   chan struct{}        // a Listen returned
	announces chan announcement
	readies   chan struct{}
	fail      error // Listen returns it at once when set
}

type announcement struct {
	key    string
	record []byte
}

func newBackend() *backend {
	return &backend{
		started:   make(chan context.Context, 8),
		stopped:   make(chan struct{}, 8),
		announces: make(chan announcement),
		readies:   make(chan struct{}),
	}
}

// board returns a Board on be whose waiters never ask again of their own
// accord: only an announcement or a change of the Board's state wakes them.
func (be *backend) board() *Board {
	return &Board{pause: time.Hour, Listen: func(ctx context.Context, ready func(), announce func(string, []byte)) error {
		defer func() { be.stopped <- struct{}{} }()
		be.started <- ctx
		if be.fail != nil {
			return be.fail
		}
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-be.readies:
				ready()
			case a := <-be.announces:
				announce(a.key, a.record)
			}
		}
	}}
}

// A waiter is one WaitOn under test, run on a goroutine of its own: each
// of its tries reports on tried and then returns what the test answers on
// answer.
type waiter struct {
	tries  atomic.Int64
	tried  chan int64
	answer chan bool
	woken  atomic.Pointer[[]byte] // the record woken accepted
	accept func(record []byte) bool
	done   chan error
}

func startWaiter(ctx context.Context, b *Board, key string, accept func([]byte) bool) *waiter {
	w := &waiter{tried: make(chan int64), answer: make(chan bool), accept: accept, done: make(chan error, 1)}
	go func() {
		w.done <- WaitOn(ctx, b, key, func(ctx context.Context) (bool, error) {
			n := w.tries.Add(1)
			w.tried <- n
			return <-w.answer, nil
		}, func(record []byte) bool {
			if w.accept != nil && w.accept(record) {
				w.woken.Store(&record)
				return true
			}
			return false
		})
	}()
	return w
}

// try waits for the waiter's next try and answers it.
func (w *waiter) try(t *testing.T, done bool) int64 {
	t.Helper()
	n := <-w.tried
	w.answer <- done
	return n
}

func (w *waiter) finish(t *testing.T) {
	t.Helper()
	if err := <-w.done; err != nil {
		t.Fatalf("WaitOn: %v", err)
	}
}

// A release announced with the committed record ends the wait without a
// second try when woken accepts the record; one it refuses, and a release
// announced without a record, make the waiter ask again at once.
func TestBoardWakesTheWaiterOfTheKey(t *testing.T) {
	be := newBackend()
	b := be.board()
	ctx := context.Background()

	w := startWaiter(ctx, b, "k", func(r []byte) bool { return string(r) == "new" })
	w.try(t, false)
	<-be.started
	be.readies <- struct{}{}
	w.try(t, false) // ready asks again: a release may have come before it
	be.announces <- announcement{key: "other", record: []byte("new")}
	be.announces <- announcement{key: "k", record: nil}
	w.try(t, false)
	be.announces <- announcement{key: "k", record: []byte("old")}
	w.try(t, false)
	be.announces <- announcement{key: "k", record: []byte("new")}
	w.finish(t)
	if n := w.tries.Load(); n != 4 {
		t.Errorf("%d tries, want 4: the first, after ready, after the release without a record, after the refused record", n)
	}
	if got := w.woken.Load(); got == nil || string(*got) != "new" {
		t.Errorf("woken accepted %v, want the record \"new\"", got)
	}
	<-be.stopped // the Board stops listening once no one waits
}

// An announcement about one key leaves the waiters of another asleep.
func TestBoardAnnouncementOfAnotherKeyWakesNobody(t *testing.T) {
	be := newBackend()
	b := be.board()
	ctx := context.Background()

	w := startWaiter(ctx, b, "a", func([]byte) bool { return true })
	w.try(t, false)
	<-be.started
	be.readies <- struct{}{}
	w.try(t, false)
	for i := range 5 {
		be.announces <- announcement{key: fmt.Sprintf("b%d", i), record: []byte("x")}
	}
	be.announces <- announcement{key: "a", record: []byte("x")}
	w.finish(t)
	if n := w.tries.Load(); n != 2 {
		t.Errorf("%d tries, want 2: announcements of other keys woke the waiter", n)
	}
	<-be.stopped
}

// A Listen that cannot work (errors.ErrUnsupported) turns the Board off
// for good: its waiters are told to ask again at once (and then poll, as
// Wait does), and no later wait starts Listen again.
func TestBoardUnsupportedStaysOff(t *testing.T) {
	be := newBackend()
	be.fail = fmt.Errorf("no notifications here: %w", errors.ErrUnsupported)
	b := be.board()
	ctx := context.Background()

	w := startWaiter(ctx, b, "k", nil)
	w.try(t, false)
	<-be.started
	<-be.stopped
	w.try(t, true) // asked again as the Listen ended: its pause is an hour
	w.finish(t)

	ctx, cancel := context.WithCancel(ctx)
	w = startWaiter(ctx, b, "k", nil)
	w.try(t, false)
	cancel()
	if err := <-w.done; !errors.Is(err, context.Canceled) {
		t.Errorf("WaitOn: %v, want context.Canceled", err)
	}
	select { // the waiter would have started Listen before its pause
	case <-be.started:
		t.Error("Listen ran again after it reported errors.ErrUnsupported")
	default:
	}
}

// A wait that ends with its context returns an error wrapping the
// context's, naming the key, and lets the Board stop.
func TestBoardWaitEndsWithItsContext(t *testing.T) {
	be := newBackend()
	b := be.board()
	ctx, cancel := context.WithCancel(context.Background())

	w := startWaiter(ctx, b, "k", nil)
	w.try(t, false)
	<-be.started
	be.readies <- struct{}{}
	w.try(t, false)
	cancel()
	err := <-w.done
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), `"k"`) {
		t.Errorf("WaitOn: %v, want an error wrapping context.Canceled that names the key", err)
	}
	<-be.stopped
}

// Several waiters of one key are all woken by one announcement.
func TestBoardWakesEveryWaiter(t *testing.T) {
	be := newBackend()
	b := be.board()
	ctx := context.Background()

	ws := []*waiter{startWaiter(ctx, b, "k", func([]byte) bool { return true })}
	ws[0].try(t, false)
	<-be.started
	for range 2 {
		w := startWaiter(ctx, b, "k", func([]byte) bool { return true })
		w.try(t, false)
		ws = append(ws, w)
	}
	be.readies <- struct{}{}
	for _, w := range ws {
		w.try(t, false)
	}
	be.announces <- announcement{key: "k", record: []byte("new")}
	for i, w := range ws {
		w.finish(t)
		if n := w.tries.Load(); n != 2 {
			t.Errorf("waiter %d: %d tries, want 2", i, n)
		}
	}
	<-be.stopped
}

// A nil Board, or one without Listen, waits as Wait does.
func TestWaitOnWithoutABoardPolls(t *testing.T) {
	for _, b := range []*Board{nil, {}} {
		tries := 0
		err := WaitOn(context.Background(), b, "k", func(context.Context) (bool, error) {
			tries++
			return tries == 3, nil
		}, nil)
		if err != nil || tries != 3 {
			t.Errorf("WaitOn(%v): %v after %d tries, want nil after 3", b, err, tries)
		}
	}
}

// With Topic set, a waiter is woken by the announcements that name its
// key's topic, and not by those that name the key itself.
func TestBoardTopic(t *testing.T) {
	be := newBackend()
	b := be.board()
	b.Topic = func(key string) string { return "topic of " + key }
	ctx := context.Background()

	w := startWaiter(ctx, b, "k", func(r []byte) bool { return string(r) == "new" })
	w.try(t, false)
	<-be.started
	be.readies <- struct{}{}
	w.try(t, false)
	be.announces <- announcement{key: "k", record: []byte("new")}
	be.announces <- announcement{key: "topic of k", record: []byte("new")}
	w.finish(t)
	if n := w.tries.Load(); n != 2 {
		t.Errorf("%d tries, want 2: the announcement that named the key itself woke the waiter", n)
	}
	<-be.stopped
}
