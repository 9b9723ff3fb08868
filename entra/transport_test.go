package entra_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oauthrt/oauthrt"
	"golang.org/x/oauth2"
)

// fakeAzureDevOps is an Azure DevOps REST API that takes only the access
// token fake Entra issued last, and answers any other with reject.
type fakeAzureDevOps struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // "<Authorization> <X-TFS-FedAuthRedirect>" of each request
}

func newFakeAzureDevOps(t *testing.T, e *fakeEntra, reject func(w http.ResponseWriter)) *fakeAzureDevOps {
	api := &fakeAzureDevOps{}
	api.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		suppress := r.Header.Get("X-TFS-FedAuthRedirect")
		api.mu.Lock()
		api.seen = append(api.seen, r.Header.Get("Authorization")+" "+suppress)
		api.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+e.lastAccess() {
			reject(w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"count":1,"value":[{"name":"Fabrikam"}]}`)
	}))
	t.Cleanup(api.Close)
	return api
}

func (api *fakeAzureDevOps) requests() []string {
	api.mu.Lock()
	defer api.mu.Unlock()
	return append([]string(nil), api.seen...)
}

// staleToken is a token the API no longer takes, though it has not expired.
func staleToken() *oauth2.Token {
	return &oauth2.Token{AccessToken: "AT-0-REVOKED", TokenType: "Bearer", RefreshToken: firstRT, Expiry: time.Now().Add(time.Hour)}
}

// A request the API rejects with a 401 is refreshed at Entra and sent
// again, and the rotated refresh token lands in the store.
func TestTransportRefreshesOn401(t *testing.T) {
	e := newFakeEntra(t, clientSecret, nil)
	api := newFakeAzureDevOps(t, e, func(w http.ResponseWriter) {
		w.Header().Set("WWW-Authenticate", "Bearer")
		w.WriteHeader(http.StatusUnauthorized)
	})
	ctx := context.Background()
	store := oauthrt.NewMemoryStore()
	if err := store.Save(ctx, "entra:fabrikam", staleToken()); err != nil {
		t.Fatal(err)
	}
	tr := &oauthrt.Transport{Store: store, Key: "entra:fabrikam", Refresher: e.refresher()}
	defer tr.Close()

	resp, err := (&http.Client{Transport: tr}).Get(api.URL + "/fabrikam/_apis/projects")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	// The API is on loopback, not an Azure DevOps host: no X-TFS header.
	want := []string{"Bearer AT-0-REVOKED ", "Bearer AT-1-ENTRA-ACCESS-TOKEN "}
	if diff := cmp.Diff(want, api.requests()); diff != "" {
		t.Errorf("API requests (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{firstRT}, e.seen()); diff != "" {
		t.Errorf("refresh tokens presented (-want +got):\n%s", diff)
	}
	saved, err := store.Load(ctx, "entra:fabrikam")
	if err != nil || saved.RefreshToken != "RT-1-ROTATED-REFRESH-TOKEN" {
		t.Errorf("store holds %v, %v; want the rotated RT-1", saved, err)
	}
}

// Requests to dev.azure.com (routed here to a fake) ask for a 401 instead
// of the sign-in page; the sign-in page (a 203) counts as a rejection all
// the same.
func TestTransportAzureDevOpsHost(t *testing.T) {
	e := newFakeEntra(t, clientSecret, nil)
	api := newFakeAzureDevOps(t, e, func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNonAuthoritativeInfo)
		io.WriteString(w, "<html>Sign in</html>")
	})
	target, _ := url.Parse(api.URL)
	// Base sends every request to the fake, as a proxy would, and hands
	// back responses that name the request it was given.
	base := roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		out := req.Clone(req.Context())
		out.URL.Scheme, out.URL.Host, out.Host = target.Scheme, target.Host, ""
		resp, err := api.Client().Transport.RoundTrip(out)
		if resp != nil {
			resp.Request = req
		}
		return resp, err
	})
	store := oauthrt.NewMemoryStore()
	if err := store.Save(context.Background(), "entra:fabrikam", staleToken()); err != nil {
		t.Fatal(err)
	}
	tr := &oauthrt.Transport{Base: base, Store: store, Key: "entra:fabrikam", Refresher: e.refresher()}
	defer tr.Close()

	resp, err := (&http.Client{Transport: tr}).Get("https://dev.azure.com/fabrikam/_apis/projects")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200 after a refresh", resp.StatusCode)
	}
	want := []string{"Bearer AT-0-REVOKED Suppress", "Bearer AT-1-ENTRA-ACCESS-TOKEN Suppress"}
	if diff := cmp.Diff(want, api.requests()); diff != "" {
		t.Errorf("API requests (-want +got):\n%s", diff)
	}
	if n := len(e.seen()); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
}
