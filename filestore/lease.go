package filestore

import (
	"context"
	"os"
	"time"

	"github.com/oauthrt/oauthrt/internal/lease"
)

// Lock takes the refresh lease of key. It waits, with a bounded backoff,
// while another holder has it; the lease lapses after LeaseTTL, or as soon
// as the process holding it has exited. unlock releases it if it is still
// this holder's; a release that fails leaves the lease to lapse.
func (s *Store) Lock(ctx context.Context, key string) (unlock func(), err error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	ttl, err := lease.TTL("filestore", s.LeaseTTL)
	if err != nil {
		return nil, err
	}
	holder := lease.NewHolder()
	err = lease.Wait(ctx, key, func(ctx context.Context) (bool, error) {
		taken := false
		err := s.update(ctx, func(doc *document) bool {
			now := time.Now()
			if l, ok := doc.Leases[key]; ok && now.Before(l.Until) && processAlive(l.PID) {
				return false
			}
			if doc.Leases == nil {
				doc.Leases = map[string]leaseRecord{}
			}
			doc.Leases[key] = leaseRecord{Holder: holder, PID: os.Getpid(), Until: now.Add(ttl)}
			taken = true
			return true
		})
		return taken && err == nil, err
	})
	if err != nil {
		return nil, err
	}
	return lease.Release(func(ctx context.Context) {
		s.update(ctx, func(doc *document) bool {
			if l, ok := doc.Leases[key]; !ok || l.Holder != holder {
				return false // lapsed, and maybe taken by another
			}
			delete(doc.Leases, key)
			return true
		})
	}), nil
}
