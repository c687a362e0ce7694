// Package provider defines Outcrop's canonical inference types — one request
// and one response shape that every wire format is decoded into and every
// backend is reached from — and the small Adapter contract a backend
// implements. Wire formats (Converse, InvokeModel families, OpenAI, ...)
// translate to and from these types at the edges; nothing translates
// pairwise.
package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Role is the author of a message.
type Role string

// Roles.
const (
	User      Role = "user"
	Assistant Role = "assistant"
)

// BlockType says which field of a Block is set.
type BlockType string

// Block types.
const (
	TextBlock       BlockType = "text"
	ImageBlock      BlockType = "image"
	DocumentBlock   BlockType = "document"
	ToolUseBlock    BlockType = "toolUse"
	ToolResultBlock BlockType = "toolResult"
	ReasoningBlock  BlockType = "reasoning"
	JSONBlock       BlockType = "json" // only inside tool results
	CachePointBlock BlockType = "cachePoint"
	GuardBlock      BlockType = "guardContent"
)

// Block is one piece of message content. Exactly the field named by Type is
// meaningful.
type Block struct {
	Type       BlockType
	Text       string          // TextBlock, GuardBlock
	JSON       json.RawMessage // JSONBlock
	Image      *Image
	Document   *Document
	ToolUse    *ToolUse
	ToolResult *ToolResult
	Reasoning  *Reasoning
}

// Image is an image given inline or by location.
type Image struct {
	Format string // png, jpeg, gif, webp
	Data   []byte
	URI    string // s3:// location, when not inline
}

// Document is a document given inline (bytes or text) or by location.
type Document struct {
	Format string // pdf, csv, doc, docx, xls, xlsx, html, txt, md
	Name   string
	Data   []byte
	Text   string
	URI    string
}

// ToolUse is a model's request to call a tool.
type ToolUse struct {
	ID    string
	Name  string
	Input json.RawMessage
}

// ToolResult is the caller's answer to a ToolUse.
type ToolResult struct {
	ToolUseID string
	Status    string // "", "success" or "error"
	Content   []Block
}

// Reasoning is a model's reasoning content.
type Reasoning struct {
	Text      string
	Signature string
	Redacted  []byte
}

// Message is one turn of a conversation.
type Message struct {
	Role    Role
	Content []Block
}

// Tool is a function the model may call.
type Tool struct {
	Name        string
	Description string
	Schema      json.RawMessage // JSON Schema of the input
}

// ToolChoiceMode says how the model must use tools.
type ToolChoiceMode string

// Tool choice modes.
const (
	ToolAuto ToolChoiceMode = ""     // the model decides
	ToolAny  ToolChoiceMode = "any"  // the model must call some tool
	ToolOne  ToolChoiceMode = "tool" // the model must call ToolChoice.Name
	ToolNone ToolChoiceMode = "none" // the model must not call tools
)

// ToolChoice constrains tool use.
type ToolChoice struct {
	Mode ToolChoiceMode
	Name string
}

// Request is the canonical chat/completion request.
type Request struct {
	// Model is the backend's own name for the model (catalog fills it).
	Model    string
	System   []Block
	Messages []Message
	// Prompt, when Raw is set, is a complete prompt to continue verbatim
	// (text-completion families such as Titan Text or Llama's own prompt
	// format); System and Messages are then empty.
	Prompt string
	Raw    bool
	// PromptChat, on a raw request, is the prompt read as chat turns,
	// when its family knows how: parsed from the family's documented
	// prompt format, or, for families whose models answer plain
	// instructions, a plain prompt as one user turn. Package adapt gives
	// these turns instead of the prompt to backends that are chat models
	// (ChatTemplater); nil keeps the prompt verbatim everywhere.
	PromptChat *Conversation

	MaxTokens     int // 0 means the model's default
	Temperature   *float64
	TopP          *float64
	TopK          *int
	StopSequences []string
	Seed          *int64

	Tools      []Tool
	ToolChoice ToolChoice

	// Format, when set, asks for output in a format (JSON). Only adapters
	// that are OutputFormatters honour it; callers refuse it for others.
	Format *OutputFormat

	// Logprobs asks for each output token's log probability, and
	// TopLogprobs (0–20) for that many most likely alternatives at each
	// position. Only LogprobsReporters honour it; callers refuse it for
	// others.
	Logprobs    bool
	TopLogprobs int

	// Extra carries model-specific fields (Converse's
	// additionalModelRequestFields) for backends that understand them.
	Extra json.RawMessage
}

