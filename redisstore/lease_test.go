package redisstore_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/redisstore"
	"github.com/redis/go-redis/v9"
)

func takeFenced(t *testing.T, s *redisstore.Store, key string) oauthrt.FencedLease {
	t.Helper()
	l, err := s.TakeLease(context.Background(), key)
	if err != nil {
		t.Fatalf("TakeLease(%q): %v", key, err)
	}
	f, ok := l.(oauthrt.FencedLease)
	if !ok {
		t.Fatalf("TakeLease returned a %T, not an oauthrt.FencedLease", l)
	}
	return f
}

// lapse makes the lease of key lapse as its TTL would: it gives the key 1
// ms to live and waits until Redis has removed it.
func lapse(t *testing.T, c redis.UniversalClient, leaseKey string) {
	t.Helper()
	ctx := context.Background()
	if err := c.PExpire(ctx, leaseKey, time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	for c.Exists(ctx, leaseKey).Val() != 0 {
		time.Sleep(time.Millisecond)
	}
}

// TestEpochs checks that every lease of a key gets a greater epoch than
// the one before, whichever Store (on its own client) takes it, after a
// release and after a lapse, and that a holder whose lease lapsed cannot
// renew it or release its successor's.
func TestEpochs(t *testing.T) {
	c := newClient(t)
	prefix := newPrefix(t, c)
	a := &redisstore.Store{Client: c, Prefix: prefix, LeaseTTL: 10 * time.Second}
	b := &redisstore.Store{Client: newClient(t), Prefix: prefix, LeaseTTL: 10 * time.Second}
	ctx := context.Background()
	leaseKey := prefix + "lease:k"

	l1 := takeFenced(t, a, "k")
	if l1.Epoch() == 0 {
		t.Fatalf("the first lease has epoch 0")
	}
	l1.Release()
	l2 := takeFenced(t, b, "k")
	if l2.Epoch() <= l1.Epoch() {
		t.Errorf("a lease taken after a release has epoch %d, after %d", l2.Epoch(), l1.Epoch())
	}
	lapse(t, c, leaseKey)
	if err := l2.Renew(ctx); !errors.Is(err, oauthrt.ErrLeaseLost) {
		t.Errorf("Renew of a lapsed lease: err = %v, want ErrLeaseLost", err)
	}
	l3 := takeFenced(t, a, "k")
	if l3.Epoch() <= l2.Epoch() {
		t.Errorf("a lease taken after a lapse has epoch %d, after %d", l3.Epoch(), l2.Epoch())
	}
	l2.Release() // the lapsed holder's release must leave l3's lease alone
	if err := l3.Renew(ctx); err != nil {
		t.Errorf("Renew after the lapsed holder released: %v", err)
	}
	l3.Release()
	// Other keys count on their own.
	if other := takeFenced(t, a, "other"); other.Epoch() != 1 {
		t.Errorf("the first lease of another key has epoch %d, want 1", other.Epoch())
	} else {
		other.Release()
	}
	if l4 := takeFenced(t, b, "k"); l4.Epoch() != l3.Epoch()+1 {
		t.Errorf("epoch %d after %d, want the next one", l4.Epoch(), l3.Epoch())
	} else {
		l4.Release()
	}
}

// TestEpochsConcurrent lets Stores on separate clients take and release
// one key's lease many times at once: no two leases share an epoch, and
// each Store sees its epochs grow.
func TestEpochsConcurrent(t *testing.T) {
	c := newClient(t)
	prefix := newPrefix(t, c)
	const stores, takes = 6, 10
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	for range stores {
		s := &redisstore.Store{Client: newClient(t), Prefix: prefix, LeaseTTL: 10 * time.Second}
		wg.Go(func() {
			var last uint64
			for range takes {
				l, err := s.TakeLease(context.Background(), "k")
				if err != nil {
					t.Error(err)
					return
				}
				e := l.(oauthrt.FencedLease).Epoch()
				l.Release()
				if e <= last {
					t.Errorf("epoch %d after %d", e, last)
				}
				last = e
				mu.Lock()
				if seen[e] {
					t.Errorf("two leases with epoch %d", e)
				}
				seen[e] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != stores*takes {
		t.Errorf("%d epochs for %d leases", len(seen), stores*takes)
	}
}

// TestRenewComparesEpoch changes the epoch in a held lease's value, as a
// later lease of the same holder id would: Renew must report the lease
// lost, not extend the later one.
func TestRenewComparesEpoch(t *testing.T) {
	c := newClient(t)
	prefix := newPrefix(t, c)
	ctx := context.Background()
	s := &redisstore.Store{Client: c, Prefix: prefix, LeaseTTL: 10 * time.Second}
	l := takeFenced(t, s, "k")
	defer l.Release()
	leaseKey := prefix + "lease:k"
	v := c.Get(ctx, leaseKey).Val()
	holder, epoch, ok := strings.Cut(v, ":")
	if !ok || epoch != strconv.FormatUint(l.Epoch(), 10) {
		t.Fatalf("lease value %q, want a holder id, ':' and the epoch %d", v, l.Epoch())
	}
	if err := c.Set(ctx, leaseKey, holder+":"+strconv.FormatUint(l.Epoch()+1, 10), redis.KeepTTL).Err(); err != nil {
		t.Fatal(err)
	}
	if err := l.Renew(ctx); !errors.Is(err, oauthrt.ErrLeaseLost) {
		t.Errorf("Renew of a lease whose value holds another epoch: err = %v, want ErrLeaseLost", err)
	}
}

// TestOldReleaseLeases covers a rolling upgrade: processes of the previous
// release take the same lease key with SET NX and a bare holder id, and
// release it with a script that compares that id. Each must wait for the
// other's lease, and neither may release the other's.
func TestOldReleaseLeases(t *testing.T) {
	c := newClient(t)
	prefix := newPrefix(t, c)
	ctx := context.Background()
	s := &redisstore.Store{Client: c, Prefix: prefix, LeaseTTL: 10 * time.Second}
	leaseKey := prefix + "lease:k"
	const oldHolder = "0123456789abcdef0123456789abcdef"
	oldTake := func() bool {
		ok, err := c.SetNX(ctx, leaseKey, oldHolder, 10*time.Second).Result()
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	oldRelease := redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`)

	if !oldTake() {
		t.Fatal("the old process could not take a free lease")
	}
	wait, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err := s.TakeLease(wait, "k")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("TakeLease while an old process holds the lease: err = %v, want it to wait until its context ends", err)
	}
	if err := oldRelease.Run(ctx, c, []string{leaseKey}, oldHolder).Err(); err != nil {
		t.Fatal(err)
	}

	l := takeFenced(t, s, "k")
	if oldTake() {
		t.Error("an old process took the lease a new one holds")
	}
	if err := oldRelease.Run(ctx, c, []string{leaseKey}, oldHolder).Err(); err != nil {
		t.Fatal(err)
	}
	if err := l.Renew(ctx); err != nil {
		t.Errorf("an old process's release removed the new lease: Renew: %v", err)
	}
	l.Release()
	if !oldTake() {
		t.Error("the old process could not take the lease after the new one released it")
	}
}

// TestEpochCounterTampered sets a key's epoch counter to values no Store
// writes: TakeLease must fail rather than hand out a lease with a
// meaningless epoch, and must leave no lease behind; so must TakeLeaseIf.
func TestEpochCounterTampered(t *testing.T) {
	c := newClient(t)
	prefix := newPrefix(t, c)
	ctx := context.Background()
	s := &redisstore.Store{Client: c, Prefix: prefix, LeaseTTL: 10 * time.Second}
	takeFenced(t, s, "k").Release()
	var counter string
	for _, k := range keysUnder(t, c, prefix) {
		if strings.HasSuffix(k, "}epoch:k") {
			counter = k
		}
	}
	if counter == "" {
		t.Fatalf("no epoch counter among %q", keysUnder(t, c, prefix))
	}
	for _, v := range []string{"-5", "not a number"} {
		if err := c.Set(ctx, counter, v, 0).Err(); err != nil {
			t.Fatal(err)
		}
		wait, cancel := context.WithTimeout(ctx, 5*time.Second)
		l, err := s.TakeLease(wait, "k")
		cancel()
		if err == nil {
			l.Release()
			t.Errorf("TakeLease with the epoch counter at %q succeeded", v)
			continue
		}
		if !strings.HasPrefix(err.Error(), "oauthrt: ") {
			t.Errorf("TakeLease with the epoch counter at %q: err = %q, want the package prefix", v, err)
		}
		if n := c.Exists(ctx, prefix+"lease:k").Val(); n != 0 {
			t.Errorf("TakeLease with the epoch counter at %q left a lease behind", v)
		}
		wait, cancel = context.WithTimeout(ctx, 5*time.Second)
		l, _, err = s.TakeLeaseIf(wait, "k", nil) // the key holds no token: nil is prev
		cancel()
		if err == nil {
			if l != nil {
				l.Release()
			}
			t.Errorf("TakeLeaseIf with the epoch counter at %q succeeded", v)
		} else if !strings.HasPrefix(err.Error(), "oauthrt: ") {
			t.Errorf("TakeLeaseIf with the epoch counter at %q: err = %q, want the package prefix", v, err)
		}
		if n := c.Exists(ctx, prefix+"lease:k").Val(); n != 0 {
			t.Errorf("TakeLeaseIf with the epoch counter at %q left a lease behind", v)
		}
	}
}
