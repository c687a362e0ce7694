// Package titanembed holds the Amazon Titan text-embedding InvokeModel
// families: "titan-embed" (Titan Embeddings G1 - Text, {inputText}) and
// "titan-embed-v2" (Titan Text Embeddings V2, which adds dimensions,
// normalize and embeddingTypes).
package titanembed

import (
	"encoding/json"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/schema"
	"github.com/outcrop/outcrop/internal/provider"
)

// G1 is the titan-embed family.
type G1 struct{}

// V2 is the titan-embed-v2 family.
type V2 struct{}

var (
	_ family.EmbedCodec = G1{}
	_ family.EmbedCodec = V2{}
)

// Name returns "titan-embed".
func (G1) Name() string { return "titan-embed" }

// Name returns "titan-embed-v2".
func (V2) Name() string { return "titan-embed-v2" }

var g1Schema = schema.Obj([]string{"inputText"},
	schema.P("inputText", &schema.Schema{Type: schema.String, MinLength: 1}),
)

var v2Schema = schema.Obj([]string{"inputText"},
	schema.P("inputText", &schema.Schema{Type: schema.String, MinLength: 1, MaxLength: 50000}),
	schema.P("dimensions", &schema.Schema{Type: schema.Integer, Enum: []string{"1024", "512", "256"}}),
	schema.P("normalize", schema.Bool()),
	schema.P("embeddingTypes", &schema.Schema{Type: schema.Array, MinItems: 1, Items: schema.Enum("float", "binary")}),
)

// DecodeEmbed validates a G1 body.
func (G1) DecodeEmbed(body []byte) (*provider.EmbedRequest, error) {
	var in struct {
		InputText string `json:"inputText"`
	}
	if err := schema.Unmarshal(body, g1Schema, &in); err != nil {
		return nil, err
	}
	return &provider.EmbedRequest{Texts: []string{in.InputText}}, nil
}

// EncodeEmbed renders {embedding, inputTextTokenCount}.
func (G1) EncodeEmbed(_ *provider.EmbedRequest, resp *provider.EmbedResponse) ([]byte, error) {
	return json.Marshal(struct {
		Embedding           []float32 `json:"embedding"`
		InputTextTokenCount int       `json:"inputTextTokenCount"`
	}{first(resp), resp.InputTokens})
}

func first(resp *provider.EmbedResponse) []float32 {
	if len(resp.Vectors) == 0 || resp.Vectors[0] == nil {
		return []float32{}
	}
	return resp.Vectors[0]
}

type v2Request struct {
	InputText      string   `json:"inputText"`
	Dimensions     *int     `json:"dimensions"`
	Normalize      *bool    `json:"normalize"`
	EmbeddingTypes []string `json:"embeddingTypes"`
}

// DecodeEmbed validates a V2 body. Normalisation defaults to true, as on
// Bedrock. When the body names no dimensions, Dimensions stays 0 — the
// serving model's native size — rather than Bedrock's 1024: a model standing
// in for Titan (the built-in MiniLM, 384) cannot honestly produce 1024
// values, and callers that ask for a size get it or a clear error.
func (V2) DecodeEmbed(body []byte) (*provider.EmbedRequest, error) {
	var in v2Request
	if err := schema.Unmarshal(body, v2Schema, &in); err != nil {
		return nil, err
	}
	req := &provider.EmbedRequest{Texts: []string{in.InputText}, Normalize: true, Types: in.EmbeddingTypes}
	if len(req.Types) == 0 {
		req.Types = []string{"float"}
	}
	if in.Dimensions != nil {
		req.Dimensions = *in.Dimensions
	}
	if in.Normalize != nil {
		req.Normalize = *in.Normalize
	}
	return req, nil
}

// EncodeEmbed renders {embedding, embeddingsByType, inputTextTokenCount}
// with the requested embeddingTypes ("float", "binary"). A binary
// embedding has one 0 or 1 per dimension: 1 where the float is positive.
func (V2) EncodeEmbed(req *provider.EmbedRequest, resp *provider.EmbedResponse) ([]byte, error) {
	vec := first(resp)
	byType := map[string]any{}
	for _, t := range req.Types {
		switch t {
		case "float":
			byType["float"] = vec
		case "binary":
			bits := make([]int, len(vec))
			for i, v := range vec {
				if v > 0 {
					bits[i] = 1
				}
			}
			byType["binary"] = bits
		}
	}
	return json.Marshal(struct {
		Embedding           []float32      `json:"embedding"`
		EmbeddingsByType    map[string]any `json:"embeddingsByType"`
		InputTextTokenCount int            `json:"inputTextTokenCount"`
	}{vec, byType, resp.InputTokens})
}
