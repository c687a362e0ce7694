// Package bufpool keeps byte buffers for whole bodies (a request's, an
// upstream's answer) between calls, and reads a body into one up to a
// limit.
package bufpool

import (
	"io"
	"sync"
)

// MaxPooled is the largest buffer kept for reuse: one huge body does not
// pin its memory.
const MaxPooled = 1 << 20

var pool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// Get returns an empty buffer; give it back with Put.
func Get() *[]byte { return pool.Get().(*[]byte) }

// Put keeps b for reuse unless it grew beyond MaxPooled. Nothing may use
// *b afterwards.
func Put(b *[]byte) {
	if cap(*b) <= MaxPooled {
		*b = (*b)[:0]
		pool.Put(b)
	}
}

// ReadAtMost appends r to b until EOF or until b holds limit bytes, and
// returns b with what was read (also on error).
func ReadAtMost(r io.Reader, b []byte, limit int64) ([]byte, error) {
	for int64(len(b)) < limit {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):min(int64(cap(b)), limit)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}
