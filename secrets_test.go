package oauthrt_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log"
	"log/slog"
	"math/big"
	"net/http"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/dpop"
	"github.com/oauthrt/oauthrt/entra"
	"github.com/oauthrt/oauthrt/filestore"
	"github.com/oauthrt/oauthrt/generic"
	"github.com/oauthrt/oauthrt/providers"
	"github.com/oauthrt/oauthrt/redisstore"
	"github.com/oauthrt/oauthrt/sqlstore"
	"github.com/oauthrt/oauthrt/storetest"
	"github.com/oauthrt/oauthrt/vsts"
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

	// Revocations whose endpoint echoes what it got, in every kind of
	// failure, through the same client.
	revEndpoint := newTokenEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		tok := r.PostForm.Get("token")
		echo := fmt.Sprintf("cannot revoke %s for %s", tok, r.Header.Get("Authorization"))
		mode, _, _ := strings.Cut(strings.TrimPrefix(tok, "rv-"), "-")
		switch mode {
		case "refused":
			writeJSON(w, 400, fmt.Sprintf(`{"error":"invalid_request","error_description":%q,"token":%q}`, echo, tok))
		case "fivehundred":
			w.WriteHeader(503)
			fmt.Fprint(w, echo)
		case "html":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(404)
			fmt.Fprintf(w, "<html><body>%s</body></html>", echo)
		case "okerror":
			writeJSON(w, 200, fmt.Sprintf(`{"ok":false,"error":"not_allowed","detail":%q}`, echo))
		case "redirect":
			http.Redirect(w, r, "https://elsewhere.example/revoke?leak="+tok, http.StatusFound)
		default:
			t.Errorf("unexpected token %q at the revocation endpoint", tok)
		}
	})
	rev := *gen
	rev.RevocationURL = revEndpoint.URL
	revocations := 0
	for i, mode := range []string{"refused", "fivehundred", "html", "okerror", "redirect"} {
		tok := &oauth2.Token{AccessToken: fmt.Sprintf("rv-%s-at-%d-f00d", mode, i), RefreshToken: fmt.Sprintf("rv-%s-rt-%d-f00d", mode, i)}
		secrets.add(tok.AccessToken, tok.RefreshToken)
		if err := rev.Revoke(context.Background(), tok); err != nil {
			record(err)
			revocations++
		}
	}
	if revocations != 5 {
		t.Errorf("%d of 5 revocations failed; the scenario did not exercise the error paths", revocations)
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

// secretHolders builds one of each exported type that holds a secret (a
// client secret, a key, tokens, an AEAD, a client with a password), set
// up with secrets, and returns pointers to them and the secrets in every
// form a printer could write them.
func secretHolders(t *testing.T) (holders []any, secrets []string) {
	t.Helper()
	const clientSecret = "holder-client-secret-5d2c"
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	aesKey := []byte("fedcba9876543210fedcba9876543210")
	block, _ := aes.NewCipher(aesKey)
	aead, _ := cipher.NewGCM(block)
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", Password: "holder-redis-password-3b7a"})
	t.Cleanup(func() { rdb.Close() })
	tok := &oauth2.Token{AccessToken: "holder-access-token-61e0", RefreshToken: "holder-refresh-token-a4f8"}
	mem := &oauthrt.MemoryStore{}
	if err := mem.Save(context.Background(), "k", tok); err != nil {
		t.Fatal(err)
	}
	jwt := &generic.PrivateKeyJWT{Key: rsaKey, KeyID: "kid"}
	gen := &generic.Refresher{TokenURL: "https://user:holder-url-password-77@idp.example/token", ClientID: "app", ClientSecret: clientSecret}
	holders = []any{
		gen,
		&generic.Refresher{TokenURL: "https://idp.example/token", ClientID: "app", PrivateKeyJWT: jwt},
		jwt,
		&vsts.Refresher{AppID: "app", ClientSecret: clientSecret, RedirectURL: "https://app.example/cb"},
		&entra.Refresher{Tenant: "t", ClientID: "app", ClientSecret: clientSecret},
		&entra.Refresher{Tenant: "t", ClientID: "app", PrivateKey: rsaKey},
		&filestore.Store{Path: "/tmp/t.json", AEAD: aead},
		&sqlstore.Store{DB: db, AEAD: aead},
		&redisstore.Store{Client: rdb, AEAD: aead},
		mem,
		&oauthrt.Transport{Store: mem, Refresher: gen},
		&oauthrt.TokenSourceRefresher{Source: oauth2.StaticTokenSource(tok)},
		&oauthrt.Snapshot{Token: tok, State: oauthrt.GrantState{Failures: 1}},
		&oauthrt.Record{Key: "k", Token: tok, State: oauthrt.GrantState{Failures: 1}, Lease: oauthrt.LeaseInfo{Holder: "h/1/0", Epoch: 1}},
		&storetest.Options{AEAD: aead},
		prover(t),
		&providers.Config{ClientID: "app", ClientSecret: clientSecret, PrivateKeyJWT: jwt, TokenURL: "https://user:holder-url-password-77@idp.example/token"},
	}
	secrets = []string{clientSecret, "holder-url-password-77", "holder-redis-password-3b7a", tok.AccessToken, tok.RefreshToken,
		string(aesKey), hex.EncodeToString(aesKey), base64.StdEncoding.EncodeToString(aesKey)}
	for _, n := range []*big.Int{rsaKey.D, rsaKey.Primes[0], rsaKey.Primes[1]} {
		secrets = append(secrets, n.String(), n.Text(16), strings.ToUpper(n.Text(16)))
	}
	return holders, secrets
}

// secretFree are the exported struct types that hold no secret of their
// own, and need not print themselves.
var secretFree = map[string]bool{
	"oauthrt.RefreshEvent":           true, // a key, a reason, an outcome, an error
	"oauthrt.SaveError":              true, // a key and the store's error
	"oauthrt.GrantState":             true, // a fingerprint, a code, times, a count
	"oauthrt.TransientError":         true, // an error already redacted, a wait
	"oauthrt.KeyGrantState":          true, // a key and a GrantState
	"oauthrt.LeaseInfo":              true, // a holder id, a time, an epoch
	"oauthrt.GrantStatus":            true, // a key, a health, times, a count, a code
	"oauthrt.HealthEvent":            true, // a key, healths, a GrantStatus, an error already redacted
	"generic.Dialect":                true, // error codes and member names
	"generic.DPoP":                   true, // a func
	"dpop.Nonces":                    true, // servers' nonces, which they send in the clear
	"providers.Provider":             true, // public facts about a provider
	"providers.Source":               true, // a URL and a date
	"providers.Fact":                 true, // a fact, its source and a note
	"providers.ExpiresIn":            true, // a flag and a duration
	"oauthrt.BackoffError":           true, // a key, a time, an error
	"oauthrt.StepUpError":            true, // a key, the challenge's acr_values and max_age, a status
	"oauthrt.InsufficientScopeError": true, // a key, the challenge's scope, a status
	"keepalive.Sweeper":              true, // settings, funcs, and a Transport, which prints itself
	"keepalive.Counts":               true, // counts
	"keepalive.Event":                true, // a kind, a key, counts, an error already redacted
	"sqlstore.Dialect":               true, // SQL text
	"storetest.Backend":              true, // funcs
}

// TestSecretHoldersNeverPrintSecrets prints every secret-holding type, as
// a value and as a pointer, alone and in exported fields of a struct of
// the user's, with every verb, through slog's text and JSON handlers and
// encoding/json, and finds no secret in any of it. It fails when the
// module gains an exported struct type that is neither printed here nor
// listed in secretFree.
func TestSecretHoldersNeverPrintSecrets(t *testing.T) {
	holders, secrets := secretHolders(t)
	listed := map[string]bool{}
	for _, h := range holders {
		listed[typeName(reflect.TypeOf(h).Elem())] = true
	}
	for _, name := range exportedStructs(t) {
		if !listed[name] && !secretFree[name] {
			t.Errorf("%s is not among the secretHolders, nor in secretFree: say whether it holds a secret", name)
		}
	}

	for _, h := range holders {
		ptr := reflect.ValueOf(h)
		typ := ptr.Type().Elem()
		t.Run(typeName(typ), func(t *testing.T) {
			// A struct of the user's, with the holder by value and by
			// pointer in exported fields.
			user := reflect.New(reflect.StructOf([]reflect.StructField{
				{Name: "Value", Type: typ},
				{Name: "Pointer", Type: ptr.Type()},
			})).Elem()
			user.Field(0).Set(ptr.Elem())
			user.Field(1).Set(ptr)
			forms := map[string]any{
				"pointer":         h,
				"value":           ptr.Elem().Interface(),
				"in a struct":     user.Interface(),
				"in a struct ptr": user.Addr().Interface(),
			}
			for form, v := range forms {
				var out []string
				for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.40s"} {
					out = append(out, fmt.Sprintf(verb, v))
				}
				out = append(out, fmt.Sprint(v), fmt.Sprintln(v))
				var text, js bytes.Buffer
				slog.New(slog.NewTextHandler(&text, nil)).Info("holder", "v", v)
				slog.New(slog.NewJSONHandler(&js, nil)).Info("holder", "v", v)
				b, _ := json.Marshal(v)
				out = append(out, text.String(), js.String(), string(b))
				for _, s := range out {
					for _, secret := range secrets {
						if strings.Contains(s, secret) {
							t.Errorf("%s: a secret appears in:\n%s", form, s)
						}
					}
				}
			}
		})
	}
}

func typeName(t reflect.Type) string {
	return path.Base(t.PkgPath()) + "." + t.Name()
}

// exportedStructs returns the exported struct types of the module's
// public packages, as "package.Type".
func exportedStructs(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, dir := range []string{".", "dpop", "generic", "vsts", "entra", "filestore", "sqlstore", "redisstore", "storetest", "providers", "keepalive"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			pkg := f.Name.Name
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok {
					continue
				}
				for _, spec := range gd.Specs {
					ts, ok := spec.(*ast.TypeSpec)
					if !ok || !ts.Name.IsExported() {
						continue
					}
					if _, ok := ts.Type.(*ast.StructType); ok {
						names = append(names, pkg+"."+ts.Name.Name)
					}
				}
			}
		}
	}
	if len(names) < 10 {
		t.Fatalf("found only %d exported struct types: %v", len(names), names)
	}
	return names
}

// prover returns a dpop.Prover, which holds a grant's private key.
func prover(t *testing.T) *dpop.Prover {
	key, err := dpop.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	p, err := dpop.NewProver(key)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