// Conversation is a raw prompt read as chat turns. Messages start with the
// user's turn; when the last is the assistant's, it is a prefill the
// model continues.
type Conversation struct {
	System   []Block
	Messages []Message
}

// ChatTemplater is optional: a backend that serves model as a chat model,
// rendering conversations through the model's own chat template, so that
// a raw text-completion prompt written for another model's format (or a
// bare instruction) reaches it best as the turns it was written as
// (Request.PromptChat). TemplatesChat may have to load the model to find
// out; it reports false when it cannot tell. Callers check for it with a
// type assertion.
type ChatTemplater interface {
	TemplatesChat(ctx context.Context, model string) bool
}

// TemplatesChat reports whether a serves model as a chat model.
func TemplatesChat(ctx context.Context, a Adapter, model string) bool {
	c, ok := a.(ChatTemplater)
	return ok && c.TemplatesChat(ctx, model)
}

// OutputFormat asks for a JSON object as the whole output: any object
// (JSONObject), or one described by a JSON schema (JSONSchema).
type OutputFormat struct {
	Type   FormatType
	Name   string          // the schema's name (JSONSchema)
	Schema json.RawMessage // JSONSchema
	Strict bool            // the caller asked for exact schema adherence
}

// FormatType names an output format.
type FormatType string

// Output formats.
const (
	JSONObject FormatType = "json_object"
	JSONSchema FormatType = "json_schema"
)

// OutputFormatter is implemented by adapters that honour Request.Format:
// the built-in engine constrains decoding to JSON, OpenAI-compatible and
// Ollama servers are given the format.
type OutputFormatter interface {
	FormatsOutput() bool
}

// FormatsOutput reports whether a honours Request.Format.
func FormatsOutput(a Adapter) bool {
	f, ok := a.(OutputFormatter)
	return ok && f.FormatsOutput()
}

// StopReason says why generation ended, in Converse's vocabulary.
type StopReason string

// Stop reasons.
const (
	EndTurn       StopReason = "end_turn"
	ToolUseStop   StopReason = "tool_use"
	MaxTokens     StopReason = "max_tokens"
	StopSequence  StopReason = "stop_sequence"
	ContentFilter StopReason = "content_filtered"
	ContextWindow StopReason = "model_context_window_exceeded"
)

// Usage counts tokens.
type Usage struct {
	InputTokens  int
	OutputTokens int
}

// Response is the canonical response to a Request.
type Response struct {
	Message      Message // Role is Assistant
	StopReason   StopReason
	StopSequence string // the stop sequence that ended generation, if any
	Usage        Usage
	Logprobs     []TokenLogprob // when the request asked for them
}

// EventType says which fields of an Event are set. Stream event types come
// in the order a stream produces them:
// MessageStart, then for each content block BlockStart (tool use only),
// deltas, BlockStop; then MessageStop and finally Metadata.
type EventType int8

// Event types.
const (
	MessageStartEvent   EventType = iota
	BlockStartEvent               // ToolUse (ID, Name) set
	TextDeltaEvent                // Text set
	ToolInputDeltaEvent           // Text holds a fragment of the tool input JSON
	ReasoningDeltaEvent           // Text set
	BlockStopEvent
	MessageStopEvent // StopReason, StopSequence set
	MetadataEvent    // Usage set
)

// Event is one step of a streamed response.
type Event struct {
	Type         EventType
	Index        int // content block index
	Text         string
	ToolUse      *ToolUse // BlockStartEvent of a tool use (Input empty)
	StopReason   StopReason
	StopSequence string
	Usage        Usage
	// Logprobs, on a TextDeltaEvent of a request with Logprobs, are the
	// tokens whose text the delta completes.
	Logprobs []TokenLogprob
	// More, set by adapters that read ahead, says that the next event is
	// already at hand (a whole upstream event is buffered): a writer may
	// leave this one unflushed and flush with the next, so that a burst
	// costs one write to the client rather than one per event. Events
	// without it are flushed at once.
	More bool
}

