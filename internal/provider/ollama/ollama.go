// Package ollama is the "ollama" backend kind: Ollama's native API
// (POST /api/chat streamed as newline-delimited JSON, POST /api/embed).
// docs/backends.md describes the config block.
package ollama

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/openaicompat"
)

// Spec registers the "ollama" backend kind.
var Spec = provider.Spec{Kind: Kind, New: newAdapter}

// Kind is the backend kind's name.
const Kind = "ollama"

// DefaultBaseURL is a local Ollama server.
const DefaultBaseURL = "http://localhost:11434"

// Config is the backend's config block. Unknown fields are errors.
type Config struct {
	openaicompat.Common
	// KeepAlive is sent as keep_alive: how long Ollama keeps the model
	// loaded after a request ("5m", "-1", 0). Unset leaves Ollama's default.
	KeepAlive json.RawMessage `json:"keepAlive"`
	// NumCtx sets options.num_ctx, the context window Ollama allocates.
	NumCtx int `json:"numCtx"`
}

// Adapter is the ollama backend. It is safe for concurrent use.
type Adapter struct {
	http      *openaicompat.HTTP
	keepAlive json.RawMessage
	numCtx    int
	// newID names tool calls that Ollama sends without an id.
	newID func() string
}

var (
	_ provider.Adapter       = (*Adapter)(nil)
	_ provider.Embedder      = (*Adapter)(nil)
	_ provider.ChatTemplater = (*Adapter)(nil)
)

func newAdapter(raw json.RawMessage, env provider.Env) (provider.Adapter, error) {
	return New(raw, env)
}

// New builds the backend from its config block.
func New(raw json.RawMessage, env provider.Env) (*Adapter, error) {
	var c Config
	if err := openaicompat.DecodeConfig(Kind, raw, &c); err != nil {
		return nil, err
	}
	if c.NumCtx < 0 {
		return nil, errors.New("ollama backend config: numCtx must not be negative")
	}
	h, err := c.NewHTTP(Kind, DefaultBaseURL, env, openaicompat.Bearer)
	if err != nil {
		return nil, err
	}
	h.ErrorInfo = errorInfo
	return &Adapter{http: h, keepAlive: c.KeepAlive, numCtx: c.NumCtx, newID: openaicompat.NewToolUseID}, nil
}

// Wire types of Ollama's API.
type (
	chatRequest struct {
		Model     string          `json:"model"`
		Messages  []message       `json:"messages"`
		Tools     []tool          `json:"tools,omitempty"`
		Format    json.RawMessage `json:"format,omitempty"` // "json" or a JSON schema
		Stream    bool            `json:"stream"`
		Options   *options        `json:"options,omitempty"`
		KeepAlive json.RawMessage `json:"keep_alive,omitempty"`
	}
	message struct {
		Role      string     `json:"role"`
		Content   string     `json:"content"`
		Thinking  string     `json:"thinking,omitempty"`
		Images    []string   `json:"images,omitempty"`
		ToolCalls []toolCall `json:"tool_calls,omitempty"`
		ToolName  string     `json:"tool_name,omitempty"`
	}
	toolCall struct {
		ID       string `json:"id,omitempty"`
		Function struct {
			Index     *int            `json:"index,omitempty"`
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		} `json:"function"`
	}
	tool struct {
		Type     string       `json:"type"`
		Function toolFunction `json:"function"`
	}
	toolFunction struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters,omitempty"`
	}
	options struct {
		Temperature *float64 `json:"temperature,omitempty"`
		TopP        *float64 `json:"top_p,omitempty"`
		TopK        *int     `json:"top_k,omitempty"`
		NumPredict  int      `json:"num_predict,omitempty"`
		Stop        []string `json:"stop,omitempty"`
		Seed        *int64   `json:"seed,omitempty"`
		NumCtx      int      `json:"num_ctx,omitempty"`
	}
	// chatResponse is a whole answer or one NDJSON line of a stream.
	chatResponse struct {
		Message         *message `json:"message"`
		Done            bool     `json:"done"`
		DoneReason      string   `json:"done_reason"`
		PromptEvalCount int      `json:"prompt_eval_count"`
		EvalCount       int      `json:"eval_count"`
		Error           *string  `json:"error"`
	}
)

