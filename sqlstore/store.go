package sqlstore

import (
	"context"
	"crypto/cipher"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tokencodec"
	"golang.org/x/oauth2"
)

// defaultTable is the table of a Store whose Table is empty.
const defaultTable = "oauthrt_tokens"

// Store is an [oauthrt.TokenStore] that keeps one row per key in a table
// of a SQL database. It is also an [oauthrt.LeaseLocker] whose leases are
// [oauthrt.FencedLease]s, an [oauthrt.Committer] and an
// [oauthrt.GrantStateStore], so that a fleet sharing the table holds the
// fleet protocol by construction; an [oauthrt.SnapshotLoader] and an
// [oauthrt.LeaseLoader] whose leases are [oauthrt.CommitReleaser]s, so
// that a refresh costs three statements (on MySQL, four unless the
// Store has read or written the key's row before); an
// [oauthrt.BatchLoader], so that a process asked for many keys at once
// reads them with a few SELECTs; and an [oauthrt.KeyLister], an [oauthrt.GrantStateLister], an
// [oauthrt.Deleter] and an [oauthrt.Inspector]. It is safe for concurrent use, and any
// number of Stores, in any number of processes, may share a table. Set
// its fields before first use and do not change them after.
type Store struct {
	// DB is the database. Required: with a nil DB every method returns
	// an error.
	DB *sql.DB

	// Dialect is the database's SQL dialect. nil: detected from the type
	// of DB.Driver(), which works for the drivers the package doc lists;
	// with another driver (or a wrapped one) every method returns an
	// error asking to set it.
	Dialect *Dialect

	// Table is the table's name, optionally qualified by a schema or a
	// database ("tokens", "auth.tokens"). Empty: "oauthrt_tokens". It is
	// spliced into the SQL unquoted, so it must be letters, digits and
	// underscores, not start with a digit, and not be a reserved word.
	Table string

	// LeaseTTL is how long a lease taken by Lock or TakeLease lasts
	// unless renewed or released, by the database's clock. Zero or
	// negative: [oauthrt.DefaultLeaseTTL]. A positive LeaseTTL shorter
	// than [oauthrt.MinLeaseTTL] makes Lock and TakeLease fail. A lease
	// taken by Lock is never renewed: keep its TTL longer than
	// [oauthrt.RefreshTimeout].
	LeaseTTL time.Duration

	// AEAD encrypts tokens at rest, each bound to its key. nil: tokens
	// are stored unencrypted.
	AEAD cipher.AEAD

	// Listener hears the announcements of released leases (see
	// "Announced releases" in the package documentation), so that the
	// Store's TakeLeaseIf and TakeLease calls that wait for a lease held
	// elsewhere learn of its release at once: on PostgreSQL, whose
	// statements announce, and on the other databases when Announcer is
	// set. nil: they poll, as they do on SQLite, MySQL and MariaDB
	// without an Announcer, where it is not used. On PostgreSQL set it to
	// pglisten.New(DB) with the pgx driver (the package sqlstore/pglisten
	// imports pgx, which this one does not); elsewhere, to the Listen of
	// the bus whose Announce is the Announcer.
	//
	// The Store runs Listener while some of its calls wait (from the
	// first that finds a lease held until 100 ms after the last one
	// returns), one at a time. It must LISTEN to channel on a connection
	// of its own, call ready once it listens (and again whenever it
	// listens anew after losing its connection: notifications may have
	// been missed meanwhile), call notify with the payload of each
	// notification on channel, and return once ctx ends. An error that
	// wraps [errors.ErrUnsupported] (the driver cannot listen) stops the
	// Store from listening for good; any other makes it try again no
	// sooner than a second later. Its waiters poll meanwhile.
	Listener func(ctx context.Context, channel string, ready func(), notify func(payload string)) error

	// Announcer announces the releases of leases on SQLite, MySQL and
	// MariaDB, whose statements cannot, so that a Listener of the same
	// channel hears them as it hears PostgreSQL's: after a statement
	// that releases a lease (CommitRelease's UPDATE, Release's) changed
	// the row, the Store calls Announcer with the channel and the
	// payload that PostgreSQL's statement would have sent (see
	// "Announced releases" in the package documentation). An
	// announcement is a hint: Announcer should return quickly, and its
	// error is ignored (a waiter that hears nothing asks again after its
	// fallback pause). nil: releases are not announced there, and Listener
	// is not used. On PostgreSQL, whose statements announce, it is never
	// called. The package sqlstore/localbus carries announcements between
	// the processes of one host, as SQLite's are by construction:
	//
	//	bus := localbus.New(path + ".bus")
	//	store := &sqlstore.Store{DB: db, Listener: bus.Listen, Announcer: bus.Announce}
	Announcer func(ctx context.Context, channel, payload string) error
}