// TokenLogprob is one output token's log probability and, when asked for,
// the most likely tokens at its position (the chosen one among them if it
// is one of them).
type TokenLogprob struct {
	Token   string // the token's bytes (possibly part of a UTF-8 character)
	Logprob float64
	Top     []TopLogprob
}

// TopLogprob is one alternative at a position.
type TopLogprob struct {
	Token   string
	Logprob float64
}

// LogprobsReporter is implemented by adapters that honour
// Request.Logprobs.
type LogprobsReporter interface {
	ReportsLogprobs() bool
}

// ReportsLogprobs reports whether a honours Request.Logprobs.
func ReportsLogprobs(a Adapter) bool {
	r, ok := a.(LogprobsReporter)
	return ok && r.ReportsLogprobs()
}

// Adapter runs canonical chat requests against one backend.
type Adapter interface {
	Converse(ctx context.Context, req *Request) (*Response, error)
	// ConverseStream calls emit for each event, in order. If emit returns an
	// error, the adapter stops generating and returns that error.
	ConverseStream(ctx context.Context, req *Request, emit func(Event) error) error
}

// EmbedRequest asks for embeddings of texts.
type EmbedRequest struct {
	Model      string
	Texts      []string
	Dimensions int    // 0 means the model's native size
	Normalize  bool   // L2-normalise each vector
	InputType  string // search_document, search_query, ... (informational)
	// Types lists the encodings the caller asked for, in the family's own
	// names ("float", "binary", "int8", ...). Family codecs derive them
	// from Vectors when encoding the response; backends ignore it.
	Types []string
}

// EmbedResponse holds one vector per input text.
type EmbedResponse struct {
	Vectors     [][]float32
	InputTokens int
}

// Embedder is optional. Callers check for it with a type assertion.
type Embedder interface {
	Embed(ctx context.Context, req *EmbedRequest) (*EmbedResponse, error)
}

// RerankRequest asks a reranker (a cross-encoder) how relevant each of
// Documents is to Query.
type RerankRequest struct {
	Model     string
	Query     string
	Documents []string
	// TopN is how many of the best documents to return; 0 returns all.
	TopN int
	// Extra carries model-specific fields (Bedrock's
	// additionalModelRequestFields) for backends that understand them.
	Extra json.RawMessage
}

// RerankResponse lists documents by relevance, best first.
type RerankResponse struct {
	Results []RerankResult
}

// RerankResult is one document's relevance: Index is its position in
// RerankRequest.Documents.
type RerankResult struct {
	Index int
	Score float64
}

// Reranker is optional: a backend that scores documents against a query.
// Callers check for it with a type assertion.
type Reranker interface {
	Rerank(ctx context.Context, req *RerankRequest) (*RerankResponse, error)
}

// ImageRequest asks for images generated from a text prompt. Family
// codecs turn sizes given as aspect ratios into Width and Height.
type ImageRequest struct {
	Model          string
	Prompt         string
	NegativePrompt string // what the images should not show; "" for nothing
	Count          int    // how many images, at least 1
	Width, Height  int    // pixels; 0 leaves the size to the backend
	Seed           *int64
	Quality        string // "", "standard" or "high"
	Style          string // a style name in the caller's vocabulary, passed on where a backend has styles
	Format         string // encoding of the images wanted: "png" (the default) or "jpeg"
}

// ImageResponse holds the generated images in order. Each Image carries
// its encoded bytes in Data and their encoding in Format.
type ImageResponse struct {
	Images []Image
	// RevisedPrompt is the prompt the backend actually used, when it
	// rewrote the caller's.
	RevisedPrompt string
}

// ImageGenerator is optional: a backend that generates images. Callers
// check for it with a type assertion.
type ImageGenerator interface {
	GenerateImages(ctx context.Context, req *ImageRequest) (*ImageResponse, error)
}

// TokenCounter is optional: adapters that know the model's tokenizer count
// exactly; others are estimated by the caller.
type TokenCounter interface {
	CountTokens(ctx context.Context, req *Request) (int, error)
}

// ContextLimiter is optional: a backend whose sessions hold fewer tokens
// than a model's catalog context window reports how many tokens one call
// to model may use, prompt and output together (0 when it does not know),
// so that callers can fit prompts to it.
type ContextLimiter interface {
	ContextTokens(model string) int
}

