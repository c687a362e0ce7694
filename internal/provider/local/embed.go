package local

import (
	"context"
	"math"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/span"
)

// Embed returns one vector per text from a sentence-transformers model.
// The vectors have the model's native size (384 for all-MiniLM-L6-v2);
// asking for another size is an error rather than a padded or projected
// imitation. Models whose pipeline ends in a Normalize module always
// return unit vectors; Normalize asks for them from any model.
func (a *Adapter) Embed(ctx context.Context, req *provider.EmbedRequest) (*provider.EmbedResponse, error) {
	_, queue := span.Start(ctx, "engine.queue")
	lease, err := a.sched.Acquire(ctx, req.Model, nil)
	queue.End(err)
	if err != nil {
		return nil, err
	}
	defer lease.Release()
	m := lease.Model.embed
	if m == nil {
		return nil, fault.Newf(fault.Invalid, "Model %s generates text; it cannot produce embeddings.", req.Model)
	}
	if req.Dimensions != 0 && req.Dimensions != m.Dimensions() {
		return nil, fault.Newf(fault.Invalid, "This model produces %d-dimensional embeddings; %d dimensions are not supported.", m.Dimensions(), req.Dimensions)
	}
	_, enc := span.Start(ctx, "engine.embed")
	if enc.Recording() {
		enc.Set(span.Int("outcrop.engine.texts", len(req.Texts)))
	}
	vecs, err := m.Embed(ctx, req.Texts)
	enc.End(err)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fault.Wrap(fault.ModelFailed, err, "The local embedding model failed.")
	}
	resp := &provider.EmbedResponse{Vectors: vecs}
	for i, t := range req.Texts {
		resp.InputTokens += min(m.CountTokens(t), m.MaxTokens())
		if req.Normalize {
			normalize(vecs[i])
		}
	}
	return resp, nil
}

func normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= inv
	}
}
