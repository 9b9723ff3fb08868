package chaos_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/filestore"
	"github.com/oauthrt/oauthrt/redisstore"
	"github.com/oauthrt/oauthrt/sqlstore"
	"github.com/oauthrt/oauthrt/sqlstore/pglisten"
	"github.com/redis/go-redis/v9"
	_ "modernc.org/sqlite"
)

// A backend is a store the fleet shares. Its place (a path, a table, a
// key prefix) is made by the parent for each run and handed to the
// children.
type backend struct {
	name string
	env  string // the variable naming its server; "" for none
	// noProxy says why the store connections of one child cannot be put
	// behind a proxy; "" when they can.
	noProxy string
	// stalls says how a stopped process can hold the whole fleet back
	// until it is continued, through locks of the operating system that
	// no TTL lifts; "" when it cannot.
	stalls string
}

var backends = []backend{
	// A stopped filestore holder keeps its lease file's flock, but its
	// lease is taken over once the record in the file lapses: no stall.
	{name: "file", noProxy: "a file has no connection to cut"},
	{name: "sqlite", noProxy: "an SQLite database has no connection to cut",
		stalls: "a process stopped in the middle of a write keeps SQLite's write lock"},
	{name: "postgres", env: "OAUTHRT_TEST_POSTGRES"},
	{name: "mysql", env: "OAUTHRT_TEST_MYSQL"},
	{name: "redis", env: "OAUTHRT_TEST_REDIS"},
	{name: "redis-cluster", env: "OAUTHRT_TEST_REDIS_CLUSTER",
		noProxy: "cluster nodes announce their own addresses, which a client then dials past any proxy"},
	// Each key's lease in its token's slot (redisstore.LeasesBeside): the
	// one-script take and commit-and-release that a single node runs.
	{name: "redis-cluster-beside", env: "OAUTHRT_TEST_REDIS_CLUSTER",
		noProxy: "cluster nodes announce their own addresses, which a client then dials past any proxy"},
}

func backendNamed(name string) backend {
	for _, b := range backends {
		if b.name == name {
			return b
		}
	}
	panic("chaos: no backend " + name)
}

// server returns the address (or DSN) of the backend's server.
func (b backend) server() string {
	if b.env == "" {
		return ""
	}
	return os.Getenv(b.env)
}

// addr returns the host:port a proxy for the backend's server forwards
// to.
func (b backend) addr() (string, error) {
	switch b.name {
	case "postgres":
		cfg, err := pgx.ParseConfig(b.server())
		if err != nil {
			return "", err
		}
		return net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)), nil
	case "mysql":
		cfg, err := mysql.ParseDSN(b.server())
		if err != nil {
			return "", err
		}
		return cfg.Addr, nil
	case "redis":
		return b.server(), nil
	}
	return "", fmt.Errorf("chaos: %s cannot be proxied: %s", b.name, b.noProxy)
}

// place returns a fresh place for a run's data, and registers its
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
	case "redis", "redis-cluster", "redis-cluster-beside":
		prefix := "oauthrt-chaos:" + id + ":"
		t.Cleanup(func() {
			c := b.redisClient("")
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			del := func(ctx context.Context, c *redis.Client) error {
				iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
				for iter.Next(ctx) {
					c.Del(ctx, iter.Val())
				}
				return iter.Err()
			}
			if cc, ok := c.(*redis.ClusterClient); ok {
				cc.ForEachMaster(ctx, del)
			} else {
				del(ctx, c.(*redis.Client))
			}
		})
		return prefix
	default: // a table
		table := "oauthrt_chaos_" + id
		t.Cleanup(func() {
			db, err := sql.Open(b.driver(), b.server())
			if err == nil {
				db.Exec("DROP TABLE " + table)
				db.Close()
			}
		})
		return table
	}
}

func (b backend) driver() string {
	if b.name == "postgres" {
		return "pgx"
	}
	return b.name
}

// redisClient returns a client of the backend's Redis, through the proxy
// at via when via is not "".
func (b backend) redisClient(via string) redis.UniversalClient {
	if strings.HasPrefix(b.name, "redis-cluster") {
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(b.server(), ",")})
	}
	addr := b.server()
	if via != "" {
		addr = via
	}
	return redis.NewClient(&redis.Options{Addr: addr})
}

// open returns a store on place with leases of ttl, connected through
// the proxy at via when via is not "", and its closing.
func (b backend) open(place string, ttl time.Duration, via string) (oauthrt.TokenStore, func(), error) {
	switch b.name {
	case "file":
		return &filestore.Store{Path: place, LeaseTTL: ttl}, func() {}, nil
	case "redis", "redis-cluster", "redis-cluster-beside":
		c := b.redisClient(via)
		s := &redisstore.Store{Client: c, Prefix: place, LeaseTTL: ttl}
		if b.name == "redis-cluster-beside" {
			s.Leases = redisstore.LeasesBeside
		}
		return s, func() { c.Close() }, nil
	}
	var db *sql.DB
	table := place
	switch b.name {
	case "sqlite":
		table = "oauthrt_tokens"
		var err error
		db, err = sql.Open("sqlite", "file:"+place+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
		if err != nil {
			return nil, nil, fmt.Errorf("chaos: opening sqlite: %w", err)
		}
	case "postgres":
		cfg, err := pgx.ParseConfig(b.server())
		if err != nil {
			return nil, nil, fmt.Errorf("chaos: %s: %w", b.env, err)
		}
		if via != "" {
			host, port, _ := net.SplitHostPort(via)
			fmt.Sscan(port, &cfg.Port)
			cfg.Host = host
		}
		db = stdlib.OpenDB(*cfg)
	case "mysql":
		cfg, err := mysql.ParseDSN(b.server())
		if err != nil {
			return nil, nil, fmt.Errorf("chaos: %s: %w", b.env, err)
		}
		if via != "" {
			cfg.Addr = via
		}
		conn, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("chaos: %s: %w", b.env, err)
		}
		db = sql.OpenDB(conn)
	}
	// Three keys, each refreshed by one flight at a time, and the lease
	// renewals beside them: a small pool, as a production's would be.
	db.SetMaxOpenConns(10)
	db.SetMaxIdleConns(10)
	s := &sqlstore.Store{DB: db, Table: table, LeaseTTL: ttl}
	if b.name == "postgres" {
		s.Listener = pglisten.New(db) // waiters woken by announced releases
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Migrate(ctx); err != nil {
		db.Close()
		return nil, nil, err
	}
	return s, func() { db.Close() }, nil
}
