package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/sqlstore"
	"golang.org/x/oauth2"
)

// TestStatementsPerCall counts the statements each step of a refresh
// sends to the database, through a driver wrapped to count them, and
// holds them to what the package doc promises: a refresh by one process
// costs TakeLeaseIf, Renew and CommitRelease, three statements on
// PostgreSQL and SQLite and four on MySQL. A statement added to any of
// them fails the test.
func TestStatementsPerCall(t *testing.T) {
	type counts struct{ sqlite, postgres, mysql int }
	want := map[string]counts{
		"LoadSnapshot":                          {1, 1, 1},
		"TakeLeaseIf over the stored token":     {1, 1, 2},
		"Renew":                                 {1, 1, 1},
		"CommitRelease":                         {1, 1, 1},
		"TakeLeaseIf over another token":        {2, 2, 1}, // PostgreSQL and SQLite take, compare, and release
		"TakeLeaseIf(nil) of a key without row": {4, 3, 4}, // the try, the INSERT of the row, the try again
		"TakeLeaseIf(tok) of a key without row": {2, 1, 1},
		"CommitRelease into an empty row":       {1, 1, 1},
		"CommitRelease of TakeLease's lease":    {2, 2, 2}, // the SELECT of the bytes it does not know
		"CommitRelease in conflict":             {3, 3, 3}, // the UPDATE, the SELECT that finds another token, the release
	}
	forEachDatabase(t, func(t *testing.T, db testDB) {
		cdb, c := openCounted(t, db)
		table := newTable(t, db)
		s := &sqlstore.Store{DB: cdb, Dialect: db.dialect, Table: table, LeaseTTL: time.Minute}
		plain := &sqlstore.Store{DB: db.DB, Table: table, LeaseTTL: time.Minute} // not counted
		ctx := context.Background()
		prev, next := tokenN(1), tokenN(2)
		if err := plain.Save(ctx, "k", prev); err != nil {
			t.Fatal(err)
		}
		if err := plain.SaveGrantState(ctx, "k", oauthrt.GrantState{Failures: 1}); err != nil {
			t.Fatal(err)
		}
		count := func(call string, f func() error) {
			t.Helper()
			before, prepared := c.statements.Load(), c.prepares.Load()
			if err := f(); err != nil {
				t.Fatalf("%s: %v", call, err)
			}
			got := int(c.statements.Load() - before)
			w := want[call]
			n := map[string]int{"sqlite": w.sqlite, "postgres": w.postgres, "mysql": w.mysql}[db.dialect.String()]
			if got != n {
				t.Errorf("%s: %d statements, want %d", call, got, n)
			}
			t.Logf("%s: %d statements (%d of them prepared apart by the driver)", call, got, c.prepares.Load()-prepared)
		}
		takeIf := func(key string, prev *oauth2.Token, wantLease bool) func() (oauthrt.Lease, error) {
			return func() (oauthrt.Lease, error) {
				l, _, err := s.TakeLeaseIf(ctx, key, prev)
				if err == nil && (l != nil) != wantLease {
					err = errors.New("TakeLeaseIf took a lease it should not, or none it should")
				}
				return l, err
			}
		}

		count("LoadSnapshot", func() error {
			snap, err := s.LoadSnapshot(ctx, "k")
			if err == nil && (snap.Token == nil || snap.Token.AccessToken != prev.AccessToken || snap.State.Failures != 1) {
				err = errors.New("LoadSnapshot read another snapshot than the one saved")
			}
			return err
		})

		// One refresh.
		var l oauthrt.Lease
		count("TakeLeaseIf over the stored token", func() (err error) { l, err = takeIf("k", prev, true)(); return err })
		count("Renew", func() error { return l.Renew(ctx) })
		count("CommitRelease", func() error { return l.(oauthrt.CommitReleaser).CommitRelease(ctx, prev, next) })
		if tok := mustLoad(t, plain, "k"); tok.AccessToken != next.AccessToken {
			t.Fatalf("after CommitRelease the store holds %q, want %q", tok.AccessToken, next.AccessToken)
		}
		mustBeFree(t, plain, "k")

		count("TakeLeaseIf over another token", func() error { _, err := takeIf("k", prev, false)(); return err })
		mustBeFree(t, plain, "k")
		count("TakeLeaseIf(tok) of a key without row", func() error { _, err := takeIf("new", prev, false)(); return err })
		count("TakeLeaseIf(nil) of a key without row", func() (err error) { l, err = takeIf("new", nil, true)(); return err })
		count("CommitRelease into an empty row", func() error { return l.(oauthrt.CommitReleaser).CommitRelease(ctx, nil, next) })
		mustBeFree(t, plain, "new")

		l, err := s.TakeLease(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		count("CommitRelease of TakeLease's lease", func() error { return l.(oauthrt.CommitReleaser).CommitRelease(ctx, next, prev) })
		mustBeFree(t, plain, "k")

		if l, err = takeIf("k", prev, true)(); err != nil {
			t.Fatal(err)
		}
		if err := plain.Save(ctx, "k", tokenN(3)); err != nil {
			t.Fatal(err)
		}
		count("CommitRelease in conflict", func() error {
			err := l.(oauthrt.CommitReleaser).CommitRelease(ctx, prev, next)
			if errors.Is(err, oauthrt.ErrCommitConflict) {
				return nil
			}
			return fmt.Errorf("err = %v, want a conflict", err)
		})
		mustBeFree(t, plain, "k")
	})
}

// mustBeFree fails the test unless key's lease is free: a TakeLease of
// it succeeds at once.
func mustBeFree(t *testing.T, s *sqlstore.Store, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	l, err := s.TakeLease(ctx, key)
	if err != nil {
		t.Fatalf("the lease of %q is not free: %v", key, err)
	}
	l.Release()
}

// A counter counts the statements that connections run: each
// ExecContext or QueryContext that reaches the driver, on a connection
// or on a statement it prepared; and, apart, the statements prepared.
type counter struct{ statements, prepares atomic.Int64 }

// openCounted opens another handle on db's database whose connections
// count their statements in the counter it returns.
func openCounted(t *testing.T, db testDB) (*sql.DB, *counter) {
	t.Helper()
	var conn driver.Connector = dsnConnector{db.DB.Driver(), db.dsn}
	if dc, ok := db.DB.Driver().(driver.DriverContext); ok {
		var err error
		if conn, err = dc.OpenConnector(db.dsn); err != nil {
			t.Fatal(err)
		}
	}
	c := &counter{}
	cdb := sql.OpenDB(countingConnector{conn, c})
	t.Cleanup(func() { cdb.Close() })
	return cdb, c
}

// dsnConnector is the connector of a driver that has none.
type dsnConnector struct {
	drv driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.drv }

type countingConnector struct {
	driver.Connector
	c *counter
}

func (cc countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := cc.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, c: cc.c}, nil
}

