// Package pause waits for a while, or until a context ends: the one wait
// that the Transport, the token endpoint client and the refreshers share.
package pause

import (
	"context"
	"time"
)

// For waits for d or until ctx ends, and reports whether d passed.
func For(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
