// Package eventstream writes application/vnd.amazon.eventstream responses,
// the framing the *Stream operations use, with the AWS SDK's own encoder.
//
// A Writer sends the HTTP 200 and content type with its first frame; from
// then on errors can only travel in-band, as exception frames named by the
// union member (lower camel case, e.g. "modelStreamErrorException").
// A Writer is not safe for concurrent use: one per response stream.
package eventstream

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// ContentType is the HTTP content type of an event stream.
const ContentType = "application/vnd.amazon.eventstream"

// Writer writes event-stream frames to an HTTP response, flushing each.
type Writer struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	enc     *eventstream.Encoder
	started bool
	hold    bool // leave events unflushed (Batch)
	flushed bool // the first frame has gone out
	// Header holds extra response headers, sent with the first frame.
	Header http.Header
}

// Batch says whether the events written next come in a burst that goes on
// at once (provider.Event.More): they stay in the response's buffer until
// an event written after Batch(false) flushes them all. The first frame,
// exceptions and errors always flush, so a burst never delays the first
// byte, and the server flushes whatever is left when the handler returns.
func (w *Writer) Batch(more bool) { w.hold = more }

// NewWriter returns a Writer for w.
func NewWriter(w http.ResponseWriter) *Writer {
	return &Writer{w: w, rc: http.NewResponseController(w), enc: eventstream.NewEncoder(), Header: http.Header{}}
}

// Started reports whether the HTTP response has been committed.
func (w *Writer) Started() bool { return w.started }

// Start commits the 200 response with the event-stream content type.
func (w *Writer) Start() {
	if w.started {
		return
	}
	w.started = true
	h := w.w.Header()
	for k, v := range w.Header {
		h[k] = v
	}
	h.Set("Content-Type", ContentType)
	w.w.WriteHeader(http.StatusOK)
}

// Event writes one event whose payload is v encoded as JSON.
func (w *Writer) Event(eventType string, v any) error {
	payload, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", eventType, err)
	}
	return w.RawEvent(eventType, payload)
}

// RawEvent writes one event with a JSON payload already encoded.
func (w *Writer) RawEvent(eventType string, payload []byte) error {
	var m eventstream.Message
	m.Headers.Set(":event-type", eventstream.StringValue(eventType))
	m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	m.Headers.Set(":message-type", eventstream.StringValue("event"))
	m.Payload = payload
	return w.write(m)
}

// Exception writes an in-band modeled exception. member is the union member
// name, e.g. "throttlingException".
func (w *Writer) Exception(member, message string) error {
	payload, err := json.Marshal(struct {
		Message string `json:"message"`
	}{message})
	if err != nil {
		return err
	}
	var m eventstream.Message
	m.Headers.Set(":exception-type", eventstream.StringValue(member))
	m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	m.Headers.Set(":message-type", eventstream.StringValue("exception"))
	m.Payload = payload
	w.hold = false
	return w.write(m)
}

// Error writes an unmodeled error frame.
func (w *Writer) Error(code, message string) error {
	var m eventstream.Message
	m.Headers.Set(":error-code", eventstream.StringValue(code))
	m.Headers.Set(":error-message", eventstream.StringValue(message))
	m.Headers.Set(":message-type", eventstream.StringValue("error"))
	w.hold = false
	return w.write(m)
}

func (w *Writer) write(m eventstream.Message) error {
	w.Start()
	if err := w.enc.Encode(w.w, m); err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	if w.hold && w.flushed {
		return nil
	}
	if err := w.rc.Flush(); err != nil {
		return fmt.Errorf("flush event: %w", err)
	}
	w.flushed = true
	return nil
}
