package openaiapi

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"

	"github.com/outcrop/outcrop/internal/api/dialect"
	"github.com/outcrop/outcrop/internal/provider"
)

type (
	// EmbeddingRequest is the body of POST /v1/embeddings.
	EmbeddingRequest struct {
		Model          string          `json:"model"`
		Input          json.RawMessage `json:"input"`
		EncodingFormat string          `json:"encoding_format"`
		Dimensions     *int            `json:"dimensions"`
		User           string          `json:"user"`
	}
	// EmbeddingList is the response.
	EmbeddingList struct {
		Object string      `json:"object"`
		Data   []Embedding `json:"data"`
		Model  string      `json:"model"`
		Usage  struct {
			PromptTokens int `json:"prompt_tokens"`
			TotalTokens  int `json:"total_tokens"`
		} `json:"usage"`
	}
	// Embedding is one vector: []float32, or a base64 string of
	// little-endian float32s.
	Embedding struct {
		Object    string `json:"object"`
		Index     int    `json:"index"`
		Embedding any    `json:"embedding"`
	}
)

// Canonical maps the request. Token-array inputs are rejected: the IDs
// would belong to OpenAI's tokenizer, not the model's.
func (er *EmbeddingRequest) Canonical() (*provider.EmbedRequest, error) {
	if er.Model == "" {
		return nil, dialect.Invalid("model", "you must provide a model parameter")
	}
	var texts []string
	var one string
	if err := json.Unmarshal(er.Input, &one); err == nil {
		texts = []string{one}
	} else if err := json.Unmarshal(er.Input, &texts); err != nil {
		return nil, dialect.Invalid("input", "input must be a string or an array of strings; token arrays are not supported.")
	}
	if len(texts) == 0 {
		return nil, dialect.Invalid("input", "'input' must not be empty.")
	}
	if len(texts) > 2048 {
		return nil, dialect.Invalid("input", "'input' must have at most 2048 items.")
	}
	for _, t := range texts {
		if t == "" {
			return nil, dialect.Invalid("input", "'input' cannot contain empty strings.")
		}
	}
	switch er.EncodingFormat {
	case "", "float", "base64":
	default:
		return nil, dialect.Invalid("encoding_format", "Invalid value for 'encoding_format': expected 'float' or 'base64'.")
	}
	req := &provider.EmbedRequest{Texts: texts, Normalize: true}
	if er.Dimensions != nil {
		if *er.Dimensions < 1 {
			return nil, dialect.Invalid("dimensions", "Invalid 'dimensions': expected a value >= 1.")
		}
		req.Dimensions = *er.Dimensions
	}
	return req, nil
}

func (h *Handler) embeddings(w http.ResponseWriter, r *http.Request) error {
	var er EmbeddingRequest
	if err := dialect.ReadJSON(r, &er); err != nil {
		return err
	}
	req, err := er.Canonical()
	if err != nil {
		return err
	}
	t, err := h.m.Resolve(r.Context(), er.Model, dialect.ActionInvoke)
	if err != nil {
		return err
	}
	if d := t.Model.Caps.Dimensions; req.Dimensions > 0 && d > 0 && req.Dimensions > d {
		return dialect.Invalid("dimensions", "Invalid 'dimensions': this model's vectors have at most "+itoa(d)+" dimensions.")
	}
	resp, err := h.m.Embed(r.Context(), t, req)
	if err != nil {
		return err
	}
	out := EmbeddingList{Object: "list", Model: er.Model, Data: make([]Embedding, len(resp.Vectors))}
	for i, v := range resp.Vectors {
		var e any = v
		if er.EncodingFormat == "base64" {
			e = encodeBase64(v)
		}
		out.Data[i] = Embedding{Object: "embedding", Index: i, Embedding: e}
	}
	out.Usage.PromptTokens, out.Usage.TotalTokens = resp.InputTokens, resp.InputTokens
	return writeJSON(w, http.StatusOK, out)
}

func encodeBase64(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(b)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
