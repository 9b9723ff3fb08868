// Package sqlstore keeps OAuth2 tokens in a table of a SQL database
// (PostgreSQL, MySQL, MariaDB or SQLite) through [database/sql], so that
// every process of a fleet shares them, and gives the fleet one refresh
// lease per key.
//
// A [Store] is an [oauthrt.TokenStore] and an [oauthrt.LeaseLocker]: when many
// processes find a key's token expired at once, one of them takes the
// lease and refreshes, and the others wait, then use the token it saved.
// A provider that rotates refresh tokens therefore never sees one used
// twice. It holds the fleet protocol by construction, not by timing: its
// leases are [oauthrt.FencedLease]s, whose epochs grow with every lease
// taken on a key; it is an [oauthrt.Committer], so that a holder whose
// lease lapsed unnoticed cannot write an older token over a newer one;
// and it is an [oauthrt.GrantStateStore], so that the whole fleet knows
// when a grant is dead or its token endpoint backed off.
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
// Give a networked database's driver a timeout for opening a connection
// (pgx and lib/pq: connect_timeout=5 in the URL; go-sql-driver/mysql:
// timeout=5s). A connection that the network swallows without a reset,
// as a proxy or load balancer in front of a database cut off behind it
// does, otherwise waits until its context ends. A key's reads of the
// store end only with [oauthrt.RefreshTimeout], and its requests wait
// for them, or fail at their own deadlines, until then, even after the
// network has healed.
//
// # Schema
//
// Migrate runs CREATE TABLE IF NOT EXISTS, so it may run on every start;
// on PostgreSQL two first runs at the very same moment can still fail
// with a duplicate-key error from the catalog, and succeed when retried.
// For the default table name the definitions are, in PostgreSQL:
//
//	CREATE TABLE IF NOT EXISTS oauthrt_tokens (
//		token_key           TEXT PRIMARY KEY,
//		token               BYTEA,
//		lease_holder        VARCHAR(64),
//		lease_until         BIGINT NOT NULL DEFAULT 0,
//		updated_at          BIGINT,
//		lease_epoch         BIGINT NOT NULL DEFAULT 0,
//		grant_dead_token    BYTEA,
//		grant_dead_code     BYTEA,
//		grant_dead_at       BIGINT,
//		grant_next_attempt  BIGINT,
//		grant_failures      BIGINT,
//		grant_failing_since BIGINT
//	)
//
// in SQLite, the same with TEXT NOT NULL for token_key and BLOB for
// BYTEA; and in MySQL and MariaDB:
//
//	CREATE TABLE IF NOT EXISTS oauthrt_tokens (
//		token_key           VARBINARY(512) NOT NULL PRIMARY KEY,
//		token               LONGBLOB NULL,
//		lease_holder        VARCHAR(64) NULL,
//		lease_until         BIGINT NOT NULL DEFAULT 0,
//		updated_at          BIGINT NULL,
//		lease_epoch         BIGINT NOT NULL DEFAULT 0,
//		grant_dead_token    LONGBLOB NULL,
//		grant_dead_code     LONGBLOB NULL,
//		grant_dead_at       BIGINT NULL,
//		grant_next_attempt  BIGINT NULL,
//		grant_failures      BIGINT NULL,
//		grant_failing_since BIGINT NULL
//	)
//
// There is one row per key, and no statement of this package deletes
// one (Delete empties it). token holds the token as the module's stores encode it (JSON, or
// sealed with the AEAD), and is NULL while the row only carries a lease
// or a grant state; Load then reports [oauthrt.ErrNoToken].
// lease_holder is the id of the lease's holder, NULL when there is none:
// its process's host and PID and a random part, at most 61 bytes
// ("worker-7/4121/9f3c5e0a1b2d4c6e"). lease_until is the end of the
// lease; lease_epoch counts the leases taken on the key, and is the
// Epoch of the last one; updated_at is when the token was last saved. The grant_ columns hold the key's
// [oauthrt.GrantState], NULL for each field that is zero: DeadToken and
// DeadCode byte for byte, DeadAt, NextAttempt and FailingSince in Unix
// milliseconds (they load in UTC, to the millisecond), Failures as it
// is. No column but token holds a secret: a dead grant is recorded by
// its token's fingerprint. lease_until and updated_at are Unix milliseconds read from
// the database's own clock, never the host's, so that hosts whose clocks
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
// from every method that takes a key. SQLite holds every key as it is.
// No key is ever truncated or stored under another spelling. The table
// name is spliced into the SQL unquoted, and so folds to lower case in
// PostgreSQL.
//
// # Upgrading from the previous release
//
// The previous release's table lacks lease_epoch and the grant_ columns;
// a table made before GrantState had FailingSince lacks
// grant_failing_since. Migrate adds them, one ALTER TABLE … ADD COLUMN
// each, only when a query naming them fails: a table that has them all
// is not altered, and takes no lock stronger than a SELECT's. A column
// that another process added meanwhile is not an error, so every process
// of a fleet may run Migrate as it starts. No existing row or column is
// changed: the epochs of existing rows start at 0, so the first lease
// taken by this release has epoch 1, their grant state is none, and a
// grant state kept before grant_failing_since existed has a zero
// FailingSince.
//
// Processes of the previous release may go on sharing the table while a
// fleet is upgraded. They name their columns, so the new ones do not
// disturb them. Their Save does not clear the grant state: at worst the
// fleet waits out a backoff that their refresh ended (a dead grant is
// recorded by its token's fingerprint, so a new token is never taken for
// dead). Their leases exclude this
// release's and are excluded by them, but do not move lease_epoch; a
// lease of this release still cannot be renewed once one of theirs
// replaced it, as Renew matches its own holder id. And Commit compares
// the token the row holds, not a fingerprint beside it, so it also sees
// tokens they saved.
//
// # Statements
//
// Load is one SELECT (on MySQL, of lease_epoch and the grant_ columns
// too, for TakeLeaseIf; see "A refresh in three statements"). Save is
// one upsert that writes token and updated_at, sets the grant_ columns
// to NULL, and leaves the lease columns alone:
// INSERT … ON CONFLICT (token_key) DO UPDATE in PostgreSQL and SQLite,
// INSERT … ON DUPLICATE KEY UPDATE in MySQL (whose VALUES() MySQL 8.0.20
// and later accept with a deprecation warning, and MariaDB needs). Being
// a single statement, it is atomic: two processes saving the same key at
// once cannot interleave, and the last one wins whole.
//
// Commit with a prev token reads the row's token, decodes it, and
// compares its [oauthrt.Fingerprint] with prev's; if they match, it
// writes with
//
//	UPDATE oauthrt_tokens SET token = <tok>, updated_at = <now>, grant_… = NULL
//	WHERE token_key = <key> AND token = <the bytes it read>
//
// The databases run an UPDATE against the row's latest committed version
// under a row lock (SQLite one writer at a time), so it changes the row
// only if it still holds the bytes that were compared: the comparison and
// the write are one atomic step for every process. When it matches
// nothing, another process wrote a token in between: Commit reads and
// compares again, and reports [oauthrt.ErrCommitConflict] once the
// fingerprints differ. (They may still match: a sealed token is new
// bytes each time it is written, even the same token. After five such
// rounds Commit fails with an error that is not a conflict.) MySQL,
// unless the connection asks for CLIENT_FOUND_ROWS, counts the rows an
// UPDATE changed rather than those it matched, and the UPDATE of a
// Commit whose bytes are the very bytes it read may change nothing; the
// next round then finds the row holding those bytes, and Commit
// succeeds, as it does on the other databases. Commit without a prev
// makes sure the key has a row, as Lock does, then writes with the same
// UPDATE, its condition being token IS NULL; an UPDATE that matches
// nothing is a conflict.
//
// No fingerprint column is kept beside the token: it would be wrong after
// any write that did not set it, such as a Save by a process of the
// previous release, or a token written by hand, and a Commit that trusted
// it could write over a newer token.
//
// LoadGrantState is one SELECT. SaveGrantState is one upsert of the
// grant_ columns, which leaves the token and lease columns alone (and
// makes a row without a token for a key that has none), or, for the zero
// GrantState, one UPDATE that sets them to NULL.
//
// Lock makes sure the key has a row (an INSERT that does nothing if it
// exists), then repeats, with a jittered, growing pause (5 ms to 200 ms),
//
//	UPDATE oauthrt_tokens SET lease_holder = <holder>, lease_until = <now> + <LeaseTTL in ms>,
//		lease_epoch         = lease_epoch + 1
//	WHERE token_key = <key> AND (lease_holder IS NULL OR lease_until <= <now>)
//
// until it changes one row or its context ends. The databases run that
// UPDATE against the row's latest committed version under a row lock, so
// exactly one of several racing takers gets the lease, and with it the
// next epoch, which TakeLease reads back by its holder id. No advisory
// lock of any database is used, so the lease works through connection
// poolers and survives a dropped connection. The function Lock returns
// sets lease_holder back to NULL only where it still holds this holder's
// id, so a holder whose lease lapsed cannot release its successor's; it
// leaves lease_epoch as it is. Its error is ignored: a lease it could not
// release lapses after its TTL. TakeLease takes the lease the same way;
// its Lease's Renew runs
//
//	UPDATE oauthrt_tokens SET lease_until = <now> + <LeaseTTL in ms>
//	WHERE token_key = <key> AND lease_holder = <holder> AND lease_until > <now>
//
// which matches nothing once the lease has lapsed, whether or not
// another holder has taken it since: Renew then fails with
// [oauthrt.ErrLeaseLost], and never takes a lapsed lease again. In MySQL
// it sets lease_until to GREATEST(<now> + <LeaseTTL in ms>, lease_until + 1),
// so that it changes every row it matches, and MySQL's count of changed
// rows tells in one statement whether the lease is still held.
//
// # A refresh in three statements
//
// A Store is also an [oauthrt.SnapshotLoader] and an
// [oauthrt.LeaseLoader], and its leases are [oauthrt.CommitReleaser]s:
// the Transport then refreshes a key with TakeLeaseIf, Renew and
// CommitRelease, where the steps one by one (Load, LoadGrantState,
// TakeLease, Load, LoadGrantState, Renew, Commit, Release) cost about
// eleven statements. Per call, when nothing else writes the key
// meanwhile:
//
//	                                      PostgreSQL  SQLite  MySQL/MariaDB
//	LoadSnapshot                                   1       1       1
//	TakeLeaseIf, the row holds prev                1       1       1 or 2
//	TakeLeaseIf, the row holds another token       2       2       1
//	  … one the Store saw replace what it read     1       1       2
//	TakeLeaseIf, the lease is held (each try)      1       1       1
//	Renew                                          1       1       1
//	CommitRelease                                  1       1       1
//	a refresh: TakeLeaseIf, CommitRelease          2       2       2 or 3
//
// The Transport renews a lease it has only just taken no sooner than a
// third of its TTL later, so a refresh that follows its TakeLeaseIf at
// once costs no Renew; a slower one costs one more statement.
//
// On MySQL and MariaDB, TakeLeaseIf over prev is one statement when the
// Store remembers the row as it still is, and two otherwise (see below);
// a first try that finds the remembered row changed costs one more. On
// PostgreSQL and SQLite, TakeLeaseIf(prev) over a row that the Store last
// saw holding prev, and that another process has written a new token
// into since, is one statement: it reads that token, and takes no lease.
//
// LoadSnapshot is one SELECT of token and the grant_ columns (and, on
// MySQL, lease_epoch).
// TakeLeaseIf compares fingerprints in Go, after decoding the token,
// since a sealed token is new bytes each time it is written. In
// PostgreSQL one statement takes the lease where it is free and reads
// the row either way:
//
//	WITH taken AS (
//		UPDATE oauthrt_tokens SET lease_holder = <holder>, lease_until = <now> + <LeaseTTL in ms>,
//			lease_epoch         = lease_epoch + 1
//		WHERE token_key = <key> AND (lease_holder IS NULL OR lease_until <= <now>)
//		RETURNING token, grant_…, lease_epoch)
//	SELECT token, grant_…, lease_epoch, TRUE FROM taken
//	UNION ALL SELECT token, grant_…, lease_epoch, FALSE FROM oauthrt_tokens
//	WHERE token_key = <key> AND NOT EXISTS (SELECT 1 FROM taken)
//
// The row it took comes from RETURNING, the row's latest version, so
// the token is the one the lease was taken over even when the UPDATE
// waited for another writer. SQLite (3.35 or later) runs an UPDATE …
// RETURNING that matches the row whether its lease is free or not,
// takes the lease where it is free, and writes the row as it was where
// it is held. When the lease was taken over another token than prev,
// one more statement releases it (its epoch is spent). To spare that,
// their Stores remember the bytes of each key's token as they last saw
// them (see below), and when those hold prev, the first try takes the
// lease only where the row still holds those very bytes (AND token =
// <bytes> in the UPDATE's condition): a row written since is read, not
// taken. When that row holds prev all the same (saved again: other
// bytes) and its lease is free, the try takes the lease over it at
// once, with the statement above.
//
// MySQL and MariaDB have no UPDATE … RETURNING: TakeLeaseIf reads the
// row first, and, when it holds prev and the lease is free, takes it
// with the same UPDATE conditioned on the row still holding the
// lease_epoch, token and grant_ values it read (compared with <=>), so
// that it never takes the lease over another token and the snapshot is
// the one the lease was taken with. A key without a row holds no
// token: for a nil prev one INSERT makes the row (once per key) and
// the try is made again.
//
// To save that SELECT on MySQL and MariaDB, and that release on
// PostgreSQL and SQLite, a Store remembers, for up to 4096 keys, the row
// of each key as it last saw it: Load, LoadSnapshot and LoadMany read
// the row's lease_epoch and grant_ columns beside its token (on MySQL
// and MariaDB; on PostgreSQL and SQLite the token's bytes are all that
// is remembered), a TakeLeaseIf that finds another token keeps what it
// read (or, on PostgreSQL and SQLite, what an announcement told), and
// CommitRelease knows what it wrote (the token's stored bytes, no grant
// state, its lease's epoch). Its other writes (Save, Commit,
// SaveGrantState, Delete, TakeLease) forget the key. When the Store
// remembers the row holding prev, TakeLeaseIf's first try sends the
// conditioned UPDATE at once, with the remembered values: one statement
// when nothing has written the row since, and the lease is taken over
// exactly the row remembered, whose values are the snapshot. Otherwise
// (another process committed, took the lease or holds it, saved a grant
// state, or deleted the token) the UPDATE matches nothing, and the try
// reads the row and goes on as above: the memory costs then one
// statement, and never decides what is taken. Each remembered row is
// used once. It holds the token as stored, sealed when the Store has an
// AEAD: 4096 tokens of a few kilobytes (the JWTs of some providers) make
// a memory of some megabytes per Store.
//
// CommitRelease is Commit's conditional UPDATE with the release in its
// SET:
//
//	UPDATE oauthrt_tokens SET token = <tok>, updated_at = <now>, grant_… = NULL,
//		lease_until         = CASE WHEN lease_holder = <holder> THEN 0 ELSE lease_until END,
//		lease_holder        = CASE WHEN lease_holder = <holder> THEN NULL ELSE lease_holder END
//	WHERE token_key = <key> AND token = <the bytes TakeLeaseIf read>
//
// (token IS NULL for a nil prev). Its condition is Commit's: the very
// bytes compared with prev, which the lease remembers from TakeLeaseIf;
// a lease taken by TakeLease, or a prev other than TakeLeaseIf's, reads
// and compares them first, one SELECT more. When the UPDATE matches
// nothing, CommitRelease reads and compares again as Commit does; a
// conflict releases the lease with one more statement.
//
// The counts are of statements. A driver may add round trips of its
// own: go-sql-driver/mysql, unless the data source name sets
// interpolateParams=true, prepares each statement that has arguments
// before running it (two round trips for each); pgx prepares each text
// once per connection and then reuses it.
//
// # Announced releases
//
// On PostgreSQL, the statements that release a lease announce it, so
// that the processes waiting for it learn of it at once rather than by
// asking again and again. CommitRelease's UPDATE and Release's become a
// data-modifying WITH, still one statement:
//
//	WITH released AS (UPDATE oauthrt_tokens SET … WHERE … RETURNING 1)
//	SELECT count(pg_notify(<channel>, <payload>)) FROM released
//
// which calls pg_notify only when the UPDATE changed the row (a
// CommitRelease in conflict announces nothing, and its release, which
// follows, announces itself), and answers the count of rows changed, as
// the UPDATE's own count did. PostgreSQL delivers the notification when
// the statement commits. MySQL's and SQLite's statements cannot
// announce: a Store with an Announcer announces there once the releasing
// statement has changed the row, with the same channel and payload, and
// its waiters hear it through a Listener of the same bus (the package
// sqlstore/localbus is one, between the processes of a host); without
// an Announcer, their waiters poll. A process that dies between the
// statement and the announcement leaves its waiters to their fallback
// pause, as a lost notification does on PostgreSQL. The channel is oauthrt_<table>, in lower case, the
// dot of a schema-qualified table an underscore ("auth.tokens":
// oauthrt_auth_tokens); a name longer than PostgreSQL's 63 bytes keeps
// its first 46 and ends with "_" and 16 hex digits of the SHA-256 of the
// table's name. The payload is
//
//	<h> <base64 of the sealed record>
//
// or <h> alone, where h is the first 32 hex digits of the SHA-256 of the
// store key. LISTEN needs no privilege, so anyone who may connect to the
// database may hear it: the key is named by its hash, and the record, the
// committed token exactly as the row holds it (sealed with the Store's
// AEAD when it has one), is sealed again with AES-256-GCM and a random
// nonce (the nonce, then the sealed bytes) under a key derived with
// HKDF-SHA256 from the token the commit replaced: its access and refresh
// tokens, each after its length as 8 bytes big-endian, with the info
// "oauthrt sqlstore announce v1" followed by the store key. Only a
// process that holds the replaced token can open it, which is exactly
// the processes waiting to replace it. A release without a commit, a
// commit over no token (or over one without an access or a refresh
// token), and a record whose payload would exceed 7000 bytes (NOTIFY
// takes less than 8000) are announced with <h> alone.
//
// A Store hears the announcements only when its Listener is set; with
// pgx:
//
//	import "github.com/oauthrt/oauthrt/sqlstore/pglisten"
//
//	store := &sqlstore.Store{DB: db, Listener: pglisten.New(db)}
//
// (pglisten is a package of its own so that this one imports no driver.)
// On SQLite, or MySQL with every process on one host:
//
//	import "github.com/oauthrt/oauthrt/sqlstore/localbus"
//
//	bus := localbus.New(path + ".bus")
//	store := &sqlstore.Store{DB: db, Listener: bus.Listen, Announcer: bus.Announce}
//
// The Store then listens (with pglisten, on a connection of DB's pool
// that it keeps for itself; with localbus, on a socket of its own) while some of its TakeLeaseIf or TakeLease calls wait for a
// lease held elsewhere: from the first that finds a lease held until
// 100 ms after the last returns. A waiting TakeLeaseIf(prev) that hears
// a record it can open, holding a token other than prev, returns that
// token with the zero grant state (the commit cleared it) and a nil
// Lease, without asking the database again, as if it had read it; any
// other announcement about its key (a release alone, a record that does
// not open or decode, or holds prev) makes it ask once more, as a
// TakeLease does at every announcement. A refresh that four processes
// need costs about five statements and a quarter, where polling costs
// twelve: the holder's two, and one for each other process (on MySQL, the
// UPDATE that would take the lease over the row the Store remembers
// tells, through LAST_INSERT_ID, that the lease is held, without a
// SELECT; see TakeLeaseIf). Payloads
// that do not start with a key's hash are ignored; whatever a stranger
// sends, a waiter returns only a token it could have read from the
// table, or asks again. A waiter that hears nothing (a lease that
// lapsed, a holder of the previous release, which does not announce)
// asks again after a pause that grows from 200 ms to 500 ms, and at once
// when the Store had to listen anew; while it cannot listen, it polls.
// Leave Listener nil where DB reaches PostgreSQL through a pooler that
// hands each transaction another server connection (PgBouncer's
// transaction mode): LISTEN does not hold there, and waiters that hear
// nothing ask less often than polling ones.
//
// pg_notify fails, and with it the statement that releases the lease,
// only when the server's notification queue is full (8 GB by default):
// that needs a session that listens and does not read its notifications,
// or a transaction that stays open in a listening session, for a long
// time; PostgreSQL warns in its log, naming that session, once the queue
// is half full. (PostgreSQL 15 documentation, NOTIFY,
// https://www.postgresql.org/docs/15/sql-notify.html, read 2026-12-01: the
// payload "must be shorter than 8000 bytes", the queue is "8GB in a
// standard installation".) A Store's listener reads its notifications as
// they come, and pings after 15 s of silence.
//
// # Listing and deleting
//
// A Store is also an [oauthrt.KeyLister], an [oauthrt.GrantStateLister]
// and an [oauthrt.Deleter]. A page of ListKeys is one SELECT of the key
// column alone, from the rows whose token is not NULL (a row that only
// carries a lease or a grant state holds none), paged by key:
//
//	SELECT token_key FROM oauthrt_tokens
//	WHERE token IS NOT NULL AND token_key > <the last key of the page before> AND <prefix>
//	ORDER BY token_key LIMIT <limit + 1>
//
// so that every page costs the same, wherever it is in the walk, and
// none skips or repeats a key whatever is written meanwhile; the cursor
// is that last key, in base64. A page of ListGrantStates is the same
// SELECT of token_key and the grant_ columns, from the rows where one of
// them is not NULL: it reads no token. In SQLite and MySQL, whose key
// columns compare bytes, <prefix> is the range from the prefix up to the
// prefix with its last byte that is not 0xff raised by one, which the
// primary key's index serves like the rest. PostgreSQL orders TEXT by
// the column's collation, where the keys that start with a prefix need
// not be next to each other (in en_US, "A" sorts between "a" and "ab"),
// and a prefix may end within a character; its pages follow that order,
// and <prefix> compares the key's bytes,
// substr(convert_to(token_key, 'UTF8'), 1, <the prefix's length>) = <its bytes>,
// which no index serves: a page under a prefix that few keys have may
// read many rows to find its own. No prefix is ever a pattern: '%' and
// '_' are themselves.
//
// A Store is also an [oauthrt.Inspector]. A page of Inspect is the same
// SELECT as ListKeys', of the token, lease and grant_ columns too, with
// lease_until compared with the database's clock in the statement: a
// lapsed lease is reported as none held. Each page is sorted in byte
// order of the keys once read.
//
// Delete is one UPDATE that sets token, updated_at and the grant_
// columns to NULL. The row stays, with its lease: lease_epoch goes on
// growing, and a lease held on the key stays held.
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
