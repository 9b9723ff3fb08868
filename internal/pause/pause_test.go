package pause_test

import (
	"context"
	"testing"
	"time"

	"github.com/oauthrt/oauthrt/internal/pause"
)

func TestFor(t *testing.T) {
	if !pause.For(context.Background(), 0) {
		t.Error("a zero wait did not pass")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if pause.For(ctx, time.Hour) {
		t.Error("a wait whose context ended reported that it passed")
	}
}
