package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/sqlstore"
	"golang.org/x/oauth2"
)

// forEachDatabase runs test once per database, as a subtest.
func forEachDatabase(t *testing.T, test func(t *testing.T, db testDB)) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) { test(t, d.open(t)) })
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, db testDB) {
		table := newTable(t, db) // a first Migrate
		s := &sqlstore.Store{DB: db.DB, Table: table}
		ctx := context.Background()
		if err := s.Save(ctx, "k", &oauth2.Token{AccessToken: "at"}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate of an existing table: %v", err)
			}
		}
		if tok, err := s.Load(ctx, "k"); err != nil || tok.AccessToken != "at" {
			t.Errorf("after Migrate: Load = %v, %v; want the token saved before", tok, err)
		}
	})
}

// fakeConnector is a database whose connections all fail; it counts the
// tries, so that a test can tell no SQL was sent.
type fakeConnector struct{ connects atomic.Int32 }

func (c *fakeConnector) Connect(context.Context) (driver.Conn, error) {
	c.connects.Add(1)
	return nil, errors.New("fake: no database")
}

func (c *fakeConnector) Driver() driver.Driver { return fakeDriver{} }

type fakeDriver struct{}

func (fakeDriver) Open(string) (driver.Conn, error) { return nil, errors.New("fake: no database") }

func openFake(t *testing.T) (*sql.DB, *fakeConnector) {
	c := &fakeConnector{}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	return db, c
}

// allMethods calls each method of s that reaches the database and
// returns their errors by name.
func allMethods(s *sqlstore.Store) map[string]error {
	ctx := context.Background()
	errs := map[string]error{"Migrate": s.Migrate(ctx)}
	_, errs["Load"] = s.Load(ctx, "k")
	errs["Save"] = s.Save(ctx, "k", &oauth2.Token{AccessToken: "at"})
	errs["Commit"] = s.Commit(ctx, "k", nil, &oauth2.Token{AccessToken: "at"})
	_, errs["LoadGrantState"] = s.LoadGrantState(ctx, "k")
	errs["SaveGrantState"] = s.SaveGrantState(ctx, "k", oauthrt.GrantState{Failures: 1})
	unlock, err := s.Lock(ctx, "k")
	if err == nil {
		unlock()
	}
	errs["Lock"] = err
	l, err := s.TakeLease(ctx, "k")
	if err == nil {
		l.Release()
	}
	errs["TakeLease"] = err
	_, errs["LoadSnapshot"] = s.LoadSnapshot(ctx, "k")
	l, _, err = s.TakeLeaseIf(ctx, "k", nil)
	if l != nil {
		l.Release()
	}
	errs["TakeLeaseIf"] = err
	return errs
}

func wantErrors(t *testing.T, s *sqlstore.Store, want string) {
	t.Helper()
	for name, err := range allMethods(s) {
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "oauthrt: sqlstore: ") {
			t.Errorf("%s: err = %v, want an oauthrt: sqlstore: error saying %q", name, err, want)
		}
	}
}

func TestDialectDetection(t *testing.T) {
	for _, tc := range []struct{ driver, dsn, want string }{
		{"sqlite", ":memory:", "sqlite"},
		{"pgx", "postgres://nobody@127.0.0.1:1/none", "postgres"},
		{"mysql", "nobody@tcp(127.0.0.1:1)/none", "mysql"},
	} {
		db, err := sql.Open(tc.driver, tc.dsn) // connects to nothing yet
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		s := &sqlstore.Store{DB: db}
		if got, want := s.String(), fmt.Sprintf(`sqlstore.Store{Dialect: %s, Table: "oauthrt_tokens", Encrypted: false}`, tc.want); got != want {
			t.Errorf("driver %q: String() = %s, want %s", tc.driver, got, want)
		}
	}

	db, fake := openFake(t)
	s := &sqlstore.Store{DB: db}
	if got, want := s.String(), `sqlstore.Store{Dialect: unknown, Table: "oauthrt_tokens", Encrypted: false}`; got != want {
		t.Errorf("unknown driver: String() = %s, want %s", got, want)
	}
	wantErrors(t, s, "set Store.Dialect")
	if n := fake.connects.Load(); n != 0 {
		t.Errorf("the database was reached %d times with an unknown dialect", n)
	}

	s.Dialect = sqlstore.Postgres // an explicit dialect is used as it is
	if got, want := s.String(), `sqlstore.Store{Dialect: postgres, Table: "oauthrt_tokens", Encrypted: false}`; got != want {
		t.Errorf("explicit dialect: String() = %s, want %s", got, want)
	}
	if err := s.Migrate(context.Background()); err == nil || !strings.Contains(err.Error(), "fake: no database") {
		t.Errorf("with the dialect set, Migrate err = %v, want the database's", err)
	}
}

