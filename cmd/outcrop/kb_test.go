package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/engine/weightstest"
	familyall "github.com/outcrop/outcrop/internal/family/all"
	"github.com/outcrop/outcrop/internal/outcroptest"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/local"
)

// newKBServer starts a real server in process with the default catalog
// (MiniLM embeddings from the real weights) plus the echo test model,
// which answers with its prompt, so that generation is fast and
// deterministic.
func newKBServer(t *testing.T) *outcroptest.Server {
	t.Helper()
	weightstest.Path(t, "all-MiniLM-L6-v2/model.safetensors")
	def, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL", "OUTCROP_ENDPOINT_URL", "OUTCROP_DATA_DIR"} {
		t.Setenv(k, "")
	}
	return outcroptest.NewServer(t, outcroptest.Options{
		Families: familyall.Families,
		Extra:    []provider.Spec{local.Spec},
		Mutate: func(c *config.Config) {
			c.Backends["local"] = config.Backend{Kind: "local", Config: map[string]any{"threads": 2}}
			c.ModelsDir = weightstest.Dir()
			c.Models = append(append([]catalog.Model{}, def.Models...), outcroptest.EchoModels...)
		},
	})
}

func TestKBCommands(t *testing.T) {
	srv := newKBServer(t)
	folder := t.TempDir()
	writeFile(t, folder, "lighthouse.txt", "The Skerry Point lighthouse was lit in 1851. Its lamp burned whale oil until 1904, when the keepers switched to paraffin. The tower is 38 metres tall and painted in red and white bands.")
	writeFile(t, folder, "bees.md", "# Bees\n\nA honey bee colony keeps one queen. Worker bees forage for nectar within three kilometres of the hive and communicate the direction with a waggle dance.")
	writeFile(t, folder, "bees.md.metadata.json", `{"metadataAttributes": {"topic": "biology"}}`)
	writeFile(t, folder, "bread.txt", "Sourdough bread rises with a starter of wild yeast and lactic acid bacteria. The dough proves overnight in a cool kitchen.")
	kb := func(args ...string) string {
		t.Helper()
		return run(t, append([]string{"--data-dir", srv.Config.DataDir, "kb", "--endpoint-url", srv.URL, "--poll", "20ms"}, args...)...)
	}
	kbErr := func(args ...string) (string, error) {
		return runErr(append([]string{"--data-dir", srv.Config.DataDir, "kb", "--endpoint-url", srv.URL}, args...)...)
	}

	out := kb("create", "handbook", "--folder", folder, "--max-tokens", "40", "--overlap", "10")
	for _, want := range []string{"created knowledge base handbook (", "ingesting folder", "3 scanned, 3 new, 0 modified, 0 deleted, 0 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("create printed no %q:\n%s", want, out)
		}
	}
	if out, err := kbErr("create", "handbook", "--folder", folder); err == nil || !strings.Contains(err.Error(), "ConflictException") {
		t.Errorf("create with a taken name: %v\n%s", err, out)
	}
	if _, err := kbErr("create", "other", "--folder", filepath.Join(folder, "missing")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("create over a missing folder: %v", err)
	}
	if _, err := kbErr("create", "bad name!", "--folder", folder); err == nil || !strings.Contains(err.Error(), "ValidationException") {
		t.Errorf("create with a bad name: %v", err)
	}

	// A data directory that is not the server's: the server cannot see
	// the folder, and the command says so.
	other := t.TempDir()
	writeFile(t, other, "credentials", string(must(os.ReadFile(filepath.Join(srv.Config.DataDir, "credentials")))))
	out = run(t, "--data-dir", other, "kb", "--endpoint-url", srv.URL, "--poll", "20ms", "create", "elsewhere", "--folder", folder)
	if !strings.Contains(out, "0 scanned") || !strings.Contains(out, "warning: the server saw none of the 3 files") {
		t.Errorf("create with another data directory printed:\n%s", out)
	}
	kb("rm", "elsewhere")

	out = kb("list")
	if !strings.Contains(out, "handbook") || !strings.Contains(out, "ACTIVE") || !strings.Contains(out, folder) {
		t.Errorf("list:\n%s", out)
	}

	// The echo model answers with its prompt, here the search results, so
	// every sentence of the answer is cited.
	out = kb("ask", "handbook", "What fuel did the lighthouse lamp burn?", "--model", "outcrop.echo-v1:0", "--prompt", "$search_results$", "--results", "2")
	for _, want := range []string{"whale oil", "Citations:", "[1] answer chars 0-", "lighthouse.txt (chunk ", "session: "} {
		if !strings.Contains(out, want) {
			t.Errorf("ask printed no %q:\n%s", want, out)
		}
	}
	streamed := kb("ask", "handbook", "What fuel did the lighthouse lamp burn?", "--model", "outcrop.echo-v1:0", "--prompt", "$search_results$", "--results", "2", "--stream")
	if cut := func(s string) string { return s[:strings.Index(s, "session: ")] }; cut(streamed) != cut(out) {
		t.Errorf("ask --stream printed\n%s\nwant as without --stream:\n%s", streamed, out)
	}
	if _, err := kbErr("ask", "nosuch", "Why?"); err == nil || !strings.Contains(err.Error(), `no knowledge base named "nosuch"`) {
		t.Errorf("ask an unknown knowledge base: %v", err)
	}
	if _, err := kbErr("ask", "handbook", "Why?", "--model", "outcrop.all-minilm-l6-v2"); err == nil || !strings.Contains(err.Error(), "ValidationException") {
		t.Errorf("ask with an embedding model: %v", err)
	}
	// The default configuration serves no reranker: Bedrock's error for a
	// model the account cannot use.
	if _, err := kbErr("ask", "handbook", "Why?", "--model", "outcrop.echo-v1:0", "--rerank-model", "amazon.rerank-v1:0"); err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Errorf("ask with the unserved reranker: %v", err)
	}

	writeFile(t, folder, "bread.txt", "Rye bread is dense and keeps for a week. It rises with a sour starter.")
	if err := os.Remove(filepath.Join(folder, "lighthouse.txt")); err != nil {
		t.Fatal(err)
	}
	out = kb("sync", "handbook")
	if !strings.Contains(out, "2 scanned, 0 new, 1 modified, 1 deleted, 0 failed") {
		t.Errorf("sync printed:\n%s", out)
	}
	out = kb("ask", "handbook", "How long does rye bread keep?", "--model", "outcrop.echo-v1:0", "--prompt", "$search_results$", "--results", "1")
	if !strings.Contains(out, "keeps for a week") || strings.Contains(out, "lighthouse") {
		t.Errorf("ask after sync:\n%s", out)
	}

	// The other strategies, as flags.
	out = kb("create", "layered", "--folder", folder, "--chunking", "hierarchical", "--parent-max-tokens", "30", "--child-max-tokens", "8", "--overlap-tokens", "2")
	if !strings.Contains(out, "2 scanned, 2 new") {
		t.Errorf("create HIERARCHICAL printed:\n%s", out)
	}
	out = kb("ask", "layered", "How long does rye bread keep?", "--model", "outcrop.echo-v1:0", "--prompt", "$search_results$", "--results", "1")
	if !strings.Contains(out, "Rye bread is dense and keeps for a week. It rises with a sour starter.") {
		t.Errorf("HIERARCHICAL ask did not answer with the parent chunk:\n%s", out)
	}
	out = kb("create", "topical", "--folder", folder, "--chunking", "SEMANTIC", "--max-tokens", "50", "--breakpoint", "60", "--buffer-size", "1")
	if !strings.Contains(out, "2 scanned, 2 new") {
		t.Errorf("create SEMANTIC printed:\n%s", out)
	}
	if _, err := kbErr("create", "wrong", "--folder", folder, "--chunking", "SEMANTIC", "--breakpoint", "20"); err == nil || !strings.Contains(err.Error(), "ValidationException") {
		t.Errorf("create with a bad breakpoint: %v", err)
	}
	if out = kb("list"); strings.Contains(out, "wrong") {
		t.Errorf("a failed create left its knowledge base:\n%s", out)
	}
	kb("rm", "layered")
	kb("rm", "topical")

	out = kb("rm", "handbook")
	if !strings.Contains(out, "deleted knowledge base handbook") {
		t.Errorf("rm printed %q", out)
	}
	if out = kb("list"); strings.Contains(out, "handbook") {
		t.Errorf("list after rm:\n%s", out)
	}
	if links, _ := os.ReadDir(filepath.Join(srv.Config.DataDir, "buckets")); len(links) != 0 {
		t.Errorf("rm left %d bucket links", len(links))
	}
	if _, err := os.Stat(filepath.Join(folder, "bees.md")); err != nil {
		t.Errorf("rm touched the folder: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
