package fleet_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/filestore"
	"github.com/oauthrt/oauthrt/generic"
	"github.com/oauthrt/oauthrt/internal/endpoint"
	"github.com/oauthrt/oauthrt/redisstore"
	"github.com/oauthrt/oauthrt/sqlstore"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
	"golang.org/x/oauth2"
)

// faultyBackend is a store on a real backend, and a way to disrupt that
// backend from outside the store, as an operator, a failover or another
// process would.
type faultyBackend struct {
	store   oauthrt.TokenStore
	disrupt func(t *testing.T) string // returns what it did
	close   func()
}

// openFaulty opens b's store so that its connections can be told apart
// from everyone else's on a shared server, and can be cut.
func openFaulty(t *testing.T, b backend, place string) faultyBackend {
	t.Helper()
	const ttl = 5 * time.Second
	switch b.name {
	case "file":
		s := &filestore.Store{Path: place, LeaseTTL: ttl}
		return faultyBackend{store: s, close: func() {}, disrupt: func(t *testing.T) string {
			// Another process holds the token file's lock for a while.
			f, err := os.OpenFile(place+".lock", os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				t.Error(err)
				return ""
			}
			defer f.Close()
			syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
			time.Sleep(300 * time.Millisecond) // the fault: a lock held
			syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			return "file lock held 300ms"
		}}
	case "sqlite":
		db, err := sql.Open("sqlite", b.dsn(place))
		if err != nil {
			t.Fatal(err)
		}
		other, err := sql.Open("sqlite", b.dsn(place))
		if err != nil {
			t.Fatal(err)
		}
		s := &sqlstore.Store{DB: db, LeaseTTL: ttl}
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return faultyBackend{store: s, close: func() { db.Close(); other.Close() }, disrupt: func(t *testing.T) string {
			// Another writer holds the database's write lock.
			tx, err := other.Begin() // _txlock=immediate: takes the write lock
			if err != nil {
				t.Error(err)
				return ""
			}
			time.Sleep(300 * time.Millisecond) // the fault: a lock held
			tx.Rollback()
			return "write lock held 300ms"
		}}
	case "postgres":
		name := "oauthrt_fault_" + strings.TrimPrefix(place, "oauthrt_fleet_")
		u, err := url.Parse(os.Getenv(b.env))
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("application_name", name)
		u.RawQuery = q.Encode()
		db, err := sql.Open("pgx", u.String())
		if err != nil {
			t.Fatal(err)
		}
		admin, err := sql.Open("pgx", os.Getenv(b.env))
		if err != nil {
			t.Fatal(err)
		}
		s := &sqlstore.Store{DB: db, Table: place, LeaseTTL: ttl}
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return faultyBackend{store: s, close: func() { db.Close(); admin.Close() }, disrupt: func(t *testing.T) string {
			var n int
			err := admin.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, name).Scan(&n)
			if err != nil {
				t.Error(err)
			}
			return fmt.Sprintf("%d connections terminated", n)
		}}
	case "mysql":
		admin, err := sql.Open("mysql", os.Getenv(b.env))
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`CREATE USER IF NOT EXISTS 'oauthrt_fault'@'%'`,
			`GRANT ALL ON test.* TO 'oauthrt_fault'@'%'`,
		} {
			if _, err := admin.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		db, err := sql.Open("mysql", "oauthrt_fault@tcp(127.0.0.1:3306)/test")
		if err != nil {
			t.Fatal(err)
		}
		s := &sqlstore.Store{DB: db, Table: place, LeaseTTL: ttl}
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return faultyBackend{store: s, close: func() { db.Close(); admin.Close() }, disrupt: func(t *testing.T) string {
			rows, err := admin.Query(`SELECT id FROM information_schema.processlist WHERE user = 'oauthrt_fault'`)
			if err != nil {
				t.Error(err)
				return ""
			}
			var ids []int64
			for rows.Next() {
				var id int64
				rows.Scan(&id)
				ids = append(ids, id)
			}
			rows.Close()
			for _, id := range ids {
				admin.Exec(fmt.Sprintf("KILL %d", id))
			}
			return fmt.Sprintf("%d connections killed", len(ids))
		}}
	case "redis":
		name := "oauthrt_fault_" + strings.NewReplacer(":", "", "-", "").Replace(place)
		c := redis.NewClient(&redis.Options{Addr: os.Getenv(b.env), ClientName: name})
		admin := redis.NewClient(&redis.Options{Addr: os.Getenv(b.env)})
		s := &redisstore.Store{Client: c, Prefix: place, LeaseTTL: ttl}
		return faultyBackend{store: s, close: func() { c.Close(); admin.Close() }, disrupt: func(t *testing.T) string {
			list, err := admin.ClientList(context.Background()).Result()
			if err != nil {
				t.Error(err)
				return ""
			}
			n := 0
			sc := bufio.NewScanner(strings.NewReader(list))
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				var id, cname string
				for _, kv := range f {
					if v, ok := strings.CutPrefix(kv, "id="); ok {
						id = v
					}
					if v, ok := strings.CutPrefix(kv, "name="); ok {
						cname = v
					}
				}
				if cname == name {
					admin.Do(context.Background(), "CLIENT", "KILL", "ID", id)
					n++
				}
			}
			return fmt.Sprintf("%d connections killed", n)
		}}
	}
	t.Fatalf("unknown backend %s", b.name)
	return faultyBackend{}
}