// countingConn forwards to the driver's connection every optional
// interface that the drivers of the tests implement, so that
// database/sql uses it as it uses theirs.
type countingConn struct {
	driver.Conn
	c *counter
}

var (
	_ driver.ExecerContext      = (*countingConn)(nil)
	_ driver.QueryerContext     = (*countingConn)(nil)
	_ driver.ConnPrepareContext = (*countingConn)(nil)
	_ driver.ConnBeginTx        = (*countingConn)(nil)
	_ driver.NamedValueChecker  = (*countingConn)(nil)
	_ driver.SessionResetter    = (*countingConn)(nil)
	_ driver.Validator          = (*countingConn)(nil)
	_ driver.Pinger             = (*countingConn)(nil)
)

func (c *countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	res, err := e.ExecContext(ctx, q, args)
	if err != driver.ErrSkip { // else database/sql prepares the statement, and runs it
		c.c.statements.Add(1)
	}
	return res, err
}

func (c *countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	qc, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	rows, err := qc.QueryContext(ctx, q, args)
	if err != driver.ErrSkip {
		c.c.statements.Add(1)
	}
	return rows, err
}

func (c *countingConn) Prepare(q string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), q)
}

func (c *countingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, q)
	} else {
		st, err = c.Conn.Prepare(q)
	}
	if err != nil {
		return nil, err
	}
	c.c.prepares.Add(1)
	return &countingStmt{Stmt: st, c: c.c}, nil
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	return nil, errors.New("counting: the driver's connection has no BeginTx")
}

func (c *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := c.Conn.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip // the default conversion
}

func (c *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *countingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *countingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// countingStmt counts each run of a prepared statement.
type countingStmt struct {
	driver.Stmt
	c *counter
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	e, ok := s.Stmt.(driver.StmtExecContext)
	if !ok {
		return nil, errors.New("counting: the driver's statement has no ExecContext")
	}
	s.c.statements.Add(1)
	return e.ExecContext(ctx, args)
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := s.Stmt.(driver.StmtQueryContext)
	if !ok {
		return nil, errors.New("counting: the driver's statement has no QueryContext")
	}
	s.c.statements.Add(1)
	return q.QueryContext(ctx, args)
}

func (s *countingStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (s *countingStmt) ColumnConverter(idx int) driver.ValueConverter {
	if cc, ok := s.Stmt.(driver.ColumnConverter); ok { //nolint:staticcheck // forwarded as database/sql uses it
		return cc.ColumnConverter(idx)
	}
	return driver.DefaultParameterConverter
}
