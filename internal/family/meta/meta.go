// Package meta is the "meta-llama" InvokeModel family: Meta Llama 2, 3 and
// 4 models. The body is a raw prompt already in the model's chat template
// ({prompt, temperature, top_p, max_gen_len}); the response and each stream
// chunk carry {generation, prompt_token_count, generation_token_count,
// stop_reason}.
package meta

import (
	"encoding/json"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/completion"
	"github.com/outcrop/outcrop/internal/family/prompt"
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
	p := completion.Params{Prompt: in.Prompt, Temperature: in.Temperature, TopP: in.TopP, MaxTokens: in.MaxGenLen,
		Formats: []prompt.Parser{prompt.Llama3, prompt.Llama2}}
	return p.Request(DefaultMaxGenLen), nil
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

func final(text string, e completion.End) chunk {
	in, out, reason := e.Usage.InputTokens, e.Usage.OutputTokens, StopReason(e.Reason)
	return chunk{text, &in, &out, &reason}
}

// EncodeResponse renders the response body: the final chunk with the
// whole text.
func (Codec) EncodeResponse(_ *provider.Request, resp *provider.Response) ([]byte, error) {
	return json.Marshal(final(provider.TextOf(resp.Message.Content), completion.EndOf(resp)))
}

// NewStream returns the chunk encoder of one response: one chunk per text
// delta and a final chunk with the counts and stop reason.
func (Codec) NewStream(*provider.Request) family.Stream {
	return &completion.Stream[chunk]{
		Delta: func(text string) chunk { return chunk{Generation: text} },
		Final: func(e completion.End) chunk { return final("", e) },
	}
}
