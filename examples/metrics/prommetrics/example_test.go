package prommetrics_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/examples/metrics/prommetrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/oauth2"
)

func Example() {
	reg := prometheus.NewRegistry()
	m := prommetrics.New(reg)

	// An API, and a store holding an expired token for one tenant.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello")
	}))
	defer api.Close()
	store := oauthrt.NewMemoryStore()
	expired := &oauth2.Token{AccessToken: "old", RefreshToken: "rt", Expiry: time.Now().Add(-time.Hour)}
	if err := store.Save(context.Background(), "tenant-42", expired); err != nil {
		panic(err)
	}

	tr := &oauthrt.Transport{
		Base:  api.Client().Transport,
		Store: store,
		Key:   "tenant-42",
		Refresher: oauthrt.RefresherFunc(func(context.Context, *oauth2.Token) (*oauth2.Token, error) {
			return &oauth2.Token{AccessToken: "new", Expiry: time.Now().Add(time.Hour)}, nil
		}),
		OnRefresh: m.OnRefresh,
		OnError:   m.OnError,
	}
	resp, err := (&http.Client{Transport: tr}).Get(api.URL)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	tr.Close() // waits for OnRefresh, which runs after the request went on

	// Scrape the metrics as Prometheus would.
	metrics := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer metrics.Close()
	resp, err = http.Get(metrics.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var exposition strings.Builder
	for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
		line := sc.Text()
		exposition.WriteString(line + "\n")
		if strings.HasPrefix(line, "oauthrt_refreshes_total{") && strings.Contains(line, `reason="expired"`) {
			fmt.Println(line)
		}
	}
	fmt.Println("tenant in metrics:", strings.Contains(exposition.String(), "tenant-42"))

	// Output:
	// oauthrt_refreshes_total{outcome="failed",reason="expired"} 0
	// oauthrt_refreshes_total{outcome="loaded",reason="expired"} 0
	// oauthrt_refreshes_total{outcome="reauth_required",reason="expired"} 0
	// oauthrt_refreshes_total{outcome="refreshed",reason="expired"} 1
	// tenant in metrics: false
}
