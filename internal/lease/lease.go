// Package lease holds what the shared stores' Lock methods have in
// common: holder identities and the wait for a lease held elsewhere.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/oauthrt/oauthrt"
)

// The wait between two tries grows from minWait to maxWait. maxWait bounds
// how long a waiter may sleep after the lease was released.
const (
	minWait = 5 * time.Millisecond
	maxWait = 200 * time.Millisecond
)

// ReleaseTimeout bounds the release of a lease, which must not block its
// caller for long; a release that fails leaves the lease to lapse.
const ReleaseTimeout = 5 * time.Second

// NewHolder returns a random identity for one taking of a lease: only
// the holder that wrote it may release the lease.
func NewHolder() string {
	var b [16]byte
	if _, err := cryptorand(b[:]); err != nil {
		panic("oauthrt: crypto/rand failed: " + err.Error()) // never on supported platforms
	}
	return hex.EncodeToString(b[:])
}

var cryptorand = rand.Read

// TTL returns ttl, or oauthrt.DefaultLeaseTTL when ttl is not positive.
func TTL(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return oauthrt.DefaultLeaseTTL
	}
	return ttl
}

// Wait calls try until it takes the lease, fails, or ctx ends, sleeping
// between tries for a jittered, doubling time from 5 ms to 200 ms.
func Wait(ctx context.Context, key string, try func(context.Context) (bool, error)) error {
	err := Poll(ctx, minWait, maxWait, try)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("oauthrt: waiting for the refresh lease of key %q: %w", key, ctx.Err())
	}
	return fmt.Errorf("oauthrt: taking the refresh lease of key %q: %w", key, err)
}

// Poll calls try until it reports done, returns an error, or ctx ends
// (then Poll returns ctx.Err()), sleeping between tries for a jittered
// time that doubles from first up to most.
func Poll(ctx context.Context, first, most time.Duration, try func(context.Context) (bool, error)) error {
	wait := first
	var timer *time.Timer
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		done, err := try(ctx)
		if err != nil || done {
			return err
		}
		d := wait/2 + mrand.N(wait/2+1) // spread the waiters out
		if timer == nil {
			timer = time.NewTimer(d)
			defer timer.Stop()
		} else {
			timer.Reset(d)
		}
		select {
		case <-timer.C:
		case <-ctx.Done():
		}
		wait = min(2*wait, most)
	}
}

// Release returns the unlock function of a lease: it calls release once,
// however often it is called, under a context bounded by ReleaseTimeout.
// release reports nothing: a lease it fails to release lapses by itself.
func Release(release func(ctx context.Context)) (unlock func()) {
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), ReleaseTimeout)
			defer cancel()
			release(ctx)
		})
	}
}
