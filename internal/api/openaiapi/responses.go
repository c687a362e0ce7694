package openaiapi

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/outcrop/outcrop/internal/api/dialect"
	"github.com/outcrop/outcrop/internal/provider"
)

// The Responses API (text, function tools, streaming). State is not kept
// between calls: previous_response_id and stored conversations are 400s.
type (
	// ResponsesRequest is the body of POST /v1/responses.
	ResponsesRequest struct {
		Model              string          `json:"model"`
		Input              json.RawMessage `json:"input"`
		Instructions       string          `json:"instructions"`
		Tools              []RespTool      `json:"tools"`
		ToolChoice         json.RawMessage `json:"tool_choice"`
		MaxOutputTokens    *int            `json:"max_output_tokens"`
		Temperature        *float64        `json:"temperature"`
		TopP               *float64        `json:"top_p"`
		Stream             bool            `json:"stream"`
		PreviousResponseID string          `json:"previous_response_id"`
		Include            []string        `json:"include"`
		TopLogprobs        *int            `json:"top_logprobs"`
		Text               *struct {
			Format *ResponseFormat `json:"format"`
		} `json:"text"`
	}
	// RespTool is a Responses tool (flat function form).
	RespTool struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters,omitempty"`
	}
	// RespItem is an input or output item.
	RespItem struct {
		Type    string          `json:"type"`
		ID      string          `json:"id,omitempty"`
		Role    string          `json:"role,omitempty"`
		Status  string          `json:"status,omitempty"`
		Content json.RawMessage `json:"content,omitempty"`
		CallID  string          `json:"call_id,omitempty"`
		Name    string          `json:"name,omitempty"`
		Args    *string         `json:"arguments,omitempty"`
		Output  json.RawMessage `json:"output,omitempty"`
	}
	// RespPart is a content part of a message item.
	RespPart struct {
		Type        string         `json:"type"`
		Text        string         `json:"text"`
		ImageURL    string         `json:"image_url,omitempty"`
		Annotations []string       `json:"annotations"`
		Logprobs    []LogprobEntry `json:"logprobs,omitempty"`
	}
	// Response is the Responses API's response object.
	Response struct {
		ID         string     `json:"id"`
		Object     string     `json:"object"`
		CreatedAt  int64      `json:"created_at"`
		Status     string     `json:"status"`
		Model      string     `json:"model"`
		Output     []RespItem `json:"output"`
		Usage      *RespUsage `json:"usage"`
		Error      *struct{}  `json:"error"`
		Incomplete *struct {
			Reason string `json:"reason"`
		} `json:"incomplete_details"`
		ParallelToolCalls bool `json:"parallel_tool_calls"`
	}
	// RespUsage counts tokens.
	RespUsage struct {
		InputTokens        int `json:"input_tokens"`
		OutputTokens       int `json:"output_tokens"`
		TotalTokens        int `json:"total_tokens"`
		InputTokensDetails struct {
			CachedTokens int `json:"cached_tokens"`
		} `json:"input_tokens_details"`
		OutputTokensDetails struct {
			ReasoningTokens int `json:"reasoning_tokens"`
		} `json:"output_tokens_details"`
	}
)

// includeLogprobs is the include value that asks for the output text's
// log probabilities.
const includeLogprobs = "message.output_text.logprobs"

