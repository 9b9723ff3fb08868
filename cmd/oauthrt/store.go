package main

import (
	"context"
	"crypto/cipher"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/filestore"
	"github.com/oauthrt/oauthrt/redisstore"
	"github.com/oauthrt/oauthrt/sqlstore"
	"github.com/redis/go-redis/v9"
	_ "modernc.org/sqlite" // registers "sqlite"
)

const storeHelp = `Stores are URLs:

  file:///var/lib/app/tokens.json       a filestore token file (Path)
  file:///var/lib/app/tokens/           a filestore directory, one record per key (Dir):
                                        a path ending in / or naming a directory
  sqlite:///var/lib/app/tokens.db       a SQLite database
  postgres://user@host:5432/db          PostgreSQL (any URL pgx takes)
  mysql://user:password@host:3306/db    MySQL or MariaDB
  redis://host:6379/0                   Redis (rediss:// for TLS)
  redis://host:7001?cluster=true&addr=host:7002
                                        Redis Cluster, with more seed nodes

The SQL stores take ?table=NAME (default oauthrt_tokens), Redis takes
?prefix=PREFIX (default oauthrt:) and ?leases=apart|moving|beside, the
lease layout of the fleet's Stores (redisstore.LeaseLayout; default
apart): the command takes its leases where the fleet does, so that it
never refreshes beside a process of the fleet. The other query
parameters go to the driver.
`

// store is an opened store.
type store struct {
	oauthrt.TokenStore
	// name is the URL without its password, for messages.
	name  string
	close func() error
}

// Close closes the store's connections.
func (s *store) Close() error {
	if s.close == nil {
		return nil
	}
	return s.close()
}

// openStore opens the store that raw names, sealing tokens with aead
// (nil: in the clear). It checks that the store answers, so that a wrong
// URL fails here, before anything is read or written. A URL it cannot
// read is a usageError.
func openStore(ctx context.Context, raw string, aead cipher.AEAD) (*store, error) {
	return openOrCreate(ctx, raw, aead, false)
}

// createStore is openStore for a store that import or migrate writes
// into: a file or SQLite store that does not exist yet is made by the
// first write, where openStore refuses it, so that a mistyped path is an
// error and not an empty store (SQLite would create the file as it is
// opened).
func createStore(ctx context.Context, raw string, aead cipher.AEAD) (*store, error) {
	return openOrCreate(ctx, raw, aead, true)
}

func openOrCreate(ctx context.Context, raw string, aead cipher.AEAD, create bool) (*store, error) {
	if raw == "" {
		return nil, usagef("no store: give --store URL or set OAUTHRT_STORE")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the URL, password and all: say less.
		return nil, usagef("the store URL does not parse as a URL")
	}
	name := u.Redacted()
	s, err := openURL(ctx, u, create)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", name, err)
	}
	s.name = name
	return s.withAEAD(aead), nil
}

func openURL(ctx context.Context, u *url.URL, create bool) (*store, error) {
	q := u.Query()
	switch u.Scheme {
	case "file":
		return openFile(u, create)
	case "sqlite":
		if !create {
			if err := mustExist(u); err != nil {
				return nil, err
			}
		}
		return openSQL(ctx, u, "sqlite", sqlitePath)
	case "postgres", "postgresql":
		return openSQL(ctx, u, "pgx", func(u *url.URL) (string, error) { return u.String(), nil })
	case "mysql":
		return openSQL(ctx, u, "mysql", mysqlDSN)
	case "redis", "rediss":
		return openRedis(ctx, u, q)
	case "":
		return nil, usagef("the store URL has no scheme: start it with file:, sqlite:, postgres:, mysql: or redis:")
	}
	return nil, usagef("unknown store scheme %q: use file, sqlite, postgres, mysql or redis", u.Scheme)
}

// localPath returns the file path of a file: or sqlite: URL.
func localPath(u *url.URL) (string, error) {
	if u.Host != "" && u.Host != "localhost" {
		return "", usagef("a %s URL names a local path, not host %q: write %s:///path", u.Scheme, u.Host, u.Scheme)
	}
	p := u.Path
	if p == "" {
		p = u.Opaque // file:tokens.json
	}
	if p == "" {
		return "", usagef("the %s URL names no path", u.Scheme)
	}
	return p, nil
}

