package reqctx

import (
	"context"
	"sync/atomic"
)

// Usage collects the tokens a request's model invocations consumed, for
// quota reconciliation and usage accounting. The server puts one in the
// context of each request; whatever invokes a model (any front door)
// reports through AddUsage. It is safe for concurrent use.
type Usage struct {
	input, output atomic.Int64
	images        atomic.Int64
}

// Tokens returns the input and output tokens reported so far.
func (u *Usage) Tokens() (input, output int) {
	return int(u.input.Load()), int(u.output.Load())
}

// WithUsage returns a context carrying u.
func WithUsage(ctx context.Context, u *Usage) context.Context {
	return context.WithValue(ctx, key[*Usage]{}, u)
}

// AddUsage adds to the usage in ctx, if there is one.
func AddUsage(ctx context.Context, input, output int) {
	if u, _ := ctx.Value(key[*Usage]{}).(*Usage); u != nil {
		u.input.Add(int64(input))
		u.output.Add(int64(output))
	}
}

// AddImages adds generated images to the usage in ctx, if there is one.
func AddImages(ctx context.Context, n int) {
	if u, _ := ctx.Value(key[*Usage]{}).(*Usage); u != nil {
		u.images.Add(int64(n))
	}
}

// Images returns the images reported so far.
func (u *Usage) Images() int { return int(u.images.Load()) }

// UsageFrom returns the usage in ctx, or nil.
func UsageFrom(ctx context.Context) *Usage {
	u, _ := ctx.Value(key[*Usage]{}).(*Usage)
	return u
}
