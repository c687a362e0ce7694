package all

import "testing"

func TestArchs(t *testing.T) {
	seen := map[string]bool{}
	for _, a := range Archs {
		if a.Name == "" || seen[a.Name] {
			t.Errorf("architecture name %q is empty or duplicated", a.Name)
		}
		seen[a.Name] = true
		if len(a.Global) == 0 || len(a.Layer) == 0 {
			t.Errorf("architecture %q binds no tensors", a.Name)
		}
	}
	for _, name := range []string{"llama", "qwen2"} {
		if !seen[name] {
			t.Errorf("architecture %q is missing", name)
		}
	}
}
