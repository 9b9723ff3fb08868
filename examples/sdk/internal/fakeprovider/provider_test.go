package fakeprovider_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/examples/sdk/internal/fakeprovider"
	"github.com/oauthrt/oauthrt/generic"
	"golang.org/x/oauth2"
)

// The fake must be strict for the examples' tests to mean anything: it
// rotates, it refuses a replayed refresh token and then kills the grant,
// and its API takes only the newest access token.
func TestProvider(t *testing.T) {
	p := fakeprovider.New(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(p.Close)
	ctx := context.Background()
	r := &generic.Refresher{TokenURL: p.TokenURL(), ClientID: fakeprovider.ClientID, ClientSecret: fakeprovider.ClientSecret}

	call := func(token string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/api", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := call("access-1"); got != http.StatusOK {
		t.Fatalf("access-1 got %d", got)
	}

	tok, err := r.Refresh(ctx, p.FirstToken())
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "access-2" || tok.RefreshToken != "refresh-2" || tok.Type() != "Bearer" {
		t.Fatalf("refresh gave %q, %q, %q", tok.AccessToken, tok.RefreshToken, tok.Type())
	}
	if a1, a2 := call("access-1"), call("access-2"); a1 != http.StatusUnauthorized || a2 != http.StatusOK {
		t.Errorf("after the refresh: access-1 got %d, access-2 got %d; want 401 and 200", a1, a2)
	}

	_, err = r.Refresh(ctx, &oauth2.Token{RefreshToken: "refresh-1"})
	var re *oauth2.RetrieveError
	if !errors.Is(err, oauthrt.ErrReauthRequired) || !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("replayed refresh-1: err = %v, want invalid_grant", err)
	}
	if _, err := r.Refresh(ctx, tok); !errors.Is(err, oauthrt.ErrReauthRequired) {
		t.Errorf("refresh-2 after a replay: err = %v, want the grant revoked", err)
	}
	if got := call("access-2"); got != http.StatusUnauthorized {
		t.Errorf("access-2 after a replay got %d, want 401", got)
	}
	if p.Refreshes() != 1 || p.Reused() != 1 {
		t.Errorf("Refreshes, Reused = %d, %d; want 1, 1", p.Refreshes(), p.Reused())
	}
	if want := []string{"access-1", "access-1", "access-2", "access-2"}; !slices.Equal(p.Seen(), want) {
		t.Errorf("Seen = %q, want %q", p.Seen(), want)
	}
}
