package server_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/outcrop/outcrop/internal/outcroptest"
)

// TestJSDialects drives the OpenAI and Anthropic dialects with the
// vendors' npm SDKs (test/js-dialects), installed by scripts/test.sh.
func TestJSDialects(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(moduleRoot, "test", "js-dialects", "node_modules")); err != nil {
		t.Skip("the openai and @anthropic-ai/sdk packages are not installed: run `npm ci --prefix test/js-dialects`")
	}
	runClientSuiteOn(t, outcroptest.Options{Models: dialectModels()}, []string{"OUTCROP_TEST_EMBED_MODEL=" + echoEmbedModel},
		"node", "--test", "test/js-dialects/")
}
