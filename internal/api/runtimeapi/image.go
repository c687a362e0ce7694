package runtimeapi

import (
	"context"
	"net/http"
	"time"

	"github.com/outcrop/outcrop/internal/awsapi/eventstream"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/reqctx"
	"github.com/outcrop/outcrop/internal/span"
)

// generateImages runs a decoded text-to-image InvokeModel on the model's
// backend and encodes the family's response body. Image generation has no
// tokens; the invocation metrics count it with zero tokens.
func (h *Handler) generateImages(ctx context.Context, inv *invocation) ([]byte, error) {
	g, ok := inv.t.adapter.(provider.ImageGenerator)
	if !ok {
		return nil, fault.Newf(fault.Invalid, "The backend %q serving %s cannot generate images. Serve the model from an image backend such as kind openai-images (docs/backends.md).", inv.t.model.Backend, inv.t.model.ID)
	}
	ctx, tr := traceCall(ctx, span.OpGenerateContent, inv.t.model)
	tr.Set(span.String(span.GenAIOutputType, "image"))
	resp, err := g.GenerateImages(ctx, inv.ireq)
	err = backendError(ctx, err)
	if err == nil {
		tr.Set(span.Int(span.Images, len(resp.Images)))
	}
	tr.End(err, 0, 0, "")
	if err != nil {
		h.opts.Metrics.record(inv.t.model.ID, err, 0, 0, 0)
		return nil, err
	}
	if len(resp.Images) != inv.ireq.Count {
		err := fault.Newf(fault.ModelFailed, "The backend returned %d images for %d requested.", len(resp.Images), inv.ireq.Count)
		h.opts.Metrics.record(inv.t.model.ID, err, 0, 0, 0)
		return nil, err
	}
	h.opts.Metrics.Images(inv.t.model.ID, len(resp.Images))
	return inv.image.EncodeImage(inv.ireq, resp)
}

// invokeImageStream answers InvokeModelWithResponseStream for an image
// model that streams (Stability's, whose pages document the operation):
// the whole response body in one chunk, carrying the invocation metrics
// like the last chunk of any stream. A failure before that chunk is an
// ordinary error response.
func (h *Handler) invokeImageStream(w http.ResponseWriter, r *http.Request, inv *invocation, start time.Time) error {
	ctx, cancel := h.timeout(r.Context())
	defer cancel()
	out, err := h.generateImages(ctx, inv)
	if err != nil {
		return err
	}
	d := h.opts.Now().Sub(start)
	h.opts.Metrics.record(inv.t.model.ID, nil, d, 0, 0)
	reqctx.AddImages(r.Context(), inv.ireq.Count)
	chunk, err := withMetrics(out, invocationMetrics{InvocationLatency: d.Milliseconds(), FirstByteLatency: d.Milliseconds()})
	if err != nil {
		return err
	}
	es := eventstream.NewWriter(w)
	es.Header.Set("X-Amzn-Bedrock-Content-Type", "application/json")
	echoHeaders(r, es.Header)
	if err := es.Event("chunk", chunkEvent{chunk}); err != nil && !httpRequestGone(err) {
		h.log.DebugContext(r.Context(), "stream write failed", "err", err)
	}
	return nil
}