var (
	_ oauthrt.TokenStore       = (*Store)(nil)
	_ oauthrt.LeaseLocker      = (*Store)(nil)
	_ oauthrt.Committer        = (*Store)(nil)
	_ oauthrt.GrantStateStore  = (*Store)(nil)
	_ oauthrt.KeyLister        = (*Store)(nil)
	_ oauthrt.GrantStateLister = (*Store)(nil)
	_ oauthrt.Deleter          = (*Store)(nil)
)

// setup returns the Store's database, dialect and table, checked.
func (s *Store) setup() (*sql.DB, *Dialect, string, error) {
	if s.DB == nil {
		return nil, nil, "", errors.New("oauthrt: sqlstore: Store.DB is nil")
	}
	table := s.table()
	if !validTable(table) {
		return nil, nil, "", fmt.Errorf("oauthrt: sqlstore: Store.Table %q is not a table name: want letters, digits and underscores, optionally schema.table", table)
	}
	d := s.Dialect
	if d == nil {
		var err error
		if d, err = detect(s.DB); err != nil {
			return nil, nil, "", err
		}
	}
	return s.DB, d, table, nil
}

// validTables holds the table names tableName matched, so that a Store
// checks its table with a map read rather than a regexp on every call.
// It holds as many as the process's Stores have tables, at most
// maxStatements.
var (
	validTables     sync.Map // string → struct{}
	validTableCount atomic.Int64
)

// validTable reports whether table is a table name (see tableName).
func validTable(table string) bool {
	if _, ok := validTables.Load(table); ok {
		return true
	}
	if !tableName.MatchString(table) {
		return false
	}
	if validTableCount.Load() < maxStatements {
		if _, loaded := validTables.LoadOrStore(table, struct{}{}); !loaded {
			validTableCount.Add(1)
		}
	}
	return true
}

func (s *Store) table() string {
	if s.Table == "" {
		return defaultTable
	}
	return s.Table
}

// Migrate creates the Store's table unless it exists, and adds to a
// table made by an earlier release of this package the columns it lacks
// (lease_epoch and the grant_ columns), leaving its rows as they are. It
// may be called on every start, by any number of processes at once: it
// changes nothing in a table that has every column, and a column another
// process adds meanwhile is not an error. It changes no other column of
// a table that exists; the package doc gives the definition of each
// dialect.
func (s *Store) Migrate(ctx context.Context) error {
	db, d, table, err := s.setup()
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, d.sql(d.ddl, table)); err != nil {
		return fmt.Errorf("oauthrt: sqlstore: creating table %s: %w", table, err)
	}
	// One query finds, on every start after the first, that nothing is
	// missing. The probes select named columns rather than *, whose
	// prepared statements a column added later would invalidate.
	names := make([]string, len(d.added))
	for i, c := range d.added {
		names[i] = c.name
	}
	if hasColumns(ctx, db, d, table, names...) {
		return nil
	}
	for _, c := range d.added {
		if hasColumns(ctx, db, d, table, c.name) {
			continue
		}
		_, err := db.ExecContext(ctx, d.sql(addColumnSQL, table)+c.name+" "+c.def)
		if err != nil && !hasColumns(ctx, db, d, table, c.name) { // another process may have added it
			return fmt.Errorf("oauthrt: sqlstore: adding column %s to table %s: %w", c.name, table, err)
		}
	}
	return nil
}

