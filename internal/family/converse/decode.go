package converse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// Decode parses and validates a Converse request body and returns its
// canonical form. Errors are fault.Invalid with Bedrock's messages.
func Decode(body []byte) (*Request, *provider.Request, error) {
	var w Request
	if err := decodeJSON(body, &w); err != nil {
		return nil, nil, err
	}
	req, err := w.Canonical()
	if err != nil {
		return nil, nil, err
	}
	return &w, req, nil
}

// decodeJSON decodes one JSON value; an empty body is {}.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fault.Wrap(fault.Invalid, err, fmt.Sprintf("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must be of the modeled type", te.Field))
		}
		return fault.Wrap(fault.Invalid, err, "Malformed input request, please reformat your input and try again.")
	}
	return nil
}

var toolNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func invalid(format string, args ...any) error { return fault.Newf(fault.Invalid, format, args...) }

func oneMember(path string, set ...bool) error {
	n := 0
	for _, s := range set {
		if s {
			n++
		}
	}
	if n != 1 {
		return invalid("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have exactly one member set", path)
	}
	return nil
}

// Canonical validates w as Bedrock does and converts it.
func (w *Request) Canonical() (*provider.Request, error) {
	req := &provider.Request{Extra: w.AdditionalModelRequestFields}
	if ic := w.InferenceConfig; ic != nil {
		if ic.MaxTokens != nil {
			if *ic.MaxTokens < 1 {
				return nil, invalid("1 validation error detected: Value '%d' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1", *ic.MaxTokens)
			}
			req.MaxTokens = *ic.MaxTokens
		}
		if t := ic.Temperature; t != nil {
			if *t < 0 || *t > 1 {
				return nil, invalid("1 validation error detected: Value '%v' at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value %s", *t, bound(*t))
			}
			req.Temperature = t
		}
		if p := ic.TopP; p != nil {
			if *p < 0 || *p > 1 {
				return nil, invalid("1 validation error detected: Value '%v' at 'inferenceConfig.topP' failed to satisfy constraint: Member must have value %s", *p, bound(*p))
			}
			req.TopP = p
		}
		if len(ic.StopSequences) > 2500 {
			return nil, invalid("1 validation error detected: Value at 'inferenceConfig.stopSequences' failed to satisfy constraint: Member must have length less than or equal to 2500")
		}
		for i, s := range ic.StopSequences {
			if s == "" {
				return nil, invalid("1 validation error detected: Value at 'inferenceConfig.stopSequences.%d.member' failed to satisfy constraint: Member must have length greater than or equal to 1", i+1)
			}
		}
		req.StopSequences = ic.StopSequences
	}
	for i, s := range w.System {
		path := fmt.Sprintf("system.%d.member", i+1)
		if err := oneMember(path, s.Text != nil, s.GuardContent != nil, s.CachePoint != nil); err != nil {
			return nil, err
		}
		switch {
		case s.Text != nil:
			if strings.TrimSpace(*s.Text) == "" {
				return nil, invalid("The text field in the SystemContentBlock object at system.%d is blank. Add text to the text field, and try again.", i)
			}
			req.System = append(req.System, provider.Block{Type: provider.TextBlock, Text: *s.Text})
		case s.GuardContent != nil && s.GuardContent.Text != nil:
			req.System = append(req.System, provider.Block{Type: provider.TextBlock, Text: s.GuardContent.Text.Text})
		}
	}
	if err := w.tools(req); err != nil {
		return nil, err
	}
	if err := w.messages(req); err != nil {
		return nil, err
	}
	return req, nil
}

func bound(v float64) string {
	if v < 0 {
		return "greater than or equal to 0"
	}
	return "less than or equal to 1"
}

