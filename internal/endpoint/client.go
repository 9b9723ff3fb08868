package endpoint

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// attemptTimeout bounds one attempt, so that a hung endpoint cannot hold a
// refresh whose context has no deadline forever.
const attemptTimeout = 30 * time.Second

// The retries of [DefaultClient], and of [DoFresh] around a client that
// tries once.
const (
	defaultRetries = 3
	defaultWaitMin = 250 * time.Millisecond
	defaultWaitMax = 5 * time.Second
)

var defaultClient = sync.OnceValue(func() *http.Client {
	return NewRetryClient(defaultRetries, defaultWaitMin, defaultWaitMax)
})

// DefaultClient returns the client [Do] uses when given a nil one: built
// once by [NewRetryClient] with 3 retries waiting between 250ms and 5s,
// and shared by every caller. It retries only requests the endpoint never
// got whole; see NewRetryClient.
func DefaultClient() *http.Client { return defaultClient() }

// NewRetryClient returns a client for token endpoints that sends a request
// again only when the endpoint cannot have seen it: the connection could
// not be made (refused, unreachable, a failed TLS handshake but for an
// untrusted certificate), or broke before the whole request was written.
// It tries up to retryMax more times (a negative retryMax counts as 0),
// waiting between waitMin and waitMax with exponential backoff and jitter,
// and then returns the last error.
//
// It never sends a request again once it was written, even if the
// connection broke before an answer came: the endpoint may have rotated
// the refresh token the request carried, and presenting it a second time
// is for the [oauthrt.Transport] to decide, within the provider's
// rotation grace window. It returns every answer at once, 429 and 5xx
// included, Retry-After or not: waiting out an endpoint's trouble is the
// Transport's backoff, which every process sharing a store keeps together.
//
// It never retries once the request's context is done, and that context
// bounds the waits too. Each attempt is also limited to 30 seconds.
//
// It never follows redirects: a 3xx is returned as the answer, so that
// credentials in a request body are never posted to another URL.
func NewRetryClient(retryMax int, waitMin, waitMax time.Duration) *http.Client {
	// A transport of its own: retryablehttp closes its client's idle
	// connections after failures, which must not hit http.DefaultTransport's
	// pool shared by the whole process.
	var base http.RoundTripper = http.DefaultTransport
	if t, ok := base.(*http.Transport); ok {
		base = t.Clone()
	}
	return newRetryClient(base, retryMax, waitMin, waitMax)
}

// DefaultClientOver returns a new client like [DefaultClient], retries
// included, that sends over base, a transport the client takes for its
// own (it closes base's idle connections after failures): one that
// presents a TLS client certificate, say.
func DefaultClientOver(base http.RoundTripper) *http.Client {
	return newRetryClient(base, defaultRetries, defaultWaitMin, defaultWaitMax)
}

// SingleAttemptClientOver returns a new client like DefaultClientOver's
// that tries each request once, for [DoFreshOver] and [RevokeFreshOver]
// to retry around.
func SingleAttemptClientOver(base http.RoundTripper) *http.Client {
	return newRetryClient(base, 0, 0, 0)
}

// newRetryClient is NewRetryClient over base.
func newRetryClient(base http.RoundTripper, retryMax int, waitMin, waitMax time.Duration) *http.Client {
	retryMax = max(retryMax, 0)
	waitMin = max(waitMin, 0)
	waitMax = max(waitMax, waitMin)
	rc := &retryablehttp.Client{
		HTTPClient: &http.Client{
			Transport:     base,
			CheckRedirect: refuseRedirect,
			Timeout:       attemptTimeout,
		},
		Logger:       nil,
		RetryWaitMin: waitMin,
		RetryWaitMax: waitMax,
		RetryMax:     retryMax,
		CheckRetry:   checkRetry,
		Backoff:      backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	c := rc.StandardClient()
	// retryablehttp hands checkRetry the context of the request it was
	// given, and sends every attempt with it (a shallow copy of the
	// request, same context): a writeWatch put there hears every attempt.
	c.Transport = watchingTransport{c.Transport}
	c.CheckRedirect = refuseRedirect
	return c
}

// watchingTransport gives each request a writeWatch of its own before
// passing it on, for checkRetry to consult.
type watchingTransport struct{ next http.RoundTripper }

func (t watchingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, _ := watchWrites(req.Context())
	return t.next.RoundTrip(req.WithContext(ctx))
}

// refuseRedirect is an [http.Client.CheckRedirect] that returns the 3xx
// answer itself.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// checkRetry is the [retryablehttp.CheckRetry] of [NewRetryClient]: it
// retries a failure to reach the endpoint that happened before the request
// was written (ctx carries the writeWatch that knows), and nothing else.
// It never returns an error, so that the client hands back either the
// answer or the transport's own error, never both.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	return err != nil && !mayBeWritten(ctx) && retryable(ctx, err), nil
}

// retryable reports whether err, an error of an HTTP client whose request
// the endpoint did not get, may go away on another try: not when ctx is
// done or the request was cancelled, nor for the errors that
// go-retryablehttp knows no retry cures (an unsupported scheme, an
// invalid header, an untrusted certificate, too many redirects).
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return false
	}
	retry, _ := retryablehttp.DefaultRetryPolicy(ctx, nil, err)
	return retry
}

// backoff is the [retryablehttp.Backoff] of [NewRetryClient]: exponential
// backoff with jitter. It never gets an answer to honour the Retry-After
// of, as checkRetry retries none.
func backoff(waitMin, waitMax time.Duration, attempt int, _ *http.Response) time.Duration {
	return jitteredBackoff(waitMin, waitMax, attempt, rand.Int64N)
}

// jitteredBackoff returns a wait drawn by randN (which returns a number in
// [0, n)) between waitMin·2^attempt and twice that, both capped at waitMax.
func jitteredBackoff(waitMin, waitMax time.Duration, attempt int, randN func(n int64) int64) time.Duration {
	waitMax = max(waitMax, waitMin)
	lo := waitMin
	for i := 0; i < attempt && lo > 0 && lo <= waitMax/2; i++ {
		lo *= 2
	}
	hi := waitMax
	if lo <= waitMax/2 {
		hi = 2 * lo
	}
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(randN(int64(hi-lo)+1))
}

// ParseRetryAfter parses a Retry-After value, delay-seconds or an HTTP
// date (RFC 9110 §10.2.3). A date in the past means no wait; a number too
// large for a Duration means the longest one.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		switch {
		case n < 0:
			return 0, false
		case n > int64(math.MaxInt64/time.Second):
			return math.MaxInt64, true
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