// hasColumns reports whether table has every one of the columns: whether
// a query that names them runs.
func hasColumns(ctx context.Context, db *sql.DB, d *Dialect, table string, columns ...string) bool {
	rows, err := db.QueryContext(ctx, d.sql("SELECT "+strings.Join(columns, ", ")+" FROM {table} WHERE 1 = 0", table))
	if err != nil {
		return false
	}
	return rows.Close() == nil
}

// Load returns the token stored under key, or an error wrapping
// [oauthrt.ErrNoToken] when there is none. A stored token that cannot be
// decrypted gives an error wrapping [oauthrt.ErrDecrypt], one that is
// not a token an error wrapping [oauthrt.ErrCorruptToken]. It is one
// SELECT, which on MySQL also reads the row's grant state and
// lease_epoch, so that a TakeLeaseIf that follows takes the lease with
// one statement (see TakeLeaseIf).
func (s *Store) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	db, d, table, err := s.setup()
	if err != nil {
		return nil, err
	}
	if err := d.checkKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("oauthrt: sqlstore: loading key %q: %w", key, err)
	}
	// The Store remembers the row it read, so that a refresh that
	// follows takes the lease over it (see rowMemory). On MySQL the
	// SELECT also reads what TakeLeaseIf compares there.
	mem := s.rows()
	var r knownRow
	if d.takeIf == takeCompareAndSwap {
		r, err = loadRow(ctx, db, d, table, key, true)
	} else {
		err = db.QueryRowContext(ctx, d.sql(loadSQL, table), key).Scan(&r.token)
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("%w under key %q", oauthrt.ErrNoToken, key)
	case err != nil:
		return nil, fmt.Errorf("oauthrt: sqlstore: loading key %q: %w", key, err)
	case !r.token.Valid: // the row only carries a lease or a grant state
		mem.remember(key, r)
		return nil, fmt.Errorf("%w under key %q", oauthrt.ErrNoToken, key)
	}
	tok, err := tokencodec.Decode(r.token.V, s.AEAD, key)
	if err != nil {
		return nil, fmt.Errorf("oauthrt: sqlstore: key %q: %w", key, err)
	}
	mem.remember(key, r)
	return tok, nil
}

// Save stores tok under key with a single upsert, replacing the earlier
// token, clearing the key's grant state in the same statement, and
// leaving the key's lease as it is. A nil tok is an error. With
// a ctx that has already ended, nothing is stored.
func (s *Store) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	db, d, table, b, err := s.prepareWrite(ctx, "saving", key, tok)
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, d.sql(saveSQL+d.upsert, table), key, b)
	s.rows().forget(key) // its lease_epoch is not known: the upsert does not tell it
	if err != nil {
		return fmt.Errorf("oauthrt: sqlstore: saving key %q: %w", key, err)
	}
	return nil
}

// String describes the store: its dialect, its table, and whether it
// encrypts. It never shows the AEAD, a token or the database's address.
func (s Store) String() string {
	d := s.Dialect
	if d == nil && s.DB != nil {
		d, _ = detect(s.DB)
	}
	name := "unknown"
	if d != nil {
		name = d.name
	}
	return fmt.Sprintf("sqlstore.Store{Dialect: %s, Table: %q, Encrypted: %t}", name, s.table(), s.AEAD != nil)
}

// prepareWrite does what Save and Commit do before they write: it
// resolves the store, checks the key and ctx, and encodes tok. doing
// names the write in errors ("saving", "committing").
func (s *Store) prepareWrite(ctx context.Context, doing, key string, tok *oauth2.Token) (*sql.DB, *Dialect, string, []byte, error) {
	db, d, table, err := s.setup()
	if err != nil {
		return nil, nil, "", nil, err
	}
	if err := d.checkKey(key); err != nil {
		return nil, nil, "", nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, "", nil, fmt.Errorf("oauthrt: sqlstore: %s key %q: %w", doing, key, err)
	}
	b, err := tokencodec.Encode(tok, s.AEAD, key)
	if err != nil {
		return nil, nil, "", nil, fmt.Errorf("oauthrt: sqlstore: %s key %q: %w", doing, key, err)
	}
	return db, d, table, b, nil
}
