package sqlstore

import (
	"database/sql"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// A Dialect is what the Store must know of a database's SQL: its
// placeholders, its table definition, its upserts and how it reads its
// own clock. Use one of [SQLite], [Postgres] and [MySQL]; the zero value
// is not usable.
type Dialect struct {
	name      string
	numbered  bool   // placeholders $1, $2… rather than ?
	ddl       string // CREATE TABLE, {table} standing for the table
	now       string // the database's clock in Unix milliseconds
	upsert    string // what follows the INSERT of Save: replace token and updated_at, clear the grant state
	grant     string // what follows the INSERT of SaveGrantState: replace the grant state only
	ensure    string // INSERT of a key alone that leaves an existing row as it is
	renew     string // UPDATE of Renew: lease_until to a full TTL from now, in every row it matches
	takeIf    takeMode
	announces bool // the statements that release a lease announce it (see announce.go)
	added     []column
	maxKey    int  // longest key in bytes; 0: no limit
	utf8Key   bool // the key column holds valid UTF-8 without NUL bytes only
	binaryKey bool // the key column is binary: keys are compared with it as bytes
}

// A column is one that Migrate adds to a table made by an earlier
// release: its name, and its type and constraints as ALTER TABLE … ADD
// COLUMN takes them.
type column struct{ name, def string }

// String returns the dialect's name: "sqlite", "postgres" or "mysql".
func (d *Dialect) String() string {
	if d == nil {
		return "<nil>"
	}
	return d.name
}

// SQLite is the dialect of SQLite 3.24 or later (for ON CONFLICT … DO
// UPDATE), through modernc.org/sqlite or github.com/mattn/go-sqlite3;
// TakeLeaseIf needs 3.35 or later (2021), for UPDATE … RETURNING.
var SQLite = &Dialect{
	name: "sqlite",
	ddl: `CREATE TABLE IF NOT EXISTS {table} (
	token_key           TEXT NOT NULL PRIMARY KEY,
	token               BLOB,
	lease_holder        VARCHAR(64),
	lease_until         BIGINT NOT NULL DEFAULT 0,
	updated_at          BIGINT,
	lease_epoch         BIGINT NOT NULL DEFAULT 0,
	grant_dead_token    BLOB,
	grant_dead_code     BLOB,
	grant_dead_at       BIGINT,
	grant_next_attempt  BIGINT,
	grant_failures      BIGINT,
	grant_failing_since BIGINT
)`,
	added: []column{
		{"lease_epoch", "BIGINT NOT NULL DEFAULT 0"},
		{"grant_dead_token", "BLOB"},
		{"grant_dead_code", "BLOB"},
		{"grant_dead_at", "BIGINT"},
		{"grant_next_attempt", "BIGINT"},
		{"grant_failures", "BIGINT"},
		{"grant_failing_since", "BIGINT"},
	},
	// julianday('now') is the statement's time to the millisecond, as a
	// Julian day number; 2440587.5 is the Unix epoch's.
	now:    `CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)`,
	upsert: ` ON CONFLICT (token_key) DO UPDATE SET token = excluded.token, updated_at = excluded.updated_at, {cleargrant}`,
	grant:  ` ON CONFLICT (token_key) DO UPDATE SET ` + excludedGrant,
	ensure: `INSERT INTO {table} (token_key) VALUES (?) ON CONFLICT (token_key) DO NOTHING`,
	renew:  renewSQL,
	takeIf: takeReturning,
}

// Postgres is the dialect of PostgreSQL 9.5 or later, through
// github.com/jackc/pgx/v5/stdlib or github.com/lib/pq.
var Postgres = &Dialect{
	name:     "postgres",
	numbered: true,
	ddl: `CREATE TABLE IF NOT EXISTS {table} (
	token_key           TEXT PRIMARY KEY,
	token               BYTEA,
	lease_holder        VARCHAR(64),
	lease_until         BIGINT NOT NULL DEFAULT 0,
	updated_at          BIGINT,
	lease_epoch         BIGINT NOT NULL DEFAULT 0,
	grant_dead_token    BYTEA,
	grant_dead_code     BYTEA,
	grant_dead_at       BIGINT,
	grant_next_attempt  BIGINT,
	grant_failures      BIGINT,
	grant_failing_since BIGINT
)`,
	added: []column{
		{"lease_epoch", "BIGINT NOT NULL DEFAULT 0"},
		{"grant_dead_token", "BYTEA"},
		{"grant_dead_code", "BYTEA"},
		{"grant_dead_at", "BIGINT"},
		{"grant_next_attempt", "BIGINT"},
		{"grant_failures", "BIGINT"},
		{"grant_failing_since", "BIGINT"},
	},
	// clock_timestamp(), unlike now(), moves within a transaction.
	now:       `(extract(epoch from clock_timestamp()) * 1000)::bigint`,
	upsert:    ` ON CONFLICT (token_key) DO UPDATE SET token = excluded.token, updated_at = excluded.updated_at, {cleargrant}`,
	grant:     ` ON CONFLICT (token_key) DO UPDATE SET ` + excludedGrant,
	ensure:    `INSERT INTO {table} (token_key) VALUES (?) ON CONFLICT (token_key) DO NOTHING`,
	renew:     renewSQL,
	takeIf:    takeCTE,
	announces: true,
	// TEXT holds neither NUL nor invalid UTF-8 in a UTF8 database, and
	// the primary key's btree index "an index entry cannot exceed
	// approximately one-third of a page (after TOAST compression, if
	// applicable)": 2704 bytes with the default 8 kB page, and whether a
	// longer key fits depends on how well it compresses. A fixed limit
	// below that refuses the same keys every time. (PostgreSQL 15
	// documentation, 67.1 "B-Tree Indexes: Introduction",
	// https://www.postgresql.org/docs/15/btree-intro.html, read
	// 2026-11-30.)
	maxKey:  2048,
	utf8Key: true,
}

// MySQL is the dialect of MySQL 5.7 or later and of MariaDB 10.3 or
// later, through github.com/go-sql-driver/mysql. Its keys are at most
// 512 bytes long.
var MySQL = &Dialect{
	name: "mysql",
	ddl: `CREATE TABLE IF NOT EXISTS {table} (
	token_key           VARBINARY(512) NOT NULL PRIMARY KEY,
	token               LONGBLOB NULL,
	lease_holder        VARCHAR(64) NULL,
	lease_until         BIGINT NOT NULL DEFAULT 0,
	updated_at          BIGINT NULL,
	lease_epoch         BIGINT NOT NULL DEFAULT 0,
	grant_dead_token    LONGBLOB NULL,
	grant_dead_code     LONGBLOB NULL,
	grant_dead_at       BIGINT NULL,
	grant_next_attempt  BIGINT NULL,
	grant_failures      BIGINT NULL,
	grant_failing_since BIGINT NULL
)`,
	added: []column{
		{"lease_epoch", "BIGINT NOT NULL DEFAULT 0"},
		{"grant_dead_token", "LONGBLOB NULL"},
		{"grant_dead_code", "LONGBLOB NULL"},
		{"grant_dead_at", "BIGINT NULL"},
		{"grant_next_attempt", "BIGINT NULL"},
		{"grant_failures", "BIGINT NULL"},
		{"grant_failing_since", "BIGINT NULL"},
	},
	// UTC_TIMESTAMP does not depend on the session's time zone, so the
	// clock never repeats an hour when daylight saving time ends, as
	// UNIX_TIMESTAMP(NOW(3)) would.
	now:    `(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) DIV 1000)`,
	upsert: ` ON DUPLICATE KEY UPDATE token = VALUES(token), updated_at = VALUES(updated_at), {cleargrant}`,
	grant: ` ON DUPLICATE KEY UPDATE grant_dead_token = VALUES(grant_dead_token), grant_dead_code = VALUES(grant_dead_code),` +
		` grant_dead_at = VALUES(grant_dead_at), grant_next_attempt = VALUES(grant_next_attempt), grant_failures = VALUES(grant_failures),` +
		` grant_failing_since = VALUES(grant_failing_since)`,
	// Not INSERT IGNORE: it would turn other errors into warnings too.
	ensure:    `INSERT INTO {table} (token_key) VALUES (?) ON DUPLICATE KEY UPDATE token_key = token_key`,
	maxKey:    512,
	binaryKey: true,
	takeIf:    takeCompareAndSwap,

	// MySQL counts the rows an UPDATE changed, not those it matched, and
	// a renewal in the millisecond of the taking or of the last renewal
	// would change nothing; lease_until therefore grows by at least 1 ms
	// with each renewal, so that one statement tells whether the lease
	// is still held.
	renew: `UPDATE {table} SET lease_until = GREATEST({now} + ?, lease_until + 1) WHERE token_key = ? AND lease_holder = ? AND lease_until > {now}`,
}

// excludedGrant replaces the grant state of an existing row in the
// ON CONFLICT … DO UPDATE of SaveGrantState.
const excludedGrant = `grant_dead_token = excluded.grant_dead_token, grant_dead_code = excluded.grant_dead_code,` +
	` grant_dead_at = excluded.grant_dead_at, grant_next_attempt = excluded.grant_next_attempt, grant_failures = excluded.grant_failures,` +
	` grant_failing_since = excluded.grant_failing_since`

// The statements common to the dialects, with ? placeholders; {table}
// stands for the table, {now} for the dialect's clock, {grant} for the
// grant state columns and {cleargrant} for the assignments that clear
// them.
const (
	loadSQL = `SELECT token FROM {table} WHERE token_key = ?`
	saveSQL = `INSERT INTO {table} (token_key, token, updated_at) VALUES (?, ?, {now})`
	// commitSQL replaces the token only where the row still holds the
	// bytes Commit read and compared; commitFirstSQL only where it holds
	// no token.
	commitSQL      = `UPDATE {table} SET token = ?, updated_at = {now}, {cleargrant} WHERE token_key = ? AND token = ?`
	commitFirstSQL = `UPDATE {table} SET token = ?, updated_at = {now}, {cleargrant} WHERE token_key = ? AND token IS NULL`
	loadGrantSQL   = `SELECT {grant} FROM {table} WHERE token_key = ?`
	saveGrantSQL   = `INSERT INTO {table} (token_key, {grant}) VALUES (?, ?, ?, ?, ?, ?, ?)`
	clearGrantSQL  = `UPDATE {table} SET {cleargrant} WHERE token_key = ?`
	takeSQL        = `UPDATE {table} SET lease_holder = ?, lease_until = {now} + ?, lease_epoch = lease_epoch + 1 WHERE token_key = ? AND (lease_holder IS NULL OR lease_until <= {now})`
	epochSQL       = `SELECT lease_epoch FROM {table} WHERE token_key = ? AND lease_holder = ?`
	releaseSQL     = `UPDATE {table} SET lease_holder = NULL, lease_until = 0 WHERE token_key = ? AND lease_holder = ?`
	renewSQL       = `UPDATE {table} SET lease_until = {now} + ? WHERE token_key = ? AND lease_holder = ? AND lease_until > {now}`
	addColumnSQL   = `ALTER TABLE {table} ADD COLUMN `
)

// releasing is what CommitRelease adds to the SET of commitSQL and
// commitFirstSQL: it releases the lease of the holder given twice if the
// row still holds it. lease_until comes first because MySQL evaluates the
// assignments of an UPDATE from left to right, each seeing the ones
// before it.
const releasing = `, lease_until = CASE WHEN lease_holder = ? THEN 0 ELSE lease_until END,` +
	` lease_holder = CASE WHEN lease_holder = ? THEN NULL ELSE lease_holder END`

// grantColumns is {grant}: the grant state columns, in the order
// scanGrant reads them.
const grantColumns = `grant_dead_token, grant_dead_code, grant_dead_at, grant_next_attempt, grant_failures, grant_failing_since`

// clearGrant is {cleargrant}: it sets every grant state column to NULL.
const clearGrant = `grant_dead_token = NULL, grant_dead_code = NULL, grant_dead_at = NULL, grant_next_attempt = NULL, grant_failures = NULL,` +
	` grant_failing_since = NULL`

// statements caches what sql made of each statement, table and dialect:
// building one costs a strings.Replacer and a rewrite of its
// placeholders, which was 7% of a cold start's CPU on PostgreSQL. Its
// keys come from the package's own statements and the Stores' tables, a
// bounded set; past maxStatements it stops growing, and sql builds the
// rest each time.
var (
	statements     sync.Map // statementKey → string
	statementCount atomic.Int64
)

const maxStatements = 4096

type statementKey struct {
	d        *Dialect
	q, table string
}

// sql returns the statement q for table, in the dialect's placeholders.
func (d *Dialect) sql(q, table string) string {
	k := statementKey{d, q, table}
	if v, ok := statements.Load(k); ok {
		return v.(string)
	}
	stmt := d.build(q, table)
	if statementCount.Load() < maxStatements {
		if _, loaded := statements.LoadOrStore(k, stmt); !loaded {
			statementCount.Add(1)
		}
	}
	return stmt
}

// build makes the statement q for table, in the dialect's placeholders.
func (d *Dialect) build(q, table string) string {
	q = strings.NewReplacer("{table}", table, "{now}", d.now, "{grant}", grantColumns, "{cleargrant}", clearGrant).Replace(q)
	if !d.numbered {
		return q
	}
	// The statements hold no ? but placeholders: table names cannot.
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r != '?' {
			b.WriteRune(r)
			continue
		}
		n++
		b.WriteString("$" + strconv.Itoa(n))
	}
	return b.String()
}

