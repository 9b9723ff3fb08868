// Command quickstart shows oauthrt keeping a token fresh against a real
// (loopback) token endpoint and API: tokens live 2 seconds, requests go
// out once a second across several expiries, and the API revokes one
// token early to force a 401.
//
//	go run ./examples/quickstart
//
// Tokens are kept in a file (package filestore), so a second run picks up
// the token the first one saved, even though it expired long ago, and
// refreshes it with the refresh token saved with it. The loopback provider
// keeps its own state beside that file, as a real provider keeps it in its
// database. -store chooses the file; -reset starts from nothing.
//
// It prints every request and every refresh. Tokens are shown by their
// number only: oauthrt itself never prints them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/filestore"
	"github.com/oauthrt/oauthrt/generic"
)

const (
	key      = "org-42"
	lifetime = 2 * time.Second
	requests = 7
	revokeAt = 4 // the request before which the provider revokes the (still valid) token
)

func main() {
	log.SetFlags(0)
	storePath := flag.String("store", filepath.Join(os.TempDir(), "oauthrt-quickstart", "tokens.json"), "the token file")
	reset := flag.Bool("reset", false, "delete the token file and the provider's state first")
	flag.Parse()
	providerPath := filepath.Join(filepath.Dir(*storePath), "provider.json")
	if *reset {
		os.Remove(*storePath)
		os.Remove(providerPath)
	}

	p, err := loadProvider(providerPath)
	if err != nil {
		log.Fatal(err)
	}
	tokenServer := httptest.NewServer(http.HandlerFunc(p.token))
	defer tokenServer.Close()
	apiServer := httptest.NewServer(http.HandlerFunc(p.api))
	defer apiServer.Close()
	fmt.Printf("token endpoint %s, API %s, tokens live %v\n", tokenServer.URL, apiServer.URL, lifetime)

	ctx := context.Background()
	store := &filestore.Store{Path: *storePath}
	fmt.Printf("token store: %s\n", store.Path)
	switch tok, err := store.Load(ctx, key); {
	case errors.Is(err, oauthrt.ErrNoToken):
		authorize(ctx, p, store, "no token stored yet")
	case err != nil:
		log.Fatal(err)
	default:
		state := fmt.Sprintf("it expired %v ago", time.Since(tok.Expiry).Round(time.Second))
		if left := time.Until(tok.Expiry); left > 0 {
			state = fmt.Sprintf("it expires in %v", left.Round(100*time.Millisecond))
		}
		fmt.Printf("picked up token #%s saved by an earlier run (%s)\n", number(tok.AccessToken), state)
	}

	client := &http.Client{Transport: &oauthrt.Transport{
		Store: store,
		Key:   key,
		Refresher: &generic.Refresher{
			TokenURL:     tokenServer.URL,
			ClientID:     "quickstart",
			ClientSecret: "quickstart-secret",
		},
		Leeway: 500 * time.Millisecond, // refresh half a second before expiry
	}}

	failed := 0
	for i := 1; i <= requests; i++ {
		if i == revokeAt {
			p.revokeCurrent()
		}
		resp, err := client.Get(apiServer.URL + "/hello")
		if errors.Is(err, oauthrt.ErrReauthRequired) {
			// The grant is dead (say the provider's state was reset): a
			// real service asks the user to connect again.
			authorize(ctx, p, store, "the grant is dead")
			resp, err = client.Get(apiServer.URL + "/hello")
		}
		if err != nil {
			log.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("request %d: GET /hello -> %s %s\n", i, resp.Status, strings.TrimSpace(string(body)))
		if resp.StatusCode != http.StatusOK {
			failed++
		}
		if i < requests {
			time.Sleep(time.Second)
		}
	}
	fmt.Printf("done: %d requests, %d refreshes, %d failed; run it again to continue from the saved token\n",
		requests, p.refreshesThisRun(), failed)
	if failed > 0 {
		os.Exit(1)
	}
}

// authorize stands for the user connecting the application: the
// authorization-code flow ends with a first token, saved in the store.
func authorize(ctx context.Context, p *provider, store oauthrt.TokenStore, why string) {
	tok, err := p.issue()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: the user authorizes the app; token #%s saved\n", why, number(tok.AccessToken))
	if err := store.Save(ctx, key, tok); err != nil {
		log.Fatal(err)
	}
}

func number(token string) string { return strings.TrimPrefix(token, "access-") }
