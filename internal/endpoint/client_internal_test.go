package endpoint

import (
	"context"
	"errors"
	"net/http"
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

func TestCheckRetry(t *testing.T) {
	soon := time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat)
	late := time.Now().Add(2 * time.Minute).UTC().Format(http.TimeFormat)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		resp *http.Response
		err  error
		want bool
	}{
		{"429 without Retry-After", nil, response(429, ""), nil, true},
		{"429 Retry-After 10", nil, response(429, "10"), nil, true},
		{"429 Retry-After 30", nil, response(429, "30"), nil, true},
		{"429 Retry-After 31", nil, response(429, "31"), nil, false},
		{"429 Retry-After 120", nil, response(429, "120"), nil, false},
		{"503 Retry-After date soon", nil, response(503, soon), nil, true},
		{"503 Retry-After date late", nil, response(503, late), nil, false},
		{"500 ignores Retry-After", nil, response(500, "120"), nil, true},
		{"502", nil, response(502, ""), nil, true},
		{"501", nil, response(501, ""), nil, false},
		{"400", nil, response(400, ""), nil, false},
		{"401", nil, response(401, ""), nil, false},
		{"200", nil, response(200, ""), nil, false},
		{"connection error", nil, nil, errors.New("connection refused"), true},
		{"context canceled", canceled, nil, context.Canceled, false},
		{"context canceled with a 503", canceled, response(503, ""), nil, false},
		{"canceled error, live context", nil, nil, context.Canceled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			got, err := checkRetry(ctx, tt.resp, tt.err)
			if got != tt.want || err != nil {
				t.Errorf("checkRetry = %v, %v; want %v, nil", got, err, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	const waitMin, waitMax = time.Second, 5 * time.Second
	date := time.Now().Add(20 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name     string
		resp     *http.Response
		attempt  int
		min, max time.Duration
	}{
		{"429 Retry-After seconds", response(429, "3"), 0, 3 * time.Second, 3 * time.Second},
		{"503 Retry-After 0", response(503, "0"), 2, 0, 0},
		{"503 Retry-After date", response(503, date), 0, 18 * time.Second, 20 * time.Second},
		{"429 Retry-After capped", response(429, "3600"), 0, maxRetryAfter, maxRetryAfter},
		{"500 ignores Retry-After", response(500, "3"), 0, waitMin, 2 * waitMin},
		{"connection error", nil, 1, 2 * waitMin, 4 * waitMin},
		{"late attempt", nil, 10, waitMin, waitMax},
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
