// Package deepseek is the "deepseek" InvokeModel family: DeepSeek-R1 and
// DeepSeek-V3.1. The body is a raw prompt in DeepSeek's format
// ({prompt, temperature, top_p, max_tokens, stop}); the response and each
// stream chunk carry {choices: [{text, stop_reason}]}.
package deepseek

import (
	"encoding/json"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/completion"
	"github.com/outcrop/outcrop/internal/family/prompt"
	"github.com/outcrop/outcrop/internal/family/schema"
	"github.com/outcrop/outcrop/internal/provider"
)

// Codec is the deepseek family.
type Codec struct{}

var _ family.ChatCodec = Codec{}

// Name returns "deepseek".
func (Codec) Name() string { return "deepseek" }

// requestSchema is the body Bedrock's DeepSeek page documents:
// temperature and top_p at most 1, max_tokens from 1 to 32,768, at most 10
// stop strings.
var requestSchema = schema.Obj([]string{"prompt"},
	schema.P("prompt", schema.Str()),
	schema.P("temperature", schema.Num(0, 1)),
	schema.P("top_p", schema.Num(0, 1)),
	schema.P("max_tokens", schema.Int(1, 32768)),
	schema.P("stop", &schema.Schema{Type: schema.Array, MaxItems: 10, Items: schema.Str()}),
)

type request struct {
	Prompt      string   `json:"prompt"`
	Temperature *float64 `json:"temperature"`
	TopP        *float64 `json:"top_p"`
	MaxTokens   *int     `json:"max_tokens"`
	Stop        []string `json:"stop"`
}

// DecodeRequest validates a DeepSeek body and returns a raw-prompt
// request, read as chat turns in DeepSeek's format or, as the models
// answer a bare instruction, as one user turn. The page gives no default
// for max_tokens, so the backend's applies, as for Mistral's text models.
func (Codec) DecodeRequest(body []byte) (*provider.Request, error) {
	var in request
	if err := schema.Unmarshal(body, requestSchema, &in); err != nil {
		return nil, err
	}
	p := completion.Params{Prompt: in.Prompt, Temperature: in.Temperature, TopP: in.TopP, MaxTokens: in.MaxTokens, Stop: in.Stop,
		Formats: []prompt.Parser{prompt.DeepSeek, prompt.Plain}}
	return p.Request(0), nil
}

// StopReason maps a stop reason to DeepSeek's: "length" when cut off at
// max_tokens, else "stop".
func StopReason(r provider.StopReason) string {
	if r == provider.MaxTokens || r == provider.ContextWindow {
		return "length"
	}
	return "stop"
}

type choice struct {
	Text       string  `json:"text"`
	StopReason *string `json:"stop_reason"`
}

// body is the response and stream chunk shape. In the stream, stop_reason
// is null until the final chunk.
type body struct {
	Choices []choice `json:"choices"`
}

func final(text string, e completion.End) body {
	reason := StopReason(e.Reason)
	return body{[]choice{{text, &reason}}}
}

// EncodeResponse renders {"choices": [{"text", "stop_reason"}]}.
func (Codec) EncodeResponse(_ *provider.Request, resp *provider.Response) ([]byte, error) {
	return json.Marshal(final(provider.TextOf(resp.Message.Content), completion.EndOf(resp)))
}

// NewStream returns the chunk encoder of one response: a chunk per text
// delta, with a null stop_reason, and a final chunk with empty text and
// the stop reason, to which the runtime adds the invocation metrics.
func (Codec) NewStream(*provider.Request) family.Stream {
	return &completion.Stream[body]{
		Delta: func(text string) body { return body{[]choice{{Text: text}}} },
		Final: func(e completion.End) body { return final("", e) },
	}
}
