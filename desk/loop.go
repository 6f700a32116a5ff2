package desk

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
)

// Every runs fn at once and then every interval until ctx ends, and
// returns when ctx has ended. An error or a panic of one run is logged
// with what, and the next run comes as usual: one bad row or one bug in a
// rare path never stops a background loop of the service.
func Every(ctx context.Context, interval time.Duration, log *slog.Logger, what string, fn func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := runSafely(ctx, fn); err != nil && ctx.Err() == nil {
			log.Warn("background run failed", "loop", what, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runSafely runs fn, turning a panic into an error with its stack.
func runSafely(ctx context.Context, fn func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(ctx)
}
