package openaiapi

import (
	"net/http"

	"github.com/outcrop/outcrop/internal/fault"
)

func (h *Handler) responses(w http.ResponseWriter, r *http.Request) error {
	return fault.New(fault.Invalid, "The Responses API is not implemented yet; use /v1/chat/completions.")
}