func openFile(u *url.URL, create bool) (*store, error) {
	p, err := localPath(u)
	if err != nil {
		return nil, err
	}
	if !create {
		if err := mustExist(u); err != nil {
			return nil, err
		}
	}
	fs := &filestore.Store{}
	if fi, err := os.Stat(p); (err == nil && fi.IsDir()) || strings.HasSuffix(p, "/") {
		fs.Dir = filepath.Clean(p)
	} else {
		fs.Path = p
	}
	return &store{TokenStore: fs}, nil
}

// mustExist returns an error when the file or directory of a local
// store's URL does not exist.
func mustExist(u *url.URL) error {
	p, err := localPath(u)
	if err != nil {
		return err
	}
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s does not exist (only import and migrate make a new store)", p)
		}
		return err
	}
	return nil
}

// withAEAD returns s with its stores' AEAD set.
func (s *store) withAEAD(aead cipher.AEAD) *store {
	switch st := s.TokenStore.(type) {
	case *filestore.Store:
		st.AEAD = aead
	case *sqlstore.Store:
		st.AEAD = aead
	case *redisstore.Store:
		st.AEAD = aead
	}
	return s
}

// sqlitePath returns the DSN of a sqlite: URL: its file, in the mode the
// sqlstore documentation asks for.
func sqlitePath(u *url.URL) (string, error) {
	p, err := localPath(u)
	if err != nil {
		return "", err
	}
	return "file:" + p + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate", nil
}

// mysqlDSN returns the go-sql-driver DSN of a mysql: URL.
func mysqlDSN(u *url.URL) (string, error) {
	c := mysql.NewConfig()
	c.Net = "tcp"
	c.Addr = u.Host
	if c.Addr == "" {
		c.Addr = "127.0.0.1:3306"
	}
	if u.User != nil {
		c.User = u.User.Username()
		c.Passwd, _ = u.User.Password()
	}
	c.DBName = strings.TrimPrefix(u.Path, "/")
	q := u.Query()
	if len(q) > 0 {
		c.Params = map[string]string{}
		for k, v := range q {
			c.Params[k] = v[len(v)-1]
		}
	}
	return c.FormatDSN(), nil
}

// openSQL opens a SQL store: dsn turns u, without the table parameter,
// into what the driver takes.
func openSQL(ctx context.Context, u *url.URL, driver string, dsn func(*url.URL) (string, error)) (*store, error) {
	q := u.Query()
	table := q.Get("table")
	q.Del("table")
	v := *u
	v.RawQuery = q.Encode()
	d, err := dsn(&v)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(driver, d)
	if err != nil {
		return nil, usageError{fmt.Errorf("the URL does not open (%w)", err)}
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("the database does not answer: %w", err)
	}
	ss := &sqlstore.Store{DB: db, Table: table}
	return &store{TokenStore: ss, close: db.Close}, nil
}

// openRedis opens a Redis store, on a cluster with ?cluster=true.
func openRedis(ctx context.Context, u *url.URL, q url.Values) (*store, error) {
	prefix := q.Get("prefix")
	cluster := q.Get("cluster")
	leases, ok := map[string]redisstore.LeaseLayout{
		"": redisstore.LeasesApart, "apart": redisstore.LeasesApart,
		"moving": redisstore.LeasesMoving, "beside": redisstore.LeasesBeside,
	}[q.Get("leases")]
	if !ok {
		return nil, usagef("leases=%q: use leases=apart, moving or beside, as the fleet's Stores do", q.Get("leases"))
	}
	q.Del("prefix")
	q.Del("cluster")
	q.Del("leases")
	v := *u
	v.RawQuery = q.Encode()
	var c redis.UniversalClient
	switch cluster {
	case "", "false", "0":
		opts, err := redis.ParseURL(v.String())
		if err != nil {
			return nil, usageError{errors.New("the Redis URL does not parse")}
		}
		c = redis.NewClient(opts)
	case "true", "1":
		opts, err := redis.ParseClusterURL(v.String())
		if err != nil {
			return nil, usageError{errors.New("the Redis Cluster URL does not parse")}
		}
		c = redis.NewClusterClient(opts)
	default:
		return nil, usagef("cluster=%q: use cluster=true or leave it out", cluster)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis does not answer: %w", err)
	}
	return &store{TokenStore: &redisstore.Store{Client: c, Prefix: prefix, Leases: leases}, close: c.Close}, nil
}
