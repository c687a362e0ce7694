// Package openaiapi serves the OpenAI API dialect: Chat Completions,
// Completions, Embeddings, Images (generations), Models and Responses.
// Each request is decoded into canonical provider types and run through
// dialect.Models, the same catalog, authorization, backends and metrics as
// the Bedrock runtime; answers are encoded in OpenAI's shapes, errors in
// OpenAI's error object.
package openaiapi

import (
	"bytes"
	"net/http"
	"strings"
	"sync"

	"github.com/outcrop/outcrop/internal/api/dialect"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/reqctx"
	"github.com/outcrop/outcrop/internal/wirejson"
)

// Options configures the handler.
type Options struct {
	Models *dialect.Models
}

// Handler serves the OpenAI dialect.
type Handler struct {
	m *dialect.Models
}

// New returns a Handler.
func New(opts Options) *Handler { return &Handler{m: opts.Models} }

// Routes maps ServeMux patterns to handlers. The server wraps each in its
// request pipeline and renders returned errors with WriteError.
func (h *Handler) Routes() map[string]func(http.ResponseWriter, *http.Request) error {
	return map[string]func(http.ResponseWriter, *http.Request) error{
		"POST /v1/chat/completions":   h.chat,
		"POST /v1/completions":        h.completions,
		"POST /v1/embeddings":         h.embeddings,
		"POST /v1/images/generations": h.images,
		"GET /v1/models":              h.listModels,
		"GET /v1/models/{id...}":      h.getModel,
		"POST /v1/responses":          h.responses,
	}
}

// ErrorBody is OpenAI's error envelope.
type ErrorBody struct {
	Error ErrorObject `json:"error"`
}

// ErrorObject is OpenAI's error object.
type ErrorObject struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// errorFor maps an error to OpenAI's status, type and code.
func errorFor(err error) (int, ErrorObject) {
	e := ErrorObject{Message: fault.Message(err)}
	code := func(s string) { e.Code = &s }
	if f := dialect.FieldOf(err); f != "" {
		e.Param = &f
	}
	status := http.StatusInternalServerError
	switch fault.KindOf(err) {
	case fault.Invalid, fault.Conflict:
		status, e.Type = http.StatusBadRequest, "invalid_request_error"
	case fault.NotFound:
		status, e.Type = http.StatusNotFound, "invalid_request_error"
		if strings.HasPrefix(e.Message, "The model `") {
			code("model_not_found")
		}
	case fault.Unauthenticated, fault.BadSignature, fault.Expired, fault.Unsigned:
		status, e.Type = http.StatusUnauthorized, "invalid_request_error"
		code("invalid_api_key")
	case fault.Denied:
		status, e.Type = http.StatusForbidden, "permission_error"
		code("permission_denied")
	case fault.Throttled, fault.ModelNotReady:
		status, e.Type = http.StatusTooManyRequests, "rate_limit_error"
		code("rate_limit_exceeded")
	case fault.QuotaExceeded:
		status, e.Type = http.StatusTooManyRequests, "insufficient_quota"
		code("insufficient_quota")
	case fault.ModelTimeout:
		status, e.Type = http.StatusGatewayTimeout, "timeout_error"
	case fault.ModelFailed:
		status, e.Type = http.StatusBadGateway, "server_error"
	case fault.Unavailable:
		status, e.Type = http.StatusServiceUnavailable, "server_error"
	default:
		e.Type = "server_error"
	}
	return status, e
}

// WriteError renders err as an OpenAI error response.
func WriteError(w http.ResponseWriter, err error) {
	status, e := errorFor(err)
	writeJSON(w, status, ErrorBody{Error: e})
}

// jsonType is the Content-Type of JSON answers; never modified.
var jsonType = []string{"application/json"}

// writeJSON writes v as json.Marshal would encode it, through a pooled
// buffer rather than a new slice per answer.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	buf := getBuffer()
	defer putBuffer(buf)
	if err := wirejson.NewEncoder(buf).Encode(v); err != nil {
		return err
	}
	b := buf.Bytes()
	b = b[:len(b)-1] // Encode ends the value with a newline; Marshal does not
	return dialect.WriteBody(w, status, jsonType, b)
}

// maxPooled is the largest buffer kept for reuse, so that one huge answer
// does not pin its memory.
const maxPooled = 64 << 10

var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer {
	b := buffers.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= maxPooled {
		buffers.Put(b)
	}
}

// streamError reports err inside an SSE stream that has started, in the
// form OpenAI's SDKs read ({"error": {...}} as a data event); before the
// stream starts the caller's error writer handles it.
func streamError(sse *dialect.SSE, err error) error {
	if err == nil || !sse.Started() {
		return err
	}
	if dialect.Gone(err) {
		return nil
	}
	_, e := errorFor(err)
	_ = sse.Last("", ErrorBody{Error: e})
	return nil
}

// newID returns an object ID with prefix, derived from the request ID so
// that logs and responses can be matched.
func newID(r *http.Request, prefix string) string {
	id := reqctx.RequestID(r.Context())
	// The request ID without its dashes, built in one allocation.
	var b strings.Builder
	b.Grow(len(prefix) + max(len(id), 1))
	b.WriteString(prefix)
	for i := 0; i < len(id); i++ {
		if id[i] != '-' {
			b.WriteByte(id[i])
		}
	}
	if b.Len() == len(prefix) {
		b.WriteByte('0')
	}
	return b.String()
}
