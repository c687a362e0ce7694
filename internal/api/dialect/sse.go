package dialect

import (
	"bytes"
	"net/http"

	"github.com/outcrop/outcrop/internal/wirejson"
)

// SSE writes a text/event-stream response, flushing after each event
// unless told that more follow at once (Batch). The
// headers go out with the first event, so an error before it can still be
// reported with an ordinary status and body.
type SSE struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
	buf     bytes.Buffer      // the event being written, reused
	enc     *wirejson.Encoder // writes into buf
	hold    bool              // leave events unflushed (Batch)
	last    bool              // the final event is being written (Last)
	flushed bool              // the first event has gone out
}

// Batch says whether the events written next come in a burst that goes on
// at once (provider.Event.More): they stay in the response's buffer until
// an event written after Batch(false) flushes them all. The first event
// always flushes, so a burst never delays the first byte; the server
// flushes whatever is left when the handler returns.
func (s *SSE) Batch(more bool) { s.hold = more }

// NewSSE returns a writer on w.
func NewSSE(w http.ResponseWriter) *SSE {
	return &SSE{w: w, rc: http.NewResponseController(w)}
}

// Last writes the stream's final event ([DONE], message_stop, an error)
// after telling the server so (writingLast), and leaves it in the
// response's buffer for the server to send when the handler returns.
func (s *SSE) Last(name string, v any) error {
	s.last = true
	writingLast(s.w)
	return s.Event(name, v)
}

// Started reports whether any event has been written.
func (s *SSE) Started() bool { return s.started }

// Event writes one event; name may be empty (OpenAI sends data lines only).
// v is encoded as JSON unless it is a string, which is sent as is.
func (s *SSE) Event(name string, v any) error {
	if !s.started {
		h := s.w.Header()
		h.Set("Content-Type", "text/event-stream; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		s.w.WriteHeader(http.StatusOK)
		s.started = true
	}
	b := &s.buf
	b.Reset()
	if name != "" {
		b.WriteString("event: ")
		b.WriteString(name)
		b.WriteByte('\n')
	}
	b.WriteString("data: ")
	if str, ok := v.(string); ok {
		b.WriteString(str)
		b.WriteByte('\n')
	} else {
		// Encode writes what json.Marshal returns, then a newline, into
		// the reused buffer: no allocation for the encoded event.
		if s.enc == nil {
			s.enc = wirejson.NewEncoder(b)
		}
		if err := s.enc.Encode(v); err != nil {
			return err
		}
	}
	b.WriteByte('\n')
	if _, err := s.w.Write(b.Bytes()); err != nil {
		return err
	}
	if s.last || s.hold && s.flushed {
		return nil
	}
	s.flushed = true
	return s.rc.Flush()
}
