// Package prommetrics turns the refreshes of an [oauthrt.Transport] into
// Prometheus metrics.
//
// Wire one Metrics into every Transport of the process, and serve the
// registry as usual:
//
//	m := prommetrics.New(prometheus.DefaultRegisterer)
//	tr := &oauthrt.Transport{
//		Store:     store,
//		Refresher: refresher,
//		OnRefresh: m.OnRefresh,
//		OnError:   m.OnError,
//		Logger:    slog.Default(), // per-key detail, see below
//	}
//	http.Handle("/metrics", promhttp.Handler())
//
// It exports:
//
//	oauthrt_refreshes_total{reason, outcome}           counter
//	oauthrt_refresh_duration_seconds{reason, outcome}  histogram, 10ms to 60s
//	oauthrt_errors_total{kind}                         counter; kind is "save" or "other"
//
// reason and outcome take the values of [oauthrt.RefreshReason] and
// [oauthrt.RefreshOutcome]. New creates every counter series at zero, so
// that increase() and rate() see the first failure instead of a series
// that appears already at 1.
//
// # No key label
//
// No metric is labelled with the store key. A multi-tenant service holds a
// key per organization or user, thousands of them, and every key would
// multiply every series: a cardinality explosion in the Prometheus server
// for a value no dashboard aggregates. The metrics say how many refreshes
// failed and why; which key failed belongs in logs and traces. Set
// Transport.Logger as well: it logs each refresh with its key, reason,
// outcome and duration (at level Debug when it succeeded, Warn when it
// failed a request) and each error passed to OnError (at level Error),
// never a token. To act on a key, wrap the hook:
//
//	tr.OnRefresh = func(ev oauthrt.RefreshEvent) {
//		m.OnRefresh(ev)
//		if ev.Outcome == oauthrt.OutcomeReauthRequired {
//			notifyTenant(ev.Key) // must return quickly: it runs on the refresh's goroutine
//		}
//	}
package prommetrics
