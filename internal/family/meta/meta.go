// Package meta is the "meta-llama" InvokeModel family: Meta Llama 2, 3 and
// 4 models. The body is a raw prompt already in the model's chat template
// ({prompt, temperature, top_p, max_gen_len}); the response and each stream
// chunk carry {generation, prompt_token_count, generation_token_count,
// stop_reason}.
package meta

import (
	"encoding/json"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/schema"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// DefaultMaxGenLen is max_gen_len when the body gives none.
const DefaultMaxGenLen = 512

// Codec is the meta-llama family.
type Codec struct{}

var _ family.ChatCodec = Codec{}

// Name returns "meta-llama".
func (Codec) Name() string { return "meta-llama" }

var requestSchema = schema.Obj([]string{"prompt"},
	schema.P("prompt", schema.Str()),
	schema.P("temperature", schema.Num(0, 1)),
	schema.P("top_p", schema.Num(0, 1)),
	schema.P("max_gen_len", schema.Int(1, 2048)),
	schema.P("images", schema.Arr(schema.Str())),
)

type request struct {
	Prompt      string   `json:"prompt"`
	Temperature *float64 `json:"temperature"`
	TopP        *float64 `json:"top_p"`
	MaxGenLen   *int     `json:"max_gen_len"`
	Images      []string `json:"images"`
}

// DecodeRequest validates a Llama body and returns a raw-prompt request.
// Llama 3.2 Vision's images are not supported: a raw prompt has nowhere to
// carry them.
func (Codec) DecodeRequest(body []byte) (*provider.Request, error) {
	var in request
	if err := schema.Unmarshal(body, requestSchema, &in); err != nil {
		return nil, err
	}
	if len(in.Images) > 0 {
		return nil, fault.New(fault.Invalid, "This model doesn't support image input. Remove the images field and try again.")
	}
	req := &provider.Request{Raw: true, Prompt: in.Prompt, Temperature: in.Temperature, TopP: in.TopP, MaxTokens: DefaultMaxGenLen}
	if in.MaxGenLen != nil {
		req.MaxTokens = *in.MaxGenLen
	}
	return req, nil
}

// StopReason maps a stop reason to Llama's: "length" when cut off, else "stop".
func StopReason(r provider.StopReason) string {
	if r == provider.MaxTokens || r == provider.ContextWindow {
		return "length"
	}
	return "stop"
}

// chunk is the response and stream chunk shape. In the stream, counts and
// the reason are null until the final chunk.
type chunk struct {
	Generation           string  `json:"generation"`
	PromptTokenCount     *int    `json:"prompt_token_count"`
	GenerationTokenCount *int    `json:"generation_token_count"`
	StopReason           *string `json:"stop_reason"`
}

// EncodeResponse renders the response body.
func (Codec) EncodeResponse(_ *provider.Request, resp *provider.Response) ([]byte, error) {
	in, out, reason := resp.Usage.InputTokens, resp.Usage.OutputTokens, StopReason(resp.StopReason)
	return json.Marshal(chunk{provider.TextOf(resp.Message.Content), &in, &out, &reason})
}

// NewStream returns the chunk encoder of one response.
func (Codec) NewStream(*provider.Request) family.Stream { return &stream{} }

type stream struct{ reason provider.StopReason }

// Chunks emits one chunk per text delta and a final chunk with the counts
// and stop reason after the metadata event.
func (s *stream) Chunks(ev provider.Event) ([][]byte, error) {
	var c chunk
	switch ev.Type {
	case provider.TextDeltaEvent:
		c.Generation = ev.Text
	case provider.MessageStopEvent:
		s.reason = ev.StopReason
		return nil, nil
	case provider.MetadataEvent:
		in, out, reason := ev.Usage.InputTokens, ev.Usage.OutputTokens, StopReason(s.reason)
		c.PromptTokenCount, c.GenerationTokenCount, c.StopReason = &in, &out, &reason
	default:
		return nil, nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return [][]byte{b}, nil
}
