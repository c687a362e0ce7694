package server_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/config"
	familyall "github.com/outcrop/outcrop/internal/family/all"
	"github.com/outcrop/outcrop/internal/outcroptest"
)

// The library suite (test/python/libraries) runs programs written the way
// the openai and anthropic Python SDKs and LangChain's langchain-openai,
// langchain-anthropic and langchain-aws document them, against a live
// server. scripts/test.sh installs them from test/python/requirements.txt;
// without them these tests skip.

const pyLibsDir = "test/python/libraries"

func requirePyLibs(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	const imports = "import pytest, openai, anthropic, langchain_openai, langchain_anthropic, langchain_aws"
	if out, err := exec.Command("python3", "-c", imports).CombinedOutput(); err != nil {
		t.Skipf("the Python libraries are not installed (%s): run `python3 -m pip install -r test/python/requirements.txt`",
			strings.TrimSpace(lastLine(string(out))))
	}
}

// pyLibModels are the echo models the library suite names: the dialect
// models, plus Bedrock IDs whose native InvokeModel bodies LangChain's
// ChatBedrock and BedrockEmbeddings write.
func pyLibModels() []catalog.Model {
	claude := outcroptest.EchoModels[0]
	claude.ID, claude.Name, claude.Provider, claude.Family = "anthropic.claude-3-haiku-20240307-v1:0", "Claude 3 Haiku", "Anthropic", "anthropic-messages"
	// Claude 3 Haiku's real limits: LangChain's defaults (max_tokens 1024
	// for ChatBedrock, 4096 for ChatAnthropic) fit them.
	claude.Caps.ContextWindow, claude.Caps.MaxOutputTokens = 200000, 4096
	titan := catalog.Model{ID: "amazon.titan-embed-text-v1", Name: "Titan Embeddings G1 - Text", Provider: "Amazon", Family: "titan-embed",
		Backend: "echo", BackendModel: "echo", Input: []string{"TEXT"}, Output: []string{"EMBEDDING"}, Caps: catalog.Capabilities{Dimensions: 4}}
	return append(dialectModels(), claude, titan)
}

// TestPythonLibraries runs the library suite against the echo backend,
// whose answers are exact.
func TestPythonLibraries(t *testing.T) {
	requirePyLibs(t)
	runClientSuiteOn(t, outcroptest.Options{Families: familyall.Families, Models: pyLibModels()},
		[]string{"OUTCROP_TEST_EMBED_MODEL=" + echoEmbedModel},
		"python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", pyLibsDir, "--ignore="+pyLibsDir+"/test_real_model.py")
}

// TestPythonLibrariesLocal is one smoke test per client against the
// built-in engine with the real default weights.
func TestPythonLibrariesLocal(t *testing.T) {
	requirePyLibs(t)
	dir := realModelsDir(t)
	def, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	opts := localServerOptions(dir, def)
	runClientSuiteOn(t, opts, []string{"OUTCROP_TEST_LOCAL=1"},
		"python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", pyLibsDir+"/test_real_model.py")
}
