package fleet_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/filestore"
	"github.com/oauthrt/oauthrt/redisstore"
	"github.com/oauthrt/oauthrt/sqlstore"
	"github.com/redis/go-redis/v9"
	_ "modernc.org/sqlite"
)

// A backend is a store the fleet shares. Its place (a path, a table, a
// key prefix) is made by the parent and handed to the children.
type backend struct {
	name string
	env  string // the environment variable naming its server; "" for none
}

var backends = []backend{
	{"file", ""},
	{"sqlite", ""},
	{"postgres", "OAUTHRT_TEST_POSTGRES"},
	{"mysql", "OAUTHRT_TEST_MYSQL"},
	{"redis", "OAUTHRT_TEST_REDIS"},
}

// place returns a fresh place for the backend's data, and registers its
// removal.
func (b backend) place(t *testing.T) string {
	t.Helper()
	var r [6]byte
	rand.Read(r[:])
	id := hex.EncodeToString(r[:])
	switch b.name {
	case "file":
		return filepath.Join(t.TempDir(), "tokens.json")
	case "sqlite":
		return filepath.Join(t.TempDir(), "tokens.db")
	case "redis":
		prefix := "oauthrt-fleet:" + id + ":"
		t.Cleanup(func() {
			c := redis.NewClient(&redis.Options{Addr: os.Getenv(b.env)})
			defer c.Close()
			ctx := context.Background()
			for _, k := range []string{"token:", "lease:"} {
				c.Del(ctx, prefix+k+fleetKey)
			}
		})
		return prefix
	default: // a table
		table := "oauthrt_fleet_" + id
		t.Cleanup(func() {
			db, err := sql.Open(b.driver(), b.dsn(table))
			if err == nil {
				db.Exec("DROP TABLE " + table)
				db.Close()
			}
		})
		return table
	}
}

func (b backend) driver() string {
	switch b.name {
	case "postgres":
		return "pgx"
	case "mysql":
		return "mysql"
	}
	return "sqlite"
}

func (b backend) dsn(place string) string {
	if b.name == "sqlite" {
		return "file:" + place + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate"
	}
	return os.Getenv(b.env)
}

// open returns a store on place, and its closing.
func (b backend) open(place string, ttl time.Duration) (oauthrt.TokenStore, func(), error) {
	switch b.name {
	case "file":
		return &filestore.Store{Path: place, LeaseTTL: ttl}, func() {}, nil
	case "redis":
		c := redis.NewClient(&redis.Options{Addr: os.Getenv(b.env)})
		return &redisstore.Store{Client: c, Prefix: place, LeaseTTL: ttl}, func() { c.Close() }, nil
	}
	table := place
	if b.name == "sqlite" {
		table = "oauthrt_tokens"
	}
	db, err := sql.Open(b.driver(), b.dsn(place))
	if err != nil {
		return nil, nil, fmt.Errorf("opening %s: %w", b.name, err)
	}
	s := &sqlstore.Store{DB: db, Table: table, LeaseTTL: ttl}
	if err := s.Migrate(context.Background()); err != nil {
		db.Close()
		return nil, nil, err
	}
	return s, func() { db.Close() }, nil
}