// TestBackendsUnderFaults runs every shared store through faults: its
// server cuts the store's connections (PostgreSQL, MariaDB, Redis), or
// another process holds its lock (file, SQLite), once a second, while a
// token endpoint fails three requests in ten and 20 goroutines send requests
// with 1-second tokens.
func TestBackendsUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for a minute; skipped with -short")
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			requireServer(t, b)
			// Registered first, so it runs after every other clean-up has
			// closed its servers and clients.
			ignore := goleak.IgnoreCurrent()
			t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
			const lifetime, leeway = time.Second, 200 * time.Millisecond
			p := newProvider(t, lifetime, leeway)
			p.faultRate = 0.3
			place := b.place(t)
			fb := openFaulty(t, b, place)
			defer fb.close()
			at, rt, exp := p.seed(false)
			if err := fb.store.Save(context.Background(), fleetKey, &oauth2.Token{AccessToken: at, RefreshToken: rt, Expiry: exp}); err != nil {
				t.Fatal(err)
			}
			var saveErrs atomic.Int64
			tr := &oauthrt.Transport{
				Base:  p.api.Client().Transport,
				Store: fb.store, Key: fleetKey, Leeway: leeway,
				Refresher: &generic.Refresher{TokenURL: p.token.URL, ClientID: clientID, ClientSecret: clientSecret,
					HTTPClient: endpoint.NewRetryClient(3, time.Millisecond, 5*time.Millisecond)},
				OnError: func(string, error) { saveErrs.Add(1) },
			}
			client := &http.Client{Transport: tr}

			stop := make(chan struct{})
			var disruptions []string
			var dwg sync.WaitGroup
			dwg.Go(func() {
				tick := time.NewTicker(time.Second)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						disruptions = append(disruptions, fb.disrupt(t))
					}
				}
			})

			var ok, failed atomic.Int64
			var mu sync.Mutex
			kinds := map[string]int{}
			deadline := time.Now().Add(12 * lifetime)
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					for time.Now().Before(deadline) {
						ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
						req, _ := http.NewRequestWithContext(ctx, "GET", p.api.URL, nil)
						resp, err := client.Do(req)
						switch {
						case err != nil:
							failed.Add(1)
							mu.Lock()
							kinds[faultKind(err)]++
							mu.Unlock()
						case resp.StatusCode != 200:
							failed.Add(1)
							mu.Lock()
							kinds[resp.Status]++
							mu.Unlock()
							resp.Body.Close()
						default:
							io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							ok.Add(1)
						}
						cancel()
						time.Sleep(10 * time.Millisecond) // pacing, not synchronization
					}
				})
			}
			wg.Wait()
			close(stop)
			dwg.Wait()
			if err := tr.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			tr.CloseIdleConnections()

			c := p.counts()
			line := fmt.Sprintf("%-28s requests_ok=%d requests_failed=%d %v refreshes=%d token_faults=%d backend_faults=%d (%s) invalid_grant=%d save_errors=%d",
				"faults/"+b.name, ok.Load(), failed.Load(), kinds, c.Refreshes, p.faults.Load(), len(disruptions), disruptions[0], c.InvalidGrant, saveErrs.Load())
			t.Log(line)
			if f := os.Getenv("OAUTHRT_FLEET_REPORT"); f != "" {
				if fh, err := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
					fmt.Fprintln(fh, line)
					fh.Close()
				}
			}
			if c.InvalidGrant != 0 || c.Revoked {
				t.Errorf("invalid_grant %d times: a refresh token was used twice", c.InvalidGrant)
			}
			if kinds["untyped"] != 0 {
				t.Errorf("%d requests failed with an untyped error", kinds["untyped"])
			}
			// A token endpoint fault backs the key off (the Transport no
			// longer retries within the refresh), and every request that
			// needs a refresh before the step is over fails at once: with
			// one-second tokens, that is most requests for a second after
			// each fault. Those failures are the contract; the others must
			// stay rare.
			if kinds[backedOff] != 0 && p.faults.Load() == 0 {
				t.Errorf("%d requests failed backed off, and the token endpoint never failed", kinds[backedOff])
			}
			if others := failed.Load() - int64(kinds[backedOff]); ok.Load() < 10*others {
				t.Errorf("%d requests succeeded and %d failed, besides %d backed off", ok.Load(), others, kinds[backedOff])
			}
			// The first query on a connection the server cut can fail (pgx
			// reports the termination then); an application retries.
			var tok *oauth2.Token
			var err error
			for range 5 {
				if tok, err = fb.store.Load(context.Background(), fleetKey); err == nil {
					break
				}
			}
			if err != nil || tok.AccessToken != c.CurrentAT {
				t.Errorf("store holds %v (%v), want the latest issued, %s", tok, err, c.CurrentAT)
			}
		})
	}
}

