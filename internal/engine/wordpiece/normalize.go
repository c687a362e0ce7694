package wordpiece

import (
	"sort"
	"unicode"
)

//go:generate python3 testdata/gen_strip.py

// stripEntry is one row of stripTable.
type stripEntry struct {
	r rune
	s string
}

// stripAccents appends to dst the runes of r's canonical decomposition with
// every nonspacing mark (Mn) removed, as BERT's uncased normaliser does.
func stripAccents(dst []rune, r rune) []rune {
	switch {
	case r < 0xC0:
		return append(dst, r)
	case unicode.Is(unicode.Mn, r):
		return dst
	case r >= hangulBase && r < hangulBase+hangulCount:
		return appendHangul(dst, r)
	}
	i := sort.Search(len(stripTable), func(i int) bool { return stripTable[i].r >= r })
	if i < len(stripTable) && stripTable[i].r == r {
		for _, c := range stripTable[i].s {
			dst = append(dst, c)
		}
		return dst
	}
	return append(dst, r)
}

// Hangul syllable decomposition constants from the Unicode standard, §3.12.
const (
	hangulBase  = 0xAC00
	hangulCount = 11172
	jamoL       = 0x1100
	jamoV       = 0x1161
	jamoT       = 0x11A7
	jamoVCount  = 21
	jamoTCount  = 28
)

func appendHangul(dst []rune, r rune) []rune {
	s := r - hangulBase
	l := jamoL + s/(jamoVCount*jamoTCount)
	v := jamoV + (s%(jamoVCount*jamoTCount))/jamoTCount
	dst = append(dst, l, v)
	if t := s % jamoTCount; t != 0 {
		dst = append(dst, jamoT+t)
	}
	return dst
}

// isControl reports whether r is removed by BERT's text cleaning: any
// character of the Unicode categories Cc, Cf, Co and Cs except tab, newline
// and carriage return, which count as whitespace. Unassigned code points
// (Cn) are kept, as Hugging Face's tokenizers keeps them.
func isControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs)
}

// isPunct reports whether r is split off as its own word: ASCII punctuation
// (which includes symbols such as $ + < = > ^ ` | ~) or any Unicode P* rune.
func isPunct(r rune) bool {
	if r < 0x80 {
		return r >= 33 && r <= 47 || r >= 58 && r <= 64 || r >= 91 && r <= 96 || r >= 123 && r <= 126
	}
	return unicode.IsPunct(r)
}

// isCJK reports whether r is in the CJK Unified Ideographs blocks that BERT
// splits into single-character words (not Hangul, Hiragana or Katakana).
func isCJK(r rune) bool {
	return r >= 0x4E00 && r <= 0x9FFF ||
		r >= 0x3400 && r <= 0x4DBF ||
		r >= 0x20000 && r <= 0x2A6DF ||
		r >= 0x2A700 && r <= 0x2B73F ||
		r >= 0x2B740 && r <= 0x2B81F ||
		r >= 0x2B820 && r <= 0x2CEAF ||
		r >= 0xF900 && r <= 0xFAFF ||
		r >= 0x2F800 && r <= 0x2FA1F
}
