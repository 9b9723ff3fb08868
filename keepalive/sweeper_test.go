package keepalive_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/filestore"
	"github.com/oauthrt/oauthrt/keepalive"
	"github.com/oauthrt/oauthrt/sqlstore"
	"golang.org/x/oauth2"
)

const (
	day  = 24 * time.Hour
	idle = 90 * day // the provider's idle lifetime in these tests
	// margin is the default Margin for idle: a grant idle for longer than
	// idle-margin is always due, one idle for less than idle-margin*5/4
	// never.
	margin = idle / 4
)

// provider is a token endpoint that rotates refresh tokens: each refresh
// answers a new refresh token, and the one presented stops working. A
// refresh token presented twice, or never issued, is refused with 400
// invalid_grant, and recorded. Each refresh token belongs to a key, so that
// the provider counts the refreshes of each key's grant.
type provider struct {
	srv *httptest.Server

	mu        sync.Mutex
	live      map[string]string // refresh token never presented → its key
	used      map[string]string // refresh token presented → its key
	issued    int
	refreshes map[string]int // key → refreshes answered
	failures  map[string]int // key → 503 answers
	failing   map[string]bool
	reused    []string // keys whose used refresh token came again
	unknown   []string // refresh tokens never issued
}

func newProvider(t *testing.T) *provider {
	t.Helper()
	p := &provider{
		live:      map[string]string{},
		used:      map[string]string{},
		refreshes: map[string]int{},
		failures:  map[string]int{},
		failing:   map[string]bool{},
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.token))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *provider) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.PostFormValue("grant_type") != "refresh_token" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	rt := r.PostFormValue("refresh_token")
	p.mu.Lock()
	defer p.mu.Unlock()
	if key, ok := p.used[rt]; ok {
		p.reused = append(p.reused, key)
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	key, ok := p.live[rt]
	if !ok {
		p.unknown = append(p.unknown, rt)
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	if p.failing[key] {
		p.failures[key]++
		oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable")
		return
	}
	delete(p.live, rt)
	p.used[rt] = key
	p.refreshes[key]++
	next := p.newRefreshTokenLocked(key)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","expires_in":3600,"refresh_token":%q}`, p.issued, next)
}

func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":%q}`, code)
}

func (p *provider) newRefreshTokenLocked(key string) string {
	p.issued++
	rt := fmt.Sprintf("rt-%d", p.issued)
	p.live[rt] = key
	return rt
}

// grant returns a token for key that the provider issued at last, with
// the ExpiresIn and Expiry a token endpoint's answer gives it.
func (p *provider) grant(key string, last time.Time) *oauth2.Token {
	p.mu.Lock()
	defer p.mu.Unlock()
	rt := p.newRefreshTokenLocked(key)
	return &oauth2.Token{
		AccessToken:  fmt.Sprintf("at-%d", p.issued),
		TokenType:    "Bearer",
		RefreshToken: rt,
		Expiry:       last.Add(time.Hour),
		ExpiresIn:    3600,
	}
}

// refresher refreshes through golang.org/x/oauth2, which refreshes a
// token that holds only a refresh token, and reports invalid_grant as
// oauthrt.ErrReauthRequired.
func (p *provider) refresher() oauthrt.Refresher {
	conf := &oauth2.Config{
		ClientID: "app",
		Endpoint: oauth2.Endpoint{TokenURL: p.srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams},
	}
	return oauthrt.RefresherFunc(func(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, p.srv.Client())
		next, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if re := (*oauth2.RetrieveError)(nil); errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			return nil, fmt.Errorf("%w: %w", err, oauthrt.ErrReauthRequired)
		}
		return next, err
	})
}

func (p *provider) transport(store oauthrt.TokenStore) *oauthrt.Transport {
	return &oauthrt.Transport{Store: store, Refresher: p.refresher()}
}

// counts returns a copy of the refreshes answered per key.
func (p *provider) counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[string]int, len(p.refreshes))
	for k, v := range p.refreshes {
		m[k] = v
	}
	return m
}

// hookStore is a MemoryStore that can act, as another process would,
// between the sweep's reads: delete a key after it was listed, or refresh
// a grant after the sweep loaded it.
type hookStore struct {
	*oauthrt.MemoryStore
	mu         sync.Mutex
	afterList  func(keys []string)
	afterLoad  map[string]func() // once per key
	failLists  int               // ListKeys calls left to fail
	listsCalls int
}

