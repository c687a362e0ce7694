package cohere

import (
	"encoding/json"
	"math"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/schema"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// Embed is the cohere-embed family. NewID, when set, replaces random
// response IDs.
type Embed struct {
	NewID func() string
}

var _ family.EmbedCodec = Embed{}

// Name returns "cohere-embed".
func (Embed) Name() string { return "cohere-embed" }

var embedSchema = schema.Obj([]string{"texts", "input_type"},
	schema.P("texts", &schema.Schema{Type: schema.Array, MaxItems: 96, Items: &schema.Schema{Type: schema.String, MaxLength: 2048}}),
	schema.P("input_type", schema.Enum("search_document", "search_query", "classification", "clustering")),
	schema.P("truncate", schema.Enum("NONE", "START", "END")),
	schema.P("embedding_types", schema.Arr(schema.Enum("float", "int8", "uint8", "binary", "ubinary"))),
	schema.P("images", schema.Arr(schema.Str())),
	schema.P("output_dimension", &schema.Schema{Type: schema.Integer, Enum: []string{"256", "512", "1024", "1536"}}),
	schema.P("max_tokens", schema.Int(1, schema.NoLimit)),
)

type embedRequest struct {
	Texts           []string `json:"texts"`
	InputType       string   `json:"input_type"`
	EmbeddingTypes  []string `json:"embedding_types"`
	Images          []string `json:"images"`
	OutputDimension int      `json:"output_dimension"`
}

// DecodeEmbed validates an Embed body. Vectors are unit length, as
// Cohere's are.
func (Embed) DecodeEmbed(body []byte) (*provider.EmbedRequest, error) {
	var in embedRequest
	if err := schema.Unmarshal(body, embedSchema, &in); err != nil {
		return nil, err
	}
	if len(in.Images) > 0 {
		return nil, fault.New(fault.Invalid, "This model doesn't support image input. Try again with texts.")
	}
	return &provider.EmbedRequest{
		Texts: in.Texts, InputType: in.InputType, Normalize: true,
		Dimensions: in.OutputDimension, Types: in.EmbeddingTypes,
	}, nil
}

type embedResponse struct {
	Embeddings   any      `json:"embeddings"`
	ID           string   `json:"id"`
	ResponseType string   `json:"response_type"`
	Texts        []string `json:"texts"`
}

// EncodeEmbed renders {embeddings, id, response_type, texts}: a list of
// float vectors, or, when embedding_types was given, an object of vectors
// by type. int8 and uint8 scale each vector by its largest magnitude;
// binary and ubinary pack the sign bits eight to a byte (signed and
// unsigned), as Cohere's quantised types do.
func (c Embed) EncodeEmbed(req *provider.EmbedRequest, resp *provider.EmbedResponse) ([]byte, error) {
	out := embedResponse{ID: newID(c.NewID), Texts: req.Texts}
	if out.Texts == nil {
		out.Texts = []string{}
	}
	vecs := resp.Vectors
	if vecs == nil {
		vecs = [][]float32{}
	}
	if len(req.Types) == 0 {
		out.Embeddings, out.ResponseType = vecs, "embeddings_floats"
		return json.Marshal(out)
	}
	byType := map[string]any{}
	for _, t := range req.Types {
		switch t {
		case "float":
			byType[t] = vecs
		case "int8", "uint8", "binary", "ubinary":
			q := make([][]int, len(vecs))
			for i, v := range vecs {
				q[i] = quantize(t, v)
			}
			byType[t] = q
		}
	}
	out.Embeddings, out.ResponseType = byType, "embeddings_by_type"
	return json.Marshal(out)
}

func quantize(t string, v []float32) []int {
	switch t {
	case "binary", "ubinary":
		out := make([]int, (len(v)+7)/8)
		for i, x := range v {
			if x > 0 {
				out[i/8] |= 1 << (7 - i%8)
			}
		}
		if t == "binary" {
			for i := range out {
				out[i] -= 128
			}
		}
		return out
	}
	var m float64
	for _, x := range v {
		m = math.Max(m, math.Abs(float64(x)))
	}
	out := make([]int, len(v))
	for i, x := range v {
		s := 0.0
		if m > 0 {
			s = float64(x) / m
		}
		if t == "int8" {
			out[i] = int(math.Round(s * 127))
		} else {
			out[i] = int(math.Round(s*127.5 + 127.5))
		}
	}
	return out
}
