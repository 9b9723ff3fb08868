// Package sqlstore keeps OAuth2 tokens in a table of a SQL database
// (PostgreSQL, MySQL, MariaDB or SQLite) through [database/sql], so that
// every process of a fleet shares them, and gives the fleet one refresh
// lease per key.
//
// A [Store] is an [oauthrt.TokenStore] and an [oauthrt.LeaseLocker]: when many
// processes find a key's token expired at once, one of them takes the
// lease and refreshes, and the others wait, then use the token it saved.
// A provider that rotates refresh tokens therefore never sees one used
// twice.
//
// # Wiring
//
// The package imports no driver: open the database with yours, create
// the table once with [Store.Migrate], and hand the Store to a
// Transport:
//
//	import _ "github.com/jackc/pgx/v5/stdlib"
//
//	db, err := sql.Open("pgx", os.Getenv("DATABASE_URL"))
//	…
//	store := &sqlstore.Store{
//		DB:    db,
//		Table: "oauthrt_tokens", // the default
//		AEAD:  aead,             // optional: encrypts tokens at rest
//	}
//	if err := store.Migrate(ctx); err != nil {
//		…
//	}
//	client := &http.Client{Transport: &oauthrt.Transport{
//		Store:     store,
//		Refresher: generic.FromConfig(oauthConfig),
//	}}
//
// The dialect is found from the driver's type: modernc.org/sqlite and
// github.com/mattn/go-sqlite3 are [SQLite], github.com/jackc/pgx/v5/stdlib
// and github.com/lib/pq are [Postgres], github.com/go-sql-driver/mysql is
// [MySQL] (which covers MariaDB). With another driver, or a driver
// wrapped for tracing, set Store.Dialect.
//
// SQLite shared by several processes, or by many connections of one
// *sql.DB, needs a busy timeout, so that a writer waits for another
// instead of failing with SQLITE_BUSY; WAL lets readers go on meanwhile.
// With modernc.org/sqlite:
//
//	import _ "modernc.org/sqlite"
//
//	db, err := sql.Open("sqlite", "file:/var/lib/myapp/tokens.db"+
//		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
//	…
//	store := &sqlstore.Store{DB: db}
//
// (with github.com/mattn/go-sqlite3: "?_busy_timeout=10000&_journal_mode=WAL&_txlock=immediate").
//
// # Schema
//
// Migrate runs CREATE TABLE IF NOT EXISTS, so it may run on every start;
// on PostgreSQL two first runs at the very same moment can still fail
// with a duplicate-key error from the catalog, and succeed when retried.
// It never alters a table that exists. For the default table name the
// definitions are, in PostgreSQL:
//
//	CREATE TABLE IF NOT EXISTS oauthrt_tokens (
//		token_key    TEXT PRIMARY KEY,
//		token        BYTEA,
//		lease_holder VARCHAR(64),
//		lease_until  BIGINT NOT NULL DEFAULT 0,
//		updated_at   BIGINT
//	)
//
// in SQLite:
//
//	CREATE TABLE IF NOT EXISTS oauthrt_tokens (
//		token_key    TEXT NOT NULL PRIMARY KEY,
//		token        BLOB,
//		lease_holder VARCHAR(64),
//		lease_until  BIGINT NOT NULL DEFAULT 0,
//		updated_at   BIGINT
//	)
//
// and in MySQL and MariaDB:
//
//	CREATE TABLE IF NOT EXISTS oauthrt_tokens (
//		token_key    VARBINARY(512) NOT NULL PRIMARY KEY,
//		token        LONGBLOB NULL,
//		lease_holder VARCHAR(64) NULL,
//		lease_until  BIGINT NOT NULL DEFAULT 0,
//		updated_at   BIGINT NULL
//	)
//
// There is one row per key. token holds the token as the module's stores
// encode it (JSON, or sealed with the AEAD), and is NULL while the row
// only carries a lease; Load then reports [oauthrt.ErrNoToken].
// lease_holder is the random id of the lease's holder, NULL when there is
// none, and lease_until the end of the lease; updated_at is when the
// token was last saved. Both are Unix milliseconds read from the
// database's own clock, never the host's, so that hosts whose clocks
// disagree agree on when a lease lapses:
//
//	PostgreSQL  (extract(epoch from clock_timestamp()) * 1000)::bigint
//	MySQL       (TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) DIV 1000)
//	SQLite      CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)
//
// Keys are compared byte for byte: "org", "Org" and "org " are three
// keys. That is why MySQL's key column is binary, as its text collations
// ignore case or trailing spaces; it holds at most 512 bytes, and a
// longer key is an error before any SQL runs. PostgreSQL's TEXT cannot
// hold a key with a NUL byte or invalid UTF-8, and its primary key index
// refuses a long key depending on how well it compresses; such keys, and
// any key longer than 2048 bytes, are errors before any SQL runs too,
// from Load, Save, Lock and TakeLease alike. SQLite holds every key as
// it is. No key is ever truncated or stored under another spelling.
// The table name is spliced into the SQL unquoted, and so folds to lower
// case in PostgreSQL.
//
// # Statements
//
// Load is one SELECT. Save is one upsert that writes token and updated_at
// and leaves the lease columns alone: INSERT … ON CONFLICT (token_key) DO
// UPDATE in PostgreSQL and SQLite, INSERT … ON DUPLICATE KEY UPDATE in
// MySQL (whose VALUES() MySQL 8.0.20 and later accept with a deprecation
// warning, and MariaDB needs). Being a single statement, it is atomic: two
// processes saving the same key at once cannot interleave, and the last
// one wins whole.
//
// Lock makes sure the key has a row (an INSERT that does nothing if it
// exists), then repeats, with a jittered, growing pause (5 ms to 200 ms),
//
//	UPDATE oauthrt_tokens SET lease_holder = <holder>, lease_until = <now> + <LeaseTTL in ms>
//	WHERE token_key = <key> AND (lease_holder IS NULL OR lease_until <= <now>)
//
// until it changes one row or its context ends. The databases run that
// UPDATE against the row's latest committed version under a row lock, so
// exactly one of several racing takers gets the lease. No advisory lock
// of any database is used, so the lease works through connection poolers
// and survives a dropped connection. The function Lock returns sets
// lease_holder back to NULL only where it still holds this holder's id,
// so a holder whose lease lapsed cannot release its successor's. Its
// error is ignored: a lease it could not release lapses after its TTL.
// TakeLease takes the lease the same way; its Lease's Renew runs
//
//	UPDATE oauthrt_tokens SET lease_until = <now> + <LeaseTTL in ms>
//	WHERE token_key = <key> AND lease_holder = <holder> AND lease_until > <now>
//
// which matches nothing once the lease has lapsed, whether or not
// another holder has taken it since: Renew then fails with
// [oauthrt.ErrLeaseLost], and never takes a lapsed lease again.
//
// # Encryption
//
// With an AEAD, each token is sealed with a fresh nonce and bound to its
// key: a value copied to another row does not open. Loading a token with
// the wrong key, or an encrypted token without one, fails with an error
// wrapping [oauthrt.ErrDecrypt]; a value that is not a token, with one
// wrapping [oauthrt.ErrCorruptToken]. No error or String output of this
// package holds a token or the AEAD; nor the data source name, which the
// Store never sees.
package sqlstore
