package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// A splitFunc appends to ends the end offset (in bytes) of every
// pre-tokenizer piece of s, in order, and returns the extended slice. The
// pieces cover s exactly: the last end is len(s).
type splitFunc func(s string, ends []int) []int

// Rune classes used by the pre-tokenizer patterns: \p{L}, \p{N}, \s and
// everything else.
const (
	clsOther = iota
	clsLetter
	clsNumber
	clsSpace
)

// asciiClass holds the class of every ASCII byte so the common case avoids
// the unicode tables.
var asciiClass = func() (c [128]uint8) {
	for b := 0; b < 128; b++ {
		r := rune(b)
		switch {
		case unicode.IsLetter(r):
			c[b] = clsLetter
		case unicode.IsNumber(r):
			c[b] = clsNumber
		case unicode.IsSpace(r):
			c[b] = clsSpace
		}
	}
	return c
}()

// classAt decodes the rune at s[i:] and returns its class and width.
func classAt(s string, i int) (cls uint8, r rune, w int) {
	if b := s[i]; b < utf8.RuneSelf {
		return asciiClass[b], rune(b), 1
	}
	r, w = utf8.DecodeRuneInString(s[i:])
	switch {
	case unicode.IsLetter(r):
		return clsLetter, r, w
	case unicode.IsNumber(r):
		return clsNumber, r, w
	case unicode.IsSpace(r):
		return clsSpace, r, w
	}
	return clsOther, r, w
}

// runWhile returns the end of the run of runes of class cls starting at i.
func runWhile(s string, i int, cls uint8) int {
	for i < len(s) {
		c, _, w := classAt(s, i)
		if c != cls {
			break
		}
		i += w
	}
	return i
}

// runOther returns the end of the run of runes that are not letters, numbers
// or whitespace ([^\s\p{L}\p{N}]+) starting at i.
func runOther(s string, i int) int { return runWhile(s, i, clsOther) }

// contraction matches 's|'t|'re|'ve|'m|'ll|'d at i (s[i] == '\”) and
// returns its end, or -1. fold makes the letters ASCII case-insensitive.
func contraction(s string, i int, fold bool) int {
	if i+1 >= len(s) {
		return -1
	}
	lower := func(b byte) byte {
		if fold && 'A' <= b && b <= 'Z' {
			return b + 'a' - 'A'
		}
		return b
	}
	switch lower(s[i+1]) {
	case 's', 't', 'm', 'd':
		return i + 2
	case 'r', 'v':
		if i+2 < len(s) && lower(s[i+2]) == 'e' {
			return i + 3
		}
	case 'l':
		if i+2 < len(s) && lower(s[i+2]) == 'l' {
			return i + 3
		}
	}
	return -1
}

// spaceTail implements \s+(?!\S) followed by \s+ for a whitespace run that
// starts at i: a run followed by a non-space keeps its last whitespace rune
// for the next piece, unless the run is a single rune.
func spaceTail(s string, i int) int {
	j := runWhile(s, i, clsSpace)
	if j == len(s) {
		return j
	}
	_, w := utf8.DecodeLastRuneInString(s[i:j])
	if j-w > i {
		return j - w
	}
	return j
}

// splitGPT2 splits like the GPT-2 pattern
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func splitGPT2(s string, ends []int) []int {
	for i := 0; i < len(s); {
		ends = append(ends, gpt2Piece(s, i))
		i = ends[len(ends)-1]
	}
	return ends
}

// gpt2Piece returns the end of the GPT-2 piece that starts at i.
func gpt2Piece(s string, i int) int {
	if s[i] == '\'' {
		if e := contraction(s, i, false); e > 0 {
			return e
		}
	}
	j := i
	if s[i] == ' ' && i+1 < len(s) {
		j = i + 1 // the optional leading space of ` ?X+`
	}
	c, _, _ := classAt(s, j)
	if j > i && c == clsSpace {
		return spaceTail(s, i)
	}
	switch c {
	case clsLetter, clsNumber, clsOther:
		return runWhile(s, j, c)
	}
	return spaceTail(s, i)
}

// splitSmolLM isolates every \p{N} rune, then splits the text between them
// with the GPT-2 pattern (StarCoder/SmolLM: Digits(individual) + ByteLevel).
func splitSmolLM(s string, ends []int) []int {
	start := 0
	for i := 0; i < len(s); {
		c, _, w := classAt(s, i)
		if c != clsNumber {
			i += w
			continue
		}
		for k := start; k < i; {
			ends = append(ends, start+gpt2Piece(s[start:i], k-start))
			k = ends[len(ends)-1]
		}
		ends = append(ends, i+w)
		i += w
		start = i
	}
	for k := start; k < len(s); {
		ends = append(ends, start+gpt2Piece(s[start:], k-start))
		k = ends[len(ends)-1]
	}
	return ends
}

// splitLlama3 splits like the Llama 3 pattern
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func splitLlama3(s string, ends []int) []int { return splitModern(s, ends, 3) }

// splitQwen2 is splitLlama3 with \p{N} instead of \p{N}{1,3}.
func splitQwen2(s string, ends []int) []int { return splitModern(s, ends, 1) }

func splitModern(s string, ends []int, maxDigits int) []int {
	for i := 0; i < len(s); {
		i = modernPiece(s, i, maxDigits)
		ends = append(ends, i)
	}
	return ends
}

func isCRLF(r rune) bool { return r == '\r' || r == '\n' }

// modernPiece returns the end of the Llama-3/Qwen2 piece that starts at i.
func modernPiece(s string, i, maxDigits int) int {
	if s[i] == '\'' {
		if e := contraction(s, i, true); e > 0 {
			return e
		}
	}
	c, r, w := classAt(s, i)
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if c == clsLetter {
		return runWhile(s, i, clsLetter)
	}
	if c != clsNumber && !isCRLF(r) && i+w < len(s) {
		if c2, _, _ := classAt(s, i+w); c2 == clsLetter {
			return runWhile(s, i+w, clsLetter)
		}
	}
	// \p{N}{1,maxDigits}
	if c == clsNumber {
		j := i
		for n := 0; n < maxDigits && j < len(s); n++ {
			c2, _, w2 := classAt(s, j)
			if c2 != clsNumber {
				break
			}
			j += w2
		}
		return j
	}
	// ` ?[^\s\p{L}\p{N}]+[\r\n]*`
	j := i
	if s[i] == ' ' && i+1 < len(s) {
		j = i + 1
	}
	if c2, _, _ := classAt(s, j); c2 == clsOther {
		j = runOther(s, j)
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j
	}
	// \s*[\r\n]+ : the whitespace run up to and including its last newline.
	end := runWhile(s, i, clsSpace)
	for k := end - 1; k >= i; k-- {
		if s[k] == '\r' || s[k] == '\n' {
			return k + 1
		}
	}
	return spaceTail(s, i)
}

// splitterFor maps a tokenizer.ggml.pre name to its splitter, whether
// whole pieces found in the vocabulary skip merging (Hugging Face's
// ignore_merges, set for Llama 3), and whether text is NFC-normalised first
// (Qwen2's tokenizer.json has an NFC normalizer). Unknown names get the
// GPT-2 pattern, as llama.cpp does for "default".
func splitterFor(pre string) (split splitFunc, ignoreMerges, nfc bool) {
	switch pre {
	case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b":
		return splitSmolLM, false, false
	case "qwen2", "deepseek-r1-qwen", "megrez":
		return splitQwen2, false, true
	case "llama-bpe", "llama3", "dbrx", "smaug-bpe", "falcon3":
		return splitLlama3, true, false
	}
	return splitGPT2, false, false
}
