package scale_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/filestore"
	"github.com/oauthrt/oauthrt/internal/tripcount"
	"github.com/oauthrt/oauthrt/redisstore"
	"github.com/oauthrt/oauthrt/sqlstore"
	"github.com/oauthrt/oauthrt/sqlstore/localbus"
	"github.com/oauthrt/oauthrt/sqlstore/pglisten"
	"github.com/redis/go-redis/v9"
	"modernc.org/sqlite"
)

// A backend is a kind of store the measurements run on.
type backend struct {
	name string
	env  string // the environment variable naming its server; "" for none
	// callLevel: the store has no backend to watch, and its calls are
	// counted instead (tripcount.Wrap).
	callLevel bool
	// warm bounds the round trips of a refresh of a warm key by one
	// process, on average; 0 reports them only. A refresh costs two
	// (TakeLeaseIf and CommitRelease; the lease just taken is not renewed
	// before the refresh), and a bound of 2.5 fails the day it costs
	// three again, with room for the odd retry. Redis Cluster with the
	// default key names spends two commands where the others spend one.
	warm float64
}

var backends = []backend{
	{name: "postgres", env: "OAUTHRT_TEST_POSTGRES", warm: 2.5},
	{name: "mysql", env: "OAUTHRT_TEST_MYSQL", warm: 2.5},
	{name: "sqlite", warm: 2.5},
	{name: "redis", env: "OAUTHRT_TEST_REDIS", warm: 2.5},
	{name: "cluster", env: "OAUTHRT_TEST_REDIS_CLUSTER", warm: 4.5},
	// Redis Cluster with a Prefix that holds a hash tag, which puts all
	// of a Store's keys in one slot: one command where the default names
	// take two.
	{name: "clustertag", env: "OAUTHRT_TEST_REDIS_CLUSTER", warm: 2.5},
	// Redis Cluster with the default key names and each key's lease in
	// its token's slot (redisstore.LeasesBeside): one command, as on a
	// single node, with the keys spread over the masters.
	{name: "clusterbeside", env: "OAUTHRT_TEST_REDIS_CLUSTER", warm: 2.5},
	{name: "file", callLevel: true, warm: 2.5},
	{name: "filedir", callLevel: true, warm: 2.5}, // filestore's Dir layout
	{name: "memory", callLevel: true, warm: 2.5},
}

// skip skips tb when the backend's server is not configured.
func (b backend) skip(tb testing.TB) {
	tb.Helper()
	if b.env != "" && os.Getenv(b.env) == "" {
		tb.Skipf("%s is not set: no %s to measure", b.env, b.name)
	}
}

// A site is one place for a backend's data (a table, a key prefix, a
// file, a MemoryStore), which every handle opened on it shares.
type site struct {
	b    backend
	name string               // the table, prefix or path
	mem  *oauthrt.MemoryStore // the memory backend's one store
	bus  string               // SQLite's and MySQL's: the localbus directory of its handles
}

// newSite makes a fresh place for b's data, and registers its removal.
func newSite(tb testing.TB, b backend) *site {
	tb.Helper()
	var r [6]byte
	rand.Read(r[:])
	id := hex.EncodeToString(r[:])
	s := &site{b: b}
	switch b.name {
	case "memory":
		s.mem = &oauthrt.MemoryStore{}
	case "file":
		s.name = filepath.Join(tb.TempDir(), "tokens.json")
	case "filedir":
		s.name = filepath.Join(tb.TempDir(), "tokens.d")
	case "sqlite":
		s.name = filepath.Join(tb.TempDir(), "tokens.db")
		s.bus = busDir(tb)
	case "redis", "cluster", "clusterbeside":
		s.name = "oauthrt-scale:" + id + ":"
		tb.Cleanup(func() { s.deleteKeys(tb) })
	case "clustertag":
		s.name = "{oauthrt-scale:" + id + "}:"
		tb.Cleanup(func() { s.deleteKeys(tb) })
	default:
		s.name = "oauthrt_scale_" + id
		if b.name == "mysql" {
			s.bus = busDir(tb)
		}
		tb.Cleanup(func() {
			db, err := sql.Open(map[string]string{"postgres": "pgx", "mysql": "mysql"}[b.name], os.Getenv(b.env))
			if err == nil {
				db.Exec("DROP TABLE " + s.name)
				db.Close()
			}
		})
	}
	return s
}

