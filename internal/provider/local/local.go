// Package local is the built-in engine backend ("kind: local"): it serves
// GGUF chat models and sentence-transformers embedding models from the
// models directory on the CPU, with no external server.
//
// A catalog entry's backendModel names a file (a GGUF chat model) or a
// directory (a sentence-transformers model with safetensors weights)
// inside the models directory. Models are loaded on first use and unloaded
// after keepAlive without requests; internal/engine/sched bounds the
// concurrent sequences and the queue of each model and checks memory
// before loading. docs/engine.md describes the configuration.
package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/engine/arch/all"
	"github.com/outcrop/outcrop/internal/engine/bert"
	"github.com/outcrop/outcrop/internal/engine/chat"
	"github.com/outcrop/outcrop/internal/engine/gguf"
	"github.com/outcrop/outcrop/internal/engine/llm"
	"github.com/outcrop/outcrop/internal/engine/sched"
	"github.com/outcrop/outcrop/internal/engine/tensor"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// Spec registers the "local" backend kind.
var Spec = provider.Spec{Kind: "local", New: newAdapter}

// Defaults of Config.
const (
	DefaultSessionsPerModel = 2
	DefaultQueueDepth       = sched.DefaultQueueDepth
	DefaultKeepAlive        = sched.DefaultKeepAlive
	DefaultContextTokens    = 4096
	// DefaultMaxTokens is the output limit when a request sets none.
	DefaultMaxTokens = 512
	// DefaultTemperature and DefaultTopP apply when a request leaves
	// them unset; they are Titan Text's defaults on Bedrock.
	DefaultTemperature = 0.7
	DefaultTopP        = 0.9
)

// Config is the backend's config block. Unknown fields are errors.
type Config struct {
	// ModelsDir overrides the server's models directory.
	ModelsDir string `json:"modelsDir"`
	// Threads is the number of compute threads per loaded model;
	// 0 means GOMAXPROCS.
	Threads int `json:"threads"`
	// SessionsPerModel is how many sequences of one model run at once,
	// each with its own KV cache (default 2).
	SessionsPerModel int `json:"sessionsPerModel"`
	// QueueDepth is how many more requests per model may wait; beyond it
	// requests fail with ThrottlingException (default 16; -1: none).
	QueueDepth int `json:"queueDepth"`
	// KeepAlive is how long an unused model stays loaded: a Go duration
	// such as "5m" or a number of seconds; negative keeps models loaded
	// (default 5m).
	KeepAlive Duration `json:"keepAlive"`
	// ContextTokens is the KV-cache size of each session in tokens
	// (prompt plus output), capped at the model's trained context length
	// (default 4096).
	ContextTokens int `json:"contextTokens"`
	// MemoryBudgetBytes bounds the memory of all loaded models; 0 means
	// MemAvailable from /proc/meminfo less a 256 MiB margin, measured at
	// each load.
	MemoryBudgetBytes int64 `json:"memoryBudgetBytes"`
}

// Duration is a time.Duration that decodes from a Go duration string
// ("90s", "5m") or a number of seconds.
type Duration time.Duration

// UnmarshalJSON decodes "5m" or 300.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("keepAlive: %w", err)
		}
		*d = Duration(v)
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("keepAlive: want a duration string or seconds, got %s", b)
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

// FetchHint is how an operator gets the default weights.
const FetchHint = "scripts/fetch-models.sh"

// Adapter is the local backend. It is safe for concurrent use; Close
// unloads its models.
type Adapter struct {
	dir   string
	cfg   Config
	log   *slog.Logger
	sched *sched.Scheduler[*model, *llm.Session]
}

var (
	_ provider.Adapter        = (*Adapter)(nil)
	_ provider.Embedder       = (*Adapter)(nil)
	_ provider.TokenCounter   = (*Adapter)(nil)
	_ provider.ContextLimiter = (*Adapter)(nil)
	_ provider.ChatTemplater  = (*Adapter)(nil)
	_ io.Closer               = (*Adapter)(nil)
)

func newAdapter(raw json.RawMessage, env provider.Env) (provider.Adapter, error) {
	return New(raw, env)
}

// New builds the backend from its config block.
func New(raw json.RawMessage, env provider.Env) (*Adapter, error) {
	c, err := parseConfig(raw)
	if err != nil {
		return nil, err
	}
	dir := c.ModelsDir
	if dir == "" {
		dir = env.ModelsDir
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log = log.With("backend", "local")
	log.Info("engine kernels", "kernels", tensor.Kernels())
	a := &Adapter{dir: dir, cfg: c, log: log}
	a.sched = sched.New[*model, *llm.Session](loader{a}, sched.Options{
		Sessions:     c.SessionsPerModel,
		QueueDepth:   c.QueueDepth,
		KeepAlive:    time.Duration(c.KeepAlive),
		MemoryBudget: c.MemoryBudgetBytes,
		Logger:       log,
		Now:          env.Now,
	})
	return a, nil
}

func parseConfig(raw json.RawMessage) (Config, error) {
	var c Config
	if len(bytes.TrimSpace(raw)) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return c, fmt.Errorf("local backend config: %w", err)
		}
		if dec.More() {
			return c, errors.New("local backend config: trailing data")
		}
	}
	if c.Threads < 0 || c.SessionsPerModel < 0 || c.ContextTokens < 0 || c.MemoryBudgetBytes < 0 {
		return c, errors.New("local backend config: threads, sessionsPerModel, contextTokens and memoryBudgetBytes must not be negative")
	}
	if c.SessionsPerModel == 0 {
		c.SessionsPerModel = DefaultSessionsPerModel
	}
	if c.ContextTokens == 0 {
		c.ContextTokens = DefaultContextTokens
	}
	return c, nil
}

