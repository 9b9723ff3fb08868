package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/redisstore"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
)

// Tokens shared by every process of a fleet through Redis. The first
// request finds the token expired and refreshes it under the key's Redis
// lease; the rotated refresh token is saved where every process reads it.
//
// The example needs a Redis on localhost:6379, so it is compiled but not
// run; TestTransport runs the same wiring against OAUTHRT_TEST_REDIS.
func Example() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("API got:", r.Header.Get("Authorization"))
	}))
	defer api.Close()

	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer rdb.Close()
	store := &redisstore.Store{Client: rdb, Prefix: "example:"}

	ctx := context.Background()
	err := store.Save(ctx, "org-42", &oauth2.Token{
		AccessToken:  "stale",
		RefreshToken: "r1",
		Expiry:       time.Now().Add(-time.Minute),
	})
	if err != nil {
		log.Fatal(err)
	}

	client := &http.Client{Transport: &oauthrt.Transport{
		Store: store,
		Key:   "org-42",
		// In production: generic.FromConfig(oauthConfig) or &vsts.Refresher{…}.
		Refresher: oauthrt.RefresherFunc(func(_ context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
			fmt.Println("refreshing with", tok.RefreshToken)
			return &oauth2.Token{AccessToken: "fresh", RefreshToken: "r2", Expiry: time.Now().Add(time.Hour)}, nil
		}),
	}}
	resp, err := client.Get(api.URL)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	tok, err := store.Load(ctx, "org-42")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("status:", resp.Status, "stored refresh token:", tok.RefreshToken)
	// Prints:
	// refreshing with r1
	// API got: Bearer fresh
	// status: 200 OK stored refresh token: r2
}

// A fleet on Redis Cluster keeps each key's lease in its token's hash
// slot, so that a refresh costs two round trips there, as on a single
// node. A fleet already running with the default layout gets there in
// two deploys, each rolled out to every process before the next:
// Leases: redisstore.LeasesMoving, then redisstore.LeasesBeside.
//
// The example needs a Redis Cluster on localhost:7001, so it is compiled
// but not run; TestLeasesBesideOnCluster counts the round trips.
func ExampleLeaseLayout() {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"localhost:7001"}})
	defer rdb.Close()
	store := &redisstore.Store{Client: rdb, Leases: redisstore.LeasesBeside}

	l, err := store.TakeLease(context.Background(), "org-42")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Release()
	fmt.Println("epoch:", l.(oauthrt.FencedLease).Epoch())
}
