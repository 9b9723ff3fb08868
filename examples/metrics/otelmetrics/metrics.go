package otelmetrics

import (
	"context"
	"errors"
	"fmt"

	"github.com/oauthrt/oauthrt"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the name of the meter that Metrics records with.
const ScopeName = "github.com/oauthrt/oauthrt/examples/metrics/otelmetrics"

// Metrics records the refreshes and errors of the Transports whose hooks
// are its methods. It is safe for concurrent use; one Metrics serves any
// number of Transports.
type Metrics struct {
	refreshes metric.Int64Counter
	duration  metric.Float64Histogram
	errors    metric.Int64Counter
}

// New creates the instruments with a meter from mp; a nil mp means the
// global otel.GetMeterProvider().
func New(mp metric.MeterProvider) (*Metrics, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(ScopeName)
	var m Metrics
	var err error
	if m.refreshes, err = meter.Int64Counter("oauthrt.refreshes",
		metric.WithDescription("Refreshes of OAuth2 tokens by oauthrt Transports, by why they were needed and how they ended."),
		metric.WithUnit("{refresh}"),
	); err != nil {
		return nil, fmt.Errorf("otelmetrics: creating oauthrt.refreshes: %w", err)
	}
	if m.duration, err = meter.Float64Histogram("oauthrt.refresh.duration",
		metric.WithDescription("How long refreshes of OAuth2 tokens took, store lease and token endpoint included."),
		metric.WithUnit("s"),
		// A refresh is cut off after oauthrt.RefreshTimeout, one minute.
		metric.WithExplicitBucketBoundaries(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
	); err != nil {
		return nil, fmt.Errorf("otelmetrics: creating oauthrt.refresh.duration: %w", err)
	}
	if m.errors, err = meter.Int64Counter("oauthrt.errors",
		metric.WithDescription(`Errors of oauthrt Transports that failed no request: kind "save" when the store did not take a refreshed token, "other" otherwise.`),
		metric.WithUnit("{error}"),
	); err != nil {
		return nil, fmt.Errorf("otelmetrics: creating oauthrt.errors: %w", err)
	}
	return &m, nil
}

// OnRefresh counts ev and records its duration. Assign it to
// [oauthrt.Transport.OnRefresh]. It ignores ev.Key (see the package
// documentation).
func (m *Metrics) OnRefresh(ev oauthrt.RefreshEvent) {
	attrs := metric.WithAttributeSet(attribute.NewSet(
		attribute.String("reason", string(ev.Reason)),
		attribute.String("outcome", string(ev.Outcome)),
	))
	// The event carries no context: the refresh outlives the requests
	// that shared it.
	ctx := context.Background()
	m.refreshes.Add(ctx, 1, attrs)
	m.duration.Record(ctx, ev.Duration.Seconds(), attrs)
}

// OnError counts err by kind: "save" for an [*oauthrt.SaveError], "other"
// for anything else. Assign it to [oauthrt.Transport.OnError]. It ignores
// key (see the package documentation).
func (m *Metrics) OnError(key string, err error) {
	kind := "other"
	var se *oauthrt.SaveError
	if errors.As(err, &se) {
		kind = "save"
	}
	m.errors.Add(context.Background(), 1, metric.WithAttributes(attribute.String("kind", kind)))
}
