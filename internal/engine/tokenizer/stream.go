package tokenizer

import (
	"unicode/utf8"
)

// StreamDecoder turns generated ids into text incrementally without ever
// emitting part of a UTF-8 character: bytes of an incomplete character are
// held until the token that completes it arrives. Joining every Add result
// and the final Flush gives Decode of all ids (for output that is valid
// UTF-8). A StreamDecoder is not safe for concurrent use.
type StreamDecoder struct {
	t       *Tokenizer
	pending []byte
	started bool
}

// NewStreamDecoder returns a decoder for one generated sequence.
func (t *Tokenizer) NewStreamDecoder() *StreamDecoder { return &StreamDecoder{t: t} }

// Add appends id and returns the text it completes, possibly "".
func (d *StreamDecoder) Add(id int32) string {
	t := d.t
	if id < 0 || int(id) >= len(t.pieces) {
		return ""
	}
	p := t.pieces[id]
	if !d.started && p != "" {
		d.started = true
		if t.spm && t.v.AddSpacePrefix && p[0] == ' ' {
			p = p[1:]
		}
	}
	d.pending = append(d.pending, p...)
	return d.take(false)
}

// Flush returns whatever is still held, with each byte of an incomplete
// character replaced by U+FFFD, and resets the decoder's buffer.
func (d *StreamDecoder) Flush() string { return d.take(true) }

// take returns the longest prefix of pending that cannot change with more
// bytes: complete characters, and invalid bytes as U+FFFD. Unless final, a
// trailing sequence that could still become a valid character stays.
func (d *StreamDecoder) take(final bool) string {
	b := d.pending
	keep := 0
	if !final {
		keep = incompleteTail(b)
	}
	head := b[:len(b)-keep]
	var s string
	if utf8.Valid(head) {
		s = string(head)
	} else {
		out := make([]byte, 0, len(head)+8)
		for i := 0; i < len(head); {
			r, w := utf8.DecodeRune(head[i:])
			if r == utf8.RuneError && w == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, head[i:i+w]...)
			}
			i += w
		}
		s = string(out)
	}
	n := copy(d.pending, b[len(b)-keep:])
	d.pending = d.pending[:n]
	if final {
		d.pending = d.pending[:0]
	}
	return s
}

// incompleteTail returns how many bytes at the end of b are the start of a
// UTF-8 sequence that more bytes could still complete.
func incompleteTail(b []byte) int {
	for k := 1; k <= 3 && k <= len(b); k++ {
		c := b[len(b)-k]
		if c < 0x80 {
			return 0 // ASCII: nothing incomplete
		}
		if c >= 0xC0 { // a lead byte
			need := 0
			switch {
			case c >= 0xF0 && c <= 0xF4:
				need = 4
			case c >= 0xE0:
				need = 3
			case c >= 0xC2 && c < 0xE0:
				need = 2
			}
			if need > k && !utf8.FullRune(b[len(b)-k:]) {
				return k
			}
			return 0
		}
	}
	return 0
}
