package sqlstore

import (
	"context"
	"fmt"

	"github.com/oauthrt/oauthrt/internal/lease"
)

// Lock takes the refresh lease of key for the Store's LeaseTTL, measured
// by the database's clock, waiting while another holder has it, until
// ctx ends; then the error wraps ctx.Err(). It first makes sure key has
// a row (one without a token if need be), then takes the lease with a
// conditional UPDATE of that row, which succeeds for one taker only.
//
// unlock releases the lease if it is still this holder's. It may be
// called more than once and after the lease lapsed, and waits at most
// a few seconds. It reports no error: a lease it could not release
// lapses by itself after its TTL, and meanwhile other holders wait.
func (s *Store) Lock(ctx context.Context, key string) (unlock func(), err error) {
	db, d, table, err := s.setup()
	if err != nil {
		return nil, err
	}
	if err := d.checkKey(key); err != nil {
		return nil, err
	}
	holder := lease.NewHolder()
	ms := max(lease.TTL(s.LeaseTTL).Milliseconds(), 1)
	ensure, take := d.sql(d.ensure, table), d.sql(takeSQL, table)
	unlock = lease.Release(func(ctx context.Context) {
		_, _ = db.ExecContext(ctx, d.sql(releaseSQL, table), key, holder) // on failure, the lease lapses
	})

	// This package never deletes rows, so one Lock makes sure of the
	// row once.
	ensured, uncertain := false, false
	err = lease.Wait(ctx, key, func(ctx context.Context) (bool, error) {
		if !ensured {
			if _, err := db.ExecContext(ctx, ensure, key); err != nil {
				return false, fmt.Errorf("oauthrt: sqlstore: %w", err)
			}
			ensured = true
		}
		res, err := db.ExecContext(ctx, take, holder, ms, key)
		if err != nil {
			// The UPDATE may have been applied before the error (a
			// cancelled ctx, a lost connection).
			uncertain = true
			return false, fmt.Errorf("oauthrt: sqlstore: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			uncertain = true
			return false, fmt.Errorf("oauthrt: sqlstore: %w", err)
		}
		return n == 1, nil
	})
	if err != nil {
		if uncertain {
			unlock() // so that no one waits for a lease nobody knows it holds
		}
		return nil, err
	}
	return unlock, nil
}
