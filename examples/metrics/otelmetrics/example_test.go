package otelmetrics_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/examples/metrics/otelmetrics"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"golang.org/x/oauth2"
)

func Example() {
	// A service would use a periodic reader with an exporter instead.
	reader := sdkmetric.NewManualReader()
	m, err := otelmetrics.New(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	if err != nil {
		panic(err)
	}

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

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, metric := range sm.Metrics {
			if sum, ok := metric.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range sum.DataPoints {
					fmt.Println(metric.Name, dp.Attributes.Encoded(attribute.DefaultEncoder()), dp.Value)
				}
			}
		}
	}

	// Output:
	// oauthrt.refreshes outcome=refreshed,reason=expired 1
}
