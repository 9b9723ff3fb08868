package storetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
)

// The lease checks open every store of a subtest with the same Options,
// as the processes of a fleet share one configuration; a backend may
// hand out one store per subtest, made with the first Open's Options.

func locker(t *testing.T, b Backend, o Options) oauthrt.Locker {
	t.Helper()
	return openAs[oauthrt.Locker](t, b, o, "")
}

func leaseLocker(t *testing.T, b Backend, o Options) oauthrt.LeaseLocker {
	t.Helper()
	return openAs[oauthrt.LeaseLocker](t, b, o, "")
}

func lock(t *testing.T, l oauthrt.Locker, key string) func() {
	t.Helper()
	ctx, cancel := ctxWithin(longWait)
	defer cancel()
	unlock, err := l.Lock(ctx, key)
	if err != nil {
		t.Fatalf("Lock(%s): %v", showKey(key), err)
	}
	if unlock == nil {
		t.Fatalf("Lock(%s) returned a nil unlock func", showKey(key))
	}
	return unlock
}

func take(t *testing.T, l oauthrt.LeaseLocker, key string) oauthrt.Lease {
	t.Helper()
	ctx, cancel := ctxWithin(longWait)
	defer cancel()
	lease, err := l.TakeLease(ctx, key)
	if err != nil {
		t.Fatalf("TakeLease(%s): %v", showKey(key), err)
	}
	if lease == nil {
		t.Fatalf("TakeLease(%s) returned a nil Lease", showKey(key))
	}
	return lease
}

// mustBeHeld checks that key's lease is held by someone else: a Lock
// bounded by a short deadline fails with it.
func mustBeHeld(t *testing.T, l oauthrt.Locker, key, why string) {
	t.Helper()
	ctx, cancel := ctxWithin(shortWait)
	defer cancel()
	unlock, err := l.Lock(ctx, key)
	if err == nil {
		unlock()
		t.Fatalf("Lock(%s) succeeded %s", showKey(key), why)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock(%s) %s: err = %v, want one wrapping context.DeadlineExceeded", showKey(key), why, err)
	}
}

// mustBeFree checks that key's lease is free: a Lock bounded by a
// deadline shorter than any TTL the suite uses takes it.
func mustBeFree(t *testing.T, l oauthrt.Locker, key, why string) {
	t.Helper()
	ctx, cancel := ctxWithin(freeWait)
	defer cancel()
	unlock, err := l.Lock(ctx, key)
	if err != nil {
		t.Fatalf("Lock(%s) %s: %v; want the lease free", showKey(key), why, err)
	}
	unlock()
}

func testLeaseExclusion(t *testing.T, b Backend) {
	o := Options{LeaseTTL: time.Minute}
	a, other := locker(t, b, o), locker(t, b, o)
	unlockA := lock(t, a, "k")
	mustBeHeld(t, other, "k", "while another store held the lease")
	mustBeHeld(t, a, "k", "twice through one store")
	lock(t, other, "k2")() // other keys are not held
	unlockA()
	unlockB := lock(t, other, "k") // released: another holder gets it
	unlockA()                      // a second release must not free B's lease
	mustBeHeld(t, a, "k", "after the earlier holder released its lease twice")
	unlockB()
	lock(t, a, "k")()
}

func testLeaseWaitHonoursContext(t *testing.T, b Backend) {
	a := locker(t, b, Options{LeaseTTL: time.Minute})
	defer lock(t, a, "k")()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		unlock, err := a.Lock(ctx, "k")
		if err == nil {
			unlock()
		}
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Lock whose context was cancelled while waiting: err = %v, want context.Canceled", err)
		}
	case <-time.After(longWait):
		t.Fatal("Lock went on waiting after its context was cancelled")
	}
}

// testLeaseExpiry waits for a lease of the shortest TTL to lapse: about
// two seconds.
func testLeaseExpiry(t *testing.T, b Backend) {
	o := Options{LeaseTTL: oauthrt.MinLeaseTTL}
	crashed, next := locker(t, b, o), locker(t, b, o)
	staleUnlock := lock(t, crashed, "k") // a holder that crashed: never released
	unlockNext := lock(t, next, "k")     // waits for the lease to lapse
	staleUnlock()                        // the crashed holder wakes up late
	mustBeHeld(t, crashed, "k", "after a lapsed holder released a lease it no longer held")
	unlockNext()
}

