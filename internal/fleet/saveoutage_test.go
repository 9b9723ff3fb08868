package fleet_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// errSaveOutage is what a store in a save outage answers.
var errSaveOutage = errors.New("fleet: the store refuses writes (save outage)")

// errTooManyClients is what PostgreSQL answers a connection past its
// max_connections; pgx reports it as `FATAL: sorry, too many clients
// already (SQLSTATE 53300)`.
var errTooManyClients = errors.New("fleet: FATAL: sorry, too many clients already (SQLSTATE 53300)")

// A saveOutage wraps a store whose writes fail for a while, as a full
// disk or a database that lost its primary would, while its reads and its
// lease go on working. The outage starts at the first Save, which in a
// child is always the save of a token just refreshed: so the outage is
// sure to fall on a rotated refresh token that only this process holds.
type saveOutage struct {
	outage time.Duration
	// rate is the share of calls refused during the outage, at random;
	// 0 refuses every one.
	rate float64
	// locks makes the outage refuse to take the lease too, as a server
	// out of connections would.
	locks bool
	err   error // what a refused call returns; nil: errSaveOutage

	mu         sync.Mutex
	began      time.Time // the first Save; zero before it
	failed     int       // Saves refused
	lockFailed int       // leases refused
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

// refuseSave returns the error for a Save refused now, or nil, and counts
// it.
func (o *saveOutage) refuseSave() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.began.IsZero() {
		o.began = time.Now()
	}
	if !o.down() {
		return nil
	}
	o.failed++
	return o.error()
}

// refuseLease is refuseSave for taking the lease, which does not start
// the outage.
func (o *saveOutage) refuseLease() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.locks || o.began.IsZero() || !o.down() {
		return nil
	}
	o.lockFailed++
	return o.error()
}

// down reports whether a call now is refused; o.mu must be held.
func (o *saveOutage) down() bool {
	return time.Since(o.began) < o.outage && (o.rate == 0 || rand.Float64() < o.rate)
}

func (o *saveOutage) error() error {
	if o.err != nil {
		return o.err
	}
	return errSaveOutage
}

// failures returns the Saves and the leases refused.
func (o *saveOutage) failures() (saves, leases int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.failed, o.lockFailed
}

// outageStore is a TokenStore in a saveOutage, with no lease.
type outageStore struct {
	oauthrt.TokenStore
	o *saveOutage
}

func (s *outageStore) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	if err := s.o.refuseSave(); err != nil {
		return err
	}
	return s.TokenStore.Save(ctx, key, tok)
}

// lockingOutageStore is an outageStore whose store is a Locker: the lease
// is refused only when the outage has locks set.
type lockingOutageStore struct {
	*outageStore
	l oauthrt.Locker
}

func (s lockingOutageStore) Lock(ctx context.Context, key string) (func(), error) {
	if err := s.o.refuseLease(); err != nil {
		return nil, err
	}
	return s.l.Lock(ctx, key)
}

// leasingOutageStore is an outageStore whose store is a LeaseLocker.
type leasingOutageStore struct {
	lockingOutageStore
	ll oauthrt.LeaseLocker
}

func (s leasingOutageStore) TakeLease(ctx context.Context, key string) (oauthrt.Lease, error) {
	if err := s.o.refuseLease(); err != nil {
		return nil, err
	}
	return s.ll.TakeLease(ctx, key)
}

var (
	_ oauthrt.Locker      = lockingOutageStore{}
	_ oauthrt.LeaseLocker = leasingOutageStore{}
)
