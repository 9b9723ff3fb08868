package sqlstore_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/sqlstore"
	"github.com/oauthrt/oauthrt/storetest"
	"golang.org/x/oauth2"
)

// sqliteDSNOptions are what the package doc asks of a SQLite shared by
// many connections.
const sqliteDSNOptions = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate"

// A testDB is a database to test against, with the tests' own SQL for
// it, written apart from the package's so that it checks the package.
type testDB struct {
	*sql.DB
	driver  string // the driver's name, and its data source name:
	dsn     string // sql.Open(driver, dsn) opens another handle on the database
	dialect *sqlstore.Dialect
	raw     string // reads the token column of key $1; %s: the table
	put     string // upserts key $1 with token $2; %s: the table
	now     string // the database's clock in Unix milliseconds
}

// The databases, each opened for one test and closed after it.
var databases = []struct {
	name string
	open func(t *testing.T) testDB
}{
	{"SQLite", openSQLite},
	{"Postgres", openPostgres},
	{"MySQL", openMySQL},
}

func openSQLite(t *testing.T) testDB {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "tokens.db") + sqliteDSNOptions
	return testDB{
		DB:      open(t, "sqlite", dsn),
		driver:  "sqlite",
		dsn:     dsn,
		dialect: sqlstore.SQLite,
		raw:     `SELECT token FROM %s WHERE token_key = ?`,
		put:     `INSERT INTO %s (token_key, token) VALUES (?, ?) ON CONFLICT (token_key) DO UPDATE SET token = excluded.token`,
		now:     `CAST(ROUND(unixepoch('now', 'subsec') * 1000) AS INTEGER)`,
	}
}

func openPostgres(t *testing.T) testDB {
	t.Helper()
	return testDB{
		DB:      open(t, "pgx", postgresDSN(t)),
		driver:  "pgx",
		dsn:     postgresDSN(t),
		dialect: sqlstore.Postgres,
		raw:     `SELECT token FROM %s WHERE token_key = $1`,
		put:     `INSERT INTO %s (token_key, token) VALUES ($1, $2) ON CONFLICT (token_key) DO UPDATE SET token = excluded.token`,
		now:     `round(extract(epoch from clock_timestamp()) * 1000)::bigint`,
	}
}

func openMySQL(t *testing.T) testDB {
	t.Helper()
	return testDB{
		DB:      open(t, "mysql", mysqlDSN(t)),
		driver:  "mysql",
		dsn:     mysqlDSN(t),
		dialect: sqlstore.MySQL,
		raw:     `SELECT token FROM %s WHERE token_key = ?`,
		put:     `INSERT INTO %s (token_key, token) VALUES (?, ?) ON DUPLICATE KEY UPDATE token = VALUES(token)`,
		now:     `CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)`,
	}
}

func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("OAUTHRT_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("OAUTHRT_TEST_POSTGRES is not set: no PostgreSQL to test against")
	}
	return dsn
}

func mysqlDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("OAUTHRT_TEST_MYSQL")
	if dsn == "" {
		t.Skip("OAUTHRT_TEST_MYSQL is not set: no MySQL to test against")
	}
	return dsn
}

func open(t *testing.T, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatalf("%s: %v", driver, err)
	}
	return db
}

// handles returns n handles on db's database, each with its own
// connections, as n processes would have; they are closed when t ends.
func (db testDB) handles(t *testing.T, n int) []*sql.DB {
	t.Helper()
	dbs := make([]*sql.DB, n)
	for i := range dbs {
		dbs[i] = open(t, db.driver, db.dsn)
	}
	return dbs
}

// newTable returns the name of a new, empty token table that is dropped
// when t ends.
func newTable(t *testing.T, db testDB) string {
	t.Helper()
	table := "oauthrt_test_" + randomHex(t)
	if err := (&sqlstore.Store{DB: db.DB, Table: table}).Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec("DROP TABLE IF EXISTS " + table); err != nil {
			t.Errorf("dropping %s: %v", table, err)
		}
	})
	return table
}

func randomHex(t *testing.T) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// rawToken returns what the token column holds for key.
func rawToken(db testDB, table, key string) ([]byte, error) {
	var b []byte
	err := db.QueryRow(fmt.Sprintf(db.raw, table), key).Scan(&b)
	return b, err
}

func backend(t *testing.T, db testDB) storetest.Backend {
	table := newTable(t, db)
	return storetest.Backend{
		Open: func(o storetest.Options) oauthrt.TokenStore {
			// Dialect left nil: the conformance runs also check detection.
			return &sqlstore.Store{DB: db.DB, Table: table, LeaseTTL: o.LeaseTTL, AEAD: o.AEAD}
		},
		Raw: func(key string) ([]byte, error) { return rawToken(db, table, key) },
		Put: func(key string, raw []byte) error {
			_, err := db.Exec(fmt.Sprintf(db.put, table), key, raw)
			return err
		},
	}
}

func conformance(t *testing.T, open func(t *testing.T) testDB) {
	db := open(t)
	storetest.Run(t, func(t *testing.T) storetest.Backend { return backend(t, db) })
}

func TestSQLite(t *testing.T)   { conformance(t, openSQLite) }
func TestPostgres(t *testing.T) { conformance(t, openPostgres) }
func TestMySQL(t *testing.T)    { conformance(t, openMySQL) }

func newAEAD(t *testing.T) cipher.AEAD {
	t.Helper()
	block, err := aes.NewCipher([]byte("0123456789abcdef0123456789ABCDEF"))
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return aead
}

// withAndWithoutAEAD runs test on each database, with tokens stored in
// the clear and sealed: sealed tokens differ at rest each time they are
// written, even when they are the same token.
func withAndWithoutAEAD(t *testing.T, test func(t *testing.T, db testDB, aead cipher.AEAD)) {
	forEachDatabase(t, func(t *testing.T, db testDB) {
		t.Run("plain", func(t *testing.T) { test(t, db, nil) })
		t.Run("sealed", func(t *testing.T) { test(t, db, newAEAD(t)) })
	})
}

// tokenN is the test's token number i.
func tokenN(i int) *oauth2.Token {
	return &oauth2.Token{AccessToken: fmt.Sprintf("at-%d", i), RefreshToken: fmt.Sprintf("rt-%d", i)}
}

func mustLoad(t *testing.T, s *sqlstore.Store, key string) *oauth2.Token {
	t.Helper()
	tok, err := s.Load(context.Background(), key)
	if err != nil {
		t.Fatalf("Load(%q): %v", key, err)
	}
	return tok
}