func (w *Request) tools(req *provider.Request) error {
	tc := w.ToolConfig
	if tc == nil {
		return nil
	}
	if len(tc.Tools) == 0 {
		return invalid("1 validation error detected: Value '[]' at 'toolConfig.tools' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	names := map[string]bool{}
	for i, t := range tc.Tools {
		path := fmt.Sprintf("toolConfig.tools.%d.member", i+1)
		if err := oneMember(path, t.ToolSpec != nil, t.SystemTool != nil, t.CachePoint != nil); err != nil {
			return err
		}
		if t.ToolSpec == nil {
			continue
		}
		s := t.ToolSpec
		if !toolNameRE.MatchString(s.Name) {
			return invalid("1 validation error detected: Value '%s' at '%s.toolSpec.name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+", s.Name, path)
		}
		if names[s.Name] {
			return invalid("The toolConfig field contains duplicate tool names: %s. Remove the duplicate tool names and try again.", s.Name)
		}
		names[s.Name] = true
		if len(s.InputSchema.JSON) == 0 || s.InputSchema.JSON[0] != '{' {
			return invalid("The value at toolConfig.tools.%d.toolSpec.inputSchema.json.type must be object", i)
		}
		req.Tools = append(req.Tools, provider.Tool{Name: s.Name, Description: s.Description, Schema: s.InputSchema.JSON})
	}
	if c := tc.ToolChoice; c != nil {
		if err := oneMember("toolConfig.toolChoice", c.Auto != nil, c.Any != nil, c.Tool != nil); err != nil {
			return err
		}
		switch {
		case c.Any != nil:
			req.ToolChoice.Mode = provider.ToolAny
		case c.Tool != nil:
			if !names[c.Tool.Name] {
				return invalid("The tool %s specified in toolChoice is not defined in toolConfig.tools. Specify a tool from the toolConfig.tools list and try again.", c.Tool.Name)
			}
			req.ToolChoice = provider.ToolChoice{Mode: provider.ToolOne, Name: c.Tool.Name}
		}
	}
	return nil
}

func (w *Request) messages(req *provider.Request) error {
	if len(w.Messages) == 0 {
		return invalid("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
	}
	var pendingUses []string // tool-use IDs of the previous assistant turn
	for i, m := range w.Messages {
		switch m.Role {
		case "user", "assistant":
		default:
			return invalid("1 validation error detected: Value '%s' at 'messages.%d.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]", m.Role, i+1)
		}
		if i == 0 && m.Role != "user" {
			return invalid("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
		}
		if i > 0 && m.Role == w.Messages[i-1].Role {
			return invalid("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.")
		}
		if len(m.Content) == 0 {
			return invalid("The content field in the Message object at messages.%d is empty. Add a ContentBlock object to the content field and try again.", i)
		}
		msg := provider.Message{Role: provider.Role(m.Role)}
		var uses, results []string
		for j, c := range m.Content {
			b, err := block(c, i, j)
			if err != nil {
				return err
			}
			switch b.Type {
			case provider.ToolUseBlock:
				if m.Role != "assistant" {
					return invalid("A toolUse block can only be in an assistant message. Check messages.%d.content.%d and try again.", i, j)
				}
				uses = append(uses, b.ToolUse.ID)
			case provider.ToolResultBlock:
				if m.Role != "user" {
					return invalid("A toolResult block can only be in a user message. Check messages.%d.content.%d and try again.", i, j)
				}
				results = append(results, b.ToolResult.ToolUseID)
			case "":
				continue // cache points and other markers carry no content
			}
			msg.Content = append(msg.Content, b)
		}
		if (len(uses) > 0 || len(results) > 0) && w.ToolConfig == nil {
			return invalid("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
		}
		if m.Role == "user" {
			if len(results) > len(pendingUses) {
				return invalid("The number of toolResult blocks at messages.%d.content exceeds the number of toolUse blocks of previous turn.", i)
			}
			var missing []string
			for _, id := range pendingUses {
				if !contains(results, id) {
					missing = append(missing, id)
				}
			}
			if len(missing) > 0 {
				return invalid("Expected toolResult blocks at messages.%d.content for the following Ids: %s", i, strings.Join(missing, ", "))
			}
			pendingUses = nil
		} else {
			pendingUses = uses
		}
		req.Messages = append(req.Messages, msg)
	}
	return nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

var imageFormats = map[string]bool{"png": true, "jpeg": true, "gif": true, "webp": true}
var docFormats = map[string]bool{"pdf": true, "csv": true, "doc": true, "docx": true, "xls": true, "xlsx": true, "html": true, "txt": true, "md": true}

func block(c ContentBlock, i, j int) (provider.Block, error) {
	path := fmt.Sprintf("messages.%d.member.content.%d.member", i+1, j+1)
	if err := oneMember(path, c.Text != nil, c.Image != nil, c.Document != nil, c.Video != nil, c.Audio != nil,
		c.ToolUse != nil, c.ToolResult != nil, c.GuardContent != nil, c.CachePoint != nil,
		c.ReasoningContent != nil, c.CitationsContent != nil, c.SearchResult != nil); err != nil {
		return provider.Block{}, err
	}
	switch {
	case c.Text != nil:
		if strings.TrimSpace(*c.Text) == "" {
			return provider.Block{}, invalid("The text field in the ContentBlock object at messages.%d.content.%d is blank. Add text to the text field, and try again.", i, j)
		}
		return provider.Block{Type: provider.TextBlock, Text: *c.Text}, nil
	case c.Image != nil:
		return image(c.Image, fmt.Sprintf("messages.%d.content.%d", i, j))
	case c.Document != nil:
		return document(c.Document, fmt.Sprintf("messages.%d.content.%d", i, j))
	case c.ToolUse != nil:
		u := c.ToolUse
		if u.ToolUseID == "" || u.Name == "" {
			return provider.Block{}, invalid("1 validation error detected: Value at '%s.toolUse.toolUseId' failed to satisfy constraint: Member must not be null", path)
		}
		in := u.Input
		if len(in) == 0 || string(in) == "null" {
			in = json.RawMessage("{}")
		}
		return provider.Block{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{ID: u.ToolUseID, Name: u.Name, Input: in}}, nil
	case c.ToolResult != nil:
		r := c.ToolResult
		if r.ToolUseID == "" {
			return provider.Block{}, invalid("1 validation error detected: Value at '%s.toolResult.toolUseId' failed to satisfy constraint: Member must not be null", path)
		}
		switch r.Status {
		case "", "success", "error":
		default:
			return provider.Block{}, invalid("1 validation error detected: Value '%s' at '%s.toolResult.status' failed to satisfy constraint: Member must satisfy enum value set: [success, error]", r.Status, path)
		}
		tr := &provider.ToolResult{ToolUseID: r.ToolUseID, Status: r.Status}
		for k, rc := range r.Content {
			rpath := fmt.Sprintf("%s.toolResult.content.%d.member", path, k+1)
			if err := oneMember(rpath, rc.JSON != nil, rc.Text != nil, rc.Image != nil, rc.Document != nil, rc.Video != nil, rc.SearchResult != nil); err != nil {
				return provider.Block{}, err
			}
			switch {
			case rc.JSON != nil:
				tr.Content = append(tr.Content, provider.Block{Type: provider.JSONBlock, JSON: rc.JSON})
			case rc.Text != nil:
				tr.Content = append(tr.Content, provider.Block{Type: provider.TextBlock, Text: *rc.Text})
			case rc.Image != nil:
				b, err := image(rc.Image, rpath)
				if err != nil {
					return provider.Block{}, err
				}
				tr.Content = append(tr.Content, b)
			case rc.Document != nil:
				b, err := document(rc.Document, rpath)
				if err != nil {
					return provider.Block{}, err
				}
				tr.Content = append(tr.Content, b)
			}
		}
		return provider.Block{Type: provider.ToolResultBlock, ToolResult: tr}, nil
	case c.GuardContent != nil:
		if c.GuardContent.Text != nil {
			return provider.Block{Type: provider.GuardBlock, Text: c.GuardContent.Text.Text}, nil
		}
		if c.GuardContent.Image != nil {
			return image(c.GuardContent.Image, path)
		}
		return provider.Block{}, nil
	case c.ReasoningContent != nil:
		rc := c.ReasoningContent
		r := &provider.Reasoning{Redacted: rc.RedactedContent}
		if rc.ReasoningText != nil {
			r.Text, r.Signature = rc.ReasoningText.Text, rc.ReasoningText.Signature
		}
		return provider.Block{Type: provider.ReasoningBlock, Reasoning: r}, nil
	case c.Video != nil, c.Audio != nil:
		return provider.Block{}, invalid("This model doesn't support the video or audio content blocks that were provided. Try again with a supported input.")
	}
	return provider.Block{}, nil // cachePoint, citationsContent, searchResult: no content for the model
}

func image(im *ImageBlock, at string) (provider.Block, error) {
	if !imageFormats[im.Format] {
		return provider.Block{}, invalid("1 validation error detected: Value '%s' at '%s.image.format' failed to satisfy constraint: Member must satisfy enum value set: [gif, jpeg, png, webp]", im.Format, at)
	}
	s := im.Source
	if err := oneMember(at+".image.source", s.Bytes != nil, s.S3Location != nil); err != nil {
		return provider.Block{}, err
	}
	b := provider.Block{Type: provider.ImageBlock, Image: &provider.Image{Format: im.Format, Data: s.Bytes}}
	if s.S3Location != nil {
		b.Image.URI = s.S3Location.URI
	}
	return b, nil
}

func document(d *DocumentBlock, at string) (provider.Block, error) {
	if d.Name == "" {
		return provider.Block{}, invalid("1 validation error detected: Value at '%s.document.name' failed to satisfy constraint: Member must not be null", at)
	}
	if d.Format != "" && !docFormats[d.Format] {
		return provider.Block{}, invalid("1 validation error detected: Value '%s' at '%s.document.format' failed to satisfy constraint: Member must satisfy enum value set: [pdf, csv, doc, docx, xls, xlsx, html, txt, md]", d.Format, at)
	}
	s := d.Source
	if err := oneMember(at+".document.source", s.Bytes != nil, s.S3Location != nil, s.Text != nil, s.Content != nil); err != nil {
		return provider.Block{}, err
	}
	doc := &provider.Document{Format: d.Format, Name: d.Name, Data: s.Bytes}
	switch {
	case s.Text != nil:
		doc.Text = *s.Text
	case s.Content != nil:
		var sb strings.Builder
		for _, c := range s.Content {
			if c.Text != nil {
				sb.WriteString(*c.Text)
			}
		}
		doc.Text = sb.String()
	case s.S3Location != nil:
		doc.URI = s.S3Location.URI
	}
	return provider.Block{Type: provider.DocumentBlock, Document: doc}, nil
}
