// Package anthropicapi serves the Anthropic API dialect: Messages (with
// streaming), token counting and the models list. Requests are decoded
// into canonical provider types and run through dialect.Models, the same
// catalog, authorization, backends and metrics as the Bedrock runtime;
// answers and errors are encoded in Anthropic's shapes.
package anthropicapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/api/dialect"
	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/reqctx"
)

// Options configures the handler.
type Options struct {
	Models *dialect.Models
}

// Handler serves the Anthropic dialect.
type Handler struct {
	m *dialect.Models
}

// New returns a Handler.
func New(opts Options) *Handler { return &Handler{m: opts.Models} }

// Routes maps ServeMux patterns to handlers. GET /v1/models is shared with
// the OpenAI dialect; the server sends requests carrying an
// anthropic-version header to ListModels.
func (h *Handler) Routes() map[string]func(http.ResponseWriter, *http.Request) error {
	return map[string]func(http.ResponseWriter, *http.Request) error{
		"POST /v1/messages":              h.messages,
		"POST /v1/messages/count_tokens": h.countTokens,
	}
}

// ErrorBody is Anthropic's error envelope.
type ErrorBody struct {
	Type      string      `json:"type"` // "error"
	Error     ErrorObject `json:"error"`
	RequestID string      `json:"request_id,omitempty"`
}

// ErrorObject is Anthropic's error object.
type ErrorObject struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// errorFor maps an error to Anthropic's status and error type.
func errorFor(err error) (int, ErrorObject) {
	e := ErrorObject{Message: fault.Message(err)}
	if f := dialect.FieldOf(err); f != "" && !strings.HasPrefix(e.Message, f) {
		e.Message = f + ": " + e.Message
	}
	switch fault.KindOf(err) {
	case fault.Invalid, fault.Conflict:
		e.Type = "invalid_request_error"
		return http.StatusBadRequest, e
	case fault.NotFound:
		e.Type = "not_found_error"
		return http.StatusNotFound, e
	case fault.Unauthenticated, fault.BadSignature, fault.Expired, fault.Unsigned:
		e.Type = "authentication_error"
		return http.StatusUnauthorized, e
	case fault.Denied:
		e.Type = "permission_error"
		return http.StatusForbidden, e
	case fault.Throttled, fault.QuotaExceeded:
		e.Type = "rate_limit_error"
		return http.StatusTooManyRequests, e
	case fault.ModelNotReady, fault.Unavailable:
		e.Type = "overloaded_error"
		return 529, e
	case fault.ModelTimeout:
		e.Type = "timeout_error"
		return http.StatusGatewayTimeout, e
	}
	e.Type = "api_error"
	return http.StatusInternalServerError, e
}

// WriteError renders err as an Anthropic error response.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	status, e := errorFor(err)
	writeJSON(w, status, ErrorBody{Type: "error", Error: e, RequestID: reqctx.RequestID(r.Context())})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return dialect.WriteBody(w, status, jsonType, b)
}

// jsonType is the Content-Type of JSON answers; never modified.
var jsonType = []string{"application/json"}

func newID(r *http.Request, prefix string) string {
	id := strings.ReplaceAll(reqctx.RequestID(r.Context()), "-", "")
	if id == "" {
		id = "0"
	}
	return prefix + id
}

// ModelInfo is an entry of Anthropic's GET /v1/models.
type ModelInfo struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

// ModelPage is the response of Anthropic's GET /v1/models.
type ModelPage struct {
	Data    []ModelInfo `json:"data"`
	HasMore bool        `json:"has_more"`
	FirstID *string     `json:"first_id"`
	LastID  *string     `json:"last_id"`
}

// epoch stands in for creation dates, which the catalog does not record.
var epoch = time.Unix(0, 0).UTC().Format(time.RFC3339)

func info(m *catalog.Model) ModelInfo {
	return ModelInfo{Type: "model", ID: m.ID, DisplayName: m.Name, CreatedAt: epoch}
}

// ListModels serves GET /v1/models in Anthropic's shape (one page).
func (h *Handler) ListModels(w http.ResponseWriter, r *http.Request) error {
	ms, err := h.m.List(r.Context())
	if err != nil {
		return err
	}
	out := ModelPage{Data: make([]ModelInfo, 0, len(ms))}
	for i := range ms {
		out.Data = append(out.Data, info(&ms[i]))
	}
	if n := len(out.Data); n > 0 {
		out.FirstID, out.LastID = &out.Data[0].ID, &out.Data[n-1].ID
	}
	return writeJSON(w, http.StatusOK, out)
}

// GetModel serves GET /v1/models/{id} in Anthropic's shape.
func (h *Handler) GetModel(w http.ResponseWriter, r *http.Request) error {
	m, err := h.m.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, info(m))
}
