package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/sqlstore"
	"golang.org/x/oauth2"
	_ "modernc.org/sqlite"
)

// Tokens kept in SQLite, shared by every process that opens the file.
// The first request finds the token expired and refreshes it under the
// key's lease; the rotated refresh token is saved in the table.
func Example() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("API got:", r.Header.Get("Authorization"))
	}))
	defer api.Close()

	dir, err := os.MkdirTemp("", "sqlstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "tokens.db")+
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	ctx := context.Background()
	store := &sqlstore.Store{DB: db}
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	err = store.Save(ctx, "org-42", &oauth2.Token{
		AccessToken:  "stale",
		RefreshToken: "r1",
		Expiry:       time.Now().Add(-time.Minute),
	})
	if err != nil {
		log.Fatal(err)
	}

	client := &http.Client{Transport: &oauthrt.Transport{
		Store: store,
		Key:   "org-42",
		// In production: generic.FromConfig(oauthConfig) or &vsts.Refresher{…}.
		Refresher: oauthrt.RefresherFunc(func(_ context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
			fmt.Println("refreshing with", tok.RefreshToken)
			return &oauth2.Token{AccessToken: "fresh", RefreshToken: "r2", Expiry: time.Now().Add(time.Hour)}, nil
		}),
	}}
	resp, err := client.Get(api.URL)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	tok, err := store.Load(ctx, "org-42")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("status:", resp.Status, "stored refresh token:", tok.RefreshToken)
	fmt.Println(store)
	// Output:
	// refreshing with r1
	// API got: Bearer fresh
	// status: 200 OK stored refresh token: r2
	// sqlstore.Store{Dialect: sqlite, Table: "oauthrt_tokens", Encrypted: false}
}
