package entra

import (
	"context"
	"testing"
	"time"
)

// SetPause makes Refresh wait between attempts with f instead of a timer,
// until t ends. f gets the real wait to call if it wants one.
func SetPause(t testing.TB, f func(ctx context.Context, d time.Duration, real func(context.Context, time.Duration) error) error) {
	real := wait
	wait = func(ctx context.Context, d time.Duration) error { return f(ctx, d, real) }
	t.Cleanup(func() { wait = real })
}