// Canonical maps the request to provider types.
func (rr *ResponsesRequest) Canonical() (*provider.Request, error) {
	if rr.Model == "" {
		return nil, dialect.Invalid("model", "you must provide a model parameter")
	}
	if rr.PreviousResponseID != "" {
		return nil, dialect.Invalid("previous_response_id", "Outcrop does not store responses; send the whole conversation in 'input'.")
	}
	var format *provider.OutputFormat
	if rr.Text != nil {
		var err error
		if format, err = outputFormat(rr.Text.Format, "text.format"); err != nil {
			return nil, err
		}
	}
	if err := checkSampling(rr.Temperature, rr.TopP); err != nil {
		return nil, err
	}
	req := &provider.Request{Temperature: rr.Temperature, TopP: rr.TopP}
	req.Format = format
	for _, inc := range rr.Include {
		if inc == includeLogprobs {
			req.Logprobs = true
		}
	}
	if rr.TopLogprobs != nil {
		if *rr.TopLogprobs < 0 || *rr.TopLogprobs > 20 {
			return nil, dialect.Invalid("top_logprobs", fmt.Sprintf("Invalid 'top_logprobs': %d. Expected a value between 0 and 20.", *rr.TopLogprobs))
		}
		req.TopLogprobs = *rr.TopLogprobs
		req.Logprobs = req.Logprobs || req.TopLogprobs > 0
	}
	if rr.MaxOutputTokens != nil {
		if *rr.MaxOutputTokens < 1 {
			return nil, dialect.Invalid("max_output_tokens", "Invalid 'max_output_tokens': expected a value >= 1.")
		}
		req.MaxTokens = *rr.MaxOutputTokens
	}
	if rr.Instructions != "" {
		req.System = []provider.Block{{Type: provider.TextBlock, Text: rr.Instructions}}
	}
	var s string
	if json.Unmarshal(rr.Input, &s) == nil {
		appendTurn(req, provider.User, []provider.Block{{Type: provider.TextBlock, Text: s}})
	} else {
		var items []RespItem
		if err := json.Unmarshal(rr.Input, &items); err != nil {
			return nil, dialect.Invalid("input", "'input' must be a string or an array of input items.")
		}
		for i, it := range items {
			if err := addItem(req, it, i); err != nil {
				return nil, err
			}
		}
	}
	if len(req.Messages) == 0 {
		return nil, dialect.Invalid("input", "'input' must not be empty.")
	}
	var chatTools []Tool
	for i, t := range rr.Tools {
		if t.Type != "function" {
			return nil, dialect.Invalid(fmt.Sprintf("tools[%d].type", i), fmt.Sprintf("Tool type %q is not supported; only 'function'.", t.Type))
		}
		chatTools = append(chatTools, Tool{Type: "function", Function: Function{Name: t.Name, Description: t.Description, Parameters: t.Parameters}})
	}
	tools, err := canonicalTools(chatTools)
	if err != nil {
		return nil, err
	}
	req.Tools = tools
	if req.ToolChoice, err = toolChoice(rr.ToolChoice, len(tools) > 0); err != nil {
		return nil, err
	}
	return req, nil
}

func addItem(req *provider.Request, it RespItem, i int) error {
	at := fmt.Sprintf("input[%d]", i)
	switch it.Type {
	case "", "message":
		var role provider.Role
		switch it.Role {
		case "system", "developer":
			bs, err := respContent(it.Content, at)
			if err != nil {
				return err
			}
			req.System = append(req.System, bs...)
			return nil
		case "user":
			role = provider.User
		case "assistant":
			role = provider.Assistant
		default:
			return dialect.Invalid(at+".role", fmt.Sprintf("Invalid value: '%s'.", it.Role))
		}
		bs, err := respContent(it.Content, at)
		if err != nil {
			return err
		}
		appendTurn(req, role, bs)
	case "function_call":
		args := ""
		if it.Args != nil {
			args = *it.Args
		}
		tu, err := toolUse(ToolCall{ID: it.CallID, Function: FunctionCall{Name: it.Name, Arguments: args}}, at)
		if err != nil {
			return err
		}
		appendTurn(req, provider.Assistant, []provider.Block{{Type: provider.ToolUseBlock, ToolUse: tu}})
	case "function_call_output":
		var out string
		if json.Unmarshal(it.Output, &out) != nil {
			out = string(it.Output)
		}
		appendTurn(req, provider.User, []provider.Block{{Type: provider.ToolResultBlock, ToolResult: &provider.ToolResult{
			ToolUseID: it.CallID, Content: []provider.Block{{Type: provider.TextBlock, Text: out}}}}})
	default:
		return dialect.Invalid(at+".type", fmt.Sprintf("Input item type %q is not supported.", it.Type))
	}
	return nil
}

func respContent(raw json.RawMessage, at string) ([]provider.Block, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []provider.Block{{Type: provider.TextBlock, Text: s}}, nil
	}
	var parts []RespPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, dialect.Invalid(at+".content", "content must be a string or an array of content parts.")
	}
	var out []provider.Block
	for j, p := range parts {
		switch p.Type {
		case "input_text", "output_text":
			out = append(out, provider.Block{Type: provider.TextBlock, Text: p.Text})
		case "input_image":
			mt, data, ok := dialect.DataURL(p.ImageURL)
			f, fok := dialect.ImageFormat(mt)
			if !ok || !fok {
				return nil, dialect.Invalid(fmt.Sprintf("%s.content[%d].image_url", at, j), "Images must be base64 data URLs of png, jpeg, gif or webp.")
			}
			out = append(out, provider.Block{Type: provider.ImageBlock, Image: &provider.Image{Format: f, Data: data}})
		default:
			return nil, dialect.Invalid(fmt.Sprintf("%s.content[%d].type", at, j), fmt.Sprintf("Content type %q is not supported.", p.Type))
		}
	}
	return out, nil
}

