package prommetrics

import (
	"errors"

	"github.com/oauthrt/oauthrt"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts the refreshes and errors of the Transports whose hooks
// are its methods. It is safe for concurrent use; one Metrics serves any
// number of Transports.
type Metrics struct {
	refreshes *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	errors    *prometheus.CounterVec
}

// The kinds of errors counted by OnError.
const (
	kindSave  = "save"  // a *oauthrt.SaveError: the store did not take a refreshed token
	kindOther = "other" // anything else, such as a failed refresh ahead of expiry
)

// The label values New creates series for; an event with another value
// still counts, in a series created on first use.
var (
	reasons = []oauthrt.RefreshReason{
		oauthrt.ReasonExpired, oauthrt.ReasonRejected, oauthrt.ReasonAhead, oauthrt.ReasonMissing,
		oauthrt.ReasonKeepAlive, oauthrt.ReasonInvalidated, oauthrt.ReasonClaims,
	}
	outcomes = []oauthrt.RefreshOutcome{
		oauthrt.OutcomeRefreshed, oauthrt.OutcomeLoaded, oauthrt.OutcomeFailed, oauthrt.OutcomeReauthRequired,
	}
)

// New creates the metrics and registers them with reg; a nil reg means
// prometheus.DefaultRegisterer. Like MustRegister, New panics if reg
// already holds metrics of the same names: call it once per registry and
// share the result.
func New(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	m := &Metrics{
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oauthrt_refreshes_total",
			Help: "Refreshes of OAuth2 tokens by oauthrt Transports, by why they were needed and how they ended.",
		}, []string{"reason", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "oauthrt_refresh_duration_seconds",
			Help: "How long refreshes of OAuth2 tokens took, store lease and token endpoint included.",
			// A refresh is cut off after oauthrt.RefreshTimeout, one minute.
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"reason", "outcome"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oauthrt_errors_total",
			Help: `Errors of oauthrt Transports that failed no request: kind "save" when the store did not take a refreshed token, "other" otherwise.`,
		}, []string{"kind"}),
	}
	reg.MustRegister(m.refreshes, m.duration, m.errors)
	for _, r := range reasons {
		for _, o := range outcomes {
			m.refreshes.WithLabelValues(string(r), string(o))
		}
	}
	m.errors.WithLabelValues(kindSave)
	m.errors.WithLabelValues(kindOther)
	return m
}

// OnRefresh counts ev and observes its duration. Assign it to
// [oauthrt.Transport.OnRefresh]. It ignores ev.Key (see the package
// documentation).
func (m *Metrics) OnRefresh(ev oauthrt.RefreshEvent) {
	m.refreshes.WithLabelValues(string(ev.Reason), string(ev.Outcome)).Inc()
	m.duration.WithLabelValues(string(ev.Reason), string(ev.Outcome)).Observe(ev.Duration.Seconds())
}

// OnError counts err by kind: "save" for an [*oauthrt.SaveError], "other"
// for anything else. Assign it to [oauthrt.Transport.OnError]. It ignores
// key (see the package documentation).
func (m *Metrics) OnError(key string, err error) {
	m.errors.WithLabelValues(errorKind(err)).Inc()
}

func errorKind(err error) string {
	var se *oauthrt.SaveError
	if errors.As(err, &se) {
		return kindSave
	}
	return kindOther
}
