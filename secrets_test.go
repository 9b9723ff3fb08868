package oauthrt_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/filestore"
	"github.com/oauthrt/oauthrt/generic"
	"github.com/oauthrt/oauthrt/redisstore"
	"github.com/oauthrt/oauthrt/sqlstore"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
	_ "modernc.org/sqlite"
)

// saveFailingStore fails every Save for keys starting with "save".
type saveFailingStore struct{ *countingStore }

func (s saveFailingStore) Save(ctx context.Context, key string, tok *oauth2.Token) error {
	if strings.HasPrefix(key, "save") {
		return errBoom
	}
	return s.countingStore.Save(ctx, key, tok)
}

// secretSet collects every secret a scenario used.
type secretSet struct {
	mu sync.Mutex
	s  []string
}

func (s *secretSet) add(v ...string) {
	s.mu.Lock()
	s.s = append(s.s, v...)
	s.mu.Unlock()
}

// TestSecretsNeverLeak runs refreshes, 401s, invalid_grant, faults, store
// errors and a panic through one Transport with every log at its most
// verbose, then looks for every token, refresh token and secret it used
// in everything the module printed or returned.
func TestSecretsNeverLeak(t *testing.T) {
	secrets := &secretSet{}
	const clientSecret = "client-secret-value-7f3a"
	secrets.add(clientSecret)

	var n int
	var mu sync.Mutex
	e := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		rt := r.PostForm.Get("refresh_token")
		echo := fmt.Sprintf("got refresh_token=%s with %s", rt, r.Header.Get("Authorization"))
		mode, _, _ := strings.Cut(strings.TrimPrefix(rt, "rt-"), "-")
		mu.Lock()
		n++
		at, nrt := fmt.Sprintf("at-issued-%d-c0ffee", n), fmt.Sprintf("rt-ok-%d-c0ffee", n)
		mu.Unlock()
		switch mode {
		case "ok", "save", "unauth":
			secrets.add(at, nrt)
			writeJSON(w, 200, fmt.Sprintf(`{"access_token":%q,"refresh_token":%q,"expires_in":3600}`, at, nrt))
		case "dead":
			writeJSON(w, 400, fmt.Sprintf(`{"error":"invalid_grant","error_description":%q}`, echo))
		case "fivehundred":
			w.WriteHeader(500)
			fmt.Fprint(w, echo)
		case "html":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, "<html><body>%s</body></html>", echo)
		case "toomany":
			w.Header().Set("Retry-After", "3600")
			writeJSON(w, 429, fmt.Sprintf(`{"error":"slow_down","error_description":%q}`, echo))
		case "mixed":
			secrets.add("at-mixed-b16b00b5", "rt-mixed-b16b00b5")
			writeJSON(w, 200, `{"error":"server_error","access_token":"at-mixed-b16b00b5","refresh_token":"rt-mixed-b16b00b5"}`)
		case "redirect":
			http.Redirect(w, r, "https://elsewhere.example/cb?leak="+rt, http.StatusFound)
		default:
			t.Errorf("unexpected refresh token %q", rt)
		}
	})

	f := newFixture(t)
	store := saveFailingStore{f.store}
	f.tr.Store = store
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.tr.Logger = logger
	var reported []string
	var repMu sync.Mutex
	f.tr.OnError = func(key string, err error) {
		repMu.Lock()
		reported = append(reported, fmt.Sprintf("%s: %v | %+v | %#v", key, err, err, err))
		repMu.Unlock()
	}

	// go-retryablehttp as a user would set it up, logging everything.
	var retryLogs bytes.Buffer
	rc := retryablehttp.NewClient()
	rc.Logger = log.New(&retryLogs, "", 0)
	rc.RetryMax = 2
	rc.Backoff = func(_, _ time.Duration, _ int, _ *http.Response) time.Duration { return time.Millisecond }
	// As the generic.Refresher's HTTPClient documents: the inner client
	// must not follow redirects either.
	rc.HTTPClient.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	gen := &generic.Refresher{TokenURL: e.URL, ClientID: "app", ClientSecret: clientSecret,
		AuthStyle: oauth2.AuthStyleInHeader, HTTPClient: rc.StandardClient()}
	f.tr.Refresher = oauthrt.RefresherFunc(func(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
		if strings.HasPrefix(tok.RefreshToken, "rt-panic") {
			panic("cannot refresh " + tok.RefreshToken + " " + tok.AccessToken)
		}
		return gen.Refresh(ctx, tok)
	})

	var out []string
	record := func(err error) {
		out = append(out, fmt.Sprintf("%v|%+v|%#v", err, err, err))
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			out = append(out, re.Error(), string(re.Body), re.ErrorDescription, re.ErrorURI)
		}
	}
	modes := []string{"ok", "dead", "fivehundred", "html", "toomany", "mixed", "redirect", "save", "panic", "unauth"}
	for i, mode := range modes {
		key := fmt.Sprintf("%s-key", mode)
		at, rt := fmt.Sprintf("at-seed-%d-deadbeef", i), fmt.Sprintf("rt-%s-seed-%d-deadbeef", mode, i)
		secrets.add(at, rt)
		exp := f.clock.Now() // expired: the first request refreshes
		if mode == "unauth" {
			exp = f.clock.Now().Add(time.Hour) // fresh, but the API rejects it
		}
		f.store.put(t, key, &oauth2.Token{AccessToken: at, RefreshToken: rt, Expiry: exp})
		mu.Lock()
		f.api.accept(fmt.Sprintf("at-issued-%d-c0ffee", n+1))
		mu.Unlock()
		for range 2 { // the second request meets the remembered outcome
			req, _ := http.NewRequestWithContext(oauthrt.WithKey(context.Background(), key), "GET", f.api.URL, nil)
			resp, err := f.client.Do(req)
			if err != nil {
				record(err)
				continue
			}
			resp.Body.Close()
		}
	}
	if len(out) < 12 {
		t.Errorf("only %d failures recorded; the scenario did not exercise the error paths", len(out))
	}

	// Every String and GoString the module has, with secrets configured.
	key := []byte("0123456789abcdef0123456789abcdef")
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	secrets.add(string(key))
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", Password: "redis-password-9e1d"})
	defer rdb.Close()
	secrets.add("redis-password-9e1d")
	for _, v := range []any{
		f.tr, gen, store, f.store,
		&filestore.Store{Path: t.TempDir() + "/t.json", AEAD: aead},
		&sqlstore.Store{DB: db, AEAD: aead},
		&redisstore.Store{Client: rdb, AEAD: aead},
	} {
		out = append(out, fmt.Sprintf("%v %+v %#v %s", v, v, v, v))
	}
	f.tr.Close() // the refreshes log as they end, after their requests went on
	repMu.Lock()
	out = append(out, reported...)
	repMu.Unlock()
	out = append(out, logs.String(), retryLogs.String())
	if !strings.Contains(logs.String(), "saving the refreshed token failed") {
		t.Errorf("the failed save was not logged: %s", logs.String())
	}
	if !strings.Contains(retryLogs.String(), "POST") {
		t.Errorf("go-retryablehttp logged nothing; the scenario did not reach it: %q", retryLogs.String())
	}

	secrets.mu.Lock()
	defer secrets.mu.Unlock()
	for _, s := range out {
		for _, secret := range secrets.s {
			if strings.Contains(s, secret) {
				t.Errorf("%q appears in:\n%s", secret, s)
			}
		}
	}
}