func testLeaseConcurrent(t *testing.T, b Backend) {
	var inside, overlaps atomic.Int32
	var wg sync.WaitGroup
	for range 4 {
		l := locker(t, b, Options{LeaseTTL: time.Minute})
		wg.Go(func() {
			for range 5 {
				ctx, cancel := ctxWithin(longWait)
				unlock, err := l.Lock(ctx, "k")
				cancel()
				if err != nil {
					t.Errorf("Lock: %v", err)
					return
				}
				if inside.Add(1) != 1 {
					overlaps.Add(1)
				}
				inside.Add(-1)
				unlock()
			}
		})
	}
	wg.Wait()
	if n := overlaps.Load(); n != 0 {
		t.Errorf("%d times two holders were inside the lease at once", n)
	}
}

// testLeaseTooShort checks that a store refuses a lease TTL below
// oauthrt.MinLeaseTTL, rather than hand out leases that could lapse
// between two renewals.
func testLeaseTooShort(t *testing.T, b Backend) {
	short := oauthrt.MinLeaseTTL / 4
	s := b.Open(Options{LeaseTTL: short})
	l, ok := s.(oauthrt.Locker)
	if !ok {
		t.Skip("the store does not implement oauthrt.Locker")
	}
	check := func(method string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s with a LeaseTTL of %v succeeded; want it refused, below oauthrt.MinLeaseTTL (%v)", method, short, oauthrt.MinLeaseTTL)
			return
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "oauthrt") || !strings.Contains(msg, oauthrt.MinLeaseTTL.String()) || !strings.Contains(msg, short.String()) {
			t.Errorf("%s with a LeaseTTL of %v: error %q; want one prefixed with the package that names the TTL and the minimum, %v", method, short, msg, oauthrt.MinLeaseTTL)
		}
	}
	ctx, cancel := ctxWithin(longWait)
	defer cancel()
	unlock, err := l.Lock(ctx, "k")
	if err == nil {
		unlock()
	}
	check("Lock", err)
	if ll, ok := s.(oauthrt.LeaseLocker); ok {
		lease, err := ll.TakeLease(ctx, "k")
		if err == nil {
			lease.Release()
		}
		check("TakeLease", err)
	}
}

func testLeaseLockerExclusion(t *testing.T, b Backend) {
	o := Options{LeaseTTL: time.Minute}
	a, other := leaseLocker(t, b, o), leaseLocker(t, b, o)
	lease := take(t, a, "k")
	mustBeHeld(t, other, "k", "while TakeLease held the lease")
	mustBeHeld(t, a, "k", "through the store whose TakeLease held it")
	lock(t, other, "k2")()
	lease.Release()
	unlock := lock(t, other, "k")
	ctx, cancel := ctxWithin(shortWait)
	defer cancel()
	if l2, err := a.TakeLease(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			l2.Release()
		}
		t.Fatalf("TakeLease while Lock held the lease: err = %v, want one wrapping context.DeadlineExceeded", err)
	}
	unlock()
	take(t, a, "k").Release()
}

func testLeaseLockerTTL(t *testing.T, b Backend) {
	ttl := 3 * oauthrt.MinLeaseTTL
	lease := take(t, leaseLocker(t, b, Options{LeaseTTL: ttl}), "k")
	defer lease.Release()
	if got := lease.TTL(); got != ttl {
		t.Errorf("TTL() = %v, want the store's LeaseTTL, %v", got, ttl)
	}
}

func testLeaseLockerDefaultTTL(t *testing.T, b Backend) {
	lease := take(t, leaseLocker(t, b, Options{}), "k")
	defer lease.Release()
	if got := lease.TTL(); got != oauthrt.DefaultLeaseTTL {
		t.Errorf("TTL() with LeaseTTL zero = %v, want oauthrt.DefaultLeaseTTL, %v", got, oauthrt.DefaultLeaseTTL)
	}
}

