package dialect

import (
	"context"

	"github.com/outcrop/outcrop/internal/span"
)

// traceCall starts the backend-call span of an invocation of t (a no-op
// unless tracing is on; docs/metrics.md, Traces).
func traceCall(ctx context.Context, op string, t *Target) (context.Context, span.Invocation) {
	return span.StartInvocation(ctx, op, t.Model.ID, t.Model.BackendName(), t.Model.BackendModel)
}
