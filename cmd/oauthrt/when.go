package main

import (
	"fmt"
	"time"
)

// How the text output writes times: in UTC to the minute, with how far
// they are from now. JSON writes RFC 3339 in UTC instead (see rfc3339).

// stamp writes t in UTC to the second, as "2006-01-02 15:04:05Z".
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

// span writes d roughly, in its largest unit: "45s", "42m", "5h", "12d".
func span(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// ago writes a past duration d: "3h ago".
func ago(d time.Duration) string { return span(d) + " ago" }

// relative writes t against now: "in 42m" or "3h ago".
func relative(t, now time.Time) string {
	if d := t.Sub(now); d >= 0 {
		return "in " + span(d)
	}
	return ago(now.Sub(t))
}

// expiryText writes an access token's expiry: "never", or its time and
// "in 42m" or "expired 3h ago".
func expiryText(t, now time.Time) string {
	switch {
	case t.IsZero():
		return "never"
	case t.After(now):
		return stamp(t) + " (in " + span(t.Sub(now)) + ")"
	}
	return stamp(t) + " (expired " + ago(now.Sub(t)) + ")"
}

// rfc3339 writes t in UTC as RFC 3339 with nanoseconds; "" for the zero
// time, which JSON then leaves out.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
