// Package pglisten listens for the releases of leases that a
// [github.com/oauthrt/oauthrt/sqlstore.Store] announces on PostgreSQL, through the pgx driver
// (github.com/jackc/pgx/v5/stdlib). It is a package of its own so that
// sqlstore, which imports no driver, need not import pgx:
//
//	store := &sqlstore.Store{DB: db, Listener: pglisten.New(db)}
//
// See "Announced releases" in sqlstore's documentation.
package pglisten

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// silence is how long a listener waits for a notification before it asks
// PostgreSQL, with a ping, whether its connection is still alive: a
// connection that died without a word would otherwise leave the Store
// deaf, and its waiters asking only after their fallback pause.
const silence = 15 * time.Second

// unlistenTimeout bounds the UNLISTEN that readies a listener's
// connection for the pool again.
const unlistenTimeout = 5 * time.Second

// New returns a [github.com/oauthrt/oauthrt/sqlstore.Store]'s Listener on db, whose driver must be
// pgx's stdlib: each time the Store listens, it takes a connection of
// db's pool for itself (count it in db.SetMaxOpenConns), runs LISTEN on
// it, and reads the notifications until the Store stops listening; it
// then runs UNLISTEN and gives the connection back to the pool (or
// closes it, when that fails). After 15 seconds without a notification
// it pings the database; a connection that fails ends the listening with
// an error, and the Store listens again a second later. A driver
// connection that is not pgx's (it has no method Conn() *pgx.Conn, which
// a wrapper may forward) makes it fail with an error wrapping
// [errors.ErrUnsupported], and the Store's waiters poll. A nil db
// returns a Listener that fails so.
func New(db *sql.DB) func(ctx context.Context, channel string, ready func(), notify func(payload string)) error {
	return func(ctx context.Context, channel string, ready func(), notify func(payload string)) error {
		if db == nil {
			return fmt.Errorf("oauthrt: pglisten: nil *sql.DB: %w", errors.ErrUnsupported)
		}
		c, err := db.Conn(ctx)
		if err != nil {
			return failed(ctx, err)
		}
		defer c.Close()
		var ok bool
		if err := c.Raw(func(dc any) error { _, ok = pgxConn(dc); return nil }); err != nil {
			return failed(ctx, err)
		}
		if !ok {
			return fmt.Errorf("oauthrt: pglisten: the driver's connections are not pgx's: %w", errors.ErrUnsupported)
		}
		ident := pgx.Identifier{channel}.Sanitize()
		if _, err := c.ExecContext(ctx, "LISTEN "+ident); err != nil {
			discard(c)
			return failed(ctx, err)
		}
		err = c.Raw(func(dc any) error {
			pc, _ := pgxConn(dc)
			ready()
			return wait(ctx, pc, channel, notify)
		})
		if ctx.Err() == nil && err != nil {
			discard(c)
			return failed(ctx, err)
		}
		// Stopped: hand the connection back as the pool gave it.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlistenTimeout)
		defer cancel()
		if _, err := c.ExecContext(uctx, "UNLISTEN "+ident); err != nil {
			discard(c)
			return ctx.Err()
		}
		// Notifications that came before the UNLISTEN are kept by the
		// connection: drop them, or the next listener on it would take
		// them for new.
		done, stop := context.WithCancel(context.Background())
		stop()
		_ = c.Raw(func(dc any) error {
			pc, _ := pgxConn(dc)
			for {
				if n, _ := pc.WaitForNotification(done); n == nil {
					return nil
				}
			}
		})
		return ctx.Err()
	}
}

// wait hands notify the payload of each notification on channel that pc
// receives, until ctx ends or pc fails; it pings after each silence.
func wait(ctx context.Context, pc *pgx.Conn, channel string, notify func(string)) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, silence)
		n, err := pc.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && errors.Is(err, context.DeadlineExceeded) && !pc.IsClosed():
			if err := pc.Ping(ctx); err != nil {
				return err
			}
		case err != nil:
			return err
		case n != nil && n.Channel == channel:
			notify(n.Payload)
		}
	}
}

// pgxConn returns the pgx connection of the driver connection dc: pgx's
// stdlib connection, or a wrapper that forwards its Conn method.
func pgxConn(dc any) (*pgx.Conn, bool) {
	c, ok := dc.(interface{ Conn() *pgx.Conn })
	if !ok {
		return nil, false
	}
	pc := c.Conn()
	return pc, pc != nil
}

// discard closes c's connection rather than give it back to the pool:
// it may still listen, or hold notifications.
func discard(c *sql.Conn) {
	_ = c.Raw(func(any) error { return driver.ErrBadConn })
}

// failed is the error of a listener that failed with err: ctx's, once it
// has ended.
func failed(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return fmt.Errorf("oauthrt: pglisten: listening for released leases: %w", err)
}
