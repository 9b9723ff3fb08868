// Package tripcount counts the round trips a token store makes to its
// backend, for the tests and benchmarks that hold the stores to their
// cost: a [database/sql/driver.Connector] that counts the statements its
// connections run ([Connector]), a go-redis hook that counts commands and
// pipelines ([Hook]), and a wrapper that counts the calls of a store and
// its leases, one trip each, for stores that have no backend to watch
// ([Wrap]).
//
// Trips are counted in a [Counter]; a context can carry a second one
// ([WithCounter]), which also counts every trip made under that context,
// so that a test can tell apart the trips of one kind of call.
package tripcount

import (
	"context"
	"sync/atomic"
)

// A Counter counts round trips. Its zero value is ready to use, and it is
// safe for concurrent use.
type Counter struct {
	trips, prepares atomic.Int64
	signal          atomic.Pointer[chan struct{}] // see Signal
}

// Signal returns a channel that receives after trips are counted in c
// (once for any number of them not yet received), from this call on: a
// test learns so that a call it runs has been answered, as the SQL and
// Redis trips are counted once their answer came. Every call returns
// the same channel.
func (c *Counter) Signal() <-chan struct{} {
	if p := c.signal.Load(); p != nil {
		return *p
	}
	ch := make(chan struct{}, 1)
	if !c.signal.CompareAndSwap(nil, &ch) {
		return *c.signal.Load()
	}
	return ch
}

// add counts one trip in c, and signals it.
func (c *Counter) add() {
	c.trips.Add(1)
	if p := c.signal.Load(); p != nil {
		select {
		case *p <- struct{}{}:
		default:
		}
	}
}

// Trips returns the round trips counted: statements run, Redis commands
// and pipelines sent (those that set up a new connection among them), or
// store calls made, depending on what counts into the Counter.
func (c *Counter) Trips() int64 { return c.trips.Load() }

// Prepares returns the SQL statements prepared apart from their run, which
// [Counter.Trips] does not count: a driver that prepares on the server (MySQL
// without interpolateParams) spends one round trip more on each.
func (c *Counter) Prepares() int64 { return c.prepares.Load() }

type ctxKey struct{}

// WithCounter returns a context carrying c: every trip that this package
// counts under it, or under a context derived from it, also counts in c.
// A nil c returns ctx as it is.
func WithCounter(ctx context.Context, c *Counter) context.Context {
	if c == nil {
		return ctx
	}
	return context.WithValue(ctx, ctxKey{}, c)
}

// trip counts one round trip in c, and in the Counter ctx carries.
func trip(ctx context.Context, c *Counter) {
	c.add()
	if extra, _ := ctx.Value(ctxKey{}).(*Counter); extra != nil && extra != c {
		extra.add()
	}
}

// prepare counts one statement prepared in c, and in the Counter ctx
// carries.
func prepare(ctx context.Context, c *Counter) {
	c.prepares.Add(1)
	if extra, _ := ctx.Value(ctxKey{}).(*Counter); extra != nil && extra != c {
		extra.prepares.Add(1)
	}
}
