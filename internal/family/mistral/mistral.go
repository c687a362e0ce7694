// Package mistral holds the Mistral AI InvokeModel families:
// "mistral-text" (text completion with an [INST] prompt, for Mistral 7B
// Instruct, Mixtral, Small and Large) and "mistral-chat" (the chat form of
// Mistral Large, with messages and function tools).
package mistral

import (
	"encoding/json"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/completion"
	"github.com/outcrop/outcrop/internal/family/openaichat"
	"github.com/outcrop/outcrop/internal/family/prompt"
	"github.com/outcrop/outcrop/internal/family/schema"
	"github.com/outcrop/outcrop/internal/provider"
)

// Text is the mistral-text family.
type Text struct{}

var _ family.ChatCodec = Text{}

// Name returns "mistral-text".
func (Text) Name() string { return "mistral-text" }

var textSchema = schema.Obj([]string{"prompt"},
	schema.P("prompt", schema.Str()),
	schema.P("max_tokens", schema.Int(1, 8192)),
	schema.P("stop", &schema.Schema{Type: schema.Array, MaxItems: 10, Items: schema.Str()}),
	schema.P("temperature", schema.Num(0, 1)),
	schema.P("top_p", schema.Num(0, 1)),
	schema.P("top_k", schema.Int(1, 200)),
)

type textRequest struct {
	Prompt      string   `json:"prompt"`
	MaxTokens   *int     `json:"max_tokens"`
	Stop        []string `json:"stop"`
	Temperature *float64 `json:"temperature"`
	TopP        *float64 `json:"top_p"`
	TopK        *int     `json:"top_k"`
}

// DecodeRequest validates a text-completion body and returns a raw-prompt
// request.
func (Text) DecodeRequest(body []byte) (*provider.Request, error) {
	var in textRequest
	if err := schema.Unmarshal(body, textSchema, &in); err != nil {
		return nil, err
	}
	p := completion.Params{Prompt: in.Prompt, Temperature: in.Temperature, TopP: in.TopP, TopK: in.TopK, MaxTokens: in.MaxTokens, Stop: in.Stop,
		Formats: []prompt.Parser{prompt.Mistral}}
	return p.Request(0), nil
}

type output struct {
	Text       string  `json:"text"`
	StopReason *string `json:"stop_reason"`
}

type outputs struct {
	Outputs []output `json:"outputs"`
}

// EncodeResponse renders {outputs: [{text, stop_reason}]}.
func (Text) EncodeResponse(_ *provider.Request, resp *provider.Response) ([]byte, error) {
	reason := openaichat.FinishReason(resp.StopReason)
	return json.Marshal(outputs{[]output{{provider.TextOf(resp.Message.Content), &reason}}})
}

// NewStream returns the chunk encoder of one response: {outputs:[{text}]}
// per delta and a final chunk with the stop reason.
func (Text) NewStream(*provider.Request) family.Stream {
	return &completion.Stream[outputs]{
		Delta: func(text string) outputs { return outputs{[]output{{Text: text}}} },
		Final: func(e completion.End) outputs {
			reason := openaichat.FinishReason(e.Reason)
			return outputs{[]output{{StopReason: &reason}}}
		},
	}
}
