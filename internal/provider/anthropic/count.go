package anthropic

import (
	"context"
	"encoding/json"
	"io"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

var _ provider.TokenCounter = (*Adapter)(nil)

// countRequest is the body of /v1/messages/count_tokens: the prompt parts
// of a Messages request, without output settings.
type countRequest struct {
	Model      string          `json:"model"`
	System     []block         `json:"system,omitempty"`
	Messages   []message       `json:"messages"`
	Tools      []tool          `json:"tools,omitempty"`
	ToolChoice *toolChoice     `json:"tool_choice,omitempty"`
	Thinking   json.RawMessage `json:"thinking,omitempty"`
}

// CountTokens asks Anthropic's token-counting endpoint for the exact input
// tokens of req.
func (a *Adapter) CountTokens(ctx context.Context, req *provider.Request) (int, error) {
	full, err := a.buildRequest(req, false)
	if err != nil {
		return 0, err
	}
	var mr struct {
		messagesRequest
		Thinking json.RawMessage `json:"thinking"`
	}
	if err := json.Unmarshal(full, &mr); err != nil {
		return 0, fault.Wrap(fault.Internal, err, "")
	}
	body, err := json.Marshal(countRequest{Model: mr.Model, System: mr.System, Messages: mr.Messages, Tools: mr.Tools, ToolChoice: mr.ToolChoice, Thinking: mr.Thinking})
	if err != nil {
		return 0, fault.Wrap(fault.Internal, err, "")
	}
	resp, err := a.http.Post(ctx, "/v1/messages/count_tokens", body, false)
	if err != nil {
		return 0, err
	}
	defer resp.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, err
	}
	var out struct {
		InputTokens *int `json:"input_tokens"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.InputTokens == nil {
		return 0, fault.Newf(fault.ModelFailed, "The anthropic backend sent a token count that cannot be read.")
	}
	return *out.InputTokens, nil
}
