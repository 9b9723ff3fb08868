package oauthrt_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// An operator's walk over a store: every key's health and lease, a page
// at a time, without printing a token.
func ExampleInspector() {
	ctx := context.Background()
	store := oauthrt.NewMemoryStore()
	for _, k := range []string{"acme/alice", "acme/bob", "globex/carol"} {
		tok := &oauth2.Token{AccessToken: "at-" + k, RefreshToken: "rt-" + k, Expiry: time.Now().Add(time.Hour)}
		if err := store.Save(ctx, k, tok); err != nil {
			log.Fatal(err)
		}
	}
	dead, _ := store.Load(ctx, "acme/bob")
	if err := store.SaveGrantState(ctx, "acme/bob", oauthrt.GrantState{DeadToken: oauthrt.Fingerprint(dead), DeadCode: "invalid_grant", DeadAt: time.Now()}); err != nil {
		log.Fatal(err)
	}
	lease, err := store.TakeLease(ctx, "globex/carol")
	if err != nil {
		log.Fatal(err)
	}
	defer lease.Release()

	var in oauthrt.Inspector = store
	for cursor := ""; ; {
		recs, next, err := in.Inspect(ctx, "", cursor, 2)
		if err != nil {
			log.Fatal(err)
		}
		for _, r := range recs {
			fmt.Printf("%-13s %-8s leased=%t\n", r.Key, r.State.Health(), r.Lease.Holder != "")
		}
		if next == "" {
			break
		}
		cursor = next
	}
	// Output:
	// acme/alice    healthy  leased=false
	// acme/bob      dead     leased=false
	// globex/carol  healthy  leased=true
}