func (s *hookStore) ListKeys(ctx context.Context, prefix, cursor string, limit int) ([]string, string, error) {
	s.mu.Lock()
	s.listsCalls++
	fail := s.failLists > 0
	if fail {
		s.failLists--
	}
	s.mu.Unlock()
	if fail {
		return nil, "", errors.New("the store is down")
	}
	keys, next, err := s.MemoryStore.ListKeys(ctx, prefix, cursor, limit)
	if err == nil && s.afterList != nil {
		s.afterList(keys)
	}
	return keys, next, err
}

func (s *hookStore) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	tok, err := s.MemoryStore.Load(ctx, key)
	s.mu.Lock()
	f := s.afterLoad[key]
	delete(s.afterLoad, key)
	s.mu.Unlock()
	if f != nil {
		f()
	}
	return tok, err
}

// event is an Event as the tests compare it.
type event struct {
	Kind   keepalive.EventKind
	Key    string
	Counts keepalive.Counts
	Err    string // "reauth" for an error wrapping ErrReauthRequired, "error" for another
}

func eventOf(ev keepalive.Event) event {
	e := event{Kind: ev.Kind, Key: ev.Key, Counts: ev.Counts}
	switch {
	case errors.Is(ev.Err, oauthrt.ErrReauthRequired):
		e.Err = "reauth"
	case ev.Err != nil:
		e.Err = "error"
	}
	return e
}

// recorder collects a sweep's events.
type recorder struct {
	mu     sync.Mutex
	events []event
}

func (r *recorder) on(ev keepalive.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, eventOf(ev))
}

func (r *recorder) get() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event(nil), r.events...)
}

func fixedClock(now time.Time) func() time.Time { return func() time.Time { return now } }

// noPause makes the sweeps of the test fail if they wait at all.
func noPause(t *testing.T) {
	t.Cleanup(keepalive.SetPause(func(ctx context.Context, d time.Duration) error {
		t.Errorf("a sweep waited %v; Rate is negative", d)
		return ctx.Err()
	}))
}

