package keyring_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/oauthrt/oauthrt/filestore"
	"github.com/oauthrt/oauthrt/keyring"
	"golang.org/x/oauth2"
)

// A store sealed with a keyring read from the environment: the first key
// seals, every key opens, so a new key can be put first while the
// records sealed with the old one still load.
func ExampleFromEnv() {
	oldLine, _ := keyring.Generate("2026-01")
	newLine, _ := keyring.Generate("2026-06")
	dir, err := os.MkdirTemp("", "keyring-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tokens.json")
	ctx := context.Background()

	os.Setenv("TOKENS_KEYS", oldLine)
	// README: keyring
	ring, err := keyring.FromEnv("TOKENS_KEYS") // "ID BASE64-SECRET" lines (or ';'-separated), the newest first
	if err != nil {
		log.Fatal(err)
	}
	store := &filestore.Store{Path: path, AEAD: ring}
	// END README
	if err := store.Save(ctx, "org-42", &oauth2.Token{AccessToken: "at", RefreshToken: "rt"}); err != nil {
		log.Fatal(err)
	}

	os.Setenv("TOKENS_KEYS", newLine+";"+oldLine)
	ring, err = keyring.FromEnv("TOKENS_KEYS")
	if err != nil {
		log.Fatal(err)
	}
	store = &filestore.Store{Path: path, AEAD: ring}
	tok, err := store.Load(ctx, "org-42")
	fmt.Println(ring.Primary(), tok.RefreshToken, err)
	// Output:
	// 2026-06 rt <nil>
}
