package kb

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func numbered(n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = fmt.Sprintf("w%d", i+1)
	}
	return strings.Join(w, " ")
}

func TestSplitHierarchical(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		text                   string
		parent, child, overlap int
		want                   []Piece
	}{
		{
			name: "twenty words", text: numbered(20), parent: 10, child: 4, overlap: 2,
			want: []Piece{
				{"w1 w2 w3 w4", numbered(10), 0},
				{"w3 w4 w5 w6", numbered(10), 0},
				{"w5 w6 w7 w8", numbered(10), 0},
				{"w7 w8 w9 w10", numbered(10), 0},
				{"w9 w10 w11 w12", "w9 w10 w11 w12 w13 w14 w15 w16 w17 w18", 1},
				{"w11 w12 w13 w14", "w9 w10 w11 w12 w13 w14 w15 w16 w17 w18", 1},
				{"w13 w14 w15 w16", "w9 w10 w11 w12 w13 w14 w15 w16 w17 w18", 1},
				{"w15 w16 w17 w18", "w9 w10 w11 w12 w13 w14 w15 w16 w17 w18", 1},
				{"w17 w18 w19 w20", "w17 w18 w19 w20", 2},
			},
		},
		{
			name: "short document", text: "One short line.", parent: 10, child: 4, overlap: 1,
			want: []Piece{{"One short line.", "One short line.", 0}},
		},
		{
			name: "parents end at sentences", text: "a b c d e. f g h i j k l", parent: 6, child: 3, overlap: 1,
			want: []Piece{
				{"a b c", "a b c d e.", 0},
				{"c d e.", "a b c d e.", 0},
				{"e. f g", "e. f g h i j", 1},
				{"g h i", "e. f g h i j", 1},
				{"i j", "e. f g h i j", 1},
				{"j k l", "j k l", 2},
			},
		},
		{name: "empty", text: " \n ", parent: 10, child: 4, overlap: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Chunking{Strategy: ChunkHierarchical, ParentMaxTokens: tc.parent, ChildMaxTokens: tc.child, OverlapTokens: tc.overlap}
			got, err := Split(context.Background(), tc.text, c, nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Split(%q, %+v) mismatch (-want +got):\n%s", tc.text, c, diff)
			}
		})
	}
}

// topicEmbed embeds a sentence as a unit vector on the axis of the first
// topic word it contains (bees, lamp, bread), so neighbours on one topic
// have distance 0 and across topics distance 1.
func topicEmbed(calls *[][]string) Embed {
	return func(_ context.Context, texts []string) ([][]float32, error) {
		*calls = append(*calls, texts)
		out := make([][]float32, len(texts))
		for i, t := range texts {
			v := make([]float32, 4)
			v[3] = 1
			for axis, w := range []string{"bees", "lamp", "bread"} {
				if strings.Contains(t, w) {
					v = make([]float32, 4)
					v[axis] = 1
					break
				}
			}
			out[i] = v
		}
		return out, nil
	}
}