// A sweep over grants of every kind refreshes exactly the idle ones.
func TestSweepRefreshesOnlyIdleGrants(t *testing.T) {
	noPause(t)
	ctx := context.Background()
	now := time.Now()
	p := newProvider(t)
	store := &hookStore{MemoryStore: oauthrt.NewMemoryStore()}
	seed := func(key string, tok *oauth2.Token) {
		t.Helper()
		if err := store.Save(ctx, key, tok); err != nil {
			t.Fatal(err)
		}
	}
	idleFor := func(key string, d time.Duration) *oauth2.Token {
		tok := p.grant(key, now.Add(-d))
		seed(key, tok)
		return tok
	}
	idleFor("acme/a-idle1", 80*day)
	idleFor("acme/a-idle2", 89*day)
	recent := idleFor("acme/b-recent", day)
	recent2 := idleFor("acme/b-recent2", 60*day)
	noExpiry := p.grant("acme/c-noexpiry", now.Add(-80*day))
	noExpiry.ExpiresIn = 0
	seed("acme/c-noexpiry", noExpiry)
	noRefresh := p.grant("acme/c-norefresh", now.Add(-80*day))
	noRefresh.RefreshToken = ""
	seed("acme/c-norefresh", noRefresh)
	dead := idleFor("acme/d-dead", 80*day)
	if err := store.SaveGrantState(ctx, "acme/d-dead", oauthrt.GrantState{DeadToken: oauthrt.Fingerprint(dead), DeadCode: "invalid_grant", DeadAt: now.Add(-day)}); err != nil {
		t.Fatal(err)
	}
	revoked := idleFor("acme/d-revoked", 80*day)
	p.mu.Lock()
	delete(p.live, revoked.RefreshToken) // the user revoked the grant at the provider
	p.mu.Unlock()
	idleFor("acme/e-backedoff", 80*day)
	if err := store.SaveGrantState(ctx, "acme/e-backedoff", oauthrt.GrantState{Failures: 2, NextAttempt: now.Add(time.Hour), FailingSince: now.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	idleFor("acme/e-flaky", 80*day)
	p.failing["acme/e-flaky"] = true
	idleFor("acme/f-edge", idle-margin)                    // due whatever its key
	edgeNot := idleFor("acme/f-edge-not", idle-margin*5/4) // due for no key
	idleFor("acme/g-ghost", 80*day)
	idleFor("acme/g-raced", 80*day)
	idleFor("other/idle", 80*day)

	store.afterList = func(keys []string) {
		for _, k := range keys {
			if k == "acme/g-ghost" {
				store.MemoryStore.Delete(ctx, k) // deleted by another process after the listing
			}
		}
	}
	store.afterLoad = map[string]func(){
		// Another process refreshes the grant after the sweep loaded it.
		"acme/g-raced": func() {
			if err := store.MemoryStore.Save(ctx, "acme/g-raced", p.grant("acme/g-raced", now)); err != nil {
				t.Error(err)
			}
		},
	}

	var rec recorder
	var mu sync.Mutex // OnRefresh is called on the refreshing goroutine
	var keepAlive []oauthrt.RefreshEvent
	tr := p.transport(store)
	tr.OnRefresh = func(ev oauthrt.RefreshEvent) {
		mu.Lock()
		defer mu.Unlock()
		keepAlive = append(keepAlive, ev)
	}
	s := &keepalive.Sweeper{
		Transport:    tr,
		Prefix:       "acme/",
		IdleLifetime: idle,
		Rate:         -1,
		PageSize:     4,
		Now:          fixedClock(now),
		OnEvent:      rec.on,
	}
	got, err := s.Sweep(ctx)
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}

	want := keepalive.Counts{Pages: 4, Scanned: 14, Refreshed: 3, Loaded: 1, NotDue: 3, Unknown: 1, NoRefreshToken: 1, Dead: 2, BackedOff: 1, Failed: 1, Missing: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Counts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"acme/a-idle1": 1, "acme/a-idle2": 1, "acme/f-edge": 1}, p.counts()); diff != "" {
		t.Errorf("refreshes at the provider per key (-want +got):\n%s", diff)
	}
	p.mu.Lock()
	if diff := cmp.Diff([]string{revoked.RefreshToken}, p.unknown); diff != "" {
		t.Errorf("refresh tokens the provider never issued (-want +got):\n%s", diff)
	}
	if len(p.reused) != 0 {
		t.Errorf("refresh tokens presented again, of keys %q", p.reused)
	}
	if p.failures["acme/e-flaky"] != 1 {
		t.Errorf("the failing key was tried %d times; want 1", p.failures["acme/e-flaky"])
	}
	p.mu.Unlock()
	for key, tok := range map[string]*oauth2.Token{"acme/b-recent": recent, "acme/b-recent2": recent2, "acme/f-edge-not": edgeNot, "acme/d-dead": dead} {
		stored, err := store.Load(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if stored.RefreshToken != tok.RefreshToken {
			t.Errorf("key %s, which was not due, holds a new refresh token", key)
		}
	}
	if err := tr.Close(); err != nil { // waits for the OnRefresh calls
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keepAlive) != 5 {
		t.Errorf("the Transport reported %d refreshes; want 5 (3 refreshed, 1 dead, 1 failed)", len(keepAlive))
	}
	for _, ev := range keepAlive {
		if ev.Reason != oauthrt.ReasonKeepAlive {
			t.Errorf("refresh of key %s reported reason %q; want %q", ev.Key, ev.Reason, oauthrt.ReasonKeepAlive)
		}
	}

	c := keepalive.Counts{}
	step := func(f func(*keepalive.Counts)) keepalive.Counts { f(&c); return c }
	wantEvents := []event{
		{Kind: keepalive.EventRefreshed, Key: "acme/a-idle1", Counts: step(func(c *keepalive.Counts) { c.Pages++; c.Scanned++; c.Refreshed++ })},
		{Kind: keepalive.EventRefreshed, Key: "acme/a-idle2", Counts: step(func(c *keepalive.Counts) { c.Scanned++; c.Refreshed++ })},
		{Kind: keepalive.EventPage, Counts: step(func(c *keepalive.Counts) { c.Scanned += 2; c.NotDue += 2 })},
		{Kind: keepalive.EventFailed, Key: "acme/d-revoked", Err: "reauth", Counts: step(func(c *keepalive.Counts) {
			c.Pages++
			c.Scanned += 4
			c.Unknown++
			c.NoRefreshToken++
			c.Dead += 2
		})},
		{Kind: keepalive.EventPage, Counts: step(func(*keepalive.Counts) {})},
		{Kind: keepalive.EventFailed, Key: "acme/e-flaky", Err: "error", Counts: step(func(c *keepalive.Counts) { c.Pages++; c.Scanned += 2; c.BackedOff++; c.Failed++ })},
		{Kind: keepalive.EventRefreshed, Key: "acme/f-edge", Counts: step(func(c *keepalive.Counts) { c.Scanned++; c.Refreshed++ })},
		{Kind: keepalive.EventPage, Counts: step(func(c *keepalive.Counts) { c.Scanned++; c.NotDue++ })},
		{Kind: keepalive.EventPage, Counts: step(func(c *keepalive.Counts) { c.Pages++; c.Scanned += 2; c.Missing++; c.Loaded++ })},
		{Kind: keepalive.EventDone, Counts: step(func(*keepalive.Counts) {})},
	}
	if diff := cmp.Diff(wantEvents, rec.get()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// Two hosts, each with its own Transport and Sweeper over one shared
// store, sweep at once: each idle grant is refreshed once, and no rotated
// refresh token is presented twice.
func TestSweepersOfAFleetRefreshEachGrantOnce(t *testing.T) {
	mem := oauthrt.NewMemoryStore()
	t.Run("memory", func(t *testing.T) { testFleetSweep(t, 100, mem, mem) })
	// Two handles on one file stand for two processes of one host: they
	// share nothing but the file and its locks.
	t.Run("file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "tokens.json")
		testFleetSweep(t, 30, &filestore.Store{Path: path}, &filestore.Store{Path: path})
	})
	// Two pools on one database stand for two hosts.
	t.Run("postgres", func(t *testing.T) {
		dsn := os.Getenv("OAUTHRT_TEST_POSTGRES")
		if dsn == "" {
			t.Skip("OAUTHRT_TEST_POSTGRES is not set")
		}
		table := fmt.Sprintf("keepalive_fleet_%d", time.Now().UnixNano())
		var hosts [2]oauthrt.TokenStore
		for i := range hosts {
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			st := &sqlstore.Store{DB: db, Table: table}
			if err := st.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			hosts[i] = st
		}
		t.Cleanup(func() {
			db, err := sql.Open("pgx", dsn)
			if err == nil {
				db.Exec("DROP TABLE " + table)
				db.Close()
			}
		})
		testFleetSweep(t, 30, hosts[0], hosts[1])
	})
}

// testFleetSweep seeds n idle grants through a, then sweeps with one
// Sweeper on a and one on b at once.
func testFleetSweep(t *testing.T, n int, a, b oauthrt.TokenStore) {
	noPause(t)
	ctx := context.Background()
	now := time.Now()
	p := newProvider(t)
	for i := range n {
		key := fmt.Sprintf("tenant-%03d", i)
		if err := a.Save(ctx, key, p.grant(key, now.Add(-80*day))); err != nil {
			t.Fatal(err)
		}
	}
	counts := make([]keepalive.Counts, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for host, store := range []oauthrt.TokenStore{a, b} {
		tr := p.transport(store)
		t.Cleanup(func() { tr.Close() })
		s := &keepalive.Sweeper{
			Transport:    tr,
			IdleLifetime: idle,
			Rate:         -1,
			PageSize:     10,
			Now:          fixedClock(now),
		}
		wg.Go(func() { counts[host], errs[host] = s.Sweep(ctx) })
	}
	wg.Wait()
	for host, err := range errs {
		if err != nil {
			t.Fatalf("host %d: Sweep: %v", host, err)
		}
	}

	refreshes := p.counts()
	if len(refreshes) != n {
		t.Errorf("the provider refreshed %d grants; want %d", len(refreshes), n)
	}
	for key, c := range refreshes {
		if c != 1 {
			t.Errorf("key %s was refreshed %d times; want once", key, c)
		}
	}
	p.mu.Lock()
	if len(p.reused) != 0 || len(p.unknown) != 0 {
		t.Errorf("refresh tokens refused: reused of keys %q, unknown %q", p.reused, p.unknown)
	}
	p.mu.Unlock()
	refreshed := 0
	for host, c := range counts {
		refreshed += c.Refreshed
		// The other host's refresh came before this one loaded the token
		// (not due), or while it waited for the lease (loaded).
		if c.Scanned != n || c.Refreshed+c.Loaded+c.NotDue != n {
			t.Errorf("host %d: Counts %+v; want %d keys scanned, each refreshed, loaded or not due", host, c, n)
		}
	}
	if refreshed != n {
		t.Errorf("the hosts counted %d refreshes between them (%+v, %+v); want %d", refreshed, counts[0], counts[1], n)
	}
}

// A sweep waits 1/Rate between two refreshes, and only between refreshes.
func TestSweepRate(t *testing.T) {
	for _, tc := range []struct {
		name string
		rate float64
		want []time.Duration
	}{
		{"ten a second", 10, []time.Duration{100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}},
		{"default", 0, []time.Duration{500 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond}},
		{"no limit", -1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var waits []time.Duration
			t.Cleanup(keepalive.SetPause(func(ctx context.Context, d time.Duration) error {
				waits = append(waits, d)
				return ctx.Err()
			}))
			ctx := context.Background()
			now := time.Now()
			p := newProvider(t)
			store := oauthrt.NewMemoryStore()
			for i := range 5 {
				for _, k := range []string{"idle", "recent"} {
					key := fmt.Sprintf("%d-%s", i, k)
					last := now.Add(-day)
					if k == "idle" {
						last = now.Add(-80 * day)
					}
					if err := store.Save(ctx, key, p.grant(key, last)); err != nil {
						t.Fatal(err)
					}
				}
			}
			s := &keepalive.Sweeper{Transport: p.transport(store), IdleLifetime: idle, Rate: tc.rate, Now: fixedClock(now)}
			c, err := s.Sweep(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if c.Refreshed != 5 || c.NotDue != 5 {
				t.Errorf("Counts %+v; want 5 refreshed, 5 not due", c)
			}
			if diff := cmp.Diff(tc.want, waits); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
		})
	}
}

// A sweep whose context ends stops, with an error wrapping the context's,
// and refreshes nothing more.
func TestSweepStopsWhenContextEnds(t *testing.T) {
	noPause(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	now := time.Now()
	p := newProvider(t)
	store := oauthrt.NewMemoryStore()
	for i := range 10 {
		key := fmt.Sprintf("k%d", i)
		if err := store.Save(ctx, key, p.grant(key, now.Add(-80*day))); err != nil {
			t.Fatal(err)
		}
	}
	var rec recorder
	s := &keepalive.Sweeper{
		Transport:    p.transport(store),
		IdleLifetime: idle,
		Rate:         -1,
		Now:          fixedClock(now),
		OnEvent: func(ev keepalive.Event) {
			rec.on(ev)
			if ev.Kind == keepalive.EventRefreshed {
				cancel()
			}
		},
	}
	c, err := s.Sweep(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Sweep returned %v; want an error wrapping context.Canceled", err)
	}
	if want := (keepalive.Counts{Pages: 1, Scanned: 1, Refreshed: 1}); c != want {
		t.Errorf("Counts %+v; want %+v", c, want)
	}
	if got := len(p.counts()); got != 1 {
		t.Errorf("the provider refreshed %d grants; want 1", got)
	}
	want := []event{
		{Kind: keepalive.EventRefreshed, Key: "k0", Counts: c},
		{Kind: keepalive.EventDone, Counts: c, Err: "error"},
	}
	if diff := cmp.Diff(want, rec.get()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// onlyTokens is a TokenStore that cannot list its keys.
type onlyTokens struct{ s *oauthrt.MemoryStore }

func (o onlyTokens) Load(ctx context.Context, key string) (*oauth2.Token, error) {
	return o.s.Load(ctx, key)
}

func (o onlyTokens) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	return o.s.Save(ctx, key, tok)
}

// Wrong settings fail before anything is read, with an error saying
// which.
func TestSweeperSettings(t *testing.T) {
	t.Cleanup(keepalive.SetPause(func(ctx context.Context, d time.Duration) error {
		t.Errorf("Run waited %v; want it to fail at once", d)
		return context.Canceled
	}))
	refresher := oauthrt.RefresherFunc(func(context.Context, *oauth2.Token) (*oauth2.Token, error) {
		return nil, errors.New("no refresh expected")
	})
	good := &oauthrt.Transport{Store: oauthrt.NewMemoryStore(), Refresher: refresher}
	for _, tc := range []struct {
		name string
		s    keepalive.Sweeper
		want string
	}{
		{"no transport", keepalive.Sweeper{IdleLifetime: idle}, "Transport is nil"},
		{"no store", keepalive.Sweeper{Transport: &oauthrt.Transport{Refresher: refresher}, IdleLifetime: idle}, "Store is nil"},
		{"store cannot list", keepalive.Sweeper{Transport: &oauthrt.Transport{Store: onlyTokens{oauthrt.NewMemoryStore()}, Refresher: refresher}, IdleLifetime: idle}, "is no oauthrt.KeyLister"},
		{"no idle lifetime", keepalive.Sweeper{Transport: good}, "IdleLifetime is 0s"},
		{"negative idle lifetime", keepalive.Sweeper{Transport: good, IdleLifetime: -day}, "IdleLifetime is -24h0m0s"},
		{"negative margin", keepalive.Sweeper{Transport: good, IdleLifetime: idle, Margin: -day}, "Margin is negative"},
		{"margin too long", keepalive.Sweeper{Transport: good, IdleLifetime: idle, Margin: idle}, "not shorter than IdleLifetime"},
		{"rate NaN", keepalive.Sweeper{Transport: good, IdleLifetime: idle, Rate: math.NaN()}, "Rate is NaN"},
		{"rate too small", keepalive.Sweeper{Transport: good, IdleLifetime: idle, Rate: 1e-300}, "Rate (1e-300) is too small"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var events int
			tc.s.OnEvent = func(keepalive.Event) { events++ }
			if _, err := tc.s.Sweep(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "keepalive: ") {
				t.Errorf("Sweep returned %v; want an error saying %q", err, tc.want)
			}
			if err := tc.s.Run(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run returned %v; want an error saying %q", err, tc.want)
			}
			if events != 0 {
				t.Errorf("%d events reported; want none", events)
			}
		})
	}
	for _, tc := range []struct {
		name     string
		interval time.Duration
		want     string
	}{
		{"negative interval", -time.Hour, "Interval is negative"},
		{"interval as long as the margin", margin, "is not shorter than Margin"},
		{"interval within 10% of the margin", margin*10/11 + time.Minute, "is not shorter than Margin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := keepalive.Sweeper{Transport: good, IdleLifetime: idle, Interval: tc.interval}
			if err := s.Run(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run returned %v; want an error saying %q", err, tc.want)
			}
		})
	}
}

// A sweep in small pages visits each key once.
func TestSweepPages(t *testing.T) {
	noPause(t)
	ctx := context.Background()
	now := time.Now()
	p := newProvider(t)
	store := oauthrt.NewMemoryStore()
	want := map[string]int{}
	for i := range 30 {
		key := fmt.Sprintf("k%02d", i)
		want[key] = 1
		if err := store.Save(ctx, key, p.grant(key, now.Add(-80*day))); err != nil {
			t.Fatal(err)
		}
	}
	var rec recorder
	s := &keepalive.Sweeper{Transport: p.transport(store), IdleLifetime: idle, Rate: -1, PageSize: 7, Now: fixedClock(now), OnEvent: rec.on}
	c, err := s.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, p.counts()); diff != "" {
		t.Errorf("refreshes per key (-want +got):\n%s", diff)
	}
	if want := (keepalive.Counts{Pages: 5, Scanned: 30, Refreshed: 30}); c != want {
		t.Errorf("Counts %+v; want %+v", c, want)
	}
	var pages []int
	for _, ev := range rec.get() {
		if ev.Kind == keepalive.EventPage {
			pages = append(pages, ev.Counts.Scanned)
		}
	}
	if diff := cmp.Diff([]int{7, 14, 21, 28, 30}, pages); diff != "" {
		t.Errorf("keys scanned at each page's event (-want +got):\n%s", diff)
	}
}

// Grants last refreshed at the same time fall due over a spread of time,
// the same for every sweeper.
func TestSweepSpreadsDueGrants(t *testing.T) {
	noPause(t)
	ctx := context.Background()
	now := time.Now()
	refreshed := func() map[string]int {
		p := newProvider(t)
		store := oauthrt.NewMemoryStore()
		for i := range 200 {
			key := fmt.Sprintf("tenant-%d", i)
			// Idle halfway through the spread of the thresholds.
			if err := store.Save(ctx, key, p.grant(key, now.Add(-(idle-margin*9/8)))); err != nil {
				t.Fatal(err)
			}
		}
		s := &keepalive.Sweeper{Transport: p.transport(store), IdleLifetime: idle, Rate: -1, Now: fixedClock(now)}
		c, err := s.Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c.Refreshed+c.NotDue != 200 {
			t.Errorf("Counts %+v; want each key refreshed or not due", c)
		}
		return p.counts()
	}
	first := refreshed()
	if n := len(first); n < 50 || n > 150 {
		t.Errorf("%d of 200 grants idle halfway through the spread were due; want about half", n)
	}
	if diff := cmp.Diff(first, refreshed()); diff != "" {
		t.Errorf("a second sweeper found other grants due (-first +second):\n%s", diff)
	}
}

// A panic in OnEvent is recovered, and the sweep goes on.
func TestSweepSurvivesOnEventPanic(t *testing.T) {
	noPause(t)
	ctx := context.Background()
	now := time.Now()
	p := newProvider(t)
	store := oauthrt.NewMemoryStore()
	for i := range 3 {
		key := fmt.Sprintf("k%d", i)
		if err := store.Save(ctx, key, p.grant(key, now.Add(-80*day))); err != nil {
			t.Fatal(err)
		}
	}
	calls := 0
	s := &keepalive.Sweeper{
		Transport: p.transport(store), IdleLifetime: idle, Rate: -1, Now: fixedClock(now),
		OnEvent: func(keepalive.Event) { calls++; panic("a bug in the application") },
	}
	c, err := s.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Refreshed != 3 || calls != 5 {
		t.Errorf("Counts %+v after %d OnEvent calls; want 3 refreshed, 5 calls", c, calls)
	}
}

// Run sweeps, waits Interval give or take 10%, and sweeps again; a failed
// sweep is reported and does not stop it; it returns once its context
// ends.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waits []time.Duration
	t.Cleanup(keepalive.SetPause(func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		if len(waits) == 3 {
			cancel()
		}
		return ctx.Err()
	}))
	now := time.Now()
	p := newProvider(t)
	store := &hookStore{MemoryStore: oauthrt.NewMemoryStore(), failLists: 1}
	if err := store.Save(ctx, "k", p.grant("k", now.Add(-80*day))); err != nil {
		t.Fatal(err)
	}
	var rec recorder
	s := &keepalive.Sweeper{Transport: p.transport(store), IdleLifetime: idle, Rate: -1, Now: fixedClock(now), OnEvent: rec.on}
	err := s.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v; want an error wrapping context.Canceled", err)
	}
	var done []event
	for _, ev := range rec.get() {
		if ev.Kind == keepalive.EventDone {
			done = append(done, ev)
		}
	}
	want := []event{
		{Kind: keepalive.EventDone, Err: "error"},                                                 // the store failed to list
		{Kind: keepalive.EventDone, Counts: keepalive.Counts{Pages: 1, Scanned: 1, Refreshed: 1}}, // the grant was due
		{Kind: keepalive.EventDone, Counts: keepalive.Counts{Pages: 1, Scanned: 1, NotDue: 1}},    // refreshed just before
	}
	if diff := cmp.Diff(want, done); diff != "" {
		t.Errorf("sweeps' done events (-want +got):\n%s", diff)
	}
	if len(waits) != 3 {
		t.Fatalf("Run waited %d times; want 3", len(waits))
	}
	for _, d := range waits {
		if d < 54*time.Minute || d > 66*time.Minute {
			t.Errorf("Run waited %v between sweeps; want an hour give or take 10%%", d)
		}
	}
}