// errorInfo reads Ollama's {"error": "text"}.
func errorInfo(body []byte) (typ, msg string) {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return "", e.Error
	}
	return "", openaicompat.Truncate(string(body), 512)
}

func unsupported(what string) error {
	return fault.Newf(fault.Invalid, "The ollama backend does not accept %s.", what)
}

// FormatsOutput reports that Ollama takes Request.Format (its format
// field: "json" or a JSON schema).
func (a *Adapter) FormatsOutput() bool { return true }

func (a *Adapter) buildRequest(req *provider.Request, stream bool) ([]byte, error) {
	if req.Raw {
		return nil, unsupported("raw text-completion prompts on /api/chat")
	}
	out := chatRequest{Model: req.Model, Stream: stream, KeepAlive: a.keepAlive}
	if f := req.Format; f != nil {
		out.Format = json.RawMessage(`"json"`)
		if f.Type == provider.JSONSchema && len(f.Schema) > 0 {
			out.Format = f.Schema
		}
	}
	opt := options{Temperature: req.Temperature, TopP: req.TopP, TopK: req.TopK, NumPredict: req.MaxTokens, Stop: req.StopSequences, Seed: req.Seed, NumCtx: a.numCtx}
	if opt.Temperature != nil || opt.TopP != nil || opt.TopK != nil || opt.NumPredict > 0 || len(opt.Stop) > 0 || opt.Seed != nil || opt.NumCtx > 0 {
		out.Options = &opt
	}
	if sys := provider.TextOf(req.System); sys != "" {
		out.Messages = append(out.Messages, message{Role: "system", Content: sys})
	}
	names := map[string]string{} // tool use ID -> tool name, for tool results
	for _, m := range req.Messages {
		msgs, err := messages(m, names)
		if err != nil {
			return nil, err
		}
		out.Messages = append(out.Messages, msgs...)
	}
	// Ollama has no tool_choice: "none" sends no tools and a named tool
	// is the only one offered; "any" cannot be enforced.
	if req.ToolChoice.Mode != provider.ToolNone {
		for _, t := range req.Tools {
			if req.ToolChoice.Mode == provider.ToolOne && t.Name != req.ToolChoice.Name {
				continue
			}
			out.Tools = append(out.Tools, tool{Type: "function", Function: toolFunction{Name: t.Name, Description: t.Description, Parameters: t.Schema}})
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "The request cannot be encoded for the backend.")
	}
	return openaicompat.MergeExtra(b, req.Extra)
}

// messages maps one turn; tool results become "tool" messages first.
func messages(m provider.Message, names map[string]string) ([]message, error) {
	msg := message{Role: string(m.Role)}
	var tools []message
	var sb strings.Builder
	for _, b := range m.Content {
		switch b.Type {
		case provider.TextBlock, provider.GuardBlock:
			sb.WriteString(b.Text)
		case provider.ImageBlock:
			if b.Image == nil || len(b.Image.Data) == 0 {
				return nil, unsupported("images by location (send the bytes inline)")
			}
			msg.Images = append(msg.Images, base64.StdEncoding.EncodeToString(b.Image.Data))
		case provider.ToolUseBlock:
			var tc toolCall
			tc.ID = b.ToolUse.ID
			tc.Function.Name = b.ToolUse.Name
			tc.Function.Arguments = b.ToolUse.Input
			if len(tc.Function.Arguments) == 0 {
				tc.Function.Arguments = json.RawMessage("{}")
			}
			names[b.ToolUse.ID] = b.ToolUse.Name
			msg.ToolCalls = append(msg.ToolCalls, tc)
		case provider.ToolResultBlock:
			var tb strings.Builder
			for _, c := range b.ToolResult.Content {
				switch c.Type {
				case provider.TextBlock:
					tb.WriteString(c.Text)
				case provider.JSONBlock:
					tb.Write(c.JSON)
				default:
					return nil, unsupported(fmt.Sprintf("%s blocks in tool results", c.Type))
				}
			}
			tools = append(tools, message{Role: "tool", Content: tb.String(), ToolName: names[b.ToolResult.ToolUseID]})
		case provider.ReasoningBlock:
			if b.Reasoning != nil {
				msg.Thinking += b.Reasoning.Text
			}
		case provider.CachePointBlock:
		case provider.DocumentBlock:
			return nil, unsupported("document blocks")
		default:
			return nil, unsupported(fmt.Sprintf("%s blocks", b.Type))
		}
	}
	msg.Content = sb.String()
	if msg.Content == "" && len(msg.Images) == 0 && len(msg.ToolCalls) == 0 {
		return tools, nil
	}
	return append(tools, msg), nil
}

