package azcoreclient_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/examples/sdk/azcoreclient"
	"github.com/oauthrt/oauthrt/examples/sdk/internal/fakeprovider"
	"golang.org/x/oauth2"
)

const subscription = "00000000-0000-0000-0000-00000000beef"

var want = azcoreclient.ResourceGroup{
	ID:       "/subscriptions/" + subscription + "/resourceGroups/rg-web",
	Name:     "rg-web",
	Location: "westeurope",
}

// tries is a per-retry policy counting the pipeline's tries.
type tries struct{ n atomic.Int32 }

func (c *tries) Do(req *policy.Request) (*http.Response, error) {
	c.n.Add(1)
	return req.Next()
}

// A PUT succeeds with access-1; after access-1 is revoked or has expired,
// the next one succeeds with access-2, after one refresh, its body sent
// again after the 401.
func TestRefresh(t *testing.T) {
	for _, expiry := range fakeprovider.Expiries {
		t.Run(expiry.String(), func(t *testing.T) {
			f := fakeprovider.Start(t, fakeARM(nil))
			count := new(tries)
			client, err := azcoreclient.NewClient(f.Transport, &policy.ClientOptions{PerRetryPolicies: []policy.Policy{count}})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				if i == 1 {
					f.Expire(expiry)
				}
				got, err := azcoreclient.PutResourceGroup(context.Background(), client, f.URL, subscription,
					azcoreclient.ResourceGroup{Name: "rg-web", Location: "westeurope"})
				if err != nil {
					t.Fatalf("call %d: %v", i+1, err)
				}
				if got.ID != want.ID || got.Name != want.Name || got.Location != want.Location {
					t.Errorf("call %d: got %+v, want %+v", i+1, got, want)
				}
			}
			if n := count.n.Load(); n != 2 {
				t.Errorf("the pipeline made %d tries, want 2: the Transport alone resends after a 401", n)
			}
			f.Verify(t, append([]string{"access-1"}, expiry.Retried()...))
		})
	}
}

// A dead grant fails the call at once: azcore's retry policy, which
// retries transport errors, does not try again.
func TestDeadGrantNotRetried(t *testing.T) {
	f := fakeprovider.Start(t, fakeARM(nil))
	stale := &oauth2.Token{AccessToken: "access-0", RefreshToken: "refresh-0", Expiry: time.Now().Add(-time.Minute)}
	if err := f.Store.Save(context.Background(), fakeprovider.Key, stale); err != nil {
		t.Fatal(err)
	}
	count := new(tries)
	client, err := azcoreclient.NewClient(f.Transport, &policy.ClientOptions{PerRetryPolicies: []policy.Policy{count}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = azcoreclient.PutResourceGroup(context.Background(), client, f.URL, subscription, want)
	if !errors.Is(err, oauthrt.ErrReauthRequired) {
		t.Fatalf("err = %v, want ErrReauthRequired", err)
	}
	if n := count.n.Load(); n != 1 {
		t.Errorf("the pipeline made %d tries, want 1", n)
	}
	if seen := f.Seen(); len(seen) != 0 {
		t.Errorf("the API received %q, want nothing", seen)
	}
}

// NewClient's ShouldRetry still retries azcore's usual status codes.
func TestStatusRetried(t *testing.T) {
	var unavailable atomic.Int32
	unavailable.Store(1)
	f := fakeprovider.Start(t, fakeARM(&unavailable))
	count := new(tries)
	client, err := azcoreclient.NewClient(f.Transport, &policy.ClientOptions{
		PerRetryPolicies: []policy.Policy{count},
		// Not RetryDelay: -1, "no delay": azcore v1.24.0 then waits
		// MaxRetryDelay, a minute by default.
		Retry: policy.RetryOptions{RetryDelay: time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := azcoreclient.PutResourceGroup(context.Background(), client, f.URL, subscription, want); err != nil {
		t.Fatal(err)
	}
	if n := count.n.Load(); n != 2 {
		t.Errorf("the pipeline made %d tries, want 2", n)
	}
}

// A large body, which net/http may still be sending when the API answers
// 401, reaches the API whole when the Transport resends it. With azcore's
// own GetBody it could arrive garbled, and the race detector objects.
func TestLargeBodyResent(t *testing.T) {
	f := fakeprovider.Start(t, fakeARM(nil))
	client, err := azcoreclient.NewClient(f.Transport, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.Expire(fakeprovider.Revoked)
	rg := azcoreclient.ResourceGroup{Name: "rg-web", Location: "westeurope", Tags: map[string]string{"notes": strings.Repeat("x", 4<<20)}}
	got, err := azcoreclient.PutResourceGroup(context.Background(), client, f.URL, subscription, rg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Tags["notes"] != rg.Tags["notes"] {
		t.Errorf("the API got a tag of %d bytes, want %d", len(got.Tags["notes"]), len(rg.Tags["notes"]))
	}
	f.Verify(t, fakeprovider.Revoked.Retried())
}
