package otelmetrics_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/examples/metrics/internal/scenario"
	"github.com/oauthrt/oauthrt/examples/metrics/otelmetrics"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestRefreshesOfARealTransport(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	m, err := otelmetrics.New(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	if err != nil {
		t.Fatal(err)
	}
	scenario.Run(t, m.OnRefresh, m.OnError)

	want := map[string]float64{
		"oauthrt.refreshes{outcome=refreshed,reason=expired}":       2, // "expired" and "unsaved"
		"oauthrt.refreshes{outcome=refreshed,reason=rejected}":      1,
		"oauthrt.refreshes{outcome=failed,reason=expired}":          1,
		"oauthrt.refreshes{outcome=reauth_required,reason=expired}": 1,
		"oauthrt.errors{kind=save}":                                 1,
		// Histograms: their sample counts.
		"oauthrt.refresh.duration{outcome=refreshed,reason=expired}":       2,
		"oauthrt.refresh.duration{outcome=refreshed,reason=rejected}":      1,
		"oauthrt.refresh.duration{outcome=failed,reason=expired}":          1,
		"oauthrt.refresh.duration{outcome=reauth_required,reason=expired}": 1,
	}
	if got := collect(t, reader); !maps.Equal(got, want) {
		t.Errorf("metrics:\n%s\nwant:\n%s", format(got), format(want))
	}
}

func TestOnErrorKinds(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	m, err := otelmetrics.New(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	if err != nil {
		t.Fatal(err)
	}
	m.OnError("k", fmt.Errorf("wrapped: %w", &oauthrt.SaveError{Key: "k", Err: errors.New("disk full")}))
	m.OnError("k", errors.New("refreshing ahead of expiry: boom"))
	m.OnError("k", errors.New("refreshing ahead of expiry: boom"))
	want := map[string]float64{"oauthrt.errors{kind=save}": 1, "oauthrt.errors{kind=other}": 2}
	if got := collect(t, reader); !maps.Equal(got, want) {
		t.Errorf("metrics:\n%s\nwant:\n%s", format(got), format(want))
	}
}

// collect returns each counter's value and each histogram's sample count,
// by instrument name and attributes, and checks the instruments' units and
// scope.
func collect(t *testing.T, reader sdkmetric.Reader) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	units := map[string]string{"oauthrt.refreshes": "{refresh}", "oauthrt.refresh.duration": "s", "oauthrt.errors": "{error}"}
	got := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelmetrics.ScopeName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, otelmetrics.ScopeName)
		}
		for _, m := range sm.Metrics {
			if m.Unit != units[m.Name] {
				t.Errorf("%s: unit %q, want %q", m.Name, m.Unit, units[m.Name])
			}
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range data.DataPoints {
					got[series(m.Name, dp.Attributes)] = float64(dp.Value)
				}
			case metricdata.Histogram[float64]:
				for _, dp := range data.DataPoints {
					got[series(m.Name, dp.Attributes)] = float64(dp.Count)
				}
			default:
				t.Errorf("%s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return got
}

func series(name string, attrs attribute.Set) string {
	var kvs []string
	for _, kv := range attrs.ToSlice() {
		kvs = append(kvs, string(kv.Key)+"="+kv.Value.Emit())
	}
	return name + "{" + strings.Join(kvs, ",") + "}"
}

func format(m map[string]float64) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, "\t%s %g\n", k, m[k])
	}
	return b.String()
}
