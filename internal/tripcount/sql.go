package tripcount

import (
	"context"
	"database/sql/driver"
	"errors"

	"github.com/jackc/pgx/v5"
)

// Connector returns a connector of drv's connections to dsn whose
// statements count in c: each statement a connection or one of its
// prepared statements runs counts as one trip, and so do a transaction's
// begin, commit and rollback; a statement prepared apart from its run
// counts in c's Prepares. Pings count as trips; the checks a driver makes
// by itself when a connection returns to the pool (pgx pings one that
// was idle for a second) are not seen, and not counted.
//
// The connections forward every optional interface of
// [database/sql/driver] that the pgx stdlib, go-sql-driver/mysql and
// modernc.org/sqlite connections implement, so that database/sql uses
// them as it uses the driver's own. Open a handle on it with
// [database/sql.OpenDB]; its Driver is drv, so that code that tells a
// database by its driver (sqlstore) still does.
func Connector(drv driver.Driver, dsn string, c *Counter) (driver.Connector, error) {
	var dc driver.Connector = dsnConnector{drv, dsn}
	if d, ok := drv.(driver.DriverContext); ok {
		var err error
		if dc, err = d.OpenConnector(dsn); err != nil {
			return nil, err
		}
	}
	return connector{dc, c}, nil
}

// dsnConnector is the connector of a driver that has none of its own.
type dsnConnector struct {
	drv driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.drv }

type connector struct {
	driver.Connector
	c *Counter
}

func (cc connector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := cc.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &conn{dc: dc, c: cc.c}, nil
}

// conn counts the statements of the driver's connection dc.
type conn struct {
	dc driver.Conn
	c  *Counter
}

var (
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
)

func (c *conn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.dc.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	res, err := e.ExecContext(ctx, q, args)
	if !errors.Is(err, driver.ErrSkip) { // else database/sql prepares the statement, and runs it
		trip(ctx, c.c)
	}
	return res, err
}

func (c *conn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	qc, ok := c.dc.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	rows, err := qc.QueryContext(ctx, q, args)
	if !errors.Is(err, driver.ErrSkip) {
		trip(ctx, c.c)
	}
	return rows, err
}

func (c *conn) Prepare(q string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), q)
}

func (c *conn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := c.dc.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, q)
	} else {
		st, err = c.dc.Prepare(q)
	}
	if err != nil {
		return nil, err
	}
	prepare(ctx, c.c)
	return &stmt{Stmt: st, c: c.c}, nil
}

func (c *conn) Close() error { return c.dc.Close() }

// Begin is not called: database/sql calls BeginTx.
func (c *conn) Begin() (driver.Tx, error) {
	return c.dc.Begin() //nolint:staticcheck // forwarded as driver.Conn has it
}

// Conn returns the pgx connection of a pgx stdlib connection, nil for
// any other driver's: sqlstore/pglisten listens on it, past the count
// (LISTEN and UNLISTEN go through database/sql, and count).
func (c *conn) Conn() *pgx.Conn {
	if p, ok := c.dc.(interface{ Conn() *pgx.Conn }); ok {
		return p.Conn()
	}
	return nil
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	b, ok := c.dc.(driver.ConnBeginTx)
	if !ok {
		return nil, errors.New("tripcount: the driver's connection has no BeginTx")
	}
	tx, err := b.BeginTx(ctx, opts)
	trip(ctx, c.c)
	if err != nil {
		return nil, err
	}
	return &txn{Tx: tx, ctx: ctx, c: c.c}, nil
}

func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := c.dc.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip // the default conversion
}

func (c *conn) ResetSession(ctx context.Context) error {
	if r, ok := c.dc.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *conn) IsValid() bool {
	if v, ok := c.dc.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *conn) Ping(ctx context.Context) error {
	p, ok := c.dc.(driver.Pinger)
	if !ok {
		return nil
	}
	trip(ctx, c.c)
	return p.Ping(ctx)
}

// txn counts a transaction's end; its begin was counted by BeginTx, under
// ctx.
type txn struct {
	driver.Tx
	ctx context.Context
	c   *Counter
}

func (t *txn) Commit() error {
	trip(t.ctx, t.c)
	return t.Tx.Commit()
}

func (t *txn) Rollback() error {
	trip(t.ctx, t.c)
	return t.Tx.Rollback()
}

// stmt counts each run of a prepared statement.
type stmt struct {
	driver.Stmt
	c *Counter
}

var (
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
	_ driver.ColumnConverter   = (*stmt)(nil) //nolint:staticcheck // forwarded as database/sql uses it
)

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	e, ok := s.Stmt.(driver.StmtExecContext)
	if !ok {
		return nil, errors.New("tripcount: the driver's statement has no ExecContext")
	}
	trip(ctx, s.c)
	return e.ExecContext(ctx, args)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := s.Stmt.(driver.StmtQueryContext)
	if !ok {
		return nil, errors.New("tripcount: the driver's statement has no QueryContext")
	}
	trip(ctx, s.c)
	return q.QueryContext(ctx, args)
}

func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (s *stmt) ColumnConverter(idx int) driver.ValueConverter {
	if cc, ok := s.Stmt.(driver.ColumnConverter); ok { //nolint:staticcheck // forwarded as database/sql uses it
		return cc.ColumnConverter(idx)
	}
	return driver.DefaultParameterConverter
}