// respLogprobs encodes log probabilities for an output_text part: an
// empty list when asked and there are none, nil when not asked.
func respLogprobs(lps []provider.TokenLogprob, asked bool) []LogprobEntry {
	if !asked {
		return nil
	}
	return choiceLogprobs(lps, true).Content
}

func respUsage(u provider.Usage) *RespUsage {
	return &RespUsage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, TotalTokens: u.InputTokens + u.OutputTokens}
}

// textItem is an assistant message item with one output_text part; lps,
// when the request asked for log probabilities, are its tokens'.
func textItem(id, text, status string, lps []LogprobEntry) RespItem {
	c, _ := json.Marshal([]RespPart{{Type: "output_text", Text: text, Annotations: []string{}, Logprobs: lps}})
	return RespItem{Type: "message", ID: id, Role: "assistant", Status: status, Content: c}
}

func finishResponse(r *Response, stop provider.StopReason, u provider.Usage) {
	r.Status, r.Usage = "completed", respUsage(u)
	if stop == provider.MaxTokens || stop == provider.ContextWindow {
		r.Status = "incomplete"
		r.Incomplete = &struct {
			Reason string `json:"reason"`
		}{"max_output_tokens"}
	}
}

func (h *Handler) responses(w http.ResponseWriter, r *http.Request) error {
	var rr ResponsesRequest
	if err := dialect.ReadJSON(r, &rr); err != nil {
		return err
	}
	req, err := rr.Canonical()
	if err != nil {
		return err
	}
	t, err := h.m.ResolveChat(r.Context(), rr.Model, rr.Stream, req)
	if err != nil {
		return err
	}
	if req, err = h.m.AdaptChat(w, r, t, req); err != nil {
		return err
	}
	base := &Response{ID: newID(r, "resp_"), Object: "response", CreatedAt: h.m.Now().Unix(), Status: "in_progress",
		Model: rr.Model, Output: []RespItem{}, ParallelToolCalls: true}
	if rr.Stream {
		rs := &respStream{sse: dialect.NewSSE(w), resp: base, open: -1, logprobs: req.Logprobs}
		err := h.m.Stream(r.Context(), t, req, rs.event)
		if err == nil {
			err = rs.finish()
		}
		return streamError(rs.sse, err)
	}
	resp, err := h.m.Converse(r.Context(), t, req)
	if err != nil {
		return err
	}
	msgID := "msg_" + base.ID[len("resp_"):]
	if text := provider.TextOf(resp.Message.Content); text != "" {
		base.Output = append(base.Output, textItem(msgID, text, "completed", respLogprobs(resp.Logprobs, req.Logprobs)))
	}
	for _, b := range resp.Message.Content {
		if b.Type == provider.ToolUseBlock && b.ToolUse != nil {
			args := string(b.ToolUse.Input)
			if args == "" {
				args = "{}"
			}
			base.Output = append(base.Output, RespItem{Type: "function_call", ID: "fc_" + b.ToolUse.ID, CallID: b.ToolUse.ID,
				Name: b.ToolUse.Name, Args: &args, Status: "completed"})
		}
	}
	finishResponse(base, resp.StopReason, resp.Usage)
	return writeJSON(w, http.StatusOK, base)
}

// respStream encodes canonical events as Responses streaming events.
type respStream struct {
	sse   *dialect.SSE
	resp  *Response
	seq   int
	begun bool
	open  int    // output index of the open item, or -1
	kind  string // "message" or "function_call"
	buf   []byte // text or arguments of the open item
	stop  provider.StopReason
	usage provider.Usage
	// logprobs: the request asked for log probabilities; lps holds the
	// open message's.
	logprobs bool
	lps      []LogprobEntry
	done     bool // the final event is next
}

func (s *respStream) send(typ string, fields map[string]any) error {
	fields["type"] = typ
	fields["sequence_number"] = s.seq
	s.seq++
	if s.done {
		return s.sse.Last(typ, fields)
	}
	return s.sse.Event(typ, fields)
}

