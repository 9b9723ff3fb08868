package oauthrt_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Requests and a TokenSource of the same key share one refresh and one
// cached token.
func TestTokenSourceSharesTheTransportsRefresh(t *testing.T) {
	f := newFixture(t)
	ts := f.tr.TokenSource(context.Background(), "k")
	f.clock.Advance(time.Hour)
	holdRefresh(t, f, 2*concurrentRequests, nil)

	var wg sync.WaitGroup
	toks := make([]*oauth2.Token, concurrentRequests)
	errs := make([]error, concurrentRequests)
	for i := range concurrentRequests {
		wg.Go(func() { toks[i], errs[i] = ts.Token() })
	}
	getAllOK(t, f, concurrentRequests)
	wg.Wait()
	for i := range toks {
		if errs[i] != nil || toks[i].AccessToken != "at-2" || toks[i].RefreshToken != "rt-2" {
			t.Fatalf("Token %d: %+v, %v; want at-2", i, toks[i], errs[i])
		}
	}
	if n := f.issuer.calls.Load(); n != 1 {
		t.Errorf("%d refreshes for requests and Token calls together, want 1", n)
	}

	// Each Token is a copy: changing it changes nothing for others.
	toks[0].AccessToken = "changed"
	if tok, err := ts.Token(); err != nil || tok.AccessToken != "at-2" {
		t.Errorf("Token after a caller changed its copy: %+v, %v", tok, err)
	}
	if _, auth := f.getWithin(t); auth != "Bearer at-2" {
		t.Errorf("API got %q after a caller changed its copy", auth)
	}
}

func TestTokenSourceErrors(t *testing.T) {
	t.Run("no token", func(t *testing.T) {
		f := newFixture(t)
		if _, err := f.tr.TokenSource(context.Background(), "nobody").Token(); !errors.Is(err, oauthrt.ErrNoToken) {
			t.Errorf("err = %v, want ErrNoToken", err)
		}
	})
	t.Run("dead grant", func(t *testing.T) {
		f := newFixture(t)
		f.issuer.before = func(context.Context, *oauth2.Token) error { return oauthrt.ErrReauthRequired }
		f.clock.Advance(time.Hour)
		if _, err := f.tr.TokenSource(context.Background(), "k").Token(); !errors.Is(err, oauthrt.ErrReauthRequired) {
			t.Errorf("err = %v, want ErrReauthRequired", err)
		}
	})
	t.Run("context ends while waiting", func(t *testing.T) {
		f := newFixture(t)
		entered, gate := gatedIssuer(f)
		held := gate()
		defer close(held)
		f.clock.Advance(time.Hour)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := f.tr.TokenSource(ctx, "k").Token()
			done <- err
		}()
		recv(t, entered)
		cancel()
		if err := recv(t, done); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		f := newFixture(t)
		f.tr.Close()
		f.clock.Advance(time.Hour)
		if _, err := f.tr.TokenSource(nil, "k").Token(); !errors.Is(err, oauthrt.ErrClosed) { //nolint:staticcheck // nil is documented
			t.Errorf("err = %v, want ErrClosed", err)
		}
	})
	t.Run("unconfigured", func(t *testing.T) {
		tr := &oauthrt.Transport{}
		if _, err := tr.TokenSource(context.Background(), "k").Token(); err == nil {
			t.Error("a Transport without Store or Refresher gave a token")
		}
	})
}

// clientCredentialsServer is a token endpoint for the client credentials
// grant that hands out "cc-1", "cc-2", … and accepts them at /api. The
// first one expires at once.
type clientCredentialsServer struct {
	*httptest.Server
	issued atomic.Int32
	valid  sync.Map
}

