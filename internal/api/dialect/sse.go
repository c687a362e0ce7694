package dialect

import (
	"encoding/json"
	"net/http"
)

// SSE writes a text/event-stream response, flushing after each event. The
// headers go out with the first event, so an error before it can still be
// reported with an ordinary status and body.
type SSE struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
	buf     []byte
}

// NewSSE returns a writer on w.
func NewSSE(w http.ResponseWriter) *SSE {
	return &SSE{w: w, rc: http.NewResponseController(w)}
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
	b := s.buf[:0]
	if name != "" {
		b = append(b, "event: "...)
		b = append(b, name...)
		b = append(b, '\n')
	}
	b = append(b, "data: "...)
	if str, ok := v.(string); ok {
		b = append(b, str...)
	} else {
		j, err := json.Marshal(v)
		if err != nil {
			return err
		}
		b = append(b, j...)
	}
	b = append(b, '\n', '\n')
	s.buf = b
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}
