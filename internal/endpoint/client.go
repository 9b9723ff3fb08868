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

const (
	// maxRetryAfter is the longest Retry-After the client waits for. An
	// endpoint asking for more is answered with its own response: a
	// refresh that blocks for minutes is worse than one that fails.
	maxRetryAfter = 30 * time.Second

	// attemptTimeout bounds one attempt, so that a hung endpoint cannot
	// hold a refresh whose context has no deadline forever.
	attemptTimeout = 30 * time.Second
)

var defaultClient = sync.OnceValue(func() *http.Client {
	return NewRetryClient(3, 250*time.Millisecond, 5*time.Second)
})

// DefaultClient returns the client [Do] uses when given a nil one: built
// once by [NewRetryClient] with 3 retries waiting between 250ms and 5s,
// and shared by every caller.
func DefaultClient() *http.Client { return defaultClient() }

// NewRetryClient returns a client for token endpoints that retries
// connection errors, 429 and 5xx answers (except 501) up to retryMax times
// (a negative retryMax counts as 0), waiting between waitMin and waitMax
// with exponential backoff and jitter. On 429 and 503 it waits as long as
// Retry-After asks instead, unless that is more than 30 seconds: then it
// returns the answer without retrying. After the last attempt it returns
// the last answer, not an error of its own.
//
// It never retries once the request's context is done, and that context
// bounds the waits too. Each attempt is also limited to 30 seconds.
//
// It never follows redirects: a 3xx is returned as the answer, so that
// credentials in a request body are never posted to another URL.
func NewRetryClient(retryMax int, waitMin, waitMax time.Duration) *http.Client {
	retryMax = max(retryMax, 0)
	waitMin = max(waitMin, 0)
	waitMax = max(waitMax, waitMin)

	// A transport of its own: retryablehttp closes its client's idle
	// connections after failures, which must not hit http.DefaultTransport's
	// pool shared by the whole process.
	var base http.RoundTripper = http.DefaultTransport
	if t, ok := base.(*http.Transport); ok {
		base = t.Clone()
	}
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
	c.CheckRedirect = refuseRedirect
	return c
}

// refuseRedirect is an [http.Client.CheckRedirect] that returns the 3xx
// answer itself.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// checkRetry is the [retryablehttp.CheckRetry] of [NewRetryClient]. It
// never returns an error, so that the client hands back either the last
// answer or the transport's own error, never both.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return false, nil
	}
	if err == nil {
		if d, ok := retryAfter(resp, time.Now()); ok && d > maxRetryAfter {
			return false, nil
		}
	}
	retry, _ := retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	return retry, nil
}

// backoff is the [retryablehttp.Backoff] of [NewRetryClient]: Retry-After
// when a 429 or 503 carries one, else exponential backoff with jitter.
func backoff(waitMin, waitMax time.Duration, attempt int, resp *http.Response) time.Duration {
	if d, ok := retryAfter(resp, time.Now()); ok {
		return min(d, maxRetryAfter)
	}
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

// retryAfter reports the wait a 429 or 503 answer asks for in its
// Retry-After header, measured from now.
func retryAfter(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp == nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
		return 0, false
	}
	return ParseRetryAfter(resp.Header.Get("Retry-After"), now)
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
