package pglisten_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/oauthrt/oauthrt/sqlstore/pglisten"
)

// waitFor bounds every wait of these tests for something that must
// happen: never reached when the code works.
const waitFor = 20 * time.Second

func open(t *testing.T, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestListen listens on a pool of one connection: ready comes once it
// listens, each notification on its channel reaches notify, and once its
// context ends it returns and gives the connection back to the pool
// listening to nothing.
func TestListen(t *testing.T) {
	dsn := os.Getenv("OAUTHRT_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("OAUTHRT_TEST_POSTGRES is not set: no PostgreSQL to test against")
	}
	db := open(t, "pgx", dsn)
	db.SetMaxOpenConns(1)
	other := open(t, "pgx", dsn)
	const channel = "oauthrt_pglisten_test"

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{}, 1)
	payloads := make(chan string, 4)
	done := make(chan error, 1)
	listen := pglisten.New(db)
	go func() {
		done <- listen(ctx, channel, func() { ready <- struct{}{} }, func(p string) { payloads <- p })
	}()
	timeout := time.NewTimer(waitFor)
	defer timeout.Stop()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("the listener returned before it was ready: %v", err)
	case <-timeout.C:
		t.Fatal("the listener never became ready")
	}
	for _, p := range []string{"one", "two"} {
		if _, err := other.Exec(`SELECT pg_notify($1, $2)`, channel, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"one", "two"} {
		select {
		case p := <-payloads:
			if p != want {
				t.Errorf("notify got %q, want %q", p, want)
			}
		case <-timeout.C:
			t.Fatalf("no notification %q", want)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("the listener returned %v, want context.Canceled", err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_listening_channels()`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the pool's connection listens to %d channels after the listener returned, want 0", n)
	}
}

// TestListenUnsupported checks that a driver other than pgx's, and a nil
// *sql.DB, make the listener fail with errors.ErrUnsupported.
func TestListenUnsupported(t *testing.T) {
	db := open(t, "sqlite", "file:"+filepath.Join(t.TempDir(), "x.db"))
	for name, listen := range map[string]func(context.Context, string, func(), func(string)) error{
		"sqlite": pglisten.New(db),
		"nil":    pglisten.New(nil),
	} {
		err := listen(context.Background(), "c", func() { t.Error("ready called") }, func(string) {})
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s: the listener returned %v, want an error wrapping errors.ErrUnsupported", name, err)
		}
	}
}
