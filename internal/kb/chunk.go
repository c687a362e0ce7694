package kb

import (
	"context"
	"math"
	"sort"
	"strings"

	"github.com/outcrop/outcrop/internal/kb/vector"
)

// Chunking strategies (ChunkingStrategy).
const (
	ChunkFixedSize    = "FIXED_SIZE"
	ChunkNone         = "NONE"
	ChunkHierarchical = "HIERARCHICAL"
	ChunkSemantic     = "SEMANTIC"
)

// Bedrock's limits on the chunking settings (and Outcrop's, where the
// model leaves one open).
const (
	maxChunkTokens = 8192
	// maxSemanticSentences bounds the sentences of one document that
	// SEMANTIC chunking embeds; past it, the rest is cut by size only.
	maxSemanticSentences = 20000
)

// Piece is one chunk of a document as the splitter makes it: Text is
// embedded and searched. With HIERARCHICAL chunking, Parent is the larger
// chunk that Text was cut from, which retrieval returns in its place, and
// ParentSeq numbers the parents of the document.
type Piece struct {
	Text      string
	Parent    string
	ParentSeq int
}

// Embed embeds texts with a knowledge base's model, returning unit vectors.
type Embed func(ctx context.Context, texts []string) ([][]float32, error)

// Split cuts a document's text into pieces by the strategy. Only
// SEMANTIC uses embed (for its sentences); a token is counted as a word.
func Split(ctx context.Context, text string, c Chunking, embed Embed) ([]Piece, error) {
	switch c.Strategy {
	case ChunkHierarchical:
		return hierarchical(strings.Fields(text), c.ParentMaxTokens, c.ChildMaxTokens, c.OverlapTokens), nil
	case ChunkSemantic:
		return semantic(ctx, text, c, embed)
	}
	var out []Piece
	for _, s := range SplitText(text, c) {
		out = append(out, Piece{Text: s})
	}
	return out, nil
}

// windows cuts words into windows of at most size words, each starting
// overlap words before the previous one ended. A window prefers to end at
// a sentence end in its last fifth.
func windows(words []string, size, overlap int) [][2]int {
	if len(words) == 0 {
		return nil
	}
	size = max(size, 1)
	var out [][2]int
	for start := 0; start < len(words); {
		end := min(start+size, len(words))
		if end < len(words) {
			for e := end; e > start+size*4/5; e-- {
				if sentenceEnd(words[e-1]) {
					end = e
					break
				}
			}
		}
		out = append(out, [2]int{start, end})
		if end == len(words) {
			break
		}
		start = max(end-overlap, start+1)
	}
	return out
}

func sentenceEnd(w string) bool {
	return strings.HasSuffix(w, ".") || strings.HasSuffix(w, "?") || strings.HasSuffix(w, "!")
}

// hierarchical cuts words into parent windows of parentMax words and
// each parent into child windows of childMax words, both layers
// overlapping by overlap words, as Bedrock's HIERARCHICAL strategy does.
// Every child carries its parent.
func hierarchical(words []string, parentMax, childMax, overlap int) []Piece {
	var out []Piece
	for pi, p := range windows(words, parentMax, overlap) {
		pw := words[p[0]:p[1]]
		parent := strings.Join(pw, " ")
		for _, c := range windows(pw, childMax, overlap) {
			out = append(out, Piece{Text: strings.Join(pw[c[0]:c[1]], " "), Parent: parent, ParentSeq: pi})
		}
	}
	return out
}

// semantic groups consecutive sentences whose meaning stays close, as
// Bedrock's SEMANTIC strategy does: each sentence is embedded (with
// BufferSize sentences of context on each side), the distance between
// neighbours is 1 - cosine similarity, and the document is cut after the
// most distant (100 - BreakpointPercentile) percent of neighbour pairs.
// Groups longer than MaxTokens are cut again at sentence ends (or, for a
// sentence longer than that, between words).
func semantic(ctx context.Context, text string, c Chunking, embed Embed) ([]Piece, error) {
	sents := splitSentences(text)
	if len(sents) == 0 {
		return nil, nil
	}
	var groups [][]string
	if len(sents) <= maxSemanticSentences && len(sents) > 1 {
		ctxTexts := make([]string, len(sents))
		for i := range sents {
			ctxTexts[i] = strings.Join(sents[max(0, i-c.BufferSize):min(len(sents), i+c.BufferSize+1)], " ")
		}
		vecs, err := embed(ctx, ctxTexts)
		if err != nil {
			return nil, err
		}
		groups = semanticGroups(sents, vecs, c.BreakpointPercentile)
	} else {
		groups = [][]string{sents}
	}
	var out []Piece
	for _, g := range groups {
		for _, t := range packSentences(g, c.MaxTokens) {
			out = append(out, Piece{Text: t})
		}
	}
	return out, nil
}

// semanticGroups cuts sents after the round(n * (100 - percentile) / 100)
// neighbour pairs (of n) whose vectors are furthest apart (earlier pairs
// first among equals).
func semanticGroups(sents []string, vecs [][]float32, percentile int) [][]string {
	n := len(sents) - 1
	if n < 1 {
		return [][]string{sents}
	}
	type pair struct {
		i    int
		dist float64
	}
	pairs := make([]pair, n)
	for i := range n {
		pairs[i] = pair{i, 1 - float64(vector.Dot(vecs[i], vecs[i+1]))}
	}
	sort.SliceStable(pairs, func(a, b int) bool { return pairs[a].dist > pairs[b].dist })
	k := int(math.Round(float64(n) * float64(100-percentile) / 100))
	cut := make([]bool, n)
	for _, p := range pairs[:k] {
		cut[p.i] = true
	}
	var out [][]string
	start := 0
	for i := range n {
		if cut[i] {
			out = append(out, sents[start:i+1])
			start = i + 1
		}
	}
	return append(out, sents[start:])
}

// packSentences joins sentences into chunks of at most maxTokens words,
// cutting only between sentences unless one sentence is longer.
func packSentences(sents []string, maxTokens int) []string {
	maxTokens = max(maxTokens, 1)
	var out, cur []string
	n := 0
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.Join(cur, " "))
			cur, n = nil, 0
		}
	}
	for _, s := range sents {
		words := strings.Fields(s)
		if len(words) > maxTokens {
			flush()
			for _, w := range windows(words, maxTokens, 0) {
				out = append(out, strings.Join(words[w[0]:w[1]], " "))
			}
			continue
		}
		if n+len(words) > maxTokens {
			flush()
		}
		cur = append(cur, strings.Join(words, " "))
		n += len(words)
	}
	flush()
	return out
}

// splitSentences returns the sentences of text: split after ., ! or ?
// followed by white space, and at line breaks; white space collapsed.
func splitSentences(text string) []string {
	var out []string
	for _, sp := range sentences(text) {
		if s := strings.Join(strings.Fields(text[sp[0]:sp[1]]), " "); s != "" {
			out = append(out, s)
		}
	}
	return out
}