// testLeaseLockerRenew keeps a lease of the shortest TTL for twice that
// TTL by renewing it, as the Transport does, every third of it.
func testLeaseLockerRenew(t *testing.T, b Backend) {
	o := Options{LeaseTTL: oauthrt.MinLeaseTTL}
	holder, other := leaseLocker(t, b, o), leaseLocker(t, b, o)
	lease := take(t, holder, "k")
	defer lease.Release()
	every := lease.TTL() / 3
	for i := range 6 {
		time.Sleep(every) // pacing: the wait is what is renewed over
		// A renewal may take up to half a period of its own (a slow dial
		// on a loaded machine) and still land well within the TTL.
		ctx, cancel := ctxWithin(every * 3 / 2)
		err := lease.Renew(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Renew %d, %v after taking the lease: %v", i+1, time.Duration(i+1)*every, err)
		}
	}
	mustBeHeld(t, other, "k", "twice its TTL after it was taken, renewed every third of the TTL")
	lease.Release()
	mustBeFree(t, other, "k", "after the renewed lease was released")
}

// testLeaseLockerRenewAfterLapse waits for a lease nobody else wants to
// lapse: Renew must then fail, and not take it again.
func testLeaseLockerRenewAfterLapse(t *testing.T, b Backend) {
	o := Options{LeaseTTL: oauthrt.MinLeaseTTL}
	holder, other := leaseLocker(t, b, o), leaseLocker(t, b, o)
	lease := take(t, holder, "k")
	defer lease.Release()
	time.Sleep(lease.TTL() + lapseSlack) // waiting out the TTL
	ctx, cancel := ctxWithin(longWait)
	defer cancel()
	if err := lease.Renew(ctx); !errors.Is(err, oauthrt.ErrLeaseLost) {
		t.Fatalf("Renew after the TTL ran out: err = %v, want one wrapping oauthrt.ErrLeaseLost", err)
	}
	mustBeFree(t, other, "k", "after a Renew that came too late")
}

// testLeaseLockerRenewAfterTakeover lets another holder take a lapsed
// lease: the first holder's Renew and Release must leave it alone.
func testLeaseLockerRenewAfterTakeover(t *testing.T, b Backend) {
	o := Options{LeaseTTL: oauthrt.MinLeaseTTL}
	first, next, third := leaseLocker(t, b, o), leaseLocker(t, b, o), leaseLocker(t, b, o)
	stale := take(t, first, "k")
	fresh := take(t, next, "k") // waits for the first lease to lapse
	defer fresh.Release()
	ctx, cancel := ctxWithin(longWait)
	defer cancel()
	if err := stale.Renew(ctx); !errors.Is(err, oauthrt.ErrLeaseLost) {
		t.Errorf("Renew of a lease another holder has taken since: err = %v, want one wrapping oauthrt.ErrLeaseLost", err)
	}
	stale.Release()
	mustBeHeld(t, third, "k", "after a lapsed holder renewed and released the lease another took")
	if err := fresh.Renew(ctx); err != nil {
		t.Errorf("Renew by the holder that took the lapsed lease: %v", err)
	}
	fresh.Release()
	// The lapsed holder, once the lease is free again, still cannot
	// have it back by renewing.
	if err := stale.Renew(ctx); !errors.Is(err, oauthrt.ErrLeaseLost) {
		t.Errorf("Renew of a lost lease that is free again: err = %v, want ErrLeaseLost", err)
	}
	mustBeFree(t, third, "k", "after a lost holder tried to renew a free lease")
}

func testLeaseLockerRelease(t *testing.T, b Backend) {
	o := Options{LeaseTTL: time.Minute}
	a, other := leaseLocker(t, b, o), leaseLocker(t, b, o)
	lease := take(t, a, "k")
	lease.Release()
	mustBeFree(t, other, "k", "after Release")
	lease.Release() // twice is allowed
	unlock := lock(t, other, "k")
	lease.Release() // and must not free the next holder's lease
	mustBeHeld(t, a, "k", "after an earlier holder released again")
	ctx, cancel := ctxWithin(longWait)
	defer cancel()
	if err := lease.Renew(ctx); !errors.Is(err, oauthrt.ErrLeaseLost) {
		t.Errorf("Renew after Release: err = %v, want one wrapping oauthrt.ErrLeaseLost", err)
	}
	mustBeHeld(t, a, "k", "after a released holder tried to renew")
	unlock()
}
