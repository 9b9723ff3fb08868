// Package otelmetrics turns the refreshes of an [oauthrt.Transport] into
// OpenTelemetry metrics.
//
// Wire one Metrics into every Transport of the process:
//
//	m, err := otelmetrics.New(meterProvider) // nil: otel.GetMeterProvider()
//	if err != nil {
//		return err
//	}
//	tr := &oauthrt.Transport{
//		Store:     store,
//		Refresher: refresher,
//		OnRefresh: m.OnRefresh,
//		OnError:   m.OnError,
//		Logger:    slog.Default(), // per-key detail, see below
//	}
//
// It records, with the meter named after this package:
//
//	oauthrt.refreshes         Int64Counter, attributes reason and outcome
//	oauthrt.refresh.duration  Float64Histogram in seconds, attributes reason and outcome
//	oauthrt.errors            Int64Counter, attribute kind: "save" or "other"
//
// reason and outcome take the values of [oauthrt.RefreshReason] and
// [oauthrt.RefreshOutcome].
//
// # No key attribute
//
// No measurement carries the store key. A multi-tenant service holds a
// key per organization or user, thousands of them, and every key would
// multiply every time series in the backend (and the SDK's memory, which
// keeps one aggregation per attribute set) for a value no dashboard
// aggregates. The metrics say how many refreshes failed and why; which
// key failed belongs in logs and traces. Set Transport.Logger as well: it
// logs each refresh with its key, reason, outcome and duration (at level
// Debug when it succeeded, Warn when it failed a request) and each error
// passed to OnError (at level Error), never a token. An slog handler
// bridged to OpenTelemetry logs (go.opentelemetry.io/contrib/bridges/otelslog)
// sends those lines to the same backend.
package otelmetrics
