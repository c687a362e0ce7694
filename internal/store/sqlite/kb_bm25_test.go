package sqlite

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/kb/bm25"
)

// foreignText is accented and non-Latin text whose terms must match FTS5's.
const foreignText = "Café NAÏVE résumés Ærøskøbing straße ÉCOLES naïvely Größe œuvre Ωμέγα δοκιμές кириллица 東京 ７８９ x² µs"

// englishText returns the repository's documentation, real English with
// code and numbers in it, plus foreignText.
func englishText(t *testing.T) string {
	files, err := filepath.Glob("../../../docs/*.md")
	if err != nil || len(files) == 0 {
		t.Fatalf("no documentation to read: %v", err)
	}
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	b.WriteString("\n" + foreignText + "\n")
	return b.String()
}

// TestBM25TermsMatchFTS5 checks that package bm25 turns every word into
// the term FTS5's porter unicode61 tokenizer indexes, by reading the terms
// back from an FTS5 table through fts5vocab. Non-ASCII words of the docs
// are only logged: bm25 folds rare characters through Unicode tables of
// its own, and an edit to the docs should not fail this test.
func TestBM25TermsMatchFTS5(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	words := map[string]bool{}
	for _, w := range strings.Fields(englishText(t)) {
		words[w] = true
	}
	for _, stmt := range []string{
		`CREATE VIRTUAL TABLE temp.words USING fts5(w, tokenize='porter unicode61')`,
		`CREATE VIRTUAL TABLE temp.words_vocab USING fts5vocab(temp, words, instance)`,
	} {
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	var list []string
	for w := range words {
		list = append(list, w)
	}
	slices.Sort(list)
	for i, w := range list {
		if _, err := s.db.ExecContext(ctx, `INSERT INTO temp.words(rowid, w) VALUES (?, ?)`, i+1, w); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT doc, term FROM temp.words_vocab ORDER BY doc, offset`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	fts := make([][]string, len(list))
	for rows.Next() {
		var doc int
		var term string
		if err := rows.Scan(&doc, &term); err != nil {
			t.Fatal(err)
		}
		fts[doc-1] = append(fts[doc-1], term)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	strict := map[string]bool{}
	for _, w := range strings.Fields(foreignText) {
		strict[w] = true
	}
	bad := 0
	for i, w := range list {
		if got := bm25.Terms(w); !slices.Equal(got, fts[i]) {
			bad++
			switch {
			case strict[w] || !strings.ContainsFunc(w, func(r rune) bool { return r > 127 }):
				t.Errorf("bm25.Terms(%q) = %q, FTS5 indexes %q", w, got, fts[i])
			default:
				t.Logf("bm25.Terms(%q) = %q, FTS5 indexes %q", w, got, fts[i])
			}
		}
	}
	t.Logf("%d words, %d differ", len(list), bad)
}

// TestBM25MatchesFTS5 checks that an in-memory bm25.Index ranks a
// knowledge base's chunks as SearchText (FTS5's bm25()) does, with the
// same scores, for queries of words drawn from the text.
func TestBM25MatchesFTS5(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	k := kb.KnowledgeBase{ID: "KB1", Name: "kb", Created: time.Now()}
	if err := s.PutKnowledgeBase(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.PutDataSource(ctx, kb.DataSource{KBID: "KB1", ID: "DS1", Name: "ds", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	words := strings.Fields(englishText(t))
	const perChunk = 60
	var chunks []kb.Chunk
	for i := 0; i < len(words); i += perChunk {
		chunks = append(chunks, kb.Chunk{Seq: len(chunks), Text: strings.Join(words[i:min(len(words), i+perChunk)], " "), Vector: []float32{1}})
	}
	for d := 0; d*10 < len(chunks); d++ {
		doc := kb.Document{KBID: "KB1", DSID: "DS1", ID: fmt.Sprintf("doc%d", d), Status: kb.DocIndexed}
		if err := s.ReplaceDocument(ctx, doc, chunks[d*10:min(len(chunks), d*10+10)], true, nil); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := s.KBChunks(ctx, "KB1")
	if err != nil {
		t.Fatal(err)
	}
	x := bm25.Build(len(stored), func(r int32) string { return stored[r].Text })
	rng := rand.New(rand.NewPCG(1, 2))
	for q := range 200 {
		// 1 to 6 words whose terms differ (FTS5 would count a repeated
		// term once per word; the index counts it once).
		var qw []string
		seen := map[string]bool{}
		for len(qw) < 1+q%6 {
			w := words[rng.IntN(len(words))]
			terms := bm25.Terms(w)
			if len(terms) != 1 || seen[terms[0]] || strings.ContainsFunc(w, func(r rune) bool { return r > 127 }) {
				continue
			}
			seen[terms[0]] = true
			qw = append(qw, w)
		}
		query := strings.Join(qw, " ")
		want, err := s.SearchText(ctx, "KB1", query, 30)
		if err != nil {
			t.Fatal(err)
		}
		got := x.Search(query, 30, nil)
		if len(got) != len(want) {
			t.Errorf("%q: %d hits, FTS5 %d", query, len(got), len(want))
			continue
		}
		for i := range want {
			id := stored[got[i].Row].ID
			if math.Abs(got[i].Score-want[i].Score) > 1e-9*math.Abs(want[i].Score) {
				t.Errorf("%q: hit %d scores %v, FTS5 %v", query, i, got[i].Score, want[i].Score)
				break
			}
			if id != want[i].ID && math.Abs(got[i].Score-want[i].Score) > 1e-9 {
				t.Errorf("%q: hit %d is chunk %d, FTS5 ranks chunk %d there", query, i, id, want[i].ID)
				break
			}
		}
	}
}
