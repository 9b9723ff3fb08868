package azdevops_test

import (
	"context"
	"testing"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/core"
	"github.com/oauthrt/oauthrt/examples/sdk/azdevops"
	"github.com/oauthrt/oauthrt/examples/sdk/internal/fakeprovider"
)

// An SDK call succeeds with access-1; after access-1 is revoked or has
// expired, the next one succeeds with access-2, after one refresh.
func TestRefresh(t *testing.T) {
	for _, expiry := range fakeprovider.Expiries {
		t.Run(expiry.String(), func(t *testing.T) {
			api, org := fakeAzureDevOps()
			f := fakeprovider.Start(t, api)
			ctx := context.Background()
			// Two requests: the organization's API locations and its
			// resource areas.
			client, err := azdevops.NewCoreClient(ctx, f.URL+org, f.Transport)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				if i == 1 {
					f.Expire(expiry)
				}
				p, err := client.GetProject(ctx, core.GetProjectArgs{ProjectId: new("Fabrikam-Fiber")})
				if err != nil {
					t.Fatalf("call %d: %v", i+1, err)
				}
				if p.Name == nil || *p.Name != "Fabrikam-Fiber" || p.State == nil || *p.State != core.ProjectStateValues.WellFormed {
					t.Errorf("call %d: got project %v in state %v", i+1, p.Name, p.State)
				}
			}
			f.Verify(t, append([]string{"access-1", "access-1", "access-1"}, expiry.Retried()...))
		})
	}
}
