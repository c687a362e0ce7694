package runtimeapi

import (
	"encoding/json"
	"net/http"
	"unicode/utf8"

	"github.com/outcrop/outcrop/internal/awsapi/restjson"
	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/converse"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

type countRequest struct {
	Input struct {
		InvokeModel *struct {
			Body []byte `json:"body"`
		} `json:"invokeModel,omitempty"`
		Converse *converse.Request `json:"converse,omitempty"`
	} `json:"input"`
}

func (h *Handler) countTokens(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	t, err := h.resolve(r, "bedrock:CountTokens")
	if err != nil {
		return err
	}
	var cr countRequest
	if err := restjson.Decode(body, &cr); err != nil {
		return err
	}
	in := cr.Input
	if (in.InvokeModel == nil) == (in.Converse == nil) {
		return fault.New(fault.Invalid, "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have exactly one member set")
	}
	var req *provider.Request
	if in.Converse != nil {
		if req, err = in.Converse.Canonical(); err != nil {
			return err
		}
	} else {
		codec, _ := h.opts.Families.Lookup(t.model.Family)
		chat, ok := codec.(family.ChatCodec)
		if !ok {
			return fault.New(fault.Invalid, "The provided model doesn't support counting tokens.")
		}
		if req, err = family.ChatFor(chat, in.InvokeModel.Body).DecodeRequest(in.InvokeModel.Body); err != nil {
			return err
		}
	}
	req.Model = t.model.BackendModel
	n := 0
	if tc, ok := t.adapter.(provider.TokenCounter); ok {
		if n, err = tc.CountTokens(r.Context(), req); err != nil {
			return err
		}
	} else {
		n = estimateTokens(req)
	}
	return restjson.WriteJSON(w, http.StatusOK, struct {
		InputTokens int `json:"inputTokens"`
	}{n})
}

// estimateTokens approximates a token count (about four characters per
// token) for backends that cannot count exactly.
func estimateTokens(req *provider.Request) int {
	chars := utf8.RuneCountInString(req.Prompt) + utf8.RuneCountInString(provider.TextOf(req.System))
	for _, m := range req.Messages {
		chars += utf8.RuneCountInString(provider.TextOf(m.Content))
		for _, b := range m.Content {
			if b.ToolUse != nil {
				chars += len(b.ToolUse.Input)
			}
		}
	}
	for _, t := range req.Tools {
		raw, _ := json.Marshal(t.Schema)
		chars += len(t.Name) + len(t.Description) + len(raw)
	}
	return max(1, (chars+3)/4)
}
