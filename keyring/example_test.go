package keyring_test

import (
	"crypto/rand"
	"fmt"
	"log"

	"github.com/oauthrt/oauthrt/keyring"
)

// Rotation: a record sealed under the old key still opens once the new
// key is the primary, and what is sealed again names the new key; once
// every record is rewritten, the old key can go.
func Example() {
	oldLine, err := keyring.Generate("2026-01")
	if err != nil {
		log.Fatal(err)
	}
	newLine, err := keyring.Generate("2026-06")
	if err != nil {
		log.Fatal(err)
	}
	before, err := keyring.Parse(oldLine)
	if err != nil {
		log.Fatal(err)
	}
	// The new key goes first: it is the primary.
	during, err := keyring.Parse(newLine + "\n" + oldLine)
	if err != nil {
		log.Fatal(err)
	}
	after, err := keyring.Parse(newLine)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(during)

	ad := []byte("record key")
	seal := func(r *keyring.Ring, plain string) []byte {
		nonce := make([]byte, r.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			log.Fatal(err)
		}
		return r.Seal(nonce, nonce, []byte(plain), ad) // the nonce, then the ciphertext
	}
	open := func(r *keyring.Ring, record []byte) {
		n := r.NonceSize()
		plain, id, err := r.OpenKey(nil, record[:n], record[n:], ad)
		if err != nil {
			fmt.Println("does not open:", err)
			return
		}
		fmt.Printf("%s (key %s)\n", plain, id)
	}

	record := seal(before, "a refresh token")
	open(during, record)
	resealed := seal(during, "a refresh token")
	open(during, resealed)
	open(after, resealed)
	open(after, record)
	// Output:
	// keyring.Ring{Primary: "2026-06", IDs: ["2026-06" "2026-01"]}
	// a refresh token (key 2026-01)
	// a refresh token (key 2026-06)
	// a refresh token (key 2026-06)
	// does not open: keyring: the ciphertext names key "2026-01", which the ring (2026-06) does not hold
}
