package azcoreclient_test

import (
	"context"
	"fmt"
	"log"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/examples/sdk/azcoreclient"
	"github.com/oauthrt/oauthrt/examples/sdk/internal/fakeprovider"
	"github.com/oauthrt/oauthrt/generic"
)

// Azure Resource Manager stops accepting a user's access token between
// two calls; the second call still succeeds, with a refreshed token.
func ExampleNewClient() {
	// A stand-in for Azure Resource Manager and Microsoft Entra ID.
	arm := fakeprovider.New(fakeARM(nil))
	defer arm.Close()

	// The user signed in earlier; their token is in the store.
	ctx := context.Background()
	store := oauthrt.NewMemoryStore()
	store.Save(ctx, "user-42", arm.FirstToken())

	tr := &oauthrt.Transport{
		Store: store,
		Key:   "user-42",
		Refresher: &generic.Refresher{
			TokenURL:     arm.TokenURL(), // https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token
			ClientID:     fakeprovider.ClientID,
			ClientSecret: fakeprovider.ClientSecret,
		},
	}
	defer tr.Close()
	client, err := azcoreclient.NewClient(tr, nil)
	if err != nil {
		log.Fatal(err)
	}

	put := func() {
		rg := azcoreclient.ResourceGroup{Name: "rg-web", Location: "westeurope"}
		rg, err := azcoreclient.PutResourceGroup(ctx, client, arm.URL, "00000000-0000-0000-0000-00000000beef", rg)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(rg.ID, "in", rg.Location)
	}
	put()
	arm.Revoke() // the access token stops working
	put()

	tok, _ := store.Load(ctx, "user-42")
	fmt.Println("ARM saw:", arm.Seen())
	fmt.Println("stored:", tok.AccessToken, tok.RefreshToken)
	// Output:
	// /subscriptions/00000000-0000-0000-0000-00000000beef/resourceGroups/rg-web in westeurope
	// /subscriptions/00000000-0000-0000-0000-00000000beef/resourceGroups/rg-web in westeurope
	// ARM saw: [access-1 access-1 access-2]
	// stored: access-2 refresh-2
}