// Close unloads the models (those in use when their requests end).
func (a *Adapter) Close() error { return a.sched.Close() }

// ContextTokens returns the configured session size, contextTokens. A
// loaded model whose trained context is shorter holds fewer; that limit is
// enforced when the prompt is tokenized.
func (a *Adapter) ContextTokens(string) int { return a.cfg.ContextTokens }

// TemplatesChat reports whether name is a chat model: a GGUF file that
// carries a chat template (tokenizer.chat_template). A model without one,
// a base model, continues raw prompts as written. It loads the model if
// it is not loaded, as the request that asks would.
func (a *Adapter) TemplatesChat(ctx context.Context, name string) bool {
	ok := false
	_ = a.sched.Use(ctx, name, func(m *model) error {
		ok = m.chat != nil && m.templated
		return nil
	})
	return ok
}

// model is a loaded model: a chat model (with its template) or an
// embedder.
type model struct {
	chat  *llm.Model
	tmpl  *chat.Template
	ctx   int // positions of each session's KV cache
	embed *bert.Model
	// templated is set when the file has its own chat template; tmpl is
	// a fallback otherwise.
	templated bool
}

// path maps a backendModel name into the models directory; names cannot
// escape it.
func (a *Adapter) path(name string) (string, error) {
	p := filepath.Join(a.dir, filepath.Clean("/" + name)[1:])
	if _, err := os.Stat(p); err != nil {
		return "", fault.Newf(fault.ModelNotReady, "Model weights %s are not installed in %s. Run %s to fetch the default models.", name, a.dir, FetchHint)
	}
	return p, nil
}

// loader adapts the backend to sched.Loader.
type loader struct{ a *Adapter }

// embedWorkBytes is a rough bound on an embedder's activations besides
// its weights.
const embedWorkBytes = 64 << 20

func (l loader) Plan(name string) (sched.Plan, error) {
	p, err := l.a.path(name)
	if err != nil {
		return sched.Plan{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return sched.Plan{}, err
	}
	if st.IsDir() {
		var n int64
		ents, _ := os.ReadDir(p)
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && !fi.IsDir() && filepath.Ext(e.Name()) == ".safetensors" {
				n += fi.Size()
			}
		}
		return sched.Plan{WeightBytes: n + embedWorkBytes}, nil
	}
	f, err := gguf.Open(p)
	if err != nil {
		return sched.Plan{}, fault.Wrap(fault.ModelFailed, err, fmt.Sprintf("Model file %s is not a valid GGUF file.", name))
	}
	defer f.Close()
	return sched.Plan{WeightBytes: st.Size(), SessionBytes: sessionBytes(f, l.a.cfg.ContextTokens)}, nil
}

// sessionBytes estimates one session's memory from a GGUF header: the f32
// KV cache plus the scratch buffers of the forward pass.
func sessionBytes(f *gguf.File, ctx int) int64 {
	arch, _ := f.String("general.architecture")
	get := func(key string, def int64) int64 {
		if v, ok := f.Int(arch + "." + key); ok && v > 0 && v < 1<<24 {
			return v
		}
		return def
	}
	layers := get("block_count", 1)
	dim := get("embedding_length", 1)
	heads := get("attention.head_count", 1)
	kvHeads := get("attention.head_count_kv", heads)
	headDim := get("attention.key_length", dim/heads)
	ff := get("feed_forward_length", 4*dim)
	if n := get("context_length", 0); n > 0 {
		ctx = int(min(int64(ctx), n))
	}
	toks, _ := f.Strings("tokenizer.ggml.tokens")
	c := int64(ctx)
	kv := 2 * layers * kvHeads * headDim * 2 * c // F16 keys and values
	scratch := 4 * (int64(len(toks)) + 64*(3*dim+2*heads*headDim+2*ff) + heads*c + 2*64*kvHeads*headDim)
	return kv + scratch
}

func (l loader) Load(name string) (*model, error) {
	p, err := l.a.path(name)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		e, err := bert.Load(p, bert.Options{Threads: l.a.cfg.Threads})
		if err != nil {
			return nil, fault.Wrap(fault.ModelFailed, err, fmt.Sprintf("Embedding model %s failed to load.", name))
		}
		return &model{embed: e}, nil
	}
	m, err := llm.Load(p, llm.Options{Archs: all.Archs, Threads: l.a.cfg.Threads})
	if err != nil {
		return nil, fault.Wrap(fault.ModelFailed, err, fmt.Sprintf("Model %s failed to load.", name))
	}
	ctx := l.a.cfg.ContextTokens
	if n := m.Info().ContextLength; n > 0 {
		ctx = min(ctx, n)
	}
	src := m.ChatTemplate()
	return &model{chat: m, tmpl: chat.Load(src), ctx: ctx, templated: strings.TrimSpace(src) != ""}, nil
}

func (l loader) NewSession(m *model) (*llm.Session, error) {
	if m.chat == nil {
		return nil, nil
	}
	return m.chat.NewSession(m.ctx)
}

func (l loader) Unload(m *model) error {
	if m.chat != nil {
		return m.chat.Close()
	}
	return m.embed.Close()
}
