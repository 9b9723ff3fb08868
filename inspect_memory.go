package oauthrt

import (
	"context"
	"time"
)

var _ Inspector = (*MemoryStore)(nil)

// Inspect returns, in byte order of their keys, up to limit records (zero
// or less: 1000) of the keys that start with prefix and hold a token,
// after cursor, paged as ListKeys pages keys. A MemoryStore keeps tokens
// as they were saved: no record has an Err, and none is Sealed. See
// [Inspector].
func (s *MemoryStore) Inspect(ctx context.Context, prefix, cursor string, limit int) ([]Record, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	after, first, err := memoryCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	keys := pageOf(s.tokens.keys(), prefix, after, first, pageLimit(limit))
	now := time.Now()
	recs := make([]Record, len(keys))
	for i, k := range keys {
		recs[i] = Record{Key: k, Token: s.tokens.get(k), State: s.states[k], Lease: LeaseInfo{Epoch: s.epochs[k]}}
		if l := s.leases[k]; l != nil && now.Before(l.until) {
			recs[i].Lease.Holder, recs[i].Lease.Until = l.holder, l.until.Round(0)
		}
	}
	return recs, nextCursor(keys, pageLimit(limit)), nil
}
