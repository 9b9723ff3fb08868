package filestore_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/filestore"
	"golang.org/x/oauth2"
)

// A command-line tool keeps its tokens in a file: the token refreshed in
// one run is the one the next run starts from.
func Example() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("API got:", r.Header.Get("Authorization"))
	}))
	defer api.Close()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	store := &filestore.Store{Path: filepath.Join(dir, "tokens.json")}
	store.Save(context.Background(), "me", &oauth2.Token{
		AccessToken: "old", RefreshToken: "r1", Expiry: time.Now().Add(-time.Hour),
	})
	client := &http.Client{Transport: &oauthrt.Transport{
		Store: store,
		Key:   "me",
		Refresher: oauthrt.RefresherFunc(func(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
			// A real program uses generic.Refresher or vsts.Refresher.
			return &oauth2.Token{AccessToken: "new", RefreshToken: "r2", Expiry: time.Now().Add(time.Hour)}, nil
		}),
	}}
	resp, err := client.Get(api.URL)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()

	// The next run of the program opens the same file.
	next := &filestore.Store{Path: filepath.Join(dir, "tokens.json")}
	tok, _ := next.Load(context.Background(), "me")
	st, _ := os.Stat(next.Path)
	fmt.Println("next run starts from:", tok.AccessToken, tok.RefreshToken, st.Mode())
	// Output:
	// API got: Bearer new
	// next run starts from: new r2 -rw-------
}

// With an AEAD the file holds ciphertext only. Keep the 32-byte key out
// of the file's directory: in a secret manager, or the OS keychain.
func Example_encrypted() {
	key := make([]byte, 32) // AES-256; load it from your secret store
	rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		log.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		log.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	store := &filestore.Store{Path: filepath.Join(dir, "tokens.json"), AEAD: aead}
	store.Save(context.Background(), "me", &oauth2.Token{AccessToken: "secret-access", RefreshToken: "secret-refresh"})

	raw, _ := os.ReadFile(store.Path)
	tok, _ := store.Load(context.Background(), "me")
	fmt.Println("file holds a token in the clear:", strings.Contains(string(raw), "secret-"))
	fmt.Println("loaded:", tok.RefreshToken)
	// Output:
	// file holds a token in the clear: false
	// loaded: secret-refresh
}
