// Package local is the built-in engine backend ("kind: local"): it serves
// GGUF chat models and the MiniLM embedding model from the models
// directory on the CPU, with no external server.
package local

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// Spec registers the "local" backend kind.
var Spec = provider.Spec{Kind: "local", New: newAdapter}

// Config is the backend's config block.
type Config struct {
	// ModelsDir overrides the server's models directory.
	ModelsDir string `json:"modelsDir"`
	Threads   int    `json:"threads"`
}

type adapter struct {
	dir string
	cfg Config
}

func newAdapter(raw json.RawMessage, env provider.Env) (provider.Adapter, error) {
	var c Config
	if len(raw) > 0 {
		dec := json.NewDecoder(bytesReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("local backend config: %w", err)
		}
	}
	dir := c.ModelsDir
	if dir == "" {
		dir = env.ModelsDir
	}
	return &adapter{dir: dir, cfg: c}, nil
}

// FetchHint is how an operator gets the default weights.
const FetchHint = "scripts/fetch-models.sh"

func (a *adapter) path(model string) (string, error) {
	p := filepath.Join(a.dir, filepath.Clean("/" + model)[1:])
	if _, err := os.Stat(p); err != nil {
		return "", fault.Newf(fault.ModelNotReady, "Model weights %s are not installed in %s. Run %s to fetch the default models.", model, a.dir, FetchHint)
	}
	return p, nil
}

func (a *adapter) Converse(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	if _, err := a.path(req.Model); err != nil {
		return nil, err
	}
	return nil, fault.New(fault.ModelNotReady, "The built-in engine is not available in this build yet.")
}

func (a *adapter) ConverseStream(ctx context.Context, req *provider.Request, emit func(provider.Event) error) error {
	_, err := a.Converse(ctx, req)
	return err
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
