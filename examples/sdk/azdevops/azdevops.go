// Package azdevops shows oauthrt with the Azure DevOps Go SDK,
// github.com/microsoft/azure-devops-go-api/azuredevops/v7.
//
// # Why not the SDK's Connection
//
// The SDK's usual constructors, core.NewClient(ctx, connection),
// git.NewClient and the other areas' NewClient, cannot carry an
// [oauthrt.Transport]. An azuredevops.Connection has no field for an
// http.Client or a RoundTripper: it holds a fixed Authorization header
// value (AuthorizationString, "Basic …" for a personal access token), a
// TLS config and a timeout. Every area client it makes comes from
// azuredevops.NewClient, which builds a new http.Client of its own and
// sends that fixed header with each request. A bearer token written into
// AuthorizationString would work until it expired, and never be
// refreshed.
//
// So build the area client from azuredevops.NewClientWithOptions with
// azuredevops.WithHTTPClient, as [NewClient] does, and wrap it in the
// area's ClientImpl, whose one field is that client:
// core.ClientImpl{Client: *c}, git.ClientImpl{Client: *c}, and so on
// ([NewCoreClient] does it for core). The connection stays anonymous:
// the Transport alone authorizes requests. Like the SDK's own
// connections, it asks Azure DevOps (X-TFS-FedAuthRedirect: Suppress) to
// answer a rejected token with a 401, which the Transport acts on, rather
// than with a sign-in page.
//
// # Which Refresher
//
// The tests use a generic.Refresher against a fake token endpoint. For
// Azure DevOps itself, tokens from an Azure DevOps OAuth app are
// refreshed by vsts.Refresher, which also recognizes the 203 sign-in page
// Azure DevOps answers when the suppress header is missing. Tokens from
// Microsoft Entra ID, which Microsoft wants apps to move to as Azure
// DevOps OAuth is retired, are refreshed by entra.Refresher, which does
// the same for Azure DevOps' hosts.
package azdevops

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/core"
	"github.com/oauthrt/oauthrt"
)

// NewClient returns an SDK client for the resource area areaID
// (core.ResourceAreaId, git.ResourceAreaId, …) of the organization at
// orgURL, https://dev.azure.com/{organization}, that sends every request
// with httpClient. Like the SDK's own constructors, it first asks the
// organization where the area is served; a server that lists no areas,
// as Azure DevOps Server on premises does, serves them all at orgURL.
func NewClient(ctx context.Context, orgURL string, areaID uuid.UUID, httpClient *http.Client) (*azuredevops.Client, error) {
	conn := azuredevops.NewAnonymousConnection(orgURL)
	withClient := azuredevops.WithHTTPClient(httpClient)
	areas, err := azuredevops.NewClientWithOptions(conn, conn.BaseUrl, withClient).GetResourceAreas(ctx)
	if err != nil {
		return nil, err
	}
	areaURL := conn.BaseUrl
	if len(*areas) > 0 {
		i := slices.IndexFunc(*areas, func(a azuredevops.ResourceAreaInfo) bool {
			return a.Id != nil && *a.Id == areaID && a.LocationUrl != nil
		})
		if i < 0 {
			return nil, azuredevops.ResourceAreaIdNotRegisteredError{ResourceAreaId: areaID, Url: conn.BaseUrl}
		}
		// Trimmed as the SDK does, so that the SDK's cache of the
		// organization's API locations, keyed by URL, is reused.
		areaURL = strings.TrimRight(*(*areas)[i].LocationUrl, "/")
	}
	return azuredevops.NewClientWithOptions(conn, areaURL, withClient), nil
}

// NewCoreClient returns the SDK's core client (projects, teams,
// processes) for the organization at orgURL, authorized by tr.
func NewCoreClient(ctx context.Context, orgURL string, tr *oauthrt.Transport) (core.Client, error) {
	c, err := NewClient(ctx, orgURL, core.ResourceAreaId, &http.Client{Transport: tr})
	if err != nil {
		return nil, err
	}
	return &core.ClientImpl{Client: *c}, nil
}
