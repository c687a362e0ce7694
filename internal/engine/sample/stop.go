package sample

import "strings"

// StopMatcher finds stop sequences in streamed text. Text passes through
// Push, which returns what is safe to show: it holds back any tail that
// could still become a stop sequence, and on a match returns only the text
// before it. The stop text itself is never returned.
//
// Push text that is valid UTF-8 (a tokenizer StreamDecoder's output): the
// held-back tail is then always a whole number of characters, because a
// valid stop sequence cannot begin with a continuation byte.
type StopMatcher struct {
	stops []string
	buf   []byte
	done  bool
	hit   string
}

// NewStopMatcher returns a matcher for stops; empty strings are ignored.
func NewStopMatcher(stops []string) *StopMatcher {
	m := &StopMatcher{}
	for _, s := range stops {
		if s != "" {
			m.stops = append(m.stops, s)
		}
	}
	return m
}

// Push adds text and returns the text that can be emitted now. stopped
// reports that a stop sequence matched; the matcher then ignores further
// input.
func (m *StopMatcher) Push(text string) (emit string, stopped bool) {
	if m.done {
		return "", true
	}
	if len(m.stops) == 0 {
		return text, false
	}
	m.buf = append(m.buf, text...)
	buf := string(m.buf)
	at := -1
	for _, s := range m.stops {
		// Only the new text and a held tail can contain a new match,
		// but the buffer is short, so search it whole.
		if i := strings.Index(buf, s); i >= 0 && (at < 0 || i < at) {
			at, m.hit = i, s
		}
	}
	if at >= 0 {
		m.done = true
		m.buf = m.buf[:0]
		return buf[:at], true
	}
	keep := m.heldTail(buf)
	emit = buf[:len(buf)-keep]
	n := copy(m.buf, m.buf[len(buf)-keep:])
	m.buf = m.buf[:n]
	return emit, false
}

// heldTail returns the length of the longest suffix of s that is a proper
// prefix of some stop sequence.
func (m *StopMatcher) heldTail(s string) int {
	best := 0
	for _, stop := range m.stops {
		for k := min(len(stop)-1, len(s)); k > best; k-- {
			if strings.HasSuffix(s, stop[:k]) {
				best = k
				break
			}
		}
	}
	return best
}

// Flush returns the held-back text at the end of generation (it did not
// turn into a stop sequence) and empties the buffer.
func (m *StopMatcher) Flush() string {
	if m.done {
		return ""
	}
	s := string(m.buf)
	m.buf = m.buf[:0]
	return s
}

// Matched returns the stop sequence that matched, or "".
func (m *StopMatcher) Matched() string { return m.hit }
