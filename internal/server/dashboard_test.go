package server_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestGrafanaDashboard keeps deploy/grafana/outcrop.json honest: it is valid
// JSON and every outcrop_ metric it queries is one the code defines.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(moduleRoot, "deploy", "grafana", "outcrop.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	def := regexp.MustCompile(`Name:\s*"(outcrop_[a-z_]+)"`)
	err = filepath.WalkDir(filepath.Join(moduleRoot, "internal"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range def.FindAllStringSubmatch(string(src), -1) {
			defined[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`outcrop_[a-z_]+`)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range used.FindAllString(tg.Expr, -1) {
				n++
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
				if !defined[base] {
					t.Errorf("panel %q queries %s, which no code defines", p.Title, name)
				}
			}
		}
	}
	for _, want := range []string{"outcrop_model_invocations_total", "outcrop_model_invocation_latency_seconds",
		"outcrop_model_input_tokens_total", "outcrop_model_output_tokens_total", "outcrop_model_time_to_first_token_seconds"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
	if n < 15 {
		t.Errorf("only %d metric references", n)
	}
}
