package grammar

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMaskMatchesBruteForce compares Mask's allowed tokens with trying
// every token's bytes from the same state, at each step of a JSON text,
// over a vocabulary with structural, string, escape, number and control
// pieces.
func TestMaskMatchesBruteForce(t *testing.T) {
	pieces := []string{"{", "}", "[", "]", ",", ":", "\"", "\"a", "a\"", "\",", "\":", "abc", " ", "\n  ", "\\", "\\n", "\\u00", "e9", "1", "-", "0.", "5e", "+3",
		"true", "tr", "ue", "null", "false", "{\"", "\"}", "<|im_end|>", "<ctl>", "\t", "\x01", "é", "東", ", \"", "}}", "]]", "1,"}
	text := make([]bool, len(pieces))
	for i := range text {
		text[i] = pieces[i] != "<|im_end|>" && pieces[i] != "<ctl>"
	}
	eog := []int32{30}
	v := NewVocab(pieces, text, eog)
	piece := func(id int32) string { return pieces[id] }
	doc := `{"a": [1, -0.5e+3, true, null], "abc": {"e\n": "é東\u00e9"}, "x": []}`
	c := v.JSON(true, piece)
	checkMaskAlong(t, c, pieces, text, 30, doc)
	if !c.Complete() || !c.Accept(30) {
		t.Error("end of generation not accepted after the complete text")
	}
}

// checkMaskAlong steps c through doc and, before each byte and at the end,
// compares Mask's allowed tokens with trying every text token's bytes from
// the same state (only eog once the text is complete).
func checkMaskAlong(t *testing.T, c *Constraint, pieces []string, text []bool, eog int, doc string) {
	t.Helper()
	for i := 0; i <= len(doc); i++ {
		logits := make([]float32, len(pieces))
		c.Mask(logits)
		var got, want []int
		for id, l := range logits {
			if !math.IsInf(float64(l), -1) {
				got = append(got, id)
			}
		}
		if c.state.Complete() {
			want = []int{eog}
		} else {
			for id, p := range pieces {
				if !text[id] {
					continue
				}
				s, ok := c.state, true
				for k := 0; k < len(p) && ok; k++ {
					ok = s.Step(p[k])
				}
				if ok {
					want = append(want, id)
				}
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("after %q: allowed tokens differ from brute force (-want +got):\n%s", doc[:i], diff)
		}
		if i < len(doc) && !c.state.Step(doc[i]) {
			t.Fatalf("document refused at byte %d (%q)", i, doc[:i+1])
		}
	}
}
