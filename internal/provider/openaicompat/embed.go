package openaicompat

import (
	"context"
	"encoding/json"
	"math"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

type (
	embedRequest struct {
		Model          string   `json:"model"`
		Input          []string `json:"input"`
		EncodingFormat string   `json:"encoding_format"`
		Dimensions     int      `json:"dimensions,omitempty"`
	}
	embedResponse struct {
		Data []struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
		Usage *struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
)

// Embed calls /embeddings with every text in one request.
func (c *Client) Embed(ctx context.Context, req *provider.EmbedRequest) (*provider.EmbedResponse, error) {
	if len(req.Texts) == 0 {
		return nil, fault.New(fault.Invalid, "There is no text to embed.")
	}
	body, err := json.Marshal(embedRequest{Model: req.Model, Input: req.Texts, EncodingFormat: "float", Dimensions: req.Dimensions})
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "The request cannot be encoded for the backend.")
	}
	var er embedResponse
	if err := c.HTTP.PostJSON(ctx, "/embeddings", body, 256<<20, &er, "embeddings"); err != nil {
		return nil, err
	}
	out := &provider.EmbedResponse{Vectors: make([][]float32, len(req.Texts))}
	for _, d := range er.Data {
		if d.Index < 0 || d.Index >= len(out.Vectors) || out.Vectors[d.Index] != nil {
			return nil, fault.Newf(fault.ModelFailed, "The %s backend sent embeddings with a bad index.", c.name())
		}
		out.Vectors[d.Index] = d.Embedding
	}
	if err := CheckVectors(c.name(), out.Vectors, req); err != nil {
		return nil, err
	}
	if er.Usage != nil {
		out.InputTokens = er.Usage.PromptTokens
	}
	return out, nil
}

// CheckVectors verifies one vector per text of the requested size and
// normalises them when asked.
func CheckVectors(name string, vs [][]float32, req *provider.EmbedRequest) error {
	if len(vs) != len(req.Texts) {
		return fault.Newf(fault.ModelFailed, "The %s backend sent %d embeddings for %d texts.", name, len(vs), len(req.Texts))
	}
	for i, v := range vs {
		if len(v) == 0 {
			return fault.Newf(fault.ModelFailed, "The %s backend sent no embedding for text %d.", name, i)
		}
		if req.Dimensions > 0 && len(v) != req.Dimensions {
			return fault.Newf(fault.Invalid, "The %s backend's model gives %d dimensions, not the %d requested.", name, len(v), req.Dimensions)
		}
		if req.Normalize {
			var ss float64
			for _, x := range v {
				ss += float64(x) * float64(x)
			}
			if ss > 0 {
				inv := float32(1 / math.Sqrt(ss))
				for j := range v {
					v[j] *= inv
				}
			}
		}
	}
	return nil
}
