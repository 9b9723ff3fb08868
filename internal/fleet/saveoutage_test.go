package fleet_test

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// errSaveOutage is what a store in a save outage answers.
var errSaveOutage = errors.New("fleet: the store refuses writes (save outage)")

// A saveOutage wraps a store whose writes fail for a while, as a full
// disk or a database that lost its primary would, while its reads and its
// lease go on working. The outage starts at the first Save, which in a
// child is always the save of a token just refreshed: so the outage is
// sure to fall on a rotated refresh token that only this process holds.
type saveOutage struct {
	outage time.Duration

	mu     sync.Mutex
	began  time.Time // the first Save; zero before it
	failed int       // Saves refused
}

// wrap returns store with its Saves going through the outage. The result
// implements Locker and LeaseLocker exactly when store does, so that the
// Transport takes the same path with it as without.
func (o *saveOutage) wrap(store oauthrt.TokenStore) oauthrt.TokenStore {
	s := &outageStore{TokenStore: store, o: o}
	switch l := store.(type) {
	case oauthrt.LeaseLocker:
		return leasingOutageStore{lockingOutageStore{s, l}, l}
	case oauthrt.Locker:
		return lockingOutageStore{s, l}
	}
	return s
}

// refuse reports whether a Save at now falls in the outage, and counts it
// if so.
func (o *saveOutage) refuse() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.began.IsZero() {
		o.began = time.Now()
	}
	if time.Since(o.began) >= o.outage {
		return false
	}
	o.failed++
	return true
}

func (o *saveOutage) failures() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.failed
}

// outageStore is a TokenStore in a saveOutage, with no lease.
type outageStore struct {
	oauthrt.TokenStore
	o *saveOutage
}

func (s *outageStore) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	if s.o.refuse() {
		return errSaveOutage
	}
	return s.TokenStore.Save(ctx, key, tok)
}

// lockingOutageStore is an outageStore whose store is a Locker: the lease
// is untouched by the outage.
type lockingOutageStore struct {
	*outageStore
	l oauthrt.Locker
}

func (s lockingOutageStore) Lock(ctx context.Context, key string) (func(), error) {
	return s.l.Lock(ctx, key)
}

// leasingOutageStore is an outageStore whose store is a LeaseLocker.
type leasingOutageStore struct {
	lockingOutageStore
	ll oauthrt.LeaseLocker
}

func (s leasingOutageStore) TakeLease(ctx context.Context, key string) (oauthrt.Lease, error) {
	return s.ll.TakeLease(ctx, key)
}

var (
	_ oauthrt.Locker      = lockingOutageStore{}
	_ oauthrt.LeaseLocker = leasingOutageStore{}
)
