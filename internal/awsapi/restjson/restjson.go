// Package restjson implements the parts of AWS's restJson1 protocol that a
// server needs: JSON bodies in and out, and the error envelope
// (X-Amzn-ErrorType header plus a {"message": ...} body) that the AWS SDKs
// decode into typed exceptions.
package restjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/outcrop/outcrop/internal/awsapi"
	"github.com/outcrop/outcrop/internal/fault"
)

// RequestIDHeader is the response header the SDKs read the request ID from.
const RequestIDHeader = "X-Amzn-Requestid"

// MaxBody is the largest request body accepted (InvokeModel's limit).
const MaxBody = 25_000_000

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, err = w.Write(b)
	return err
}

// ErrorBody is the JSON body of an error response.
type ErrorBody struct {
	Message string `json:"message"`
}

// WriteError renders err as service svc reports it: the exception name for
// its fault kind in X-Amzn-ErrorType, the service's status for that
// exception, and the client-safe message.
func WriteError(w http.ResponseWriter, svc awsapi.Service, err error) {
	name, status := awsapi.ErrorFor(svc, fault.KindOf(err))
	w.Header().Set("X-Amzn-Errortype", name)
	_ = WriteJSON(w, status, ErrorBody{Message: fault.Message(err)})
}

// Decode reads a JSON request body into v. An empty body decodes as {}.
// Malformed JSON is a fault.Invalid error with the message Bedrock uses.
func Decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fault.New(fault.Invalid, "Malformed input request: trailing data after JSON body, please reformat your input and try again.")
	}
	return nil
}

func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fault.Wrap(fault.Invalid, err, fmt.Sprintf("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must be of type %s", te.Field, jsonType(te.Type.Kind().String())))
	}
	return fault.Wrap(fault.Invalid, err, "Malformed input request, please reformat your input and try again.")
}

func jsonType(k string) string {
	switch k {
	case "string":
		return "string"
	case "slice", "array":
		return "list"
	case "map", "struct":
		return "structure"
	case "bool":
		return "boolean"
	default:
		return "number"
	}
}

// Body is a request body already read into memory (by authentication,
// which must hash it); ReadBody returns its bytes without copying.
type Body struct {
	*bytes.Reader
	b []byte
}

// NewBody wraps b as a request body.
func NewBody(b []byte) *Body { return &Body{Reader: bytes.NewReader(b), b: b} }

// Close does nothing.
func (*Body) Close() error { return nil }

// ReadBody reads at most MaxBody bytes of r's body.
func ReadBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if rb, ok := r.Body.(*Body); ok {
		return rb.b, nil
	}
	if r.ContentLength > MaxBody {
		return nil, fault.Newf(fault.Invalid, "1 validation error detected: Value at 'body' failed to satisfy constraint: Member must have length less than or equal to %d", MaxBody)
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + 1)
	}
	_, err := buf.ReadFrom(io.LimitReader(r.Body, MaxBody+1))
	b := buf.Bytes()
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "Could not read the request body.")
	}
	if len(b) > MaxBody {
		return nil, fault.Newf(fault.Invalid, "1 validation error detected: Value at 'body' failed to satisfy constraint: Member must have length less than or equal to %d", MaxBody)
	}
	return b, nil
}
