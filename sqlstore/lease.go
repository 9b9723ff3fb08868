package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

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
// until ctx ends; then the error wraps ctx.Err(). It polls, or, with a
// Store.Listener (on PostgreSQL, or with an Announcer), tries again when
// the lease is announced released (see "Announced releases" in the package
// documentation; its Release announces so). It first makes sure key
// has a row (one without a token if need be), then takes the lease with
// a conditional UPDATE of that row, which succeeds for one taker only and
// adds one to the row's lease_epoch in the same statement. The returned
// Lease is an [oauthrt.FencedLease] whose Epoch is that lease_epoch: no
// release or lapse ever lowers it, and no row is ever deleted, so every
// lease taken on the key later, by any process, has a greater one.
//
// The lease's Renew moves lease_until to a full TTL from the database's
// now, with an UPDATE that matches only while the row holds this
// holder's id and lease_until has not passed: a lapsed lease is never
// taken again by Renew, which then fails with [oauthrt.ErrLeaseLost], as
// it does once a later lease was taken. Its Release sets lease_holder
// back to NULL if it is still this holder's, and leaves lease_epoch as
// it is. It may be called more than once and after the lease lapsed, and
// waits at most a few seconds. It reports no error: a lease it could not
// release lapses by itself after its TTL, and meanwhile other holders
// wait. The Lease is also an [oauthrt.CommitReleaser]: CommitRelease
// commits as Commit does and releases the lease, with one SELECT and one
// UPDATE (one UPDATE for a lease of TakeLeaseIf, which remembers the
// token it was taken over).
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
	fl := s.newLease(db, d, table, key, ttl)
	ms, holder, l := ttl.Milliseconds(), fl.holder, fl.Lease
	ensure, take := d.sql(d.ensure, table), d.sql(takeSQL, table)

	// This package never deletes rows, so one TakeLease makes sure of the
	// row once.
	ensured, uncertain := false, false
	var epoch uint64
	err = lease.WaitOn(ctx, s.board(d, table), key, func(ctx context.Context) (bool, error) {
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
		if n != 1 {
			return false, nil
		}
		// Only a taking changes lease_epoch, and each writes its own
		// holder: while the row holds this holder, it holds this
		// taking's epoch.
		var e int64
		err = db.QueryRowContext(ctx, d.sql(epochSQL, table), key, holder).Scan(&e)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return false, nil // the lease lapsed already, and was taken again
		case err != nil:
			uncertain = true
			return false, fmt.Errorf("oauthrt: sqlstore: reading the lease epoch: %w", err)
		}
		epoch = uint64(e)
		return true, nil
	}, nil) // an announced release makes it try again
	fl.mem.forget(key) // a taking moves lease_epoch
	if err != nil {
		if uncertain {
			l.Release() // so that no one waits for a lease nobody knows it holds
		}
		return nil, err
	}
	fl.epoch = epoch
	return fl, nil
}

// newLease returns the lease of a new holder on key for ttl, not yet
// taken: its Renew and Release run their statements on table.
func (s *Store) newLease(db *sql.DB, d *Dialect, table, key string, ttl time.Duration) *fencedLease {
	fl := &fencedLease{w: writer{db: db, d: d, table: table, aead: s.AEAD, key: key, announce: s.Announcer}, holder: lease.NewHolder(), mem: s.rows()}
	ms, holder := ttl.Milliseconds(), fl.holder
	renew := func(ctx context.Context) (bool, error) {
		res, err := db.ExecContext(ctx, d.sql(d.renew, table), ms, key, holder)
		if err != nil {
			return false, fmt.Errorf("oauthrt: sqlstore: %w", err)
		}
		// The UPDATE changes lease_until in every row it matches, even on
		// MySQL, which counts the rows changed (see Dialect.renew).
		n, err := res.RowsAffected()
		if err != nil {
			return false, fmt.Errorf("oauthrt: sqlstore: %w", err)
		}
		return n == 1, nil
	}
	release := func(ctx context.Context) {
		if fl.released.Load() {
			return // by the statement of CommitRelease
		}
		_, _ = execReleasing(ctx, db, d, table, releaseSQL, keyHash(key), s.Announcer, key, holder) // on failure, the lease lapses
	}
	fl.Lease = lease.New(key, ttl, renew, release)
	return fl
}

// fencedLease is a lease with the lease_epoch its taking wrote.
type fencedLease struct {
	oauthrt.Lease
	epoch  uint64
	w      writer // key's row, for CommitRelease
	holder string
	// read is what the row's token column held when TakeLeaseIf took the
	// lease, and readFP the fingerprint of that token ("" for NULL); nil
	// when TakeLease took it.
	read   *sql.Null[[]byte]
	readFP string
	// released is set once a statement of CommitRelease released the
	// lease: Release then sends nothing.
	released atomic.Bool
	// mem is the Store's memory of rows (nil but on MySQL), which
	// CommitRelease tells the row it wrote.
	mem *rowMemory
}

var (
	_ oauthrt.FencedLease    = (*fencedLease)(nil)
	_ oauthrt.CommitReleaser = (*fencedLease)(nil)
)

// Epoch returns the lease's fencing token, the row's lease_epoch when it
// was taken: at least 1, and greater than that of every lease taken
// earlier on the key through the table.
func (l *fencedLease) Epoch() uint64 { return l.epoch }
