package sqlstore_test

import (
	"crypto/cipher"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt/internal/tokencodec"
	"golang.org/x/oauth2"
)

// oldRelease is the package's previous release, as far as the table is
// concerned: its table definitions and the statements it runs, copied
// from it (git show dc27280:sqlstore/dialect.go), so that the tests can
// make a table as it left it and write to it as its processes still do
// while a fleet is upgraded.
type oldRelease struct {
	db    testDB
	table string
}

// oldDDL is the previous release's CREATE TABLE of each dialect.
var oldDDL = map[string]string{
	"sqlite": `CREATE TABLE IF NOT EXISTS %s (
	token_key    TEXT NOT NULL PRIMARY KEY,
	token        BLOB,
	lease_holder VARCHAR(64),
	lease_until  BIGINT NOT NULL DEFAULT 0,
	updated_at   BIGINT
)`,
	"postgres": `CREATE TABLE IF NOT EXISTS %s (
	token_key    TEXT PRIMARY KEY,
	token        BYTEA,
	lease_holder VARCHAR(64),
	lease_until  BIGINT NOT NULL DEFAULT 0,
	updated_at   BIGINT
)`,
	"mysql": `CREATE TABLE IF NOT EXISTS %s (
	token_key    VARBINARY(512) NOT NULL PRIMARY KEY,
	token        LONGBLOB NULL,
	lease_holder VARCHAR(64) NULL,
	lease_until  BIGINT NOT NULL DEFAULT 0,
	updated_at   BIGINT NULL
)`,
}

// newOldTable makes a table as the previous release's Migrate did; it is
// dropped when t ends.
func newOldTable(t *testing.T, db testDB) oldRelease {
	t.Helper()
	table := "oauthrt_test_" + randomHex(t)
	if _, err := db.Exec(fmt.Sprintf(oldDDL[db.dialect.String()], table)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec("DROP TABLE IF EXISTS " + table); err != nil {
			t.Errorf("dropping %s: %v", table, err)
		}
	})
	return oldRelease{db, table}
}

// exec runs one of the previous release's statements, written with ?
// placeholders, {table} and {now}.
func (r oldRelease) exec(t *testing.T, q string, args ...any) int64 {
	t.Helper()
	q = strings.NewReplacer("{table}", r.table, "{now}", r.db.now).Replace(q)
	if r.db.dialect.String() == "postgres" {
		var b strings.Builder
		n := 0
		for _, c := range q {
			if c == '?' {
				n++
				b.WriteString("$" + strconv.Itoa(n))
				continue
			}
			b.WriteRune(c)
		}
		q = b.String()
	}
	res, err := r.db.Exec(q, args...)
	if err != nil {
		t.Fatalf("the previous release's %.40q…: %v", q, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// save is the previous release's Save: an upsert of token and
// updated_at, which knows nothing of the columns added since.
func (r oldRelease) save(t *testing.T, key string, tok *oauth2.Token, aead cipher.AEAD) {
	t.Helper()
	b, err := tokencodec.Encode(tok, aead, key)
	if err != nil {
		t.Fatal(err)
	}
	q := `INSERT INTO {table} (token_key, token, updated_at) VALUES (?, ?, {now})`
	if r.db.dialect.String() == "mysql" {
		q += ` ON DUPLICATE KEY UPDATE token = VALUES(token), updated_at = VALUES(updated_at)`
	} else {
		q += ` ON CONFLICT (token_key) DO UPDATE SET token = excluded.token, updated_at = excluded.updated_at`
	}
	r.exec(t, q, key, b)
}

// take is the previous release's taking of a lease, after it made sure
// of the row: it reports whether it took it.
func (r oldRelease) take(t *testing.T, key, holder string, ttl time.Duration) bool {
	t.Helper()
	ensure := `INSERT INTO {table} (token_key) VALUES (?) ON CONFLICT (token_key) DO NOTHING`
	if r.db.dialect.String() == "mysql" {
		ensure = `INSERT INTO {table} (token_key) VALUES (?) ON DUPLICATE KEY UPDATE token_key = token_key`
	}
	r.exec(t, ensure, key)
	return r.exec(t, `UPDATE {table} SET lease_holder = ?, lease_until = {now} + ? WHERE token_key = ? AND (lease_holder IS NULL OR lease_until <= {now})`,
		holder, ttl.Milliseconds(), key) == 1
}

// expire makes key's lease lapse now, as its TTL running out would,
// whoever holds it.
func expire(t *testing.T, db testDB, table, key string) {
	t.Helper()
	oldRelease{db, table}.exec(t, `UPDATE {table} SET lease_until = {now} - 1 WHERE token_key = ?`, key)
}
