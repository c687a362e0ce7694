package catalog

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func intp(n int) *int { return &n }

func TestRoutes(t *testing.T) {
	v := Validator{Backends: map[string]bool{"a": true, "b": true}}
	model := func(m Model) Model {
		m.ID, m.Family, m.Output = "outcrop.test-v1:0", "converse", []string{"TEXT"}
		return m
	}
	for _, tc := range []struct {
		name string
		m    Model
		err  string // part of the error; "" means valid
	}{
		{"single", model(Model{Backend: "a", BackendModel: "x"}), ""},
		{"several", model(Model{Backends: []Route{{Backend: "a", BackendModel: "x", Priority: 1}, {Backend: "b", BackendModel: "y", Weight: intp(3)}}}), ""},
		{"same backend, other model", model(Model{Backends: []Route{{Backend: "a", BackendModel: "x"}, {Backend: "a", BackendModel: "y"}}}), ""},
		{"unknown single", model(Model{Backend: "c"}), `backend "c" is not configured`},
		{"unknown", model(Model{Backends: []Route{{Backend: "a"}, {Backend: "c"}}}), `backends[1]: backend "c" is not configured`},
		{"zero weight", model(Model{Backends: []Route{{Backend: "a", Weight: intp(0)}}}), "weight must be positive, not 0"},
		{"negative weight", model(Model{Backends: []Route{{Backend: "a", Weight: intp(-2)}}}), "weight must be positive, not -2"},
		{"duplicate", model(Model{Backends: []Route{{Backend: "a", BackendModel: "x"}, {Backend: "a", BackendModel: "x", Priority: 2}}}), `backend "a" with backendModel "x" is listed twice`},
		{"both forms", model(Model{Backend: "a", Backends: []Route{{Backend: "b"}}}), "not both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New("us-east-1", []Model{tc.m}, v)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("New error = %v, want one containing %q", err, tc.err)
			}
		})
	}
}

func TestRoutesNormalised(t *testing.T) {
	in := []Model{{ID: "outcrop.test-v1:0", Output: []string{"TEXT"}, Backends: []Route{
		{Backend: "a", BackendModel: "x", Priority: 2},
		{Backend: "b", BackendModel: "y", Priority: 1},
	}}}
	c, err := New("us-east-1", in, Validator{})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := c.Lookup("outcrop.test-v1:0")
	if m.Backend != "b" || m.BackendModel != "y" {
		t.Errorf("backend = %s/%s, want the first by priority (b/y)", m.Backend, m.BackendModel)
	}
	want := []Route{{Backend: "a", BackendModel: "x", Weight: intp(1), Priority: 2}, {Backend: "b", BackendModel: "y", Weight: intp(1), Priority: 1}}
	if d := cmp.Diff(want, m.Routes()); d != "" {
		t.Errorf("routes (-want +got):\n%s", d)
	}
	if in[0].Backends[0].Weight != nil {
		t.Error("New wrote into its argument")
	}
	single := Model{Backend: "a", BackendModel: "x"}
	if d := cmp.Diff([]Route{{Backend: "a", BackendModel: "x", Weight: intp(1)}}, single.Routes()); d != "" {
		t.Errorf("single form routes (-want +got):\n%s", d)
	}
}
