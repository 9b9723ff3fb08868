package filestore

import (
	"context"
	"path/filepath"
	"time"
)

// sleep waits for d or until ctx ends, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func dirOf(path string) string { return filepath.Dir(path) }
