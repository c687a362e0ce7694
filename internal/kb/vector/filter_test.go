package vector

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMatch(t *testing.T) {
	docs := map[string]map[string]any{
		"a": {"year": 2019.0, "genre": "poetry", "tags": []string{"classic", "verse"}, "public": true},
		"b": {"year": 2021.0, "genre": "prose", "tags": []string{"modern"}, "public": false},
		"c": {"year": 2023.0, "genre": "science"},
	}
	f := func(op, key string, v any) *Filter { return &Filter{Op: op, Key: key, Value: v} }
	for _, tc := range []struct {
		name   string
		filter *Filter
		want   []string
	}{
		{"nil", nil, []string{"a", "b", "c"}},
		{"equals", f("equals", "genre", "prose"), []string{"b"}},
		{"equals bool", f("equals", "public", true), []string{"a"}},
		{"notEquals", f("notEquals", "genre", "prose"), []string{"a", "c"}},
		{"greaterThan", f("greaterThan", "year", 2021.0), []string{"c"}},
		{"greaterThanOrEquals", f("greaterThanOrEquals", "year", 2021.0), []string{"b", "c"}},
		{"lessThan", f("lessThan", "year", 2021.0), []string{"a"}},
		{"lessThanOrEquals", f("lessThanOrEquals", "year", 2021.0), []string{"a", "b"}},
		{"in", f("in", "genre", []any{"poetry", "science"}), []string{"a", "c"}},
		{"notIn", f("notIn", "genre", []any{"poetry", "science"}), []string{"b"}},
		{"startsWith", f("startsWith", "genre", "p"), []string{"a", "b"}},
		{"listContains", f("listContains", "tags", "modern"), []string{"b"}},
		{"stringContains string", f("stringContains", "genre", "ien"), []string{"c"}},
		{"stringContains list", f("stringContains", "tags", "ers"), []string{"a"}},
		{"andAll", &Filter{Op: "andAll", All: []*Filter{f("greaterThan", "year", 2018.0), f("startsWith", "genre", "p")}}, []string{"a", "b"}},
		{"orAll", &Filter{Op: "orAll", All: []*Filter{f("equals", "genre", "science"), f("listContains", "tags", "verse")}}, []string{"a", "c"}},
		{"missing key", f("equals", "author", "x"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.filter != nil {
				if err := tc.filter.Validate(); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for _, id := range []string{"a", "b", "c"} {
				if Match(tc.filter, docs[id]) {
					got = append(got, id)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestFuse(t *testing.T) {
	a := []Scored{{1, .9}, {2, .8}, {3, .1}}
	b := []Scored{{3, 9}, {1, 5}}
	got := Fuse([][]Scored{a, b}, nil, 3)
	if got[0].ID != 1 || got[1].ID != 3 || got[2].ID != 2 {
		t.Errorf("Fuse = %v", got)
	}
	v := []float32{3, 4}
	Normalize(v)
	if d := Dot(v, v); d < 0.999 || d > 1.001 {
		t.Errorf("|v|² = %v", d)
	}
	if diff := cmp.Diff(v, Decode(Encode(v))); diff != "" {
		t.Error(diff)
	}
}