func TestInvalidTable(t *testing.T) {
	for _, table := range []string{
		"tokens; DROP TABLE users", "a b", "1tokens", "a.b.c", `"tokens"`, "`tokens`",
		"tokens--", "a.", ".a", "tökens", "tokens\n",
	} {
		db, fake := openFake(t)
		wantErrors(t, &sqlstore.Store{DB: db, Dialect: sqlstore.SQLite, Table: table}, "Store.Table")
		if n := fake.connects.Load(); n != 0 {
			t.Errorf("Table %q: the database was reached %d times", table, n)
		}
	}
}

func TestNilDB(t *testing.T) {
	wantErrors(t, &sqlstore.Store{}, "oauthrt: sqlstore: Store.DB is nil")
	wantErrors(t, &sqlstore.Store{Dialect: sqlstore.MySQL, Table: "t"}, "oauthrt: sqlstore: Store.DB is nil")
}

func TestMySQLKeyLength(t *testing.T) {
	db, fake := openFake(t)
	s := &sqlstore.Store{DB: db, Dialect: sqlstore.MySQL}
	ctx := context.Background()
	long := strings.Repeat("k", 513)
	for name, err := range keyMethods(s, long) {
		if err == nil || !strings.Contains(err.Error(), "512") {
			t.Errorf("%s of a 513-byte key: err = %v, want one naming the 512-byte limit", name, err)
		}
	}
	if n := fake.connects.Load(); n != 0 {
		t.Errorf("the database was reached %d times for keys too long", n)
	}

	t.Run("512 bytes", func(t *testing.T) {
		db := openMySQL(t)
		s := &sqlstore.Store{DB: db.DB, Table: newTable(t, db)}
		key := strings.Repeat("é", 256) // the longest key
		if err := s.Save(ctx, key, &oauth2.Token{AccessToken: "at-long"}); err != nil {
			t.Fatal(err)
		}
		if tok, err := s.Load(ctx, key); err != nil || tok.AccessToken != "at-long" {
			t.Errorf("Load of a 512-byte key = %v, %v", tok, err)
		}
		if err := s.Commit(ctx, key, &oauth2.Token{AccessToken: "at-long"}, &oauth2.Token{AccessToken: "at-long-2"}); err != nil {
			t.Errorf("Commit under a 512-byte key: %v", err)
		}
		st := oauthrt.GrantState{Failures: 2}
		if err := s.SaveGrantState(ctx, key, st); err != nil {
			t.Errorf("SaveGrantState under a 512-byte key: %v", err)
		}
		if got, err := s.LoadGrantState(ctx, key); err != nil || got != st {
			t.Errorf("LoadGrantState of a 512-byte key = %+v, %v", got, err)
		}
		l, err := s.TakeLease(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if e := l.(oauthrt.FencedLease).Epoch(); e != 1 {
			t.Errorf("first lease on a 512-byte key: epoch %d, want 1", e)
		}
		l.Release()
	})
}

// keyMethods calls each method of s that takes a key with key, and
// returns their errors by name.
func keyMethods(s *sqlstore.Store, key string) map[string]error {
	ctx := context.Background()
	tok := &oauth2.Token{AccessToken: "at"}
	errs := map[string]error{}
	_, errs["Load"] = s.Load(ctx, key)
	errs["Save"] = s.Save(ctx, key, tok)
	errs["Commit"] = s.Commit(ctx, key, nil, tok)
	errs["Commit from a token"] = s.Commit(ctx, key, tok, tok)
	_, errs["LoadGrantState"] = s.LoadGrantState(ctx, key)
	errs["SaveGrantState"] = s.SaveGrantState(ctx, key, oauthrt.GrantState{Failures: 1})
	errs["SaveGrantState of the zero state"] = s.SaveGrantState(ctx, key, oauthrt.GrantState{})
	_, errs["Lock"] = s.Lock(ctx, key)
	_, errs["TakeLease"] = s.TakeLease(ctx, key)
	errs["Delete"] = s.Delete(ctx, key)
	_, errs["LoadSnapshot"] = s.LoadSnapshot(ctx, key)
	_, _, errs["TakeLeaseIf"] = s.TakeLeaseIf(ctx, key, nil)
	_, _, errs["TakeLeaseIf from a token"] = s.TakeLeaseIf(ctx, key, tok)
	return errs
}

// TestPostgresKeyRules: PostgreSQL's TEXT refuses NUL bytes and invalid
// UTF-8, and its index long keys; the Store refuses them first, naming
// the reason, without sending any SQL.
func TestPostgresKeyRules(t *testing.T) {
	db, fake := openFake(t)
	s := &sqlstore.Store{DB: db, Dialect: sqlstore.Postgres}
	for key, why := range map[string]string{
		"a\x00b":                  "NUL",
		"\xff\xfe":                "UTF-8",
		"\xed\xa0\x80":            "UTF-8",
		strings.Repeat("k", 2049): "2048",
	} {
		for name, err := range keyMethods(s, key) {
			if err == nil || !strings.HasPrefix(err.Error(), "oauthrt: sqlstore: ") || !strings.Contains(err.Error(), why) {
				t.Errorf("%s of key %.20q: err = %v, want an oauthrt: sqlstore: error saying %q", name, key, err, why)
			}
		}
	}
	if n := fake.connects.Load(); n != 0 {
		t.Errorf("the database was reached %d times for keys PostgreSQL cannot hold", n)
	}
}

func TestStringHidesSecrets(t *testing.T) {
	key := []byte("0123456789abcdef0123456789ABCDEF")
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	db := openSQLite(t)
	s := &sqlstore.Store{DB: db.DB, Table: "auth.tokens", AEAD: aead}
	got := fmt.Sprintf("%v %+v %#v %s", s, s, s, s)
	line := `sqlstore.Store{Dialect: sqlite, Table: "auth.tokens", Encrypted: true}`
	if want := strings.Repeat(line+" ", 3) + line; got != want {
		t.Errorf("formatted store:\n%s\nwant:\n%s", got, want)
	}
	if bytes.Contains([]byte(got), key) || bytes.Contains([]byte(got), key[:8]) {
		t.Errorf("formatted store holds the AEAD key: %s", got)
	}
}

func TestLeaseRowWithoutToken(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, db testDB) {
		table := newTable(t, db)
		ctx := context.Background()
		s := &sqlstore.Store{DB: db.DB, Table: table, LeaseTTL: time.Minute}
		unlock, err := s.Lock(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		defer unlock()

		if raw, err := rawToken(db, table, "k"); err != nil || raw != nil {
			t.Fatalf("the lease row's token = %q, %v; want NULL", raw, err)
		}
		if _, err := s.Load(ctx, "k"); !errors.Is(err, oauthrt.ErrNoToken) {
			t.Fatalf("Load of a key with a lease and no token: err = %v, want ErrNoToken", err)
		}

		// Save leaves the lease alone.
		if err := s.Save(ctx, "k", &oauth2.Token{AccessToken: "at"}); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if unlock2, err := s.Lock(short, "k"); !errors.Is(err, context.DeadlineExceeded) {
			if err == nil {
				unlock2()
			}
			t.Errorf("Lock after a Save under the lease: err = %v, want the lease still held", err)
		}
		if tok, err := s.Load(ctx, "k"); err != nil || tok.AccessToken != "at" {
			t.Errorf("Load under the lease = %v, %v", tok, err)
		}
	})
}

