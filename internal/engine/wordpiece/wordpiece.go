// Package wordpiece implements BERT's tokenizer: the basic tokenizer (text
// cleaning, CJK splitting, optional lower-casing with accent stripping,
// whitespace and punctuation splitting) followed by greedy longest-match-first
// WordPiece over a vocab.txt vocabulary, producing [CLS] ... [SEP] id
// sequences that match Hugging Face's BertTokenizerFast.
package wordpiece

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxWordChars is the longest word, in characters, that WordPiece splits;
// longer words become [UNK].
const maxWordChars = 100

// Tokenizer converts text to BERT token ids. It is immutable after creation
// and safe for concurrent use.
type Tokenizer struct {
	vocab         map[string]int32
	lower         bool
	unk, cls, sep int32
	maxTokenBytes int // longest vocabulary entry without its ## prefix
	special       []string
	size          int
}

// Load reads a vocab.txt file (one token per line, id = line number) and
// builds a tokenizer. lower selects the uncased normaliser (lower-case and
// strip accents), as do_lower_case does in tokenizer_config.json.
func Load(vocabPath string, lower bool) (*Tokenizer, error) {
	f, err := os.Open(vocabPath)
	if err != nil {
		return nil, fmt.Errorf("wordpiece: %w", err)
	}
	defer f.Close()
	var vocab []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		vocab = append(vocab, strings.TrimRight(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("wordpiece: read %s: %w", vocabPath, err)
	}
	t, err := New(vocab, lower)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", vocabPath, err)
	}
	return t, nil
}

// New builds a tokenizer from the vocabulary in id order. The vocabulary
// must contain [UNK], [CLS] and [SEP]. If a token appears twice, the first
// id wins.
func New(vocab []string, lower bool) (*Tokenizer, error) {
	if len(vocab) > 1<<31-1 {
		return nil, fmt.Errorf("wordpiece: vocabulary of %d tokens is too large", len(vocab))
	}
	t := &Tokenizer{vocab: make(map[string]int32, len(vocab)), lower: lower, size: len(vocab)}
	for i, tok := range vocab {
		if _, dup := t.vocab[tok]; dup {
			continue
		}
		t.vocab[tok] = int32(i)
		t.maxTokenBytes = max(t.maxTokenBytes, len(strings.TrimPrefix(tok, "##")))
	}
	for _, sp := range []struct {
		name string
		id   *int32
	}{{"[UNK]", &t.unk}, {"[CLS]", &t.cls}, {"[SEP]", &t.sep}} {
		id, ok := t.vocab[sp.name]
		if !ok {
			return nil, fmt.Errorf("wordpiece: vocabulary has no %s token", sp.name)
		}
		*sp.id = id
	}
	// Special tokens are matched verbatim in the input text, before any
	// normalisation, and map straight to their ids (Hugging Face "added
	// tokens").
	for _, sp := range []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"} {
		if _, ok := t.vocab[sp]; ok {
			t.special = append(t.special, sp)
		}
	}
	return t, nil
}

// Encode returns [CLS], the word-piece ids of text, and [SEP]. When maxLen
// is positive the result holds at most maxLen ids (never fewer than the two
// special tokens): word pieces past maxLen-2 are dropped, as Hugging Face
// truncation does.
func (t *Tokenizer) Encode(text string, maxLen int) []int32 {
	limit := -1
	if maxLen > 0 {
		limit = max(maxLen-2, 0)
	}
	c := len(text)/3 + 2
	if limit >= 0 {
		c = min(c, limit+2)
	}
	ids := make([]int32, 1, c)
	ids[0] = t.cls
	ids = t.appendPieces(ids, text, limit)
	return append(ids, t.sep)
}

// Count returns the number of word pieces in text without special tokens
// and without truncation.
func (t *Tokenizer) Count(text string) int {
	return len(t.appendPieces(nil, text, -1))
}

