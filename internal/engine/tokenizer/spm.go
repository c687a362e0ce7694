package tokenizer

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// spmSymbol is one node of the linked list a SentencePiece fragment is
// merged in; its text is s[start:end] of the escaped fragment.
type spmSymbol struct {
	start, end int
	prev, next int
}

// spmBigram is a possible merge of the symbol at left with its successor,
// valid while both still span the recorded length.
type spmBigram struct {
	score float32
	left  int
	size  int // byte length of the merged text when queued
}

// bigramLess orders bigrams by score, highest first, then leftmost first.
func bigramLess(a, b spmBigram) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.left < b.left
}

// spmState is scratch space reused within one Encode call.
type spmState struct {
	buf  strings.Builder
	syms []spmSymbol
	q    minHeap[spmBigram]
}

func (t *Tokenizer) initSPM() error {
	if t.v.Scores != nil && len(t.v.Scores) != len(t.v.Tokens) {
		return fmt.Errorf("tokenizer: %d scores for %d tokens", len(t.v.Scores), len(t.v.Tokens))
	}
	t.spm = true
	t.spmIDs = make(map[string]int32, len(t.v.Tokens))
	t.pieces = make([]string, len(t.v.Tokens))
	for i := len(t.v.Tokens) - 1; i >= 0; i-- {
		tok := t.v.Tokens[i]
		switch t.types[i] {
		case TypeNormal, TypeUnused:
			t.pieces[i] = strings.ReplaceAll(tok, "▁", " ")
			if t.types[i] == TypeNormal {
				t.spmIDs[tok] = int32(i)
			}
		case TypeByte:
			var b byte
			if len(tok) == 6 && strings.HasPrefix(tok, "<0x") && tok[5] == '>' {
				if _, err := fmt.Sscanf(tok[3:5], "%02X", &b); err == nil {
					t.pieces[i] = string([]byte{b})
					t.byteIDs[b] = int32(i)
					continue
				}
			}
			t.pieces[i] = tok
		default:
			t.pieces[i] = tok
		}
	}
	return nil
}

func (t *Tokenizer) score(id int32) float32 {
	if t.v.Scores == nil {
		return -float32(id)
	}
	return t.v.Scores[id]
}

// encodeSPM encodes one fragment the SentencePiece-BPE way: spaces become
// ▁ (with a leading one when AddSpacePrefix and the fragment starts the
// text or follows a special token), the best-scoring adjacent pair whose
// concatenation is a piece merges first (leftmost on ties), and leftover
// characters fall back to <0xXX> byte tokens.
func (t *Tokenizer) encodeSPM(st *spmState, frag string, afterSpecial bool, out []int32) []int32 {
	st.buf.Reset()
	if t.v.AddSpacePrefix && afterSpecial {
		st.buf.WriteString("▁")
	}
	for i := 0; i < len(frag); {
		j := strings.IndexByte(frag[i:], ' ')
		if j < 0 {
			st.buf.WriteString(frag[i:])
			break
		}
		st.buf.WriteString(frag[i : i+j])
		st.buf.WriteString("▁")
		i += j + 1
	}
	s := st.buf.String()
	if s == "" {
		return out
	}

	st.syms = st.syms[:0]
	for i := 0; i < len(s); {
		_, w := utf8.DecodeRuneInString(s[i:])
		st.syms = append(st.syms, spmSymbol{start: i, end: i + w, prev: len(st.syms) - 1, next: len(st.syms) + 1})
		i += w
	}
	syms := st.syms
	syms[len(syms)-1].next = -1
	st.q.less = bigramLess
	st.q.reset()
	for i := 0; i+1 < len(syms); i++ {
		t.pushBigram(st, s, i)
	}
	for st.q.len() > 0 {
		b := st.q.pop()
		l := &syms[b.left]
		if l.end <= l.start || l.next < 0 {
			continue
		}
		r := &syms[l.next]
		if r.end-l.start != b.size {
			continue // one side changed since this bigram was queued
		}
		l.end = r.end
		r.end = r.start // dead
		l.next = r.next
		if l.next >= 0 {
			syms[l.next].prev = b.left
		}
		if l.prev >= 0 {
			t.pushBigram(st, s, l.prev)
		}
		t.pushBigram(st, s, b.left)
	}
	for i := 0; i >= 0; i = syms[i].next {
		piece := s[syms[i].start:syms[i].end]
		if id, ok := t.spmIDs[piece]; ok {
			out = append(out, id)
			continue
		}
		for k := 0; k < len(piece); k++ {
			if id := t.byteIDs[piece[k]]; id >= 0 {
				out = append(out, id)
			} else if t.v.UNK >= 0 {
				out = append(out, t.v.UNK)
				break
			}
		}
	}
	return out
}

// pushBigram queues the merge of symbol i with its successor when their
// concatenation is a piece.
func (t *Tokenizer) pushBigram(st *spmState, s string, i int) {
	l := st.syms[i]
	if l.next < 0 {
		return
	}
	r := st.syms[l.next]
	if id, ok := t.spmIDs[s[l.start:r.end]]; ok {
		st.q.push(spmBigram{score: t.score(id), left: i, size: r.end - l.start})
	}
}