// leaseColumns returns key's lease_until and updated_at.
func leaseColumns(t *testing.T, db *sql.DB, table, key string, dialect *sqlstore.Dialect) (until int64, updated sql.NullInt64) {
	t.Helper()
	q := "SELECT lease_until, updated_at FROM " + table + " WHERE token_key = ?"
	if dialect == sqlstore.Postgres {
		q = strings.Replace(q, "?", "$1", 1)
	}
	if err := db.QueryRow(q, key).Scan(&until, &updated); err != nil {
		t.Fatal(err)
	}
	return until, updated
}

func TestLeaseUsesDatabaseClock(t *testing.T) {
	const ttl = time.Minute
	forEachDatabase(t, func(t *testing.T, db testDB) {
		table := newTable(t, db)
		ctx := context.Background()
		dbNow := func() int64 {
			t.Helper()
			var ms int64
			if err := db.QueryRow("SELECT " + db.now).Scan(&ms); err != nil {
				t.Fatal(err)
			}
			return ms
		}
		s := &sqlstore.Store{DB: db.DB, Table: table, LeaseTTL: ttl}
		before := dbNow()
		unlock, err := s.Lock(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		defer unlock()
		if err := s.Save(ctx, "k", &oauth2.Token{AccessToken: "at"}); err != nil {
			t.Fatal(err)
		}
		after := dbNow()
		until, updated := leaseColumns(t, db.DB, table, "k", db.dialect)
		// 1 ms of slack for the rounding of the two clock expressions.
		if start := until - ttl.Milliseconds(); start < before-1 || start > after+1 {
			t.Errorf("lease_until - TTL = %d ms, want the database's clock between %d and %d", start, before, after)
		}
		if !updated.Valid || updated.Int64 < before-1 || updated.Int64 > after+1 {
			t.Errorf("updated_at = %v, want the database's clock between %d and %d", updated, before, after)
		}
	})
}

// skewed is 2001-09-09T01:46:40Z in Unix milliseconds: the time of the
// databases whose clock TestLeaseUsesDatabaseClockNotHosts sets back.
const skewed = 1_000_000_000_000

// TestLeaseUsesDatabaseClockNotHosts sets the database's clock back 25
// years for the session and checks that the lease is counted from it.
func TestLeaseUsesDatabaseClockNotHosts(t *testing.T) {
	t.Run("Postgres", func(t *testing.T) {
		admin := openPostgres(t)
		// A clock_timestamp() of our own, found before pg_catalog's
		// through the search_path of the sessions of db.
		schema := "oauthrt_clock_" + randomHex(t)
		if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
		if _, err := admin.Exec(`CREATE FUNCTION ` + schema + `.clock_timestamp() RETURNS timestamptz
			LANGUAGE sql AS $$ SELECT to_timestamp(1000000000) $$`); err != nil {
			t.Fatal(err)
		}
		sep := "?"
		if strings.Contains(postgresDSN(t), "?") {
			sep = "&"
		}
		db := open(t, "pgx", postgresDSN(t)+sep+"search_path="+schema+",pg_catalog")
		checkSkewed(t, db, schema+".tokens", sqlstore.Postgres)
	})
	t.Run("MySQL", func(t *testing.T) {
		cfg, err := mysql.ParseDSN(mysqlDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Params == nil {
			cfg.Params = map[string]string{}
		}
		cfg.Params["timestamp"] = "1000000000" // SET timestamp: the session's NOW()
		db := open(t, "mysql", cfg.FormatDSN())
		checkSkewed(t, db, "oauthrt_test_"+randomHex(t), sqlstore.MySQL)
	})
}

func checkSkewed(t *testing.T, db *sql.DB, table string, dialect *sqlstore.Dialect) {
	t.Helper()
	ctx := context.Background()
	s := &sqlstore.Store{DB: db, Table: table, LeaseTTL: time.Minute}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Exec("DROP TABLE IF EXISTS " + table) })
	unlock, err := s.Lock(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if err := s.Save(ctx, "k", &oauth2.Token{AccessToken: "at"}); err != nil {
		t.Fatal(err)
	}
	until, updated := leaseColumns(t, db, table, "k", dialect)
	if want := int64(skewed + time.Minute/time.Millisecond); until != want {
		t.Errorf("lease_until = %d, want %d: the database's clock plus the TTL", until, want)
	}
	if !updated.Valid || updated.Int64 != skewed {
		t.Errorf("updated_at = %v, want %d: the database's clock", updated, int64(skewed))
	}
}
