package bm25

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// tokens calls emit with each token of text, in order, folded but not
// yet stemmed: stem(token) is the term SQLite FTS5 indexes with
// tokenize='porter unicode61'. A token is a run of letters, numbers and
// private-use characters (the unicode61 default categories "L* N* Co"),
// case-folded, with diacritics removed (é → e). buf is scratch space; the
// slice passed to emit is valid only during the call (emit may stem it in
// place). tokens returns buf for reuse.
//
// Non-ASCII text is folded through Unicode decomposition rather than
// FTS5's own tables, so rare characters may fold differently from FTS5;
// queries and chunks go through the same function, which is what ranking
// needs.
func tokens(text string, buf []byte, emit func(term []byte)) []byte {
	i := 0
	for i < len(text) {
		// Skip separators.
		c := text[i]
		if c < utf8.RuneSelf {
			if !asciiTokenChar(c) {
				i++
				continue
			}
		} else {
			r, n := utf8.DecodeRuneInString(text[i:])
			if !tokenChar(r) {
				i += n
				continue
			}
		}
		// A token: fold it into buf.
		buf = buf[:0]
		ascii := true
		for i < len(text) {
			c := text[i]
			if c < utf8.RuneSelf {
				if !asciiTokenChar(c) {
					break
				}
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				buf = append(buf, c)
				i++
				continue
			}
			r, n := utf8.DecodeRuneInString(text[i:])
			if !tokenChar(r) && !unicode.Is(unicode.Mn, r) {
				break
			}
			ascii = false
			buf = utf8.AppendRune(buf, r)
			i += n
		}
		if !ascii {
			buf = foldUnicode(buf)
			if len(buf) == 0 {
				continue
			}
		}
		emit(buf)
	}
	return buf
}

func asciiTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func tokenChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Co, r)
}

