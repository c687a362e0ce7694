// Package nova is the "nova" InvokeModel family: Amazon Nova understanding
// models (Micro, Lite, Pro, Premier) with the messages-v1 schema. The body
// is Converse's, except that inference parameters (including topK) sit in
// inferenceConfig, which many callers spell in snake_case
// (max_new_tokens, top_p, top_k); both spellings are accepted. The response
// is a Converse-like object, and each stream chunk is one ConverseStream
// event wrapped in an object named after it.
package nova

import (
	"encoding/json"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/converse"
	"github.com/outcrop/outcrop/internal/family/schema"
	"github.com/outcrop/outcrop/internal/provider"
)

// Codec is the nova family.
type Codec struct{}

var _ family.ChatCodec = Codec{}

// Name returns "nova".
func (Codec) Name() string { return "nova" }

func openObj() *schema.Schema { return &schema.Schema{Type: schema.Object, Open: true} }

// contentSchema closes the content-block union so that stray keys (an
// OpenAI-style "type", a misplaced cachePoint) are reported as Nova does;
// the members themselves are checked by the Converse validation.
var contentSchema = schema.Obj(nil,
	schema.P("text", schema.Str()),
	schema.P("image", openObj()),
	schema.P("video", openObj()),
	schema.P("audio", openObj()),
	schema.P("document", openObj()),
	schema.P("toolUse", openObj()),
	schema.P("toolResult", openObj()),
	schema.P("reasoningContent", openObj()),
	schema.P("cachePoint", openObj()),
)

var requestSchema = schema.Obj([]string{"messages"},
	schema.P("schemaVersion", schema.Enum("messages-v1")),
	schema.P("system", schema.Arr(schema.Obj(nil,
		schema.P("text", schema.Str()),
		schema.P("cachePoint", openObj()),
	))),
	schema.P("messages", schema.Arr(schema.Obj([]string{"role", "content"},
		schema.P("role", schema.Enum("user", "assistant")),
		schema.P("content", schema.Arr(contentSchema)),
	))),
	schema.P("inferenceConfig", schema.Obj(nil,
		schema.P("maxTokens", schema.Int(1, schema.NoLimit)),
		schema.P("max_new_tokens", schema.Int(1, schema.NoLimit)),
		schema.P("temperature", schema.Num(0, 1)),
		schema.P("topP", schema.Num(0, 1)),
		schema.P("top_p", schema.Num(0, 1)),
		schema.P("topK", schema.Int(0, 128)),
		schema.P("top_k", schema.Int(0, 128)),
		schema.P("stopSequences", schema.Arr(schema.Str())),
		schema.P("reasoningConfig", openObj()),
	)),
	schema.P("toolConfig", schema.Obj([]string{"tools"},
		schema.P("tools", schema.Arr(openObj())),
		schema.P("toolChoice", openObj()),
	)),
)

type inferenceConfig struct {
	MaxTokens       *int            `json:"maxTokens"`
	MaxNewTokens    *int            `json:"max_new_tokens"`
	Temperature     *float64        `json:"temperature"`
	TopP            *float64        `json:"topP"`
	TopPSnake       *float64        `json:"top_p"`
	TopK            *int            `json:"topK"`
	TopKSnake       *int            `json:"top_k"`
	StopSequences   []string        `json:"stopSequences"`
	ReasoningConfig json.RawMessage `json:"reasoningConfig"`
}

type request struct {
	System          []converse.SystemBlock `json:"system"`
	Messages        []converse.Message     `json:"messages"`
	InferenceConfig *inferenceConfig       `json:"inferenceConfig"`
	ToolConfig      *converse.ToolConfig   `json:"toolConfig"`
}

// DecodeRequest validates a messages-v1 body: its shape against Nova's
// schema, then its conversation as Converse does.
func (Codec) DecodeRequest(body []byte) (*provider.Request, error) {
	var in request
	if err := schema.Unmarshal(body, requestSchema, &in); err != nil {
		return nil, err
	}
	cw := converse.Request{System: in.System, Messages: in.Messages, ToolConfig: in.ToolConfig}
	req, err := cw.Canonical()
	if err != nil {
		return nil, err
	}
	if c := in.InferenceConfig; c != nil {
		req.Temperature, req.StopSequences = c.Temperature, c.StopSequences
		req.TopP, req.TopK = first(c.TopP, c.TopPSnake), first(c.TopK, c.TopKSnake)
		if n := first(c.MaxTokens, c.MaxNewTokens); n != nil {
			req.MaxTokens = *n
		}
		if len(c.ReasoningConfig) > 0 {
			req.Extra, _ = json.Marshal(map[string]json.RawMessage{"reasoningConfig": c.ReasoningConfig})
		}
	}
	return req, nil
}

func first[T any](a, b *T) *T {
	if a != nil {
		return a
	}
	return b
}

type usage struct {
	InputTokens               int `json:"inputTokens"`
	OutputTokens              int `json:"outputTokens"`
	TotalTokens               int `json:"totalTokens"`
	CacheReadInputTokenCount  int `json:"cacheReadInputTokenCount"`
	CacheWriteInputTokenCount int `json:"cacheWriteInputTokenCount"`
}

type response struct {
	Output     any    `json:"output"`
	StopReason string `json:"stopReason"`
	Usage      usage  `json:"usage"`
}

// EncodeResponse renders {output: {message}, stopReason, usage}.
func (Codec) EncodeResponse(_ *provider.Request, resp *provider.Response) ([]byte, error) {
	cr := converse.EncodeResponse(resp, 0)
	u := resp.Usage
	return json.Marshal(response{
		Output:     cr.Output,
		StopReason: cr.StopReason,
		Usage:      usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, TotalTokens: u.InputTokens + u.OutputTokens},
	})
}

// NewStream returns the chunk encoder of one response.
func (Codec) NewStream(*provider.Request) family.Stream { return stream{} }

type stream struct{}

// Chunks wraps each event's ConverseStream payload in an object named by
// its event type: {"contentBlockDelta": {...}}.
func (stream) Chunks(ev provider.Event) ([][]byte, error) {
	se := converse.EncodeEvent(ev, 0)
	b, err := json.Marshal(map[string]any{se.Type: se.Payload})
	if err != nil {
		return nil, err
	}
	return [][]byte{b}, nil
}
