package main

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// go-redis writes to stderr on its own, for instance each failed dial of
// its connection pool: the command reports an error once, prefixed
// "oauthrt:", so its log is silenced.
func init() { redis.SetLogger(quietRedis{}) }

// quietRedis is a go-redis logger that writes nothing.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}
