package tripcount

import (
	"context"
	"fmt"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// Calls counts the calls made through a store that [Wrap] returns. Its
// zero value is ready to use.
type Calls struct {
	// All counts every call of the store's methods and of its leases'
	// (TTL and Epoch aside, which ask nothing of the store): one trip
	// each, however many the store makes. For a store in memory or in a
	// file, that is the cost a test can see: it counts calls, not
	// syscalls, and not the tries of a wait for a lease.
	All Counter
	// Takes counts the calls of TakeLease and TakeLeaseIf.
	Takes Counter
	// InTakes counts the trips that a [Connector] or a [Hook] counts
	// under the context of those calls: the first try of each, its other
	// statements if it has more, and every try again while another
	// holder has the lease (the polls of the wait).
	InTakes Counter
}

// A leasing store is what Wrap needs of a store.
type leasing interface {
	oauthrt.Committer
	oauthrt.GrantStateStore
	oauthrt.Deleter
	oauthrt.LeaseLocker
}

// Wrap returns s with its calls counted in calls. The store returned has
// the capabilities of s that the Transport uses on a refresh, and no
// others: [oauthrt.TokenStore], [oauthrt.Committer],
// [oauthrt.GrantStateStore], [oauthrt.Deleter] and
// [oauthrt.LeaseLocker], and [oauthrt.SnapshotLoader] and
// [oauthrt.LeaseLoader] when s is a LeaseLoader whose one-trip methods
// are its own (its OneTripStore is s). Its leases are
// [oauthrt.FencedLease]s when those of s are, and
// [oauthrt.CommitReleaser]s when those of s are. A store that lacks one
// of the first five is an error.
func Wrap(s oauthrt.TokenStore, calls *Calls) (oauthrt.TokenStore, error) {
	l, ok := s.(leasing)
	if !ok {
		return nil, fmt.Errorf("tripcount: a %T is not a Committer, GrantStateStore, Deleter and LeaseLocker", s)
	}
	w := &store{s: l, calls: calls}
	if ll, ok := s.(oauthrt.LeaseLoader); ok && ll.OneTripStore() == s {
		return &oneTrip{store: w, ll: ll}, nil
	}
	return w, nil
}

type store struct {
	s     leasing
	calls *Calls
}

var _ leasing = (*store)(nil)

func (w *store) call() { w.calls.All.trips.Add(1) }

// take counts a call that takes a lease, and returns the context to make
// it under.
func (w *store) take(ctx context.Context) context.Context {
	w.call()
	w.calls.Takes.trips.Add(1)
	return WithCounter(ctx, &w.calls.InTakes)
}

func (w *store) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	w.call()
	return w.s.Load(ctx, key)
}

func (w *store) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	w.call()
	return w.s.Save(ctx, key, tok)
}

func (w *store) Commit(ctx context.Context, key string, prev, tok *oauth2.Token) error {
	w.call()
	return w.s.Commit(ctx, key, prev, tok)
}

func (w *store) LoadGrantState(ctx context.Context, key string) (oauthrt.GrantState, error) {
	w.call()
	return w.s.LoadGrantState(ctx, key)
}

func (w *store) SaveGrantState(ctx context.Context, key string, st oauthrt.GrantState) error {
	w.call()
	return w.s.SaveGrantState(ctx, key, st)
}

func (w *store) Delete(ctx context.Context, key string) error {
	w.call()
	return w.s.Delete(ctx, key)
}

func (w *store) Lock(ctx context.Context, key string) (func(), error) {
	unlock, err := w.s.Lock(w.take(ctx), key)
	if err != nil || unlock == nil {
		return unlock, err
	}
	return func() {
		w.call()
		unlock()
	}, nil
}

func (w *store) TakeLease(ctx context.Context, key string) (oauthrt.Lease, error) {
	l, err := w.s.TakeLease(w.take(ctx), key)
	return w.lease(l), err
}

// oneTrip is a wrapped LeaseLoader.
type oneTrip struct {
	*store
	ll oauthrt.LeaseLoader
}

var _ oauthrt.LeaseLoader = (*oneTrip)(nil)

// OneTripStore is the wrapper itself, which counts each one-trip call and
// forwards it, when the wrapped store's one-trip methods are its own.
func (w *oneTrip) OneTripStore() oauthrt.TokenStore { return w }

func (w *oneTrip) LoadSnapshot(ctx context.Context, key string) (oauthrt.Snapshot, error) {
	w.call()
	return w.ll.LoadSnapshot(ctx, key)
}

func (w *oneTrip) TakeLeaseIf(ctx context.Context, key string, prev *oauth2.Token) (oauthrt.Lease, oauthrt.Snapshot, error) {
	l, snap, err := w.ll.TakeLeaseIf(w.take(ctx), key, prev)
	return w.lease(l), snap, err
}

// lease wraps l, keeping the lease interfaces it has.
func (w *store) lease(l oauthrt.Lease) oauthrt.Lease {
	if l == nil {
		return nil
	}
	b := &lease{l: l, w: w}
	f, fenced := l.(oauthrt.FencedLease)
	cr, commits := l.(oauthrt.CommitReleaser)
	switch {
	case fenced && commits:
		return &commitLease{fencedLease{b, f}, cr}
	case fenced:
		return &fencedLease{b, f}
	case commits:
		return &commitOnly{b, cr}
	}
	return b
}

type lease struct {
	l oauthrt.Lease
	w *store
}

func (l *lease) TTL() time.Duration { return l.l.TTL() }

func (l *lease) Renew(ctx context.Context) error {
	l.w.call()
	return l.l.Renew(ctx)
}

func (l *lease) Release() {
	l.w.call()
	l.l.Release()
}

type fencedLease struct {
	*lease
	f oauthrt.FencedLease
}

func (l *fencedLease) Epoch() uint64 { return l.f.Epoch() }

type commitLease struct {
	fencedLease
	cr oauthrt.CommitReleaser
}

func (l *commitLease) CommitRelease(ctx context.Context, prev, tok *oauth2.Token) error {
	l.w.call()
	return l.cr.CommitRelease(ctx, prev, tok)
}

type commitOnly struct {
	*lease
	cr oauthrt.CommitReleaser
}

func (l *commitOnly) CommitRelease(ctx context.Context, prev, tok *oauth2.Token) error {
	l.w.call()
	return l.cr.CommitRelease(ctx, prev, tok)
}

var (
	_ oauthrt.FencedLease    = (*fencedLease)(nil)
	_ oauthrt.FencedLease    = (*commitLease)(nil)
	_ oauthrt.CommitReleaser = (*commitLease)(nil)
	_ oauthrt.CommitReleaser = (*commitOnly)(nil)
)
