package endpoint

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"120", 120 * time.Second, true},
		{"0", 0, true},
		{" 5 ", 5 * time.Second, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(time.Hour).Format(time.RFC850), time.Hour, true},
		{now.Add(time.Minute).Format(time.ANSIC), time.Minute, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"99999999999999999999", 1<<63 - 1, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			got, ok := ParseRetryAfter(tt.value, now)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.value, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func response(status int, retryAfter string) *http.Response {
	h := http.Header{}
	if retryAfter != "" {
		h.Set("Retry-After", retryAfter)
	}
	return &http.Response{StatusCode: status, Status: strconv.Itoa(status), Header: h}
}

// checkRetry retries a connection error only when the request was not
// written, and an answer never: the Transport backs 429 and 5xx off for
// the whole fleet, and decides on presenting a refresh token again.
func TestCheckRetry(t *testing.T) {
	unwritten := func() context.Context {
		ctx, _ := watchWrites(context.Background())
		return ctx
	}
	written := func() context.Context {
		ctx, w := watchWrites(context.Background())
		w.written.Store(true)
		return ctx
	}
	rewatched := func() context.Context {
		// An earlier request with this context was written; this one,
		// watched anew, was not.
		ctx, w := watchWrites(context.Background())
		w.written.Store(true)
		ctx, _ = watchWrites(ctx)
		return ctx
	}
	canceled := func() context.Context {
		ctx, cancel := context.WithCancel(unwritten())
		cancel()
		return ctx
	}
	refused := &url.Error{Op: "Post", URL: "https://token.example/", Err: errors.New("dial tcp: connect: connection refused")}
	scheme := &url.Error{Op: "Post", URL: "ftp://token.example/", Err: errors.New(`unsupported protocol scheme "ftp"`)}
	tests := []struct {
		name string
		ctx  func() context.Context
		resp *http.Response
		err  error
		want bool
	}{
		{"connection error before writing", unwritten, nil, refused, true},
		{"connection error after writing", written, nil, refused, false},
		{"connection error, an earlier request written", rewatched, nil, refused, true},
		{"connection error, no watch", context.Background, nil, refused, false},
		{"unsupported scheme", unwritten, nil, scheme, false},
		{"context canceled", canceled, nil, context.Canceled, false},
		{"canceled error, live context", unwritten, nil, context.Canceled, false},
		{"429 Retry-After 10", unwritten, response(429, "10"), nil, false},
		{"429 without Retry-After", unwritten, response(429, ""), nil, false},
		{"503 Retry-After 0", unwritten, response(503, "0"), nil, false},
		{"500", unwritten, response(500, ""), nil, false},
		{"502", written, response(502, ""), nil, false},
		{"400", unwritten, response(400, ""), nil, false},
		{"200", unwritten, response(200, ""), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkRetry(tt.ctx(), tt.resp, tt.err)
			if got != tt.want || err != nil {
				t.Errorf("checkRetry = %v, %v; want %v, nil", got, err, tt.want)
			}
		})
	}
}

// backoff draws from the jittered range whatever the answer: it is only
// ever asked after a connection error.
func TestBackoff(t *testing.T) {
	const waitMin, waitMax = time.Second, 5 * time.Second
	tests := []struct {
		name     string
		resp     *http.Response
		attempt  int
		min, max time.Duration
	}{
		{"connection error", nil, 1, 2 * waitMin, 4 * waitMin},
		{"first attempt", nil, 0, waitMin, 2 * waitMin},
		{"late attempt", nil, 10, waitMin, waitMax},
		{"an answer's Retry-After is no wait of the client's", response(429, "3600"), 0, waitMin, 2 * waitMin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 50 {
				got := backoff(waitMin, waitMax, tt.attempt, tt.resp)
				if got < tt.min || got > tt.max {
					t.Fatalf("backoff = %v, want within [%v, %v]", got, tt.min, tt.max)
				}
			}
		})
	}
}

func TestJitteredBackoff(t *testing.T) {
	lowest := func(int64) int64 { return 0 }
	highest := func(n int64) int64 { return n - 1 }
	const waitMin, waitMax = 250 * time.Millisecond, 5 * time.Second
	tests := []struct {
		attempt int
		lo, hi  time.Duration
	}{
		{0, 250 * time.Millisecond, 500 * time.Millisecond},
		{1, 500 * time.Millisecond, time.Second},
		{2, time.Second, 2 * time.Second},
		{3, 2 * time.Second, 4 * time.Second},
		{4, 4 * time.Second, 5 * time.Second},
		{5, 4 * time.Second, 5 * time.Second},
		{62, 4 * time.Second, 5 * time.Second},
	}
	for _, tt := range tests {
		lo := jitteredBackoff(waitMin, waitMax, tt.attempt, lowest)
		hi := jitteredBackoff(waitMin, waitMax, tt.attempt, highest)
		if lo != tt.lo || hi != tt.hi {
			t.Errorf("attempt %d: waits in [%v, %v], want [%v, %v]", tt.attempt, lo, hi, tt.lo, tt.hi)
		}
	}
	if got := jitteredBackoff(0, 0, 3, highest); got != 0 {
		t.Errorf("no waits configured: %v", got)
	}
	if got := jitteredBackoff(time.Second, time.Millisecond, 0, highest); got != time.Second {
		t.Errorf("waitMax below waitMin: %v, want waitMin", got)
	}
}
