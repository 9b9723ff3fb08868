package gogithub_test

import (
	"context"
	"fmt"
	"log"

	"github.com/google/go-github/v93/github"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/examples/sdk/gogithub"
	"github.com/oauthrt/oauthrt/examples/sdk/internal/fakeprovider"
	"github.com/oauthrt/oauthrt/generic"
)

// GitHub stops accepting a user's access token between two calls; the
// second call still succeeds, with a refreshed token.
func ExampleNewClient() {
	// A stand-in for GitHub Enterprise Server and its token endpoint.
	ghes := fakeprovider.New(fakeGitHub())
	defer ghes.Close()

	// The user authorized the app earlier; their token is in the store.
	ctx := context.Background()
	store := oauthrt.NewMemoryStore()
	store.Save(ctx, "user-42", ghes.FirstToken())

	tr := &oauthrt.Transport{
		Store: store,
		Key:   "user-42",
		Refresher: &generic.Refresher{
			TokenURL:     ghes.TokenURL(), // https://github.com/login/oauth/access_token on github.com
			ClientID:     fakeprovider.ClientID,
			ClientSecret: fakeprovider.ClientSecret,
		},
	}
	defer tr.Close()
	client, err := gogithub.NewClient(tr, github.WithEnterpriseURLs(ghes.URL, ghes.URL))
	if err != nil {
		log.Fatal(err)
	}

	whoami := func() {
		user, _, err := client.Users.Get(ctx, "")
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("signed in as", user.GetLogin())
	}
	whoami()
	ghes.Revoke() // the access token stops working
	whoami()

	tok, _ := store.Load(ctx, "user-42")
	fmt.Println("GitHub saw:", ghes.Seen())
	fmt.Println("stored:", tok.AccessToken, tok.RefreshToken)
	// Output:
	// signed in as octocat
	// signed in as octocat
	// GitHub saw: [access-1 access-1 access-2]
	// stored: access-2 refresh-2
}