// faultKind names what a failed request's error is; "untyped" is one a
// caller could not branch on.
func faultKind(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var be *oauthrt.BackoffError
	var re *oauth2.RetrieveError
	var oe *net.OpError
	switch {
	case errors.As(err, &be):
		// The request needed a refresh while the key was backed off after
		// a transient failure of the token endpoint; its Err is that
		// failure when this process saw it, nil when another told it
		// through the store.
		if be.Err != nil && faultKind(be.Err) == "untyped" {
			return "untyped"
		}
		return backedOff
	case errors.Is(err, oauthrt.ErrReauthRequired):
		return "reauth required"
	case errors.As(err, &re):
		return fmt.Sprintf("token endpoint %d", re.Response.StatusCode)
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	case errors.As(err, &oe), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "network"
	case strings.Contains(err.Error(), "oauthrt: loading the token"):
		return "store load"
	case strings.Contains(err.Error(), "refresh lease"):
		return "store lease"
	}
	return "untyped"
}

// backedOff is the faultKind of an *oauthrt.BackoffError.
const backedOff = "token endpoint backed off"

func TestFaultKind(t *testing.T) {
	retrieve := &oauth2.RetrieveError{Response: &http.Response{StatusCode: 500}}
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"backoff seen here", &oauthrt.BackoffError{Key: fleetKey, Next: time.Now(), Err: fmt.Errorf("refresh: %w", retrieve)}, backedOff},
		{"backoff from the store", &oauthrt.BackoffError{Key: fleetKey, Next: time.Now()}, backedOff},
		{"backoff in a url.Error", &url.Error{Op: "Get", URL: "http://api", Err: &oauthrt.BackoffError{Key: fleetKey}}, backedOff},
		{"backoff after an untyped failure", &oauthrt.BackoffError{Key: fleetKey, Err: errors.New("what")}, "untyped"},
		{"token endpoint", fmt.Errorf("refresh: %w", retrieve), "token endpoint 500"},
		{"dead grant", fmt.Errorf("refresh: %w", oauthrt.ErrReauthRequired), "reauth required"},
		{"untyped", errors.New("what"), "untyped"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := faultKind(tt.err); got != tt.want {
				t.Errorf("faultKind(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}