// appendPieces appends the word-piece ids of text to ids, stopping after
// limit pieces when limit >= 0. Special tokens written literally in text,
// such as "[SEP]", become their own ids.
func (t *Tokenizer) appendPieces(ids []int32, text string, limit int) []int32 {
	start := len(ids)
	for text != "" && (limit < 0 || len(ids)-start < limit) {
		seg, sp, rest := t.cutSpecial(text)
		lim := -1
		if limit >= 0 {
			lim = limit - (len(ids) - start)
		}
		ids = t.appendText(ids, seg, lim)
		if sp != "" && (limit < 0 || len(ids)-start < limit) {
			ids = append(ids, t.vocab[sp])
		}
		text = rest
	}
	return ids
}

// cutSpecial splits text around the first special token: before, the token
// itself ("" when there is none) and after.
func (t *Tokenizer) cutSpecial(text string) (before, special, after string) {
	for off := 0; ; {
		i := strings.IndexByte(text[off:], '[')
		if i < 0 {
			return text, "", ""
		}
		off += i
		for _, sp := range t.special {
			if strings.HasPrefix(text[off:], sp) {
				return text[:off], sp, text[off+len(sp):]
			}
		}
		off++
	}
}

// appendText appends the word-piece ids of text, which holds no special
// tokens, stopping after limit pieces when limit >= 0.
func (t *Tokenizer) appendText(ids []int32, text string, limit int) []int32 {
	start := len(ids)
	full := func() bool { return limit >= 0 && len(ids)-start >= limit }
	var (
		word    []byte // current word, UTF-8
		scratch []byte // "##" + candidate piece
		runes   []rune
	)
	flush := func() {
		if len(word) > 0 && !full() {
			ids, scratch = t.appendWord(ids, scratch, word)
			if limit >= 0 && len(ids)-start > limit {
				ids = ids[:start+limit]
			}
		}
		word = word[:0]
	}
	for _, r := range text {
		if full() {
			break
		}
		if r == 0 || r == utf8.RuneError || isControl(r) {
			continue
		}
		if unicode.IsSpace(r) {
			flush()
			continue
		}
		if isCJK(r) {
			flush()
			word = utf8.AppendRune(word, r)
			flush()
			continue
		}
		runes = append(runes[:0], r)
		if t.lower {
			runes = stripAccents(runes[:0], r)
		}
		for _, c := range runes {
			if t.lower {
				c = unicode.ToLower(c)
			}
			switch {
			case unicode.IsSpace(c):
				flush()
			case isPunct(c):
				flush()
				word = utf8.AppendRune(word, c)
				flush()
			default:
				word = utf8.AppendRune(word, c)
			}
		}
	}
	flush()
	return ids
}

// appendWord appends the greedy longest-match-first WordPiece split of word,
// or [UNK] when the word is too long or some part of it has no match.
func (t *Tokenizer) appendWord(ids []int32, scratch, word []byte) ([]int32, []byte) {
	if utf8.RuneCount(word) > maxWordChars {
		return append(ids, t.unk), scratch
	}
	mark := len(ids)
	for start := 0; start < len(word); {
		end := min(len(word), start+t.maxTokenBytes)
		for end > start && end < len(word) && !utf8.RuneStart(word[end]) {
			end-- // back up to a rune boundary
		}
		found := false
		for end > start {
			var id int32
			var ok bool
			if start == 0 {
				id, ok = t.vocab[string(word[:end])]
			} else {
				scratch = append(append(scratch[:0], "##"...), word[start:end]...)
				id, ok = t.vocab[string(scratch)]
			}
			if ok {
				ids = append(ids, id)
				found = true
				break
			}
			_, size := utf8.DecodeLastRune(word[start:end])
			end -= size
		}
		if !found {
			return append(ids[:mark], t.unk), scratch
		}
		start = end
	}
	return ids, scratch
}

// VocabSize returns the number of entries in the vocabulary, so ids are in
// [0, VocabSize()).
func (t *Tokenizer) VocabSize() int { return t.size }
