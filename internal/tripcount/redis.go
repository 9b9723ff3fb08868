package tripcount

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// Hook returns a go-redis hook that counts in c what a client sends: one
// trip per command, and one per pipeline or transaction (sent as one
// round trip). Add it to a client with AddHook. On a cluster client it
// counts what the client is asked to send: the redirections (MOVED, ASK)
// and the fetch of the cluster's slots that the client makes by itself
// are not seen, and a pipeline that spans nodes counts as one.
func Hook(c *Counter) redis.Hook { return hook{c} }

type hook struct{ c *Counter }

func (h hook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		trip(ctx, h.c)
		return next(ctx, cmd)
	}
}

func (h hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		trip(ctx, h.c)
		return next(ctx, cmds)
	}
}