func newClientCredentialsServer(t *testing.T) *clientCredentialsServer {
	s := &clientCredentialsServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/token":
			if id, secret, _ := r.BasicAuth(); r.PostFormValue("grant_type") != "client_credentials" || id != "worker" || secret != "worker-secret" {
				http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
				return
			}
			n := s.issued.Add(1)
			tok := fmt.Sprintf("cc-%d", n)
			s.valid.Store(tok, true)
			life := 3600
			if n == 1 {
				life = 5 // inside the Transport's 10-second leeway: expired for the next request
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":%d}`, tok, life)
		case "/api":
			if _, ok := s.valid.Load(r.Header.Get("Authorization")[len("Bearer "):]); !ok {
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
				http.Error(w, "rejected", http.StatusUnauthorized)
				return
			}
			fmt.Fprint(w, r.Header.Get("Authorization"))
		}
	}))
	t.Cleanup(s.Close)
	return s
}

type tokenSourceFunc func() (*oauth2.Token, error)

func (f tokenSourceFunc) Token() (*oauth2.Token, error) { return f() }

// A TokenSourceRefresher issues the first token of a key the store has
// none for, saves it, and gets new ones on expiry and on a 401.
func TestTokenSourceRefresher(t *testing.T) {
	srv := newClientCredentialsServer(t)
	cc := &clientcredentials.Config{ClientID: "worker", ClientSecret: "worker-secret", TokenURL: srv.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())
	store := &countingStore{}
	var (
		mu     sync.Mutex
		events []oauthrt.RefreshEvent
	)
	tr := &oauthrt.Transport{
		Base:  srv.Client().Transport,
		Store: store,
		Key:   "worker",
		// Config.Token gets a new token on every call; Config.TokenSource
		// would reuse its cached one after a 401.
		Refresher: oauthrt.TokenSourceRefresher{Source: tokenSourceFunc(func() (*oauth2.Token, error) { return cc.Token(ctx) })},
		OnRefresh: func(ev oauthrt.RefreshEvent) { mu.Lock(); events = append(events, ev); mu.Unlock() },
	}
	t.Cleanup(func() { tr.Close() })
	client := &http.Client{Transport: tr}
	get := func(want string) {
		t.Helper()
		resp, err := client.Get(srv.URL + "/api")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if got := store.mustLoad(t, "worker").AccessToken; got != want {
			t.Errorf("store holds %q, want %q", got, want)
		}
	}

	get("cc-1") // nothing stored: issued, saved, used
	get("cc-2") // cc-1 expired
	srv.valid.Delete("cc-2")
	get("cc-3") // rejected
	if n := srv.issued.Load(); n != 3 {
		t.Errorf("%d tokens issued, want 3", n)
	}
	tr.Close() // waits for the OnRefresh calls
	var reasons []oauthrt.RefreshReason
	for _, ev := range events {
		reasons = append(reasons, ev.Reason)
	}
	if fmt.Sprint(reasons) != "[missing expired rejected]" {
		t.Errorf("refresh reasons %v", reasons)
	}
}

func TestTokenSourceRefresherErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := (oauthrt.TokenSourceRefresher{}).Refresh(ctx, nil); err == nil {
		t.Error("nil Source: no error")
	}
	nilToken := oauthrt.TokenSourceRefresher{Source: tokenSourceFunc(func() (*oauth2.Token, error) { return nil, nil })}
	if _, err := nilToken.Issue(ctx); err == nil {
		t.Error("nil token: no error")
	}
	failing := oauthrt.TokenSourceRefresher{Source: tokenSourceFunc(func() (*oauth2.Token, error) { return nil, errBoom })}
	if _, err := failing.Issue(ctx); !errors.Is(err, errBoom) {
		t.Errorf("err = %v, want the source's", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	called := false
	r := oauthrt.TokenSourceRefresher{Source: tokenSourceFunc(func() (*oauth2.Token, error) { called = true; return nil, nil })}
	if _, err := r.Issue(cancelled); !errors.Is(err, context.Canceled) || called {
		t.Errorf("cancelled: err = %v, source called %v", err, called)
	}
	shared := &oauth2.Token{AccessToken: "same"}
	r = oauthrt.TokenSourceRefresher{Source: oauth2.StaticTokenSource(shared)}
	tok, err := r.Refresh(ctx, &oauth2.Token{AccessToken: "old"})
	if err != nil || tok == shared || tok.AccessToken != "same" {
		t.Errorf("Refresh = %p %+v, %v; want a copy of the source's token", tok, tok, err)
	}
}
