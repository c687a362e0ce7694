// Package weightstest finds the real default model weights for tests, and
// skips a test (naming the fetch command) when they have not been fetched.
// It looks where scripts/fetch-models.sh puts them: $OUTCROP_MODELS_DIR,
// else <data-dir>/models with <data-dir> from $OUTCROP_DATA_DIR or the
// server's default.
package weightstest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/outcrop/outcrop/internal/config"
)

// Dir returns the models directory.
func Dir() string {
	if d := os.Getenv("OUTCROP_MODELS_DIR"); d != "" {
		return d
	}
	data := os.Getenv("OUTCROP_DATA_DIR")
	if data == "" {
		data = config.DefaultDataDir()
	}
	return filepath.Join(data, "models")
}

// Path returns the path of name (a file or directory) inside Dir, or skips
// the test when it is absent.
func Path(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(Dir(), name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not found; fetch the default models with scripts/fetch-models.sh", p)
	}
	return p
}
