package keepalive

import (
	"context"
	"time"
)

// SetPause makes the sweeps wait through f instead of a timer, until
// restore is called, so that tests never sleep. Tests that call it must
// not run in parallel.
func SetPause(f func(ctx context.Context, d time.Duration) error) (restore func()) {
	old := pause
	pause = f
	return func() { pause = old }
}
