package sdk_test

// The wiring the README's "Using with an SDK" shows, kept here so that
// it compiles against the SDKs' current versions. The example tests of
// the packages beside this file run the same wiring against a loopback
// provider.

import (
	"context"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/google/go-github/v93/github"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/core"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

var _ = readmeGitHub

func readmeGitHub(ctx context.Context, store oauthrt.TokenStore, githubApp *oauth2.Config) (*github.User, error) {
	// README: github
	tr := &oauthrt.Transport{
		Store:     store, // filestore, sqlstore or redisstore
		Key:       "user-42",
		Refresher: generic.FromConfig(githubApp), // GitHub wants AuthStyleInParams
	}
	defer tr.Close()
	gh, err := github.NewClient(github.WithTransport(tr))
	// END README
	if err != nil {
		return nil, err
	}
	user, _, err := gh.Users.Get(ctx, "")
	return user, err
}

var _ = readmeAzureDevOps

func readmeAzureDevOps(ctx context.Context, tr *oauthrt.Transport, orgURL, areaURL string) (*core.TeamProject, error) {
	// README: azuredevops
	conn := azuredevops.NewAnonymousConnection(orgURL) // it sends no header of its own
	c := azuredevops.NewClientWithOptions(conn, areaURL, azuredevops.WithHTTPClient(&http.Client{Transport: tr}))
	projects := &core.ClientImpl{Client: *c}
	// END README
	name := "Fabrikam-Fiber"
	return projects.GetProject(ctx, core.GetProjectArgs{ProjectId: &name})
}

var _ = readmeAzcore

func readmeAzcore(tr *oauthrt.Transport) (*azcore.Client, error) {
	// README: azcore
	client, err := azcore.NewClient("myapp", "v1.0.0", runtime.PipelineOptions{}, &policy.ClientOptions{
		Transport: &http.Client{Transport: tr},
	})
	// END README
	return client, err
}
