// Package titantext is the "titan-text" InvokeModel family: Amazon Titan
// Text G1 Lite, Express and Premier. The body is a raw prompt
// ({inputText, textGenerationConfig}); the response lists one result with
// its completion reason; stream chunks carry outputText increments.
package titantext

import (
	"encoding/json"
	"regexp"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/completion"
	"github.com/outcrop/outcrop/internal/family/prompt"
	"github.com/outcrop/outcrop/internal/family/schema"
	"github.com/outcrop/outcrop/internal/provider"
)

// DefaultMaxTokens is Titan's maxTokenCount when the body gives none.
const DefaultMaxTokens = 512

// Codec is the titan-text family.
type Codec struct{}

var _ family.ChatCodec = Codec{}

// Name returns "titan-text".
func (Codec) Name() string { return "titan-text" }

// requestSchema is Titan Text's body. maxTokenCount is bounded by the
// largest variant (Express, 8,192); the catalog's maxOutputTokens caps the
// smaller ones. Titan accepts only "|"-runs and "User:" as stop sequences.
var requestSchema = schema.Obj([]string{"inputText"},
	schema.P("inputText", &schema.Schema{Type: schema.String, MinLength: 1}),
	schema.P("textGenerationConfig", schema.Obj(nil,
		schema.P("temperature", schema.Num(0, 1)),
		schema.P("topP", schema.Num(0, 1)),
		schema.P("maxTokenCount", schema.Int(0, 8192)),
		schema.P("stopSequences", schema.Arr(&schema.Schema{Type: schema.String, Pattern: regexp.MustCompile(`^(\|+|User:)$`)})),
	)),
)

type request struct {
	InputText            string `json:"inputText"`
	TextGenerationConfig *struct {
		Temperature   *float64 `json:"temperature"`
		TopP          *float64 `json:"topP"`
		MaxTokenCount *int     `json:"maxTokenCount"`
		StopSequences []string `json:"stopSequences"`
	} `json:"textGenerationConfig"`
}

// DecodeRequest validates a Titan Text body and returns a raw-prompt request.
func (Codec) DecodeRequest(body []byte) (*provider.Request, error) {
	var in request
	if err := schema.Unmarshal(body, requestSchema, &in); err != nil {
		return nil, err
	}
	p := completion.Params{Prompt: in.InputText, Formats: []prompt.Parser{prompt.Titan, prompt.Plain}}
	if c := in.TextGenerationConfig; c != nil {
		p.Temperature, p.TopP, p.MaxTokens, p.Stop = c.Temperature, c.TopP, c.MaxTokenCount, c.StopSequences
	}
	return p.Request(DefaultMaxTokens), nil
}

type result struct {
	TokenCount       int    `json:"tokenCount"`
	OutputText       string `json:"outputText"`
	CompletionReason string `json:"completionReason"`
}

type response struct {
	InputTextTokenCount int      `json:"inputTextTokenCount"`
	Results             []result `json:"results"`
}

// EncodeResponse renders {inputTextTokenCount, results}.
func (Codec) EncodeResponse(_ *provider.Request, resp *provider.Response) ([]byte, error) {
	return json.Marshal(response{
		InputTextTokenCount: resp.Usage.InputTokens,
		Results: []result{{
			TokenCount:       resp.Usage.OutputTokens,
			OutputText:       provider.TextOf(resp.Message.Content),
			CompletionReason: Reason(resp.StopReason),
		}},
	})
}

// Reason maps a stop reason to Titan's completionReason.
func Reason(r provider.StopReason) string {
	switch r {
	case provider.MaxTokens, provider.ContextWindow:
		return "LENGTH"
	case provider.StopSequence:
		return "STOP_CRITERIA_MET"
	case provider.ContentFilter:
		return "CONTENT_FILTERED"
	}
	return "FINISHED"
}

// chunk is one stream chunk. Counts and the reason are null until the final
// chunk, which carries them once usage is known.
type chunk struct {
	OutputText                string  `json:"outputText"`
	Index                     int     `json:"index"`
	TotalOutputTextTokenCount *int    `json:"totalOutputTextTokenCount"`
	CompletionReason          *string `json:"completionReason"`
	InputTextTokenCount       *int    `json:"inputTextTokenCount"`
}

// NewStream returns the chunk encoder of one response: a chunk per text
// delta and a last chunk with the completion reason and token counts.
func (Codec) NewStream(*provider.Request) family.Stream {
	return &completion.Stream[chunk]{
		Delta: func(text string) chunk { return chunk{OutputText: text} },
		Final: func(e completion.End) chunk {
			reason := Reason(e.Reason)
			out, in := e.Usage.OutputTokens, e.Usage.InputTokens
			return chunk{CompletionReason: &reason, TotalOutputTextTokenCount: &out, InputTextTokenCount: &in}
		},
	}
}
