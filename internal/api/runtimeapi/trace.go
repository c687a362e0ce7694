package runtimeapi

import (
	"context"

	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/span"
)

// traceCall starts the backend-call span of an invocation of m (a no-op
// unless tracing is on; docs/metrics.md, Traces).
func traceCall(ctx context.Context, op string, m *catalog.Model) (context.Context, span.Invocation) {
	return span.StartInvocation(ctx, op, m.ID, m.BackendName(), m.BackendModel)
}

// endConverse ends the span of a Converse-shaped call.
func endConverse(tr span.Invocation, err error, resp *provider.Response) {
	if resp == nil {
		tr.End(err, 0, 0, "")
		return
	}
	tr.End(err, resp.Usage.InputTokens, resp.Usage.OutputTokens, string(resp.StopReason))
}
