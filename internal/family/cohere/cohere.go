// Package cohere holds the Cohere InvokeModel families: "cohere-command"
// (legacy Command and Command Light text generation), "cohere-command-r"
// (Command R and R+, Cohere's v1 chat API) and "cohere-embed" (Embed v3
// and v4).
package cohere

import (
	"crypto/rand"
	"encoding/json"
	"fmt"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/completion"
	"github.com/outcrop/outcrop/internal/family/prompt"
	"github.com/outcrop/outcrop/internal/family/schema"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// newID returns a new random UUID unless fn is set (tests pin IDs with it).
func newID(fn func() string) string {
	if fn != nil {
		return fn()
	}
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// FinishReason maps a stop reason to Cohere's finish_reason.
func FinishReason(r provider.StopReason) string {
	switch r {
	case provider.MaxTokens, provider.ContextWindow:
		return "MAX_TOKENS"
	case provider.ContentFilter:
		return "ERROR_TOXIC"
	}
	return "COMPLETE"
}

// Command is the cohere-command family. NewID, when set, replaces random
// response and generation IDs.
type Command struct {
	NewID func() string
}

var _ family.ChatCodec = Command{}

// Name returns "cohere-command".
func (Command) Name() string { return "cohere-command" }

// DefaultMaxTokens is Command's max_tokens when the body gives none.
const DefaultMaxTokens = 20

var commandSchema = schema.Obj([]string{"prompt"},
	schema.P("prompt", schema.Str()),
	schema.P("temperature", schema.Num(0, 5)),
	schema.P("p", schema.Num(0, 1)),
	schema.P("k", schema.Int(0, 500)),
	schema.P("max_tokens", schema.Int(1, 4096)),
	schema.P("stop_sequences", &schema.Schema{Type: schema.Array, MaxItems: 4, Items: schema.Str()}),
	schema.P("return_likelihoods", schema.Enum("GENERATION", "ALL", "NONE")),
	schema.P("stream", schema.Bool()),
	schema.P("num_generations", schema.Int(1, 5)),
	schema.P("logit_bias", &schema.Schema{Type: schema.Object, Open: true}),
	schema.P("truncate", schema.Enum("NONE", "START", "END")),
)

type commandRequest struct {
	Prompt         string   `json:"prompt"`
	Temperature    *float64 `json:"temperature"`
	P              *float64 `json:"p"`
	K              *int     `json:"k"`
	MaxTokens      *int     `json:"max_tokens"`
	StopSequences  []string `json:"stop_sequences"`
	NumGenerations *int     `json:"num_generations"`
}

// DecodeRequest validates a Command body and returns a raw-prompt request.
// Only one generation per request is supported.
func (Command) DecodeRequest(body []byte) (*provider.Request, error) {
	var in commandRequest
	if err := schema.Unmarshal(body, commandSchema, &in); err != nil {
		return nil, err
	}
	if in.NumGenerations != nil && *in.NumGenerations > 1 {
		return nil, fault.New(fault.Invalid, "num_generations greater than 1 is not supported. Set num_generations to 1 and try again.")
	}
	p := completion.Params{Prompt: in.Prompt, Temperature: in.Temperature, TopP: in.P, TopK: in.K, MaxTokens: in.MaxTokens, Stop: in.StopSequences,
		Formats: []prompt.Parser{prompt.Plain}}
	return p.Request(DefaultMaxTokens), nil
}

type generation struct {
	ID           string  `json:"id,omitempty"`
	Text         string  `json:"text"`
	FinishReason *string `json:"finish_reason"`
}

type generations struct {
	Generations []generation `json:"generations"`
	ID          string       `json:"id"`
	Prompt      string       `json:"prompt"`
}

// EncodeResponse renders {generations, id, prompt}.
func (c Command) EncodeResponse(req *provider.Request, resp *provider.Response) ([]byte, error) {
	reason := FinishReason(resp.StopReason)
	return json.Marshal(generations{
		Generations: []generation{{ID: newID(c.NewID), Text: provider.TextOf(resp.Message.Content), FinishReason: &reason}},
		ID:          newID(c.NewID),
		Prompt:      req.Prompt,
	})
}

// NewStream returns the chunk encoder of one response:
// {generations:[{text}], is_finished:false} per delta and a final chunk
// with is_finished and the finish reason.
func (c Command) NewStream(*provider.Request) family.Stream {
	id := newID(c.NewID)
	return &completion.Stream[commandChunk]{
		Delta: func(text string) commandChunk { return commandChunk{Generations: []generation{{ID: id, Text: text}}} },
		Final: func(e completion.End) commandChunk {
			reason := FinishReason(e.Reason)
			return commandChunk{Generations: []generation{{ID: id, FinishReason: &reason}}, IsFinished: true, FinishReason: &reason}
		},
	}
}

type commandChunk struct {
	Generations  []generation `json:"generations"`
	IsFinished   bool         `json:"is_finished"`
	FinishReason *string      `json:"finish_reason,omitempty"`
}