// checkKey rejects, before any SQL runs, a key the dialect's key column
// cannot hold as it is: the database would refuse it, or store another.
func (d *Dialect) checkKey(key string) error {
	if d.maxKey > 0 && len(key) > d.maxKey {
		return fmt.Errorf("oauthrt: sqlstore: a key of %d bytes is longer than the %d bytes the %s token_key column holds", len(key), d.maxKey, d.name)
	}
	if !d.utf8Key {
		return nil
	}
	if i := strings.IndexByte(key, 0); i >= 0 {
		return fmt.Errorf("oauthrt: sqlstore: key %q has a NUL byte (at byte %d), which the %s token_key column (TEXT) cannot hold", key, i, d.name)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("oauthrt: sqlstore: key %q is not valid UTF-8, which the %s token_key column (TEXT) requires", key, d.name)
	}
	return nil
}

// drivers maps the package paths of known drivers to their dialects.
var drivers = map[string]*Dialect{
	"modernc.org/sqlite":             SQLite,
	"github.com/mattn/go-sqlite3":    SQLite,
	"github.com/jackc/pgx/v5/stdlib": Postgres,
	"github.com/lib/pq":              Postgres,
	"github.com/go-sql-driver/mysql": MySQL,
}

// detect returns the dialect of db's driver.
func detect(db *sql.DB) (*Dialect, error) {
	drv := db.Driver()
	t := reflect.TypeOf(drv)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil {
		if d := drivers[t.PkgPath()]; d != nil {
			return d, nil
		}
	}
	return nil, fmt.Errorf("oauthrt: sqlstore: cannot tell the SQL dialect of driver %T: set Store.Dialect to sqlstore.SQLite, sqlstore.Postgres or sqlstore.MySQL", drv)
}

// tableName is what Store.Table may hold: it is spliced into the SQL.
var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)
