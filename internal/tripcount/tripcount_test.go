package tripcount_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/internal/tripcount"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
	"modernc.org/sqlite"
)

// TestConnector counts the statements of a SQLite handle, and those made
// under a context that carries a second Counter.
func TestConnector(t *testing.T) {
	var c, under tripcount.Counter
	conn, err := tripcount.Connector(&sqlite.Driver{}, "file:"+filepath.Join(t.TempDir(), "t.db"), &c)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(tripcount.WithCounter(ctx, &under), "INSERT INTO t VALUES (?, ?)", "a", "b"); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := db.QueryRowContext(ctx, "SELECT v FROM t WHERE k = ?", "a").Scan(&v); err != nil || v != "b" {
		t.Fatalf("SELECT = %q, %v", v, err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := c.Trips(); got != 5 { // CREATE, INSERT, SELECT, BEGIN, COMMIT
		t.Errorf("Trips = %d, want 5", got)
	}
	if got := under.Trips(); got != 1 {
		t.Errorf("the context's Counter counted %d trips, want 1 (the INSERT)", got)
	}
	if db.Driver() == nil {
		t.Error("the handle has no Driver")
	} else if _, ok := db.Driver().(*sqlite.Driver); !ok {
		t.Errorf("the handle's Driver is a %T, want the SQLite driver", db.Driver())
	}
}

// TestWrap checks that a wrapped MemoryStore keeps the capabilities the
// Transport uses, and counts one trip per call.
func TestWrap(t *testing.T) {
	var calls tripcount.Calls
	s, err := tripcount.Wrap(&oauthrt.MemoryStore{}, &calls)
	if err != nil {
		t.Fatal(err)
	}
	ll, ok := s.(oauthrt.LeaseLoader)
	if !ok {
		t.Fatalf("a wrapped MemoryStore is a %T, not a LeaseLoader", s)
	}
	ctx := context.Background()
	tok := &oauth2.Token{AccessToken: "at", RefreshToken: "rt"}
	next := &oauth2.Token{AccessToken: "at2", RefreshToken: "rt2"}
	if err := s.Save(ctx, "k", tok); err != nil {
		t.Fatal(err)
	}
	l, snap, err := ll.TakeLeaseIf(ctx, "k", tok)
	if err != nil || l == nil || snap.Token.AccessToken != "at" {
		t.Fatalf("TakeLeaseIf = %v, %+v, %v", l, snap, err)
	}
	if _, ok := l.(oauthrt.FencedLease); !ok {
		t.Errorf("the lease is a %T, not a FencedLease", l)
	}
	if err := l.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	cr, ok := l.(oauthrt.CommitReleaser)
	if !ok {
		t.Fatalf("the lease is a %T, not a CommitReleaser", l)
	}
	if err := cr.CommitRelease(ctx, tok, next); err != nil {
		t.Fatal(err)
	}
	if got := calls.All.Trips(); got != 4 {
		t.Errorf("All = %d, want 4", got)
	}
	if got := calls.Takes.Trips(); got != 1 {
		t.Errorf("Takes = %d, want 1", got)
	}
	if _, err := tripcount.Wrap(&oauthrt.MemoryStore{}, &calls); err != nil {
		t.Error(err)
	}
	if _, err := tripcount.Wrap(plainStore{}, &calls); err == nil {
		t.Error("Wrap took a store without leases")
	}
}

type plainStore struct{}

func (plainStore) Load(context.Context, string) (*oauth2.Token, error) {
	return nil, oauthrt.ErrNoToken
}
func (plainStore) Save(context.Context, string, *oauth2.Token) error { return nil }

// TestHook counts the commands and pipelines a Redis client sends.
func TestHook(t *testing.T) {
	addr := os.Getenv("OAUTHRT_TEST_REDIS")
	if addr == "" {
		t.Skip("OAUTHRT_TEST_REDIS is not set: no Redis to count commands against")
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	var n tripcount.Counter
	c.AddHook(tripcount.Hook(&n))
	ctx := context.Background()
	key := "oauthrt-tripcount:" + time.Now().Format(time.RFC3339Nano)
	defer c.Del(ctx, key)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	before := n.Trips() // the commands that set up the connection count too
	if err := c.Set(ctx, key, "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Get(ctx, key)
		p.TTL(ctx, key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := n.Trips() - before; got != 2 {
		t.Errorf("Trips = %d, want 2 (a SET and a pipeline)", got)
	}
}
