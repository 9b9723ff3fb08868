package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// The steps of a refresh at which a child's hook stops or kills its own
// process, once. Each names the signal and the step.
const (
	// stopLoad: SIGSTOP on the first store read made while the child holds
	// a key's lease for a refresh, after the read: the token read is the
	// one the child is about to refresh.
	stopLoad = "stop-load"
	// stopCommit: SIGSTOP after the provider answered, before the new
	// token is written.
	stopCommit = "stop-commit"
	// killLease: SIGKILL once the lease is taken.
	killLease = "kill-lease"
	// killProvider: SIGKILL just before the Refresher calls the provider.
	killProvider = "kill-provider"
	// killCommit: SIGKILL after the provider answered, before the write.
	killCommit = "kill-commit"
	// killRelease: SIGKILL after the write, before the lease is released.
	killRelease = "kill-release"
)

// The mutations a child can make to its store, to show that the test
// fails without what they take away (CHAOS_MUTATE).
const (
	// noCommit hides the store's Commit: the Transport sees no
	// oauthrt.Committer and saves with Save.
	noCommit = "nocommit"
	// noFence makes every lease's Renew succeed without asking the store,
	// and its TTL say an hour: the Transport's fence (the renewal right
	// before a refresh token is presented) passes even after the lease
	// lapsed in the store and another process took it, and so does the
	// Transport's own count of the time since the last renewal, which
	// would otherwise notice a pause longer than the TTL. The lease still
	// lapses in the store after its real TTL.
	noFence = "nofence"
)

// hookMark starts the line a child prints right before its hook raises a
// signal: "HOOK <step> <key>".
const hookMark = "HOOK "

// A hook raises a signal on its own process at one step of a refresh,
// the first time that step is reached.
type hook struct {
	step  string // one of the steps above; "" for none
	fired atomic.Bool

	mu      sync.Mutex
	holding map[string]int // leases held per key
}

// at raises the hook's signal if step is its step and it has not fired
// yet. A stopped process goes on from here once continued.
//
// A signal a process sends itself takes effect a little later, not when
// kill returns: the calling goroutine could go on with its step (write
// the token it was to be stopped before) before the process stops. So it
// waits here: for SIGCONT after SIGSTOP, for ever after SIGKILL.
func (h *hook) at(step, key string) {
	if h == nil || h.step != step || !h.fired.CompareAndSwap(false, true) {
		return
	}
	fmt.Printf("%s%s %s\n", hookMark, step, key)
	os.Stdout.Sync()
	if step != stopLoad && step != stopCommit {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	cont := make(chan os.Signal, 1)
	signal.Notify(cont, syscall.SIGCONT)
	defer signal.Stop(cont)
	syscall.Kill(os.Getpid(), syscall.SIGSTOP)
	<-cont
}

func (h *hook) held(key string, delta int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.holding[key] += delta
}

func (h *hook) holds(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.holding[key] > 0
}

// hooked is a store that runs a child's hook at the steps of a refresh
// that reach the store, and makes its mutation. It keeps the capabilities
// of the store it wraps, less the one the mutation takes away: see wrap.
type hooked struct {
	inner  oauthrt.TokenStore
	leases oauthrt.LeaseLocker
	h      *hook
	fence  bool // false: leases' Renew always succeeds
}

// wrap returns store wrapped in the hook h, with the mutation mutate.
// store must be an oauthrt.LeaseLocker, as every store of this module is.
// On the backends oneTripBackend names, a store with the one-trip
// capabilities keeps them (hookedOneTrip), so that the chaos reaches the
// path the Transport takes with this module's stores; on the others the
// wrapper has only the step-by-step methods, the path of a third-party
// store that implements the older capabilities alone.
func wrap(store oauthrt.TokenStore, h *hook, mutate, backend string) (oauthrt.TokenStore, error) {
	ll, ok := store.(oauthrt.LeaseLocker)
	if !ok {
		return nil, fmt.Errorf("chaos: %T is not an oauthrt.LeaseLocker", store)
	}
	s := &hooked{inner: store, leases: ll, h: h, fence: mutate != noFence}
	c, commits := store.(oauthrt.Committer)
	g, states := store.(oauthrt.GrantStateStore)
	commits = commits && mutate != noCommit
	// GrantStateStore is kept under noCommit: without it each process
	// keeps its own dead-grant state, and the run would fail for that
	// instead of for the missing Commit.
	switch {
	case commits && states && oneTripBackend(backend):
		if lt, ok := store.(oauthrt.LeaseLoader); ok && lt.OneTripStore() == store {
			return &hookedOneTrip{hooked: s, committer: committer{s, c}, grantStates: grantStates{g}, ll: lt}, nil
		}
		fallthrough
	case commits && states:
		return &struct {
			*hooked
			committer
			grantStates
		}{s, committer{s, c}, grantStates{g}}, nil
	case commits:
		return &struct {
			*hooked
			committer
		}{s, committer{s, c}}, nil
	case states:
		return &struct {
			*hooked
			grantStates
		}{s, grantStates{g}}, nil
	}
	return s, nil
}

func (s *hooked) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	tok, err := s.inner.Load(ctx, key)
	if err == nil && s.h.holds(key) {
		s.h.at(stopLoad, key)
	}
	return tok, err
}

func (s *hooked) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	s.h.at(stopCommit, key)
	s.h.at(killCommit, key)
	err := s.inner.Save(ctx, key, tok)
	if err == nil {
		s.h.at(killRelease, key)
	}
	return err
}

func (s *hooked) Lock(ctx context.Context, key string) (func(), error) {
	return s.leases.Lock(ctx, key)
}

func (s *hooked) TakeLease(ctx context.Context, key string) (oauthrt.Lease, error) {
	l, err := s.leases.TakeLease(ctx, key)
	if err != nil {
		return nil, err
	}
	return s.taken(l, key), nil
}

