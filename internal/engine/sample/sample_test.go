package sample

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// support returns the set of tokens drawn from logits over many samples.
func support(p Params, logits []float32, history []int32, draws int) map[int32]bool {
	s := New(p, len(logits))
	got := map[int32]bool{}
	buf := make([]float32, len(logits))
	for i := 0; i < draws; i++ {
		copy(buf, logits)
		got[s.Sample(buf, history)] = true
	}
	return got
}

func TestSample(t *testing.T) {
	// Probabilities at temperature 1 (softmax of logits): token 0 ≈ 0.61,
	// 1 ≈ 0.22, 2 ≈ 0.08, 3 ≈ 0.08, 4 ≈ 0.0004.
	logits := []float32{3, 2, 1, 1, -3}
	tests := []struct {
		name    string
		p       Params
		logits  []float32
		history []int32
		want    map[int32]bool
	}{
		{"greedy", Params{}, logits, nil, map[int32]bool{0: true}},
		{"greedy ties pick lowest id", Params{}, []float32{1, 5, 5}, nil, map[int32]bool{1: true}},
		{"greedy with penalty", Params{RepeatPenalty: 2}, logits, []int32{0}, map[int32]bool{1: true}},
		{"penalty outside window", Params{RepeatPenalty: 2, RepeatWindow: 1}, logits, []int32{0, 3}, map[int32]bool{0: true}},
		{"negative logit penalised", Params{RepeatPenalty: 4}, []float32{-1, -2}, []int32{0}, map[int32]bool{1: true}},
		{"top-k 1", Params{Temperature: 1, TopK: 1}, logits, nil, map[int32]bool{0: true}},
		{"top-k 2", Params{Temperature: 1, TopK: 2}, logits, nil, map[int32]bool{0: true, 1: true}},
		{"top-p 0.5", Params{Temperature: 1, TopP: 0.5}, logits, nil, map[int32]bool{0: true}},
		{"top-p 0.8", Params{Temperature: 1, TopP: 0.8}, logits, nil, map[int32]bool{0: true, 1: true}},
		{"min-p 0.3", Params{Temperature: 1, MinP: 0.3}, logits, nil, map[int32]bool{0: true, 1: true}},
		{"min-p 0.1", Params{Temperature: 1, MinP: 0.1}, logits, nil, map[int32]bool{0: true, 1: true, 2: true, 3: true}},
		{"high temperature reaches the tail", Params{Temperature: 100, Seed: 3}, logits, nil, map[int32]bool{0: true, 1: true, 2: true, 3: true, 4: true}},
		{"top-k then top-p", Params{Temperature: 1, TopK: 3, TopP: 0.95}, logits, nil, map[int32]bool{0: true, 1: true, 2: true}},
		{"NaN logits skipped", Params{Temperature: 1}, []float32{float32NaN(), 0}, nil, map[int32]bool{1: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := support(tc.p, tc.logits, tc.history, 2000)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("sampled token set mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func float32NaN() float32 {
	z := float32(0)
	return z / z
}

func TestSeedDeterminism(t *testing.T) {
	logits := make([]float32, 1000)
	for i := range logits {
		logits[i] = float32(i%17) * 0.3
	}
	run := func(seed uint64) []int32 {
		s := New(Params{Temperature: 0.8, TopP: 0.95, Seed: seed}, len(logits))
		var out []int32
		buf := make([]float32, len(logits))
		for i := 0; i < 50; i++ {
			copy(buf, logits)
			out = append(out, s.Sample(buf, out))
		}
		return out
	}
	a, b, c := run(1), run(1), run(2)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed gave different tokens (-first +second):\n%s", diff)
	}
	if cmp.Equal(a, c) {
		t.Errorf("seeds 1 and 2 gave the same 50 tokens %v", a)
	}
}

func TestSampleNoAllocs(t *testing.T) {
	logits := make([]float32, 5000)
	for i := range logits {
		logits[i] = float32(i%31) * 0.1
	}
	hist := []int32{1, 2, 3, 4}
	for _, p := range []Params{
		{},
		{Temperature: 0.7, TopK: 40, TopP: 0.9, MinP: 0.05, RepeatPenalty: 1.1},
		{Temperature: 1, TopP: 0.9},
	} {
		s := New(p, len(logits))
		buf := make([]float32, len(logits))
		allocs := testing.AllocsPerRun(20, func() {
			copy(buf, logits)
			s.Sample(buf, hist)
		})
		if allocs != 0 {
			t.Errorf("Sample with %+v: %v allocations per call, want 0", p, allocs)
		}
	}
}

func TestStopMatcher(t *testing.T) {
	tests := []struct {
		name    string
		stops   []string
		pieces  []string
		want    []string // emitted per piece, then the flush
		stopped bool
		matched string
	}{
		{"no stops", nil, []string{"ab", "c"}, []string{"ab", "c", ""}, false, ""},
		{"within one piece", []string{"STOP"}, []string{"helloSTOPworld"}, []string{"hello", ""}, true, "STOP"},
		{"across pieces", []string{"STOP"}, []string{"hi S", "T", "OP", "x"}, []string{"hi ", "", "", "", ""}, true, "STOP"},
		{"false start released", []string{"STOP"}, []string{"ST", "ART"}, []string{"", "START", ""}, false, ""},
		{"held tail flushed", []string{"STOP"}, []string{"abc ST"}, []string{"abc ", "ST"}, false, ""},
		{"earliest of several", []string{"world", "lo w"}, []string{"hello world"}, []string{"hel", ""}, true, "lo w"},
		{"overlapping prefix", []string{"aab"}, []string{"a", "a", "a", "b"}, []string{"", "", "a", "", ""}, true, "aab"},
		{"stop is the first text", []string{"\n\n"}, []string{"\n", "\nrest"}, []string{"", "", ""}, true, "\n\n"},
		{"multibyte", []string{"é!"}, []string{"caf", "é", "!"}, []string{"caf", "", "", ""}, true, "é!"},
		{"empty stop ignored", []string{""}, []string{"x"}, []string{"x", ""}, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewStopMatcher(tc.stops)
			var got []string
			stopped := false
			for _, p := range tc.pieces {
				e, s := m.Push(p)
				got = append(got, e)
				stopped = stopped || s
			}
			got = append(got, m.Flush())
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("emitted text mismatch (-want +got):\n%s", diff)
			}
			if stopped != tc.stopped || m.Matched() != tc.matched {
				t.Errorf("stopped, matched = %v, %q; want %v, %q", stopped, m.Matched(), tc.stopped, tc.matched)
			}
			if all := strings.Join(got, ""); tc.stopped && strings.Contains(all, tc.matched) {
				t.Errorf("stop text %q leaked into %q", tc.matched, all)
			}
		})
	}
}

func TestLogProbs(t *testing.T) {
	logits := []float32{1, 3, float32(math.Inf(-1)), 2, 0}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v))
	}
	lse := float32(math.Log(sum))
	lp, top := LogProbs(logits, 3, 3, nil)
	if d := math.Abs(float64(lp - (2 - lse))); d > 1e-6 {
		t.Errorf("logprob of token 3 = %v, want %v", lp, 2-lse)
	}
	want := []TokenProb{{1, 3 - lse}, {3, 2 - lse}, {0, 1 - lse}}
	if len(top) != 3 {
		t.Fatalf("top = %v, want 3 entries", top)
	}
	for i := range want {
		if top[i].ID != want[i].ID || math.Abs(float64(top[i].Logprob-want[i].Logprob)) > 1e-6 {
			t.Errorf("top[%d] = %+v, want %+v", i, top[i], want[i])
		}
	}
	if lp, _ := LogProbs(logits, 2, 0, nil); !math.IsInf(float64(lp), -1) {
		t.Errorf("masked token's logprob = %v, want -Inf", lp)
	}
}
