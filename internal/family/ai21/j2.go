package ai21

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/completion"
	"github.com/outcrop/outcrop/internal/family/prompt"
	"github.com/outcrop/outcrop/internal/family/schema"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// J2 is the ai21-j2 family (Jurassic-2 Mid and Ultra). NewID, when set,
// replaces the random numeric response IDs.
type J2 struct {
	NewID func() int64
}

var _ family.ChatCodec = J2{}

// Name returns "ai21-j2".
func (J2) Name() string { return "ai21-j2" }

// DefaultMaxTokens is maxTokens when the body gives none.
const DefaultMaxTokens = 16

func (c J2) id() int64 {
	if c.NewID != nil {
		return c.NewID()
	}
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return int64(binary.BigEndian.Uint64(b[:]) % 100000)
}

var penalty = schema.Obj(nil,
	schema.P("scale", schema.Num(0, schema.NoLimit)),
	schema.P("applyToWhitespaces", schema.Bool()),
	schema.P("applyToPunctuations", schema.Bool()),
	schema.P("applyToNumbers", schema.Bool()),
	schema.P("applyToStopwords", schema.Bool()),
	schema.P("applyToEmojis", schema.Bool()),
)

var j2Schema = schema.Obj([]string{"prompt"},
	schema.P("prompt", schema.Str()),
	// Bedrock reports these three in this order (seen in its messages).
	schema.P("temperature", schema.Num(0, 1)),
	schema.P("maxTokens", schema.Int(0, 8191)),
	schema.P("topP", schema.Num(0, 1)),
	schema.P("minTokens", schema.Int(0, schema.NoLimit)),
	schema.P("stopSequences", schema.Arr(schema.Str())),
	schema.P("numResults", schema.Int(1, 16)),
	schema.P("topKReturn", schema.Int(0, 10)),
	schema.P("countPenalty", penalty),
	schema.P("presencePenalty", penalty),
	schema.P("frequencyPenalty", penalty),
)

type j2Request struct {
	Prompt        string   `json:"prompt"`
	MaxTokens     *int     `json:"maxTokens"`
	Temperature   *float64 `json:"temperature"`
	TopP          *float64 `json:"topP"`
	StopSequences []string `json:"stopSequences"`
	NumResults    *int     `json:"numResults"`
}

// DecodeRequest validates a Jurassic-2 body and returns a raw-prompt
// request; one result (numResults = 1) is supported.
func (J2) DecodeRequest(body []byte) (*provider.Request, error) {
	var in j2Request
	if err := schema.Unmarshal(body, j2Schema, &in); err != nil {
		return nil, err
	}
	if in.NumResults != nil && *in.NumResults > 1 {
		return nil, invalid("numResults greater than 1 is not supported. Set numResults to 1 and try again.")
	}
	p := completion.Params{Prompt: in.Prompt, Temperature: in.Temperature, TopP: in.TopP, MaxTokens: in.MaxTokens, Stop: in.StopSequences,
		Formats: []prompt.Parser{prompt.Plain}}
	return p.Request(DefaultMaxTokens), nil
}

type textTokens struct {
	Text   string            `json:"text"`
	Tokens []json.RawMessage `json:"tokens"`
}

type finishReason struct {
	Reason   string `json:"reason"`
	Length   int    `json:"length,omitempty"`
	Sequence string `json:"sequence,omitempty"`
}

type j2Response struct {
	ID          int64      `json:"id"`
	Prompt      textTokens `json:"prompt"`
	Completions []struct {
		Data         textTokens   `json:"data"`
		FinishReason finishReason `json:"finishReason"`
	} `json:"completions"`
}

// EncodeResponse renders {id, prompt, completions}. Token lists are empty:
// per-token detail is not part of the canonical response.
func (c J2) EncodeResponse(req *provider.Request, resp *provider.Response) ([]byte, error) {
	out := j2Response{ID: c.id(), Prompt: textTokens{Text: req.Prompt, Tokens: []json.RawMessage{}}}
	fr := finishReason{Reason: "endoftext"}
	switch resp.StopReason {
	case provider.MaxTokens, provider.ContextWindow:
		fr = finishReason{Reason: "length", Length: req.MaxTokens}
	case provider.StopSequence:
		fr = finishReason{Reason: "stop", Sequence: resp.StopSequence}
	}
	out.Completions = make([]struct {
		Data         textTokens   `json:"data"`
		FinishReason finishReason `json:"finishReason"`
	}, 1)
	out.Completions[0].Data = textTokens{Text: provider.TextOf(resp.Message.Content), Tokens: []json.RawMessage{}}
	out.Completions[0].FinishReason = fr
	return json.Marshal(out)
}

// NewStream returns a stream that refuses every event: Jurassic-2 does not
// stream. The catalog marks these models as non-streaming, so the runtime
// rejects InvokeModelWithResponseStream before a backend runs.
func (J2) NewStream(*provider.Request) family.Stream { return noStream{} }

type noStream struct{}

// Chunks refuses the event with fault.Invalid.
func (noStream) Chunks(provider.Event) ([][]byte, error) {
	return nil, fault.New(fault.Invalid, "The model is unsupported for streaming.")
}