// busDir makes a directory for a site's localbus, short enough for the
// paths of its sockets (t.TempDir's can be too long), and registers its
// removal.
func busDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "bus")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// deleteKeys deletes the keys of a Redis site.
func (s *site) deleteKeys(tb testing.TB) {
	ctx := context.Background()
	del := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, s.name+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		return iter.Err()
	}
	var err error
	if s.b.name != "redis" {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(os.Getenv(s.b.env), ",")})
		err = c.ForEachMaster(ctx, del)
		c.Close()
	} else {
		c := redis.NewClient(&redis.Options{Addr: os.Getenv(s.b.env)})
		err = del(ctx, c)
		c.Close()
	}
	if err != nil {
		tb.Logf("deleting the keys under %q: %v", s.name, err)
	}
}

// A meter counts the trips of the handles opened with it.
type meter struct {
	callLevel bool
	trips     tripcount.Counter // what the driver or client sends
	calls     tripcount.Calls   // the store's calls
}

// A reading is what a meter counted at one moment.
type reading struct{ trips, prepares, takes, inTakes int64 }

func (m *meter) read() reading {
	r := reading{takes: m.calls.Takes.Trips()}
	if m.callLevel {
		r.trips = m.calls.All.Trips()
	} else {
		r.trips, r.prepares, r.inTakes = m.trips.Trips(), m.trips.Prepares(), m.calls.InTakes.Trips()
	}
	return r
}

func (r reading) minus(o reading) reading {
	return reading{r.trips - o.trips, r.prepares - o.prepares, r.takes - o.takes, r.inTakes - o.inTakes}
}

// open opens a handle of its own on the site, counted by m, and
// registers its closing. Every handle has its own connection pool or
// client, as a process of its own would; those of the memory backend
// share its one store.
func (s *site) open(tb testing.TB, m *meter) oauthrt.TokenStore {
	tb.Helper()
	const ttl = 10 * time.Second
	var st oauthrt.TokenStore
	switch s.b.name {
	case "memory":
		st = s.mem
	case "file":
		st = &filestore.Store{Path: s.name, LeaseTTL: ttl}
	case "filedir":
		st = &filestore.Store{Dir: s.name, LeaseTTL: ttl}
	case "redis", "cluster", "clustertag", "clusterbeside":
		var c redis.UniversalClient
		if s.b.name != "redis" {
			c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(os.Getenv(s.b.env), ",")})
		} else {
			c = redis.NewClient(&redis.Options{Addr: os.Getenv(s.b.env)})
		}
		c.AddHook(tripcount.Hook(&m.trips))
		tb.Cleanup(func() { c.Close() })
		rs := &redisstore.Store{Client: c, Prefix: s.name, LeaseTTL: ttl}
		if s.b.name == "clusterbeside" {
			rs.Leases = redisstore.LeasesBeside
		}
		st = rs
	default:
		var drv driver.Driver
		dsn, table, dialect := os.Getenv(s.b.env), s.name, sqlstore.Postgres
		switch s.b.name {
		case "postgres":
			drv = stdlib.GetDefaultDriver()
		case "mysql":
			drv, dialect = mysql.MySQLDriver{}, sqlstore.MySQL
		case "sqlite":
			drv, dialect = &sqlite.Driver{}, sqlstore.SQLite
			dsn, table = "file:"+s.name+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate", "oauthrt_tokens"
		}
		conn, err := tripcount.Connector(drv, dsn, &m.trips)
		if err != nil {
			tb.Fatal(err)
		}
		db := sql.OpenDB(conn)
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
		tb.Cleanup(func() { db.Close() })
		sqs := &sqlstore.Store{DB: db, Dialect: dialect, Table: table, LeaseTTL: ttl}
		switch s.b.name {
		case "postgres":
			sqs.Listener = pglisten.New(db) // waiters woken by announced releases
		case "sqlite", "mysql":
			// The handles stand for processes of one host: a bus in one
			// directory reaches them all.
			bus := localbus.New(s.bus)
			sqs.Listener, sqs.Announcer = bus.Listen, bus.Announce
		}
		if err := sqs.Migrate(context.Background()); err != nil {
			tb.Fatal(err)
		}
		st = sqs
	}
	w, err := tripcount.Wrap(st, &m.calls)
	if err != nil {
		tb.Fatal(err)
	}
	return w
}
