// Package azcoreclient shows oauthrt with azcore, the core of the Azure
// SDK for Go (github.com/Azure/azure-sdk-for-go/sdk/azcore).
//
// azcore's clients send their requests through policy.ClientOptions'
// Transport, a policy.Transporter: anything with the Do method of an
// *http.Client. An *http.Client whose Transport is an [oauthrt.Transport]
// authorizes every request of the pipeline, as [NewClient] sets up.
//
// # oauthrt or a TokenCredential
//
// azcore has its own way to authorize: runtime.NewBearerTokenPolicy,
// driven by an azcore.TokenCredential (from azidentity), which the
// generated Azure clients (armresources and the like) require. Use that
// for service principals, managed identities and a developer's own
// sign-in. Use oauthrt's Transport for a delegated user token: your
// application got a user's token with the authorization code flow,
// Microsoft Entra ID rotates its refresh token on use, and the token must
// live in a store that several processes share (filestore, sqlstore,
// redisstore) and be refreshed once for all of them. Its Refresher is an
// entra.Refresher for the tenant, with Scopes such as
// https://management.azure.com/user_impersonation and offline_access.
//
// Never use both in one pipeline: the Transport would overwrite the
// header that the bearer policy set, and the credential's tokens would be
// fetched for nothing.
//
// # What azcore does around the Transport
//
// azcore's retry policy does not retry a 401 (it retries 408, 429, 500,
// 502, 503 and 504), so a 401 that the Transport's one refresh and resend
// did not cure is an error. It does retry every transport error, up to
// three times over several seconds of backoff; [NewClient] stops it from
// retrying the errors that another try cannot cure, such as
// [oauthrt.ErrReauthRequired]. The Transport resends a request after a
// 401 with a body from its GetBody, which azcore sets to rewind and hand
// back the very reader it just sent; net/http may still be reading it
// when the 401 arrives, and the resent body would come out garbled.
// [NewClient] therefore gives each request a body of its own. azcore's
// logging sees requests before the Transport adds the token.
// Its bearer policy insists on https; the Transport has its own rule:
// https, or plain http to a loopback address only.
package azcoreclient

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/oauthrt/oauthrt"
)

// Module name and version for azcore's telemetry (the User-Agent).
const (
	moduleName    = "oauthrt-azcoreclient"
	moduleVersion = "v0.1.0"
)

// NewClient returns an azcore.Client whose pipeline sends every request
// through tr. options (nil: the defaults) is copied, and its Transport
// replaced. Unless options sets Retry.ShouldRetry, the retry policy keeps
// to its usual status codes (or to options' Retry.StatusCodes) and does
// not retry the Transport's errors that another try cannot cure: a dead
// grant, no token stored, a token the store cannot read, plain http to a
// remote host, a closed Transport.
//
// Each try copies its request body, up to 16 MiB, so that the Transport
// can resend it after a 401. A larger body is not copied, and its 401
// comes back as the call's error.
func NewClient(tr *oauthrt.Transport, options *policy.ClientOptions) (*azcore.Client, error) {
	var o policy.ClientOptions
	if options != nil {
		o = *options
	}
	o.Transport = ownBody{&http.Client{Transport: tr}}
	if o.Retry.ShouldRetry == nil {
		codes := o.Retry.StatusCodes
		if codes == nil {
			codes = []int{
				http.StatusRequestTimeout,
				http.StatusTooManyRequests,
				http.StatusInternalServerError,
				http.StatusBadGateway,
				http.StatusServiceUnavailable,
				http.StatusGatewayTimeout,
			}
		}
		o.Retry.ShouldRetry = func(resp *http.Response, err error) bool {
			if err != nil {
				return !permanent(err)
			}
			return runtime.HasStatusCode(resp, codes...)
		}
	}
	return azcore.NewClient(moduleName, moduleVersion, runtime.PipelineOptions{}, &o)
}

// maxCopy is the largest request body that ownBody copies.
const maxCopy = 16 << 20

// ownBody is a policy.Transporter that sends each request with a private
// copy of its body, and a GetBody returning more copies.
type ownBody struct{ client *http.Client }

func (t ownBody) Do(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return t.client.Do(req)
	}
	req = req.Clone(req.Context())
	if req.ContentLength < 0 || req.ContentLength > maxCopy {
		req.GetBody = nil // the Transport returns a 401 rather than resend
		return t.client.Do(req)
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	req.Body, _ = req.GetBody()
	return t.client.Do(req)
}

// permanent reports whether err is one of the Transport's errors that
// trying again would only repeat.
func permanent(err error) bool {
	for _, target := range []error{
		oauthrt.ErrReauthRequired, oauthrt.ErrNoToken, oauthrt.ErrDecrypt,
		oauthrt.ErrCorruptToken, oauthrt.ErrInsecureURL, oauthrt.ErrClosed,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// ResourceGroup is an Azure Resource Manager resource group, as much of
// it as this example needs.
type ResourceGroup struct {
	ID       string            `json:"id,omitempty"`   // set by ARM: /subscriptions/…/resourceGroups/{name}
	Name     string            `json:"name,omitempty"` // the group's name, in its URL too
	Location string            `json:"location"`       // the Azure region, such as westeurope
	Tags     map[string]string `json:"tags,omitempty"` // the group's tags
}

// PutResourceGroup creates or updates the resource group rg.Name in a
// subscription through Azure Resource Manager's REST API at endpoint
// (https://management.azure.com), as a generated client's method would,
// and returns the group as ARM answers it.
func PutResourceGroup(ctx context.Context, c *azcore.Client, endpoint, subscriptionID string, rg ResourceGroup) (ResourceGroup, error) {
	u := runtime.JoinPaths(endpoint, "subscriptions", url.PathEscape(subscriptionID), "resourcegroups", url.PathEscape(rg.Name))
	req, err := runtime.NewRequest(ctx, http.MethodPut, u)
	if err != nil {
		return ResourceGroup{}, err
	}
	req.Raw().URL.RawQuery = url.Values{"api-version": {"2021-04-01"}}.Encode()
	req.Raw().Header.Set("Accept", "application/json")
	if err := runtime.MarshalAsJSON(req, rg); err != nil {
		return ResourceGroup{}, err
	}
	resp, err := c.Pipeline().Do(req)
	if err != nil {
		return ResourceGroup{}, err
	}
	if !runtime.HasStatusCode(resp, http.StatusOK, http.StatusCreated) {
		return ResourceGroup{}, runtime.NewResponseError(resp)
	}
	var out ResourceGroup
	err = runtime.UnmarshalAsJSON(resp, &out)
	return out, err
}
