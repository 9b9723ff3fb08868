package prommetrics_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/oauthrt/oauthrt"
	"github.com/oauthrt/oauthrt/examples/metrics/internal/scenario"
	"github.com/oauthrt/oauthrt/examples/metrics/prommetrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

func TestRefreshesOfARealTransport(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := prommetrics.New(reg)
	scenario.Run(t, m.OnRefresh, m.OnError)

	want := map[string]float64{
		// Counters (series still at zero left out).
		`oauthrt_refreshes_total{outcome="refreshed",reason="expired"}`:       2, // "expired" and "unsaved"
		`oauthrt_refreshes_total{outcome="refreshed",reason="rejected"}`:      1,
		`oauthrt_refreshes_total{outcome="failed",reason="expired"}`:          1,
		`oauthrt_refreshes_total{outcome="reauth_required",reason="expired"}`: 1,
		`oauthrt_errors_total{kind="save"}`:                                   1,
		// Histograms: their sample counts.
		`oauthrt_refresh_duration_seconds{outcome="refreshed",reason="expired"}`:       2,
		`oauthrt_refresh_duration_seconds{outcome="refreshed",reason="rejected"}`:      1,
		`oauthrt_refresh_duration_seconds{outcome="failed",reason="expired"}`:          1,
		`oauthrt_refresh_duration_seconds{outcome="reauth_required",reason="expired"}`: 1,
	}
	if got := gather(t, reg); !maps.Equal(got, want) {
		t.Errorf("metrics:\n%s\nwant:\n%s", format(got), format(want))
	}
}

func TestNewCreatesCounterSeriesAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	prommetrics.New(reg)
	for name, want := range map[string]int{
		"oauthrt_refreshes_total":          28, // 7 reasons × 4 outcomes
		"oauthrt_errors_total":             2,
		"oauthrt_refresh_duration_seconds": 0,
	} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n != want {
			t.Errorf("%s: %d series (%v), want %d", name, n, err, want)
		}
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

func TestOnErrorKinds(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := prommetrics.New(reg)
	m.OnError("k", fmt.Errorf("wrapped: %w", &oauthrt.SaveError{Key: "k", Err: errors.New("disk full")}))
	m.OnError("k", errors.New("refreshing ahead of expiry: boom"))
	m.OnError("k", errors.New("refreshing ahead of expiry: boom"))
	want := `
# HELP oauthrt_errors_total Errors of oauthrt Transports that failed no request: kind "save" when the store did not take a refreshed token, "other" otherwise.
# TYPE oauthrt_errors_total counter
oauthrt_errors_total{kind="other"} 2
oauthrt_errors_total{kind="save"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "oauthrt_errors_total"); err != nil {
		t.Error(err)
	}
}

func TestNewNilUsesDefaultRegisterer(t *testing.T) {
	reg := prometheus.NewRegistry()
	old := prometheus.DefaultRegisterer
	prometheus.DefaultRegisterer = reg
	t.Cleanup(func() { prometheus.DefaultRegisterer = old })

	prommetrics.New(nil).OnRefresh(oauthrt.RefreshEvent{Reason: oauthrt.ReasonMissing, Outcome: oauthrt.OutcomeRefreshed})
	if n, err := testutil.GatherAndCount(reg, "oauthrt_refresh_duration_seconds"); err != nil || n != 1 {
		t.Errorf("default registerer holds %d histogram series (%v), want 1", n, err)
	}
}

// gather returns each non-zero counter series and each histogram's sample
// count, by name and labels.
func gather(t *testing.T, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			series := f.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				if v := m.GetCounter().GetValue(); v != 0 {
					got[series] = v
				}
			case dto.MetricType_HISTOGRAM:
				got[series] = float64(m.GetHistogram().GetSampleCount())
			default:
				t.Errorf("unexpected metric %s of type %s", series, f.GetType())
			}
		}
	}
	return got
}

func format(m map[string]float64) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, "\t%s %g\n", k, m[k])
	}
	return b.String()
}