func (s *respStream) begin() error {
	if s.begun {
		return nil
	}
	s.begun = true
	if err := s.send("response.created", map[string]any{"response": s.resp}); err != nil {
		return err
	}
	return s.send("response.in_progress", map[string]any{"response": s.resp})
}

func (s *respStream) openItem(kind string, it RespItem) error {
	if err := s.closeItem(); err != nil {
		return err
	}
	s.open, s.kind, s.buf, s.lps = len(s.resp.Output), kind, s.buf[:0], nil
	s.resp.Output = append(s.resp.Output, it)
	if err := s.send("response.output_item.added", map[string]any{"output_index": s.open, "item": it}); err != nil {
		return err
	}
	if kind == "message" {
		return s.send("response.content_part.added", map[string]any{"item_id": it.ID, "output_index": s.open, "content_index": 0,
			"part": RespPart{Type: "output_text", Annotations: []string{}}})
	}
	return nil
}

func (s *respStream) closeItem() error {
	if s.open < 0 {
		return nil
	}
	i, it := s.open, s.resp.Output[s.open]
	s.open = -1
	if s.kind == "message" {
		text := string(s.buf)
		done := textItem(it.ID, text, "completed", s.lps)
		s.resp.Output[i] = done
		fields := map[string]any{"item_id": it.ID, "output_index": i, "content_index": 0, "text": text}
		if s.logprobs {
			fields["logprobs"] = s.lps
		}
		if err := s.send("response.output_text.done", fields); err != nil {
			return err
		}
		if err := s.send("response.content_part.done", map[string]any{"item_id": it.ID, "output_index": i, "content_index": 0,
			"part": RespPart{Type: "output_text", Text: text, Annotations: []string{}, Logprobs: s.lps}}); err != nil {
			return err
		}
		return s.send("response.output_item.done", map[string]any{"output_index": i, "item": done})
	}
	args := string(s.buf)
	if args == "" {
		args = "{}"
	}
	it.Args, it.Status = &args, "completed"
	s.resp.Output[i] = it
	if err := s.send("response.function_call_arguments.done", map[string]any{"item_id": it.ID, "output_index": i, "arguments": args}); err != nil {
		return err
	}
	return s.send("response.output_item.done", map[string]any{"output_index": i, "item": it})
}

func (s *respStream) event(ev provider.Event) error {
	s.sse.Batch(ev.More)
	if err := s.begin(); err != nil {
		return err
	}
	switch ev.Type {
	case provider.TextDeltaEvent:
		if s.open < 0 || s.kind != "message" {
			id := fmt.Sprintf("msg_%s_%d", s.resp.ID[len("resp_"):], len(s.resp.Output))
			if err := s.openItem("message", textItem(id, "", "in_progress", nil)); err != nil {
				return err
			}
		}
		s.buf = append(s.buf, ev.Text...)
		lps := []LogprobEntry{}
		if s.logprobs {
			lps = respLogprobs(ev.Logprobs, true)
			s.lps = append(s.lps, lps...)
		}
		return s.send("response.output_text.delta", map[string]any{"item_id": s.resp.Output[s.open].ID, "output_index": s.open,
			"content_index": 0, "delta": ev.Text, "logprobs": lps})
	case provider.BlockStartEvent:
		if ev.ToolUse != nil {
			empty := ""
			return s.openItem("function_call", RespItem{Type: "function_call", ID: "fc_" + ev.ToolUse.ID, CallID: ev.ToolUse.ID,
				Name: ev.ToolUse.Name, Args: &empty, Status: "in_progress"})
		}
	case provider.ToolInputDeltaEvent:
		if s.open >= 0 && s.kind == "function_call" {
			s.buf = append(s.buf, ev.Text...)
			return s.send("response.function_call_arguments.delta", map[string]any{"item_id": s.resp.Output[s.open].ID,
				"output_index": s.open, "delta": ev.Text})
		}
	case provider.BlockStopEvent:
		return s.closeItem()
	case provider.MessageStopEvent:
		s.stop = ev.StopReason
	case provider.MetadataEvent:
		s.usage = ev.Usage
	}
	return nil
}

func (s *respStream) finish() error {
	if err := s.begin(); err != nil {
		return err
	}
	if err := s.closeItem(); err != nil {
		return err
	}
	finishResponse(s.resp, s.stop, s.usage)
	typ := "response.completed"
	if s.resp.Status == "incomplete" {
		typ = "response.incomplete"
	}
	s.done = true
	return s.send(typ, map[string]any{"response": s.resp})
}
