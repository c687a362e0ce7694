package server_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

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
	models := append(dialectModels(), claude, titan)
	// The other chat families whose native bodies ChatBedrock writes.
	for id, fam := range map[string]string{
		"meta.llama3-8b-instruct-v1:0":     "meta-llama",
		"mistral.mistral-7b-instruct-v0:2": "mistral-text",
		"amazon.titan-text-express-v1":     "titan-text",
		"cohere.command-r-v1:0":            "cohere-command-r",
		"ai21.jamba-1-5-mini-v1:0":         "ai21-jamba",
		"amazon.nova-micro-v1:0":           "nova",
		"anthropic.claude-v2:1":            "anthropic-text",
	} {
		m := claude
		m.ID, m.Name, m.Family = id, id, fam
		models = append(models, m)
	}
	for id, fam := range map[string]string{"amazon.titan-embed-text-v2:0": "titan-embed-v2", "cohere.embed-english-v3": "cohere-embed"} {
		m := titan
		m.ID, m.Name, m.Family = id, id, fam
		models = append(models, m)
	}
	slices.SortFunc(models, func(a, b catalog.Model) int { return strings.Compare(a.ID, b.ID) })
	return models
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

// TestInvokeClaude2Messages: Bedrock serves the Messages API on Claude 2.x
// as well as Text Completions, and LangChain's ChatBedrock sends Messages
// bodies to anthropic.claude-v2:1; both bodies get their own answers.
func TestInvokeClaude2Messages(t *testing.T) {
	srv := outcroptest.NewServer(t, outcroptest.Options{Families: familyall.Families, Models: pyLibModels()})
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	for _, tc := range []struct{ name, body, want string }{
		{"messages", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":"granite basalt"}]}`,
			`"content":[{"type":"text","text":"granite basalt"}]`},
		{"text", `{"prompt":"\n\nHuman: granite basalt\n\nAssistant:","max_tokens_to_sample":10}`,
			`{"completion":"granite basalt","stop_reason":"stop_sequence","stop":"\n\nHuman:"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := c.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{
				ModelId: aws.String("anthropic.claude-v2:1"), ContentType: aws.String("application/json"), Body: []byte(tc.body)})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(out.Body), tc.want) {
				t.Errorf("InvokeModel(%s) = %s, want it to contain %s", tc.body, out.Body, tc.want)
			}
		})
	}
}
