package oauthrt_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/oauthrt/oauthrt"
)

// The hot path (a request whose token is cached and fresh) allocates at
// most three times: the request's copy, its header map, and the
// Authorization value. A regression here costs every request a service
// makes.
func TestHotPathAllocations(t *testing.T) {
	store := oauthrt.NewMemoryStore()
	if err := store.Save(context.Background(), "k", validToken(1)); err != nil {
		t.Fatal(err)
	}
	tr := &oauthrt.Transport{Base: newCanned(), Store: store, Key: "k", Refresher: oauthrt.RefresherFunc(nil)}
	defer tr.Close()
	req, err := http.NewRequest(http.MethodGet, "https://api.example/v1/things", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "oauthrt-test")
	if _, err := tr.RoundTrip(req); err != nil { // loads the token
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := tr.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 3 {
		t.Errorf("%v allocations per request with a fresh token, want at most 3", allocs)
	}
}