func TestSplitSemantic(t *testing.T) {
	text := "The bees dance. Worker bees forage. The lamp burned oil.\nThe lamp was lit in 1851. Good bread needs time. Rye bread keeps."
	for _, tc := range []struct {
		name     string
		c        Chunking
		want     []string
		embedded []string
	}{
		{
			name: "cut between topics", c: Chunking{Strategy: ChunkSemantic, MaxTokens: 100, BufferSize: 0, BreakpointPercentile: 60},
			want:     []string{"The bees dance. Worker bees forage.", "The lamp burned oil. The lamp was lit in 1851.", "Good bread needs time. Rye bread keeps."},
			embedded: []string{"The bees dance.", "Worker bees forage.", "The lamp burned oil.", "The lamp was lit in 1851.", "Good bread needs time.", "Rye bread keeps."},
		},
		{
			name: "high threshold keeps one group", c: Chunking{Strategy: ChunkSemantic, MaxTokens: 100, BufferSize: 0, BreakpointPercentile: 95},
			want:     []string{strings.ReplaceAll(text, "\n", " ")},
			embedded: []string{"The bees dance.", "Worker bees forage.", "The lamp burned oil.", "The lamp was lit in 1851.", "Good bread needs time.", "Rye bread keeps."},
		},
		{
			// With a buffer of 1 each sentence is embedded with its
			// neighbours, so the topic seen is the first in the window.
			name: "buffer size 1", c: Chunking{Strategy: ChunkSemantic, MaxTokens: 100, BufferSize: 1, BreakpointPercentile: 80},
			want: []string{"The bees dance. Worker bees forage. The lamp burned oil.", "The lamp was lit in 1851. Good bread needs time. Rye bread keeps."},
			embedded: []string{"The bees dance. Worker bees forage.", "The bees dance. Worker bees forage. The lamp burned oil.",
				"Worker bees forage. The lamp burned oil. The lamp was lit in 1851.", "The lamp burned oil. The lamp was lit in 1851. Good bread needs time.",
				"The lamp was lit in 1851. Good bread needs time. Rye bread keeps.", "Good bread needs time. Rye bread keeps."},
		},
		{
			name: "groups cut to maxTokens at sentence ends", c: Chunking{Strategy: ChunkSemantic, MaxTokens: 6, BufferSize: 0, BreakpointPercentile: 60},
			want:     []string{"The bees dance. Worker bees forage.", "The lamp burned oil.", "The lamp was lit in 1851.", "Good bread needs time.", "Rye bread keeps."},
			embedded: []string{"The bees dance.", "Worker bees forage.", "The lamp burned oil.", "The lamp was lit in 1851.", "Good bread needs time.", "Rye bread keeps."},
		},
		{
			name: "a sentence longer than maxTokens is cut between words", c: Chunking{Strategy: ChunkSemantic, MaxTokens: 2, BufferSize: 0, BreakpointPercentile: 99},
			want:     []string{"The bees", "dance.", "Worker bees", "forage.", "The lamp", "burned oil.", "The lamp", "was lit", "in 1851.", "Good bread", "needs time.", "Rye bread", "keeps."},
			embedded: []string{"The bees dance.", "Worker bees forage.", "The lamp burned oil.", "The lamp was lit in 1851.", "Good bread needs time.", "Rye bread keeps."},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls [][]string
			pieces, err := Split(context.Background(), text, tc.c, topicEmbed(&calls))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range pieces {
				if p.Parent != "" {
					t.Errorf("semantic piece %q has a parent", p.Text)
				}
				got = append(got, p.Text)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Split(%+v) mismatch (-want +got):\n%s", tc.c, diff)
			}
			if diff := cmp.Diff([][]string{tc.embedded}, calls); diff != "" {
				t.Errorf("embedded texts (-want +got):\n%s", diff)
			}
		})
	}
	var calls [][]string
	if got, _ := Split(context.Background(), "Only one sentence here.", Chunking{Strategy: ChunkSemantic, MaxTokens: 10, BreakpointPercentile: 50}, topicEmbed(&calls)); len(got) != 1 || len(calls) != 0 {
		t.Errorf("one sentence: %v, %d embedding calls", got, len(calls))
	}
}

func TestCheckChunking(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Chunking
		ok   bool
	}{
		{"default", Chunking{}, true},
		{"fixed", Chunking{Strategy: ChunkFixedSize, MaxTokens: 300, Overlap: 20}, true},
		{"fixed overlap 0", Chunking{Strategy: ChunkFixedSize, MaxTokens: 300}, false},
		{"none", Chunking{Strategy: ChunkNone}, true},
		{"hierarchical", Chunking{Strategy: ChunkHierarchical, ParentMaxTokens: 1500, ChildMaxTokens: 300, OverlapTokens: 60}, true},
		{"hierarchical child larger", Chunking{Strategy: ChunkHierarchical, ParentMaxTokens: 300, ChildMaxTokens: 1500, OverlapTokens: 60}, false},
		{"hierarchical parent too large", Chunking{Strategy: ChunkHierarchical, ParentMaxTokens: 9000, ChildMaxTokens: 300, OverlapTokens: 60}, false},
		{"hierarchical no overlap", Chunking{Strategy: ChunkHierarchical, ParentMaxTokens: 1500, ChildMaxTokens: 300}, false},
		{"hierarchical overlap = child", Chunking{Strategy: ChunkHierarchical, ParentMaxTokens: 1500, ChildMaxTokens: 300, OverlapTokens: 300}, false},
		{"semantic", Chunking{Strategy: ChunkSemantic, MaxTokens: 300, BufferSize: 1, BreakpointPercentile: 95}, true},
		{"semantic buffer 2", Chunking{Strategy: ChunkSemantic, MaxTokens: 300, BufferSize: 2, BreakpointPercentile: 95}, false},
		{"semantic threshold 49", Chunking{Strategy: ChunkSemantic, MaxTokens: 300, BreakpointPercentile: 49}, false},
		{"semantic threshold 100", Chunking{Strategy: ChunkSemantic, MaxTokens: 300, BreakpointPercentile: 100}, false},
		{"semantic no maxTokens", Chunking{Strategy: ChunkSemantic, BreakpointPercentile: 95}, false},
		{"unknown", Chunking{Strategy: "PARAGRAPH"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			err := checkChunking(&c)
			if (err == nil) != tc.ok {
				t.Errorf("checkChunking(%+v) = %v, want ok=%v", tc.c, err, tc.ok)
			}
			if tc.name == "default" && c != DefaultChunking {
				t.Errorf("default chunking = %+v, want %+v", c, DefaultChunking)
			}
		})
	}
}
