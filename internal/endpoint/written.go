package endpoint

import (
	"context"
	"net/http/httptrace"
	"sync/atomic"
)

// A writeWatch learns whether a request went out whole: whether the token
// endpoint may have it, and may have acted on it (rotated the refresh
// token it carries) even if no answer comes back.
//
// It hears net/http's [httptrace.ClientTrace.WroteRequest], which fires
// once the request, body included, is handed to the connection, before
// net/http flushes its last buffered bytes. So a failure after it may
// still be one the endpoint never saw; the watch then errs on the safe
// side, counting the request as written. A failure before it (no
// connection, a TLS handshake refused, a write that broke half-way)
// leaves the endpoint without a whole request, which it cannot act on.
type writeWatch struct{ written atomic.Bool }

type writeWatchKey struct{}

// watchWrites returns ctx carrying a new writeWatch, which requests sent
// with the returned context report to. Each call starts a watch of its
// own, so that a request made with a context that saw an earlier one
// (the same Refresh trying another client authentication) is not taken
// for written. A trace already in ctx keeps getting its calls.
func watchWrites(ctx context.Context) (context.Context, *writeWatch) {
	w := new(writeWatch)
	ctx = context.WithValue(ctx, writeWatchKey{}, w)
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				w.written.Store(true)
			}
		},
	}), w
}

// mayBeWritten reports whether a request made with ctx may have reached
// the endpoint whole: true when the innermost writeWatch in ctx saw it
// written, and true when ctx carries no watch, as nothing then proves it
// was not.
func mayBeWritten(ctx context.Context) bool {
	w, ok := ctx.Value(writeWatchKey{}).(*writeWatch)
	return !ok || w.written.Load()
}
