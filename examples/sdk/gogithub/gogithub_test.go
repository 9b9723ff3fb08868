package gogithub_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-github/v93/github"
	"github.com/oauthrt/oauthrt/examples/sdk/gogithub"
	"github.com/oauthrt/oauthrt/examples/sdk/internal/fakeprovider"
)

// fakeGitHub answers GET /api/v3/user, the authenticated user, as GitHub
// Enterprise Server does.
func fakeGitHub() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v3/user", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"login":"octocat","id":583231,"type":"User"}`))
	})
	return mux
}

// An SDK call succeeds with access-1; after access-1 is revoked or has
// expired, the next one succeeds with access-2, after one refresh.
func TestRefresh(t *testing.T) {
	for _, expiry := range fakeprovider.Expiries {
		t.Run(expiry.String(), func(t *testing.T) {
			f := fakeprovider.Start(t, fakeGitHub())
			client, err := gogithub.NewClient(f.Transport, github.WithEnterpriseURLs(f.URL, f.URL))
			if err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				if i == 1 {
					f.Expire(expiry)
				}
				user, _, err := client.Users.Get(context.Background(), "")
				if err != nil {
					t.Fatalf("call %d: %v", i+1, err)
				}
				if user.GetLogin() != "octocat" || user.GetID() != 583231 {
					t.Errorf("call %d: got %q (%d), want octocat (583231)", i+1, user.GetLogin(), user.GetID())
				}
			}
			f.Verify(t, append([]string{"access-1"}, expiry.Retried()...))
		})
	}
}

// Options the caller passes keep their effect, and a client of their own
// still gets the Transport.
func TestNewClientOptions(t *testing.T) {
	f := fakeprovider.Start(t, fakeGitHub())
	own := &http.Client{Transport: http.DefaultTransport}
	client, err := gogithub.NewClient(f.Transport, github.WithHTTPClient(own), github.WithEnterpriseURLs(f.URL, f.URL))
	if err != nil {
		t.Fatal(err)
	}
	if want := f.URL + "/api/v3/"; client.BaseURL() != want {
		t.Errorf("BaseURL = %q, want %q", client.BaseURL(), want)
	}
	f.Expire(fakeprovider.Revoked)
	if _, _, err := client.Users.Get(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	f.Verify(t, fakeprovider.Revoked.Retried())
}
