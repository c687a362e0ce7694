package tokenizer

import "strings"

// byteRunes is GPT-2's reversible byte-to-rune table: printable Latin-1
// bytes map to themselves, the rest to U+0100 onwards in byte order, so
// every byte-level token text is printable.
var byteRunes = func() (t [256]rune) {
	n := rune(0)
	for b := 0; b < 256; b++ {
		if ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF) {
			t[b] = rune(b)
		} else {
			t[b] = 256 + n
			n++
		}
	}
	return t
}()

// byteLevelDecode maps a byte-level token text back to raw bytes. ok is
// false when a rune is outside the table (such a token keeps its text).
func byteLevelDecode(s string) (raw []byte, ok bool) {
	raw = make([]byte, 0, len(s))
	for _, r := range s {
		switch {
		case r < 256 && byteRunes[r] == r:
			raw = append(raw, byte(r))
		case r >= 256 && r < 256+68:
			raw = append(raw, runeBytes[r-256])
		default:
			return nil, false
		}
	}
	return raw, true
}

// runeBytes inverts byteRunes for the runes at U+0100 and above.
var runeBytes = func() (t [68]byte) {
	for b, r := range byteRunes {
		if r >= 256 {
			t[r-256] = byte(b)
		}
	}
	return t
}()

// pairKey packs two token ids into one map key.
func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// merge is the result of merging a pair: its rank (lower first) and the id
// of the merged token.
type merge struct {
	rank int32
	id   int32
}

// symbol is one node of the doubly linked list a word is merged in.
type symbol struct {
	id         int32
	prev, next int32 // indexes, -1 at the ends
	dead       bool
}

// candidate is a possible merge of the symbol at pos with its successor.
type candidate struct {
	rank, pos   int32
	left, right int32 // ids expected at pos and its successor
	id          int32 // merged id
}

// candLess orders merges by rank, then leftmost first.
func candLess(a, b candidate) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.pos < b.pos
}

// bpeState is scratch space reused across words of one Encode call.
type bpeState struct {
	syms []symbol
	cand minHeap[candidate]
}

// mergeWord applies rank-ordered merges to the initial ids (one per byte)
// and appends the final ids to out. Equal ranks merge leftmost first, as
// Hugging Face's BPE does. It runs in O(n log n) for n initial symbols.
func (t *Tokenizer) mergeWord(st *bpeState, ids []int32, out []int32) []int32 {
	if len(ids) == 1 {
		return append(out, ids[0])
	}
	st.syms = st.syms[:0]
	for i, id := range ids {
		st.syms = append(st.syms, symbol{id: id, prev: int32(i - 1), next: int32(i + 1)})
	}
	st.syms[len(st.syms)-1].next = -1
	st.cand.less = candLess
	st.cand.reset()
	for i := 0; i+1 < len(ids); i++ {
		if m, ok := t.merges[pairKey(ids[i], ids[i+1])]; ok {
			st.cand.push(candidate{rank: m.rank, pos: int32(i), left: ids[i], right: ids[i+1], id: m.id})
		}
	}
	syms := st.syms
	for st.cand.len() > 0 {
		c := st.cand.pop()
		s := &syms[c.pos]
		if s.dead || s.id != c.left || s.next < 0 {
			continue
		}
		nx := &syms[s.next]
		if nx.id != c.right {
			continue
		}
		s.id = c.id
		nx.dead = true
		s.next = nx.next
		if s.next >= 0 {
			syms[s.next].prev = c.pos
		}
		if s.prev >= 0 {
			p := syms[s.prev]
			if m, ok := t.merges[pairKey(p.id, s.id)]; ok {
				st.cand.push(candidate{rank: m.rank, pos: s.prev, left: p.id, right: s.id, id: m.id})
			}
		}
		if s.next >= 0 {
			n := syms[s.next]
			if m, ok := t.merges[pairKey(s.id, n.id)]; ok {
				st.cand.push(candidate{rank: m.rank, pos: c.pos, left: s.id, right: n.id, id: m.id})
			}
		}
	}
	for i := int32(0); i >= 0; i = syms[i].next {
		out = append(out, syms[i].id)
	}
	return out
}

// encodeByteLevel appends the ids of one pre-tokenizer piece.
func (t *Tokenizer) encodeByteLevel(st *bpeState, piece string, out []int32) []int32 {
	if t.ignoreMerges {
		if id, ok := t.rawIDs[piece]; ok {
			return append(out, id)
		}
	}
	if ids, ok := t.cache.get(piece); ok {
		return append(out, ids...)
	}
	start := len(out)
	init := make([]int32, 0, len(piece))
	for i := 0; i < len(piece); i++ {
		if id := t.byteIDs[piece[i]]; id >= 0 {
			init = append(init, id)
		} else if t.v.UNK >= 0 {
			init = append(init, t.v.UNK)
		}
	}
	if len(init) == 0 {
		return out
	}
	out = t.mergeWord(st, init, out)
	t.cache.put(strings.Clone(piece), out[start:])
	return out
}