// RawInvoker is optional: a backend that itself speaks Bedrock's
// InvokeModel takes a family's native body untouched instead of the
// canonical request. Callers check for it with a type assertion and then
// ask AcceptsRaw.
type RawInvoker interface {
	// AcceptsRaw reports whether model (the backend's name for it) reads
	// the native bodies of the catalog family named family.
	AcceptsRaw(family, model string) bool
	// InvokeRaw sends body as is and returns the upstream's response body.
	InvokeRaw(ctx context.Context, model string, body []byte) (*RawResponse, error)
	// InvokeRawStream streams the upstream's chunks (each one JSON object,
	// as the family writes it) to emit, in order. If emit returns an
	// error, the stream is closed and that error returned.
	InvokeRawStream(ctx context.Context, model string, body []byte, emit func(chunk []byte) error) (Usage, error)
}

// RawResponse is the answer to a raw InvokeModel.
type RawResponse struct {
	Body  []byte
	Usage Usage
}

// Env carries what adapters share with the server.
type Env struct {
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
	// ModelsDir is where local model weights live.
	ModelsDir string
}

// Spec names an adapter kind and builds instances from a config block. It is
// both the parser and the factory.
type Spec struct {
	Kind string // matches `kind:` in the backend config
	// New builds an adapter; raw is the backend's `config` block (may be nil).
	New func(raw json.RawMessage, env Env) (Adapter, error)
}

// Registry holds the compiled-in adapter kinds.
type Registry struct {
	specs map[string]Spec
}

// NewRegistry returns a registry of specs. Duplicate kinds are an error.
func NewRegistry(specs ...Spec) (*Registry, error) {
	r := &Registry{specs: make(map[string]Spec, len(specs))}
	for _, s := range specs {
		if s.Kind == "" || s.New == nil {
			return nil, fmt.Errorf("provider spec %q is incomplete", s.Kind)
		}
		if _, dup := r.specs[s.Kind]; dup {
			return nil, fmt.Errorf("provider kind %q registered twice", s.Kind)
		}
		r.specs[s.Kind] = s
	}
	return r, nil
}

// Kinds lists the registered kinds in order.
func (r *Registry) Kinds() []string {
	ks := make([]string, 0, len(r.specs))
	for k := range r.specs {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// New builds an adapter of the given kind.
func (r *Registry) New(kind string, raw json.RawMessage, env Env) (Adapter, error) {
	s, ok := r.specs[kind]
	if !ok {
		return nil, fmt.Errorf("unknown backend kind %q (compiled in: %v)", kind, r.Kinds())
	}
	return s.New(raw, env)
}

// TextOf concatenates the text blocks of bs. With at most one text block
// (the common case) it returns that block's text without copying.
func TextOf(bs []Block) string {
	n, count, last := 0, 0, -1
	for i, b := range bs {
		if b.Type == TextBlock {
			n += len(b.Text)
			count++
			last = i
		}
	}
	switch count {
	case 0:
		return ""
	case 1:
		return bs[last].Text
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, b := range bs {
		if b.Type == TextBlock {
			sb.WriteString(b.Text)
		}
	}
	return sb.String()
}

// StringBlocks decodes the common "string or list of blocks" content field
// when it is not a list: absent, null and "" give no blocks, a JSON string
// one text block, and ok is true. For anything else ok is false and the
// caller decodes its own block list.
func StringBlocks(raw json.RawMessage) (blocks []Block, ok bool) {
	s, ok := StringText(raw)
	if !ok || s == "" {
		return nil, ok
	}
	return []Block{{Type: TextBlock, Text: s}}, true
}

// StringText is StringBlocks without the block: the text of a content
// field that is absent, null ("") or a JSON string, and ok true; ok is
// false for anything else.
func StringText(raw json.RawMessage) (text string, ok bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	if s, plain := plainJSONString(raw); plain {
		return s, true
	}
	var s string // declared apart, since decoding into it moves it to the heap
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// plainJSONString returns the value of raw when it is a JSON string with
// no escapes, control characters or invalid UTF-8, whose value is then its
// bytes between the quotes (what json.Unmarshal would give, without a
// second pass over the text); ok is false for anything else.
func plainJSONString(raw []byte) (s string, ok bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	in := raw[1 : len(raw)-1]
	for _, c := range in {
		if c < 0x20 || c == '"' || c == '\\' {
			return "", false
		}
	}
	if !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}
