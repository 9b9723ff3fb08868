package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
)

// The fencing checks hold the leases of a store that implements
// oauthrt.LeaseLocker to the oauthrt.FencedLease contract: every lease
// carries an epoch, never 0, greater than that of every lease taken
// before it on the key, through any handle, after a release or a lapse.

// fencedLocker opens a store and returns it as a LeaseLocker whose
// leases are fenced, or skips the subtest, naming the capability, when
// it is not one. It takes and releases a lease on a key of its own to
// find out.
func fencedLocker(t *testing.T, b Backend, o Options) oauthrt.LeaseLocker {
	t.Helper()
	l := openAs[oauthrt.LeaseLocker](t, b, o, "lease fencing (oauthrt.FencedLease)")
	probe := take(t, l, "fence-probe")
	probe.Release()
	if _, ok := probe.(oauthrt.FencedLease); !ok {
		t.Skipf("leases are not oauthrt.FencedLease (TakeLease returned a %T): lease fencing not checked", probe)
	}
	return l
}

// takeFenced takes key's lease, which must be fenced, with an epoch.
func takeFenced(t *testing.T, l oauthrt.LeaseLocker, key string) oauthrt.FencedLease {
	t.Helper()
	lease := take(t, l, key)
	f, ok := lease.(oauthrt.FencedLease)
	if !ok {
		lease.Release()
		t.Fatalf("TakeLease(%s) returned a %T, which is not an oauthrt.FencedLease, where the store's other leases are", showKey(key), lease)
	}
	if f.Epoch() == 0 {
		t.Errorf("TakeLease(%s) returned a lease of epoch 0", showKey(key))
	}
	return f
}

// testFencing takes and releases leases one after another, through
// two handles and on several keys: each key's epochs must grow.
func testFencing(t *testing.T, b Backend) {
	o := Options{LeaseTTL: time.Minute}
	h1 := fencedLocker(t, b, o)
	h2 := leaseLocker(t, b, o)
	last := map[string]uint64{}
	next := func(h oauthrt.LeaseLocker, key, how string) oauthrt.FencedLease {
		t.Helper()
		lease := takeFenced(t, h, key)
		if e := lease.Epoch(); e <= last[key] {
			t.Errorf("TakeLease(%s) %s: epoch %d, want more than the epoch before it, %d", showKey(key), how, e, last[key])
		}
		last[key] = lease.Epoch()
		return lease
	}

	for range 3 {
		next(h1, "k", "after a Release through the same handle").Release()
	}
	for i, h := range []oauthrt.LeaseLocker{h2, h1, h2, h2} {
		next(h, "k", fmt.Sprintf("through handle %d, after a Release", i%2+1)).Release()
	}

	// Keys held at once each count their own: taking one does not stall
	// or reset another's.
	keys := []string{"a", "b", "a/b", "k"}
	for round := range 3 {
		var held []oauthrt.FencedLease
		for i, k := range keys {
			h := []oauthrt.LeaseLocker{h1, h2}[(round+i)%2]
			held = append(held, next(h, k, "while other keys' leases were held"))
		}
		for _, lease := range held {
			lease.Release()
		}
	}

	// The epoch is the holding's: renewing the lease keeps it, and so
	// does releasing it.
	lease := next(h2, "k", "again")
	epoch := lease.Epoch()
	ctx, cancel := ctxWithin(longWait)
	defer cancel()
	if err := lease.Renew(ctx); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if e := lease.Epoch(); e != epoch {
		t.Errorf("Renew changed the lease's epoch from %d to %d", epoch, e)
	}
	lease.Release()
	if e := lease.Epoch(); e != epoch {
		t.Errorf("Release changed the lease's epoch from %d to %d", epoch, e)
	}
	next(h1, "k", "after a renewed lease was released").Release()
}

// testFencingLapse lets a lease of the shortest TTL lapse while its
// holder still has it, and another handle take the key: the new lease's
// epoch must be greater, and the old one fenced off. It waits about
// oauthrt.MinLeaseTTL.
func testFencingLapse(t *testing.T, b Backend) {
	o := Options{LeaseTTL: oauthrt.MinLeaseTTL}
	first := fencedLocker(t, b, o)
	next := leaseLocker(t, b, o)
	stale := takeFenced(t, first, "k") // a holder that stalls: never renews
	defer stale.Release()
	fresh := takeFenced(t, next, "k") // waits, bounded, for the lapse
	defer fresh.Release()
	if fresh.Epoch() <= stale.Epoch() {
		t.Errorf("the lease taken after another lapsed has epoch %d, want more than the lapsed one's, %d", fresh.Epoch(), stale.Epoch())
	}
	ctx, cancel := ctxWithin(longWait)
	defer cancel()
	if err := stale.Renew(ctx); !errors.Is(err, oauthrt.ErrLeaseLost) {
		t.Errorf("Renew of a lapsed lease whose key another holder took, at a greater epoch: err = %v, want one wrapping oauthrt.ErrLeaseLost", err)
	}
	stale.Release()
	if err := fresh.Renew(ctx); err != nil {
		t.Errorf("Renew by the holder of the greater epoch, after the lapsed holder renewed and released: %v", err)
	}
	fresh.Release()
	again := takeFenced(t, first, "k")
	again.Release()
	if again.Epoch() <= fresh.Epoch() {
		t.Errorf("the lease taken after a lapse and a release has epoch %d, want more than %d", again.Epoch(), fresh.Epoch())
	}
}

// testFencingConcurrent takes and releases one key's lease from many
// goroutines on two handles at once: the epochs, in the order the leases
// were held, must grow at every step.
func testFencingConcurrent(t *testing.T, b Backend) {
	o := Options{LeaseTTL: time.Minute}
	handles := []oauthrt.LeaseLocker{fencedLocker(t, b, o), leaseLocker(t, b, o)}
	const workers, rounds = 4, 8
	var mu sync.Mutex
	var epochs []uint64 // in the order the leases were held
	var wg sync.WaitGroup
	for w := range workers {
		h := handles[w%len(handles)]
		wg.Go(func() {
			for range rounds {
				ctx, cancel := ctxWithin(longWait)
				lease, err := h.TakeLease(ctx, "k")
				cancel()
				if err != nil {
					t.Errorf("TakeLease: %v", err)
					return
				}
				f, ok := lease.(oauthrt.FencedLease)
				if ok {
					// Appended while the lease is held: the leases
					// exclude each other, so this is their order.
					mu.Lock()
					epochs = append(epochs, f.Epoch())
					mu.Unlock()
				}
				lease.Release()
				if !ok {
					t.Errorf("TakeLease returned a %T, which is not an oauthrt.FencedLease", lease)
					return
				}
			}
		})
	}
	wg.Wait()
	for i, e := range epochs {
		if e == 0 {
			t.Errorf("lease %d of %d had epoch 0", i+1, len(epochs))
		}
		if i > 0 && e <= epochs[i-1] {
			t.Errorf("lease %d of %d had epoch %d, after a lease of epoch %d", i+1, len(epochs), e, epochs[i-1])
		}
	}
	if len(epochs) != workers*rounds && !t.Failed() {
		t.Errorf("%d leases taken, want %d", len(epochs), workers*rounds)
	}
}