// stopReason maps done_reason.
func stopReason(done string, sawTool bool) provider.StopReason {
	switch {
	case done == "length":
		return provider.MaxTokens
	case sawTool:
		return provider.ToolUseStop
	}
	return provider.EndTurn
}

// Converse sends a request with "stream": false.
func (a *Adapter) Converse(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	body, err := a.buildRequest(req, false)
	if err != nil {
		return nil, err
	}
	var cr chatResponse
	if err := a.http.PostJSON(ctx, "/api/chat", body, 64<<20, &cr, "a response"); err != nil {
		return nil, err
	}
	if cr.Error != nil {
		return nil, a.streamErr(*cr.Error)
	}
	out := &provider.Response{Message: provider.Message{Role: provider.Assistant}, Usage: provider.Usage{InputTokens: cr.PromptEvalCount, OutputTokens: cr.EvalCount}}
	if m := cr.Message; m != nil {
		if m.Thinking != "" {
			out.Message.Content = append(out.Message.Content, provider.Block{Type: provider.ReasoningBlock, Reasoning: &provider.Reasoning{Text: m.Thinking}})
		}
		if m.Content != "" || len(m.ToolCalls) == 0 {
			out.Message.Content = append(out.Message.Content, provider.Block{Type: provider.TextBlock, Text: m.Content})
		}
		for _, tc := range m.ToolCalls {
			out.Message.Content = append(out.Message.Content, provider.Block{Type: provider.ToolUseBlock, ToolUse: a.toolUse(tc)})
		}
	}
	out.StopReason = stopReason(cr.DoneReason, cr.Message != nil && len(cr.Message.ToolCalls) > 0)
	return out, nil
}

func (a *Adapter) toolUse(tc toolCall) *provider.ToolUse {
	id := tc.ID
	if id == "" {
		id = a.newID()
	}
	in := tc.Function.Arguments
	if len(in) == 0 || string(in) == "null" {
		in = json.RawMessage("{}")
	}
	return &provider.ToolUse{ID: id, Name: tc.Function.Name, Input: in}
}

func (a *Adapter) streamErr(msg string) error {
	return fault.Wrap(fault.ModelFailed, errors.New(a.http.Redact(openaicompat.Truncate(msg, 512))), "The ollama backend reported an error.")
}

// ConverseStream reads Ollama's NDJSON stream: one JSON object per line,
// the last with "done": true, its done_reason and token counts. A tool
// call arrives whole in one line and becomes BlockStart, one input delta
// and BlockStop.
func (a *Adapter) ConverseStream(ctx context.Context, req *provider.Request, emit func(provider.Event) error) error {
	body, err := a.buildRequest(req, true)
	if err != nil {
		return err
	}
	resp, err := a.http.Post(ctx, "/api/chat", body, true)
	if err != nil {
		return err
	}
	defer resp.Close()
	return a.readStream(resp.Body, emit)
}

