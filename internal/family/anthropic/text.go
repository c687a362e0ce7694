package anthropic

import (
	"encoding/json"
	"strings"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/completion"
	"github.com/outcrop/outcrop/internal/family/schema"
	"github.com/outcrop/outcrop/internal/provider"
)

// Text is the anthropic-text family: Claude Text Completions, whose prompt
// alternates "\n\nHuman:" and "\n\nAssistant:" turns.
type Text struct{}

var (
	_ family.ChatCodec   = Text{}
	_ family.BodyChooser = Text{}
)

// Name returns "anthropic-text".
func (Text) Name() string { return "anthropic-text" }

// For returns Messages for a Messages API body: Bedrock serves the
// Messages API on Claude 2, 2.1 and Instant 1.2 too (its "Supported models"
// page for the Messages API lists them), and clients such as LangChain's
// ChatBedrock send Messages bodies to every Claude ID. A body with a
// prompt, or that is not an object, stays with Text and its validation.
func (Text) For(body []byte) family.ChatCodec {
	var probe struct {
		Prompt   json.RawMessage `json:"prompt"`
		Messages json.RawMessage `json:"messages"`
	}
	if json.Unmarshal(body, &probe) == nil && probe.Messages != nil && probe.Prompt == nil {
		return Messages{}
	}
	return Text{}
}

// Turn markers of the Text Completions prompt.
const (
	HumanTurn     = "\n\nHuman:"
	AssistantTurn = "\n\nAssistant:"
)

// textSchema is open (Claude's text schema tolerates unknown keys such as
// anthropic_version) but refuses a Messages body outright.
var textSchema = &schema.Schema{
	Type:        schema.Object,
	Open:        true,
	Required:    []string{"prompt", "max_tokens_to_sample"},
	NotRequired: []string{"messages"},
	Props: []schema.Prop{
		schema.P("prompt", schema.Str()),
		schema.P("max_tokens_to_sample", schema.Int(0, schema.NoLimit)),
		schema.P("temperature", schema.Num(0, 1)),
		schema.P("top_p", schema.Num(0, 1)),
		schema.P("top_k", schema.Int(0, 500)),
		schema.P("stop_sequences", schema.Arr(schema.Str())),
	},
}

type textRequest struct {
	Prompt            string   `json:"prompt"`
	MaxTokensToSample int      `json:"max_tokens_to_sample"`
	Temperature       *float64 `json:"temperature"`
	TopP              *float64 `json:"top_p"`
	TopK              *int     `json:"top_k"`
	StopSequences     []string `json:"stop_sequences"`
}

// DecodeRequest validates a Text Completions body and splits its prompt
// into turns: text before the first Human turn becomes the system prompt
// (as Claude 2.1 reads it), consecutive turns of one role are merged, and
// text after the last "\n\nAssistant:" prefills the answer.
func (Text) DecodeRequest(body []byte) (*provider.Request, error) {
	var in textRequest
	if err := schema.Unmarshal(body, textSchema, &in); err != nil {
		return nil, err
	}
	req := &provider.Request{
		MaxTokens:     in.MaxTokensToSample,
		Temperature:   in.Temperature,
		TopP:          in.TopP,
		TopK:          in.TopK,
		StopSequences: in.StopSequences,
	}
	h := strings.Index(in.Prompt, HumanTurn)
	if h < 0 {
		return nil, invalid(`prompt must start with "\n\nHuman:" turn`)
	}
	if !strings.Contains(in.Prompt[h:], AssistantTurn) {
		return nil, invalid(`prompt must end with "\n\nAssistant:" turn`)
	}
	if sys := strings.TrimSpace(in.Prompt[:h]); sys != "" {
		req.System = []provider.Block{{Type: provider.TextBlock, Text: sys}}
	}
	rest := in.Prompt[h:]
	for rest != "" {
		role, marker := provider.User, HumanTurn
		if strings.HasPrefix(rest, AssistantTurn) {
			role, marker = provider.Assistant, AssistantTurn
		}
		rest = rest[len(marker):]
		end := nextTurn(rest)
		text := strings.TrimSpace(rest[:end])
		rest = rest[end:]
		if n := len(req.Messages); n > 0 && req.Messages[n-1].Role == role {
			if text != "" {
				prev := &req.Messages[n-1].Content[0]
				prev.Text = strings.TrimSpace(prev.Text + "\n\n" + text)
			}
			continue
		}
		if role == provider.Assistant && rest == "" && text == "" {
			break // the open Assistant turn the model completes
		}
		req.Messages = append(req.Messages, provider.Message{Role: role, Content: []provider.Block{{Type: provider.TextBlock, Text: text}}})
	}
	return req, nil
}

// nextTurn returns the offset of the next turn marker in s, or len(s).
func nextTurn(s string) int {
	end := len(s)
	for _, m := range []string{HumanTurn, AssistantTurn} {
		if i := strings.Index(s, m); i >= 0 && i < end {
			end = i
		}
	}
	return end
}

type textChunk struct {
	Completion string  `json:"completion"`
	StopReason *string `json:"stop_reason"`
	Stop       *string `json:"stop"`
}

// textStop maps a stop reason to Claude's text-completion stop_reason and
// stop. Ending the turn is reported as meeting the implicit "\n\nHuman:"
// stop sequence, as Claude does.
func textStop(r provider.StopReason, seq string) (reason string, stop *string) {
	switch r {
	case provider.MaxTokens, provider.ContextWindow:
		return "max_tokens", nil
	case provider.StopSequence:
		return "stop_sequence", &seq
	}
	h := HumanTurn
	return "stop_sequence", &h
}

// EncodeResponse renders {completion, stop_reason, stop}.
func (Text) EncodeResponse(_ *provider.Request, resp *provider.Response) ([]byte, error) {
	reason, stop := textStop(resp.StopReason, resp.StopSequence)
	return json.Marshal(textChunk{Completion: provider.TextOf(resp.Message.Content), StopReason: &reason, Stop: stop})
}

// NewStream returns the chunk encoder of one response: {completion} per
// text delta with null stop fields, and a final empty completion with the
// stop reason.
func (Text) NewStream(*provider.Request) family.Stream {
	return &completion.Stream[textChunk]{
		Delta: func(text string) textChunk { return textChunk{Completion: text} },
		Final: func(e completion.End) textChunk {
			reason, stop := textStop(e.Reason, e.Sequence)
			return textChunk{StopReason: &reason, Stop: stop}
		},
	}
}
