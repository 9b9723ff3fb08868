package sqlstore

import (
	"context"
	"fmt"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/lease"
)

// Lock takes the refresh lease of key as TakeLease does, and returns its
// Release.
func (s *Store) Lock(ctx context.Context, key string) (unlock func(), err error) {
	l, err := s.TakeLease(ctx, key)
	if err != nil {
		return nil, err
	}
	return l.Release, nil
}

// TakeLease takes the refresh lease of key for the Store's LeaseTTL,
// measured by the database's clock, waiting while another holder has it,
// until ctx ends; then the error wraps ctx.Err(). It first makes sure key
// has a row (one without a token if need be), then takes the lease with
// a conditional UPDATE of that row, which succeeds for one taker only.
//
// The lease's Renew moves lease_until to a full TTL from the database's
// now, with an UPDATE that matches only while the row holds this
// holder's id and lease_until has not passed: a lapsed lease is never
// taken again by Renew, which then fails with [oauthrt.ErrLeaseLost].
// Its Release sets lease_holder back to NULL if it is still this
// holder's. It may be called more than once and after the lease lapsed,
// and waits at most a few seconds. It reports no error: a lease it could
// not release lapses by itself after its TTL, and meanwhile other
// holders wait.
func (s *Store) TakeLease(ctx context.Context, key string) (oauthrt.Lease, error) {
	db, d, table, err := s.setup()
	if err != nil {
		return nil, err
	}
	if err := d.checkKey(key); err != nil {
		return nil, err
	}
	ttl, err := lease.TTL("sqlstore", s.LeaseTTL)
	if err != nil {
		return nil, err
	}
	holder := lease.NewHolder()
	ms := ttl.Milliseconds()
	ensure, take := d.sql(d.ensure, table), d.sql(takeSQL, table)
	renew := func(ctx context.Context) (bool, error) {
		res, err := db.ExecContext(ctx, d.sql(renewSQL, table), ms, key, holder)
		if err != nil {
			return false, fmt.Errorf("oauthrt: sqlstore: %w", err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 1 {
			return true, nil
		}
		// MySQL counts the rows an UPDATE changed, not those it matched:
		// a renewal in the millisecond of the last one changes nothing.
		var n int
		if err := db.QueryRowContext(ctx, d.sql(heldSQL, table), key, holder).Scan(&n); err != nil {
			return false, fmt.Errorf("oauthrt: sqlstore: %w", err)
		}
		return n == 1, nil
	}
	release := func(ctx context.Context) {
		_, _ = db.ExecContext(ctx, d.sql(releaseSQL, table), key, holder) // on failure, the lease lapses
	}
	l := lease.New(key, ttl, renew, release)

	// This package never deletes rows, so one TakeLease makes sure of the
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
			l.Release() // so that no one waits for a lease nobody knows it holds
		}
		return nil, err
	}
	return l, nil
}
