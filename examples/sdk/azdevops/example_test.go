package azdevops_test

import (
	"context"
	"fmt"
	"log"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/core"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/examples/sdk/azdevops"
	"github.com/oauthrt/oauthrt/examples/sdk/internal/fakeprovider"
	"github.com/oauthrt/oauthrt/generic"
)

// Azure DevOps stops accepting a user's access token between two calls;
// the second call still succeeds, with a refreshed token.
func ExampleNewCoreClient() {
	// A stand-in for an Azure DevOps organization and its token endpoint.
	api, org := fakeAzureDevOps()
	ado := fakeprovider.New(api)
	defer ado.Close()

	// The user authorized the app earlier; their token is in the store.
	ctx := context.Background()
	store := oauthrt.NewMemoryStore()
	store.Save(ctx, "user-42", ado.FirstToken())

	tr := &oauthrt.Transport{
		Store: store,
		Key:   "user-42",
		Refresher: &generic.Refresher{
			TokenURL:     ado.TokenURL(),
			ClientID:     fakeprovider.ClientID,
			ClientSecret: fakeprovider.ClientSecret,
		},
	}
	defer tr.Close()
	client, err := azdevops.NewCoreClient(ctx, ado.URL+org, tr) // https://dev.azure.com/{organization}
	if err != nil {
		log.Fatal(err)
	}

	show := func() {
		p, err := client.GetProject(ctx, core.GetProjectArgs{ProjectId: new("Fabrikam-Fiber")})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("project", *p.Name, "is", *p.State)
	}
	show()
	ado.Revoke() // the access token stops working
	show()

	tok, _ := store.Load(ctx, "user-42")
	fmt.Println("refreshes:", ado.Refreshes())
	fmt.Println("stored:", tok.AccessToken, tok.RefreshToken)
	// Output:
	// project Fabrikam-Fiber is wellFormed
	// project Fabrikam-Fiber is wellFormed
	// refreshes: 1
	// stored: access-2 refresh-2
}