// foldUnicode folds the case of a token that has non-ASCII characters
// and removes diacritics from Latin letters (é → e), in place: what
// FTS5's remove_diacritics=1 does. Combining marks on their own are
// dropped.
func foldUnicode(tok []byte) []byte {
	in := string(tok) // a copy: a rune may fold to a longer encoding (Ⱥ → ⱥ)
	out := tok[:0]
	for i := 0; i < len(in); {
		r, n := utf8.DecodeRuneInString(in[i:])
		i += n
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		r = unicode.ToLower(r)
		if f, ok := caseFold[r]; ok {
			r = f
		}
		if r >= utf8.RuneSelf {
			// A Latin letter with diacritics decomposes to an ASCII
			// letter and combining marks.
			var d [16]byte
			dec := norm.NFD.AppendString(d[:0], string(r))
			if len(dec) > 1 && dec[0] < utf8.RuneSelf && asciiTokenChar(dec[0]) && onlyMarks(dec[1:]) {
				r = rune(dec[0])
			}
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

// caseFold holds the simple case foldings that differ from ToLower.
var caseFold = map[rune]rune{
	'µ': 'μ', 'ς': 'σ', 'ſ': 's', 'ϐ': 'β', 'ϑ': 'θ', 'ϕ': 'φ', 'ϖ': 'π', 'ϰ': 'κ', 'ϱ': 'ρ', 'ϵ': 'ε',
}

func onlyMarks(b []byte) bool {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if !unicode.Is(unicode.Mn, r) {
			return false
		}
		b = b[n:]
	}
	return true
}

// stem applies the Porter (1980) stemming algorithm to a folded token in
// place and returns the stem, as FTS5's porter tokenizer does it: tokens
// shorter than 3 or longer than 64 bytes are left alone, a suffix is
// only removed when something precedes it, y after the first letter
// counts as a vowel in the "stem contains a vowel" tests, and the
// algorithm works on bytes, so non-ASCII bytes count as consonants.
func stem(w []byte) []byte {
	if len(w) < 3 || len(w) > 64 {
		return w
	}
	// Step 1a: plurals.
	if n := len(w); w[n-1] == 's' {
		switch {
		case w[n-2] == 'e' && (n > 4 && w[n-4] == 's' && w[n-3] == 's' || n > 3 && w[n-3] == 'i'):
			w = w[:n-2] // -sses, -ies
		case w[n-2] != 's':
			w = w[:n-1]
		}
	}
	// Step 1b: -eed, -ed, -ing.
	switch {
	case endsWith(w, "eed"):
		if measure(w[:len(w)-3]) > 0 {
			w = w[:len(w)-1]
		}
	case endsWith(w, "ed"):
		if hasVowel(w[:len(w)-2]) {
			w = step1b(w[:len(w)-2])
		}
	case endsWith(w, "ing"):
		if hasVowel(w[:len(w)-3]) {
			w = step1b(w[:len(w)-3])
		}
	}
	// Step 1c: y → i after a vowel.
	if n := len(w); w[n-1] == 'y' && hasVowel(w[:n-1]) {
		w[n-1] = 'i'
	}
	w = replaceSuffix(w, step2)
	w = replaceSuffix(w, step3)
	w = step4(w)
	// Step 5a: a final e.
	if n := len(w); w[n-1] == 'e' {
		if s := w[:n-1]; measure(s) > 1 || measure(s) == 1 && !cvc(s) {
			w = s
		}
	}
	// Step 5b: -ll.
	if n := len(w); n > 1 && w[n-1] == 'l' && w[n-2] == 'l' && measure(w[:n-1]) > 1 {
		w = w[:n-1]
	}
	return w
}

// step1b finishes step 1b once -ed or -ing has been removed.
func step1b(w []byte) []byte {
	switch {
	case endsWith(w, "at"), endsWith(w, "bl"), endsWith(w, "iz"):
		return append(w, 'e')
	}
	n := len(w)
	if c := w[n-1]; !vowel(c) && c != 'l' && c != 's' && c != 'z' && n >= 2 && c == w[n-2] {
		return w[:n-1] // a double consonant
	}
	if measure(w) == 1 && cvc(w) {
		return append(w, 'e')
	}
	return w
}

// A rule replaces a suffix when the stem before it has a measure above 0.
type rule struct{ suffix, repl string }

var step2 = []rule{
	{"ational", "ate"}, {"tional", "tion"}, {"enci", "ence"}, {"anci", "ance"}, {"izer", "ize"},
	{"logi", "log"}, {"bli", "ble"}, {"alli", "al"}, {"entli", "ent"}, {"eli", "e"}, {"ousli", "ous"},
	{"ization", "ize"}, {"ation", "ate"}, {"ator", "ate"}, {"alism", "al"}, {"iveness", "ive"},
	{"fulness", "ful"}, {"ousness", "ous"}, {"aliti", "al"}, {"iviti", "ive"}, {"biliti", "ble"},
}

var step3 = []rule{
	{"icate", "ic"}, {"ative", ""}, {"alize", "al"}, {"iciti", "ic"}, {"ical", "ic"}, {"ful", ""}, {"ness", ""},
}

// replaceSuffix applies the first rule whose suffix w ends with, if the
// rest has a measure above 0. Only that rule is tried: a matching suffix
// whose condition fails ends the step. (Where one suffix ends another,
// the longer comes first in the list.)
func replaceSuffix(w []byte, rules []rule) []byte {
	for _, r := range rules {
		if endsWith(w, r.suffix) {
			s := w[:len(w)-len(r.suffix)]
			if measure(s) > 0 {
				return append(s, r.repl...)
			}
			return w
		}
	}
	return w
}

var step4Suffixes = []string{"al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent",
	"ion", "ou", "ism", "ate", "iti", "ous", "ive", "ize"}

func step4(w []byte) []byte {
	for _, suf := range step4Suffixes {
		if endsWith(w, suf) {
			s := w[:len(w)-len(suf)]
			if measure(s) > 1 && (suf != "ion" || s[len(s)-1] == 's' || s[len(s)-1] == 't') {
				return s
			}
			return w
		}
	}
	return w
}

// endsWith reports whether w ends with s and has something before it.
func endsWith(w []byte, s string) bool {
	return len(w) > len(s) && string(w[len(w)-len(s):]) == s
}

func vowel(c byte) bool { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' }

// consonant reports whether w[i] is a consonant: not a, e, i, o or u, and
// y only after a vowel (or at the start).
func consonant(w []byte, i int) bool {
	switch w[i] {
	case 'a', 'e', 'i', 'o', 'u':
		return false
	case 'y':
		return i == 0 || !consonant(w, i-1)
	}
	return true
}

// measure returns m in the form [C](VC)^m[V] of w.
func measure(w []byte) int {
	m := 0
	i := 0
	for i < len(w) && consonant(w, i) {
		i++
	}
	for i < len(w) {
		for i < len(w) && !consonant(w, i) {
			i++
		}
		if i == len(w) {
			break
		}
		for i < len(w) && consonant(w, i) {
			i++
		}
		m++
	}
	return m
}

// hasVowel reports whether w contains a vowel, y counting as one after
// the first letter (FTS5's simplification of Porter's *v*).
func hasVowel(w []byte) bool {
	for i, c := range w {
		if vowel(c) || c == 'y' && i > 0 {
			return true
		}
	}
	return false
}

// cvc reports whether w ends consonant-vowel-consonant, the last not w, x
// or y.
func cvc(w []byte) bool {
	n := len(w)
	if n < 3 || !consonant(w, n-1) || consonant(w, n-2) || !consonant(w, n-3) {
		return false
	}
	c := w[n-1]
	return c != 'w' && c != 'x' && c != 'y'
}