var errEarlyEnd = errors.New(`stream ended without "done": true`)

func (a *Adapter) readStream(r io.Reader, emit func(provider.Event) error) error {
	br := bufio.NewReaderSize(r, 16<<10)
	var buf []byte
	blocks := &openaicompat.Blocks{Emit: emit}
	started, calls := false, 0
	for {
		line, b, err := openaicompat.ReadLine(br, buf)
		buf = b
		if err == io.EOF {
			return fault.Wrap(fault.ModelFailed, errEarlyEnd, "The ollama backend ended the stream before the response finished.")
		}
		if err != nil {
			if fault.KindOf(err) == fault.Internal && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				err = fault.Wrap(fault.ModelFailed, err, "The ollama backend sent a stream that cannot be read.")
			}
			return err
		}
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		var cr chatResponse
		if err := json.Unmarshal(line, &cr); err != nil {
			return fault.Wrap(fault.ModelFailed, err, "The ollama backend sent a stream line that is not valid JSON.")
		}
		if cr.Error != nil {
			return a.streamErr(*cr.Error)
		}
		if !started {
			started = true
			if err := emit(provider.Event{Type: provider.MessageStartEvent}); err != nil {
				return err
			}
		}
		if m := cr.Message; m != nil {
			if err := blocks.Reasoning(m.Thinking); err != nil {
				return err
			}
			if err := blocks.Text(m.Content); err != nil {
				return err
			}
			for _, tc := range m.ToolCalls {
				tu := a.toolUse(tc)
				if err := blocks.ToolStart(calls, tu.ID, tu.Name); err != nil {
					return err
				}
				if err := blocks.ToolDelta(calls, string(tu.Input)); err != nil {
					return err
				}
				calls++
			}
		}
		if cr.Done {
			if err := blocks.Close(); err != nil {
				return err
			}
			if err := emit(provider.Event{Type: provider.MessageStopEvent, StopReason: stopReason(cr.DoneReason, blocks.SawTool())}); err != nil {
				return err
			}
			return emit(provider.Event{Type: provider.MetadataEvent, Usage: provider.Usage{InputTokens: cr.PromptEvalCount, OutputTokens: cr.EvalCount}})
		}
	}
}

type (
	embedRequest struct {
		Model      string          `json:"model"`
		Input      []string        `json:"input"`
		Dimensions int             `json:"dimensions,omitempty"`
		KeepAlive  json.RawMessage `json:"keep_alive,omitempty"`
	}
	embedResponse struct {
		Embeddings      [][]float32 `json:"embeddings"`
		PromptEvalCount int         `json:"prompt_eval_count"`
		Error           *string     `json:"error"`
	}
)

// Embed calls /api/embed with every text in one request.
func (a *Adapter) Embed(ctx context.Context, req *provider.EmbedRequest) (*provider.EmbedResponse, error) {
	if len(req.Texts) == 0 {
		return nil, fault.New(fault.Invalid, "There is no text to embed.")
	}
	body, err := json.Marshal(embedRequest{Model: req.Model, Input: req.Texts, Dimensions: req.Dimensions, KeepAlive: a.keepAlive})
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "The request cannot be encoded for the backend.")
	}
	var er embedResponse
	if err := a.http.PostJSON(ctx, "/api/embed", body, 256<<20, &er, "embeddings"); err != nil {
		return nil, err
	}
	if er.Error != nil {
		return nil, a.streamErr(*er.Error)
	}
	if err := openaicompat.CheckVectors(Kind, er.Embeddings, req); err != nil {
		return nil, err
	}
	return &provider.EmbedResponse{Vectors: er.Embeddings, InputTokens: er.PromptEvalCount}, nil
}

// TemplatesChat reports true: /api/chat renders the conversation through
// the model's own template, so a raw text-completion prompt reaches it as
// the chat turns it was written as (adapt's prompt-as-chat).
func (a *Adapter) TemplatesChat(context.Context, string) bool { return true }
