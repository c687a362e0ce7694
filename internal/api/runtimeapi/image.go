package runtimeapi

import (
	"context"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// generateImages runs a decoded text-to-image InvokeModel on the model's
// backend and encodes the family's response body. Image generation has no
// tokens; the invocation metrics count it with zero tokens.
func (h *Handler) generateImages(ctx context.Context, inv *invocation) ([]byte, error) {
	g, ok := inv.t.adapter.(provider.ImageGenerator)
	if !ok {
		return nil, fault.Newf(fault.Invalid, "The backend %q serving %s cannot generate images. Serve the model from an image backend such as kind openai-images (docs/backends.md).", inv.t.model.Backend, inv.t.model.ID)
	}
	resp, err := g.GenerateImages(ctx, inv.ireq)
	if err = backendError(ctx, err); err != nil {
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
