package openaicompat

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// MaxLineBytes bounds one line of a stream (SSE or NDJSON).
const MaxLineBytes = 8 << 20

// ErrLineTooLong is returned for a stream line over MaxLineBytes.
var ErrLineTooLong = errors.New("stream line too long")

// SSEEvent is one server-sent event.
type SSEEvent struct {
	Event string // the "event:" field; empty means "message"
	Data  string // the "data:" fields joined by newlines
	ID    string
}

// SSEReader reads server-sent events (the text/event-stream format of the
// WHATWG HTML standard) one at a time, without buffering more than a line.
// Lines end in LF or CRLF; comments and unknown fields are skipped.
type SSEReader struct {
	r    *bufio.Reader
	line []byte
}

// NewSSEReader reads events from r.
func NewSSEReader(r io.Reader) *SSEReader {
	return &SSEReader{r: bufio.NewReaderSize(r, 16<<10)}
}

// ReadLine returns the next line of r without its line ending. At the end
// of input it returns the last unterminated line, if any, and then io.EOF.
// The slice is valid until the next call.
func ReadLine(r *bufio.Reader, buf []byte) ([]byte, []byte, error) {
	buf = buf[:0]
	for {
		frag, err := r.ReadSlice('\n')
		if len(buf)+len(frag) > MaxLineBytes {
			return nil, buf, ErrLineTooLong
		}
		buf = append(buf, frag...)
		switch err {
		case nil:
			buf = buf[:len(buf)-1]
			if n := len(buf); n > 0 && buf[n-1] == '\r' {
				buf = buf[:n-1]
			}
			return buf, buf, nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if len(buf) > 0 {
				return buf, buf, nil
			}
			return nil, buf, io.EOF
		default:
			return nil, buf, err
		}
	}
}

// Pending reports whether a whole event (up to its blank line) is already
// buffered, so that Next will return without waiting for the network.
func (s *SSEReader) Pending() bool {
	n := s.r.Buffered()
	if n == 0 {
		return false
	}
	b, _ := s.r.Peek(n)
	return bytes.Contains(b, []byte("\n\n")) || bytes.Contains(b, []byte("\n\r\n"))
}

// Next returns the next event with data. At the end of the stream it
// returns io.EOF; an event cut off by the end of the stream is still
// returned if it had data.
func (s *SSEReader) Next() (SSEEvent, error) {
	var ev SSEEvent
	var data []byte
	hasData := false
	for {
		line, buf, err := ReadLine(s.r, s.line)
		s.line = buf
		if err == io.EOF {
			if hasData {
				ev.Data = string(data)
				return ev, nil
			}
			return SSEEvent{}, io.EOF
		}
		if err != nil {
			return SSEEvent{}, err
		}
		if len(line) == 0 { // dispatch
			if hasData {
				ev.Data = string(data)
				return ev, nil
			}
			ev = SSEEvent{}
			continue
		}
		if line[0] == ':' {
			continue // comment
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
		case "event":
			ev.Event = string(value)
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				ev.ID = string(value)
			}
		}
	}
}