// taken runs the hook on l, a lease of key just taken, and wraps it.
func (s *hooked) taken(l oauthrt.Lease, key string) oauthrt.Lease {
	s.h.held(key, 1)
	s.h.at(killLease, key)
	hl := &hookedLease{Lease: l, s: s, key: key}
	if f, ok := l.(oauthrt.FencedLease); ok {
		return fencedLease{hl, f}
	}
	return hl
}

// oneTripBackend reports whether the chaos runs the one-trip path on
// backend: on every backend but MySQL and the file store, which keep the
// step-by-step path under chaos, so that both paths meet every fault
// without running the whole matrix twice.
func oneTripBackend(backend string) bool { return backend != "mysql" && backend != "file" }

// hookedOneTrip is a hooked store that keeps its store's one-trip
// capabilities, with the hooks at the steps they merge: TakeLeaseIf
// takes the lease and reads the key (killLease, then stopLoad, once it
// holds the lease), and a lease's CommitRelease commits and releases
// (stopCommit and killCommit before it, killRelease after it).
type hookedOneTrip struct {
	*hooked
	committer
	grantStates
	ll oauthrt.LeaseLoader
}

var _ oauthrt.LeaseLoader = (*hookedOneTrip)(nil)

// OneTripStore is the hooked store itself, whose one-trip methods run
// the hooks.
func (w *hookedOneTrip) OneTripStore() oauthrt.TokenStore { return w }

func (w *hookedOneTrip) LoadSnapshot(ctx context.Context, key string) (oauthrt.Snapshot, error) {
	return w.ll.LoadSnapshot(ctx, key)
}

func (w *hookedOneTrip) TakeLeaseIf(ctx context.Context, key string, prev *oauth2.Token) (oauthrt.Lease, oauthrt.Snapshot, error) {
	l, snap, err := w.ll.TakeLeaseIf(ctx, key, prev)
	if err != nil || l == nil {
		return nil, snap, err
	}
	hl := w.taken(l, key)
	w.h.at(stopLoad, key) // the read under the lease is done
	return hl, snap, nil
}

// CommitRelease runs the commit hooks around the lease's CommitRelease.
// A lease whose store has none is never asked: the Transport asks only
// a hookedOneTrip's leases, whose stores all have it.
func (l *hookedLease) CommitRelease(ctx context.Context, prev, tok *oauth2.Token) error {
	cr, ok := l.Lease.(oauthrt.CommitReleaser)
	if !ok {
		return errors.New("chaos: the store's lease cannot commit")
	}
	l.s.h.at(stopCommit, l.key)
	l.s.h.at(killCommit, l.key)
	err := cr.CommitRelease(ctx, prev, tok)
	if err == nil || errors.Is(err, oauthrt.ErrCommitConflict) {
		if l.released.CompareAndSwap(false, true) {
			l.s.h.held(l.key, -1)
		}
	}
	if err == nil {
		l.s.h.at(killRelease, l.key)
	}
	return err
}

// committer is the Commit of a hooked store whose store has one.
type committer struct {
	s *hooked
	c oauthrt.Committer
}

func (c committer) Commit(ctx context.Context, key string, prev, tok *oauth2.Token) error {
	c.s.h.at(stopCommit, key)
	c.s.h.at(killCommit, key)
	err := c.c.Commit(ctx, key, prev, tok)
	if err == nil {
		c.s.h.at(killRelease, key)
	}
	return err
}

// grantStates passes a hooked store's grant states through.
type grantStates struct{ g oauthrt.GrantStateStore }

func (g grantStates) LoadGrantState(ctx context.Context, key string) (oauthrt.GrantState, error) {
	return g.g.LoadGrantState(ctx, key)
}

func (g grantStates) SaveGrantState(ctx context.Context, key string, st oauthrt.GrantState) error {
	return g.g.SaveGrantState(ctx, key, st)
}

// hookedLease is a lease of a hooked store: it tells the hook while it
// is held, and under noFence its Renew never asks the store and its TTL
// is an hour.
type hookedLease struct {
	oauthrt.Lease
	s        *hooked
	key      string
	released atomic.Bool
}

func (l *hookedLease) TTL() time.Duration {
	if !l.s.fence {
		return time.Hour
	}
	return l.Lease.TTL()
}

func (l *hookedLease) Renew(ctx context.Context) error {
	if !l.s.fence {
		return nil
	}
	return l.Lease.Renew(ctx)
}

func (l *hookedLease) Release() {
	if l.released.CompareAndSwap(false, true) {
		l.s.h.held(l.key, -1)
	}
	l.Lease.Release()
}

// fencedLease is a hookedLease whose lease carries an epoch.
type fencedLease struct {
	*hookedLease
	f oauthrt.FencedLease
}

func (l fencedLease) Epoch() uint64 { return l.f.Epoch() }

// hookedRefresher runs the hook just before its Refresher calls the
// provider, and reports the Refresher's rotation grace window as its own.
type hookedRefresher struct {
	r   oauthrt.Refresher
	h   *hook
	key string // the store key of the Transport it serves
}

func (r hookedRefresher) Refresh(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
	r.h.at(killProvider, r.key)
	return r.r.Refresh(ctx, tok)
}

func (r hookedRefresher) RotationGrace() time.Duration {
	if g, ok := r.r.(oauthrt.RotationGracer); ok {
		return g.RotationGrace()
	}
	return oauthrt.DefaultRotationGrace
}

var (
	_ oauthrt.LeaseLocker    = (*hooked)(nil)
	_ oauthrt.FencedLease    = fencedLease{}
	_ oauthrt.RotationGracer = hookedRefresher{}
)
