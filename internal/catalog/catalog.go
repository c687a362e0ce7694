// Package catalog maps model identifiers to models: their family (how
// InvokeModel bodies are read), the backend that serves them, and their
// capabilities (context window, system prompt, vision, tools, ...), which the
// runtime enforces or adapts to. Entries are data from configuration.
package catalog

import (
	"fmt"
	"sort"
	"strings"

	"github.com/outcrop/outcrop/internal/arn"
	"github.com/outcrop/outcrop/internal/fault"
)

// Capabilities describe what a model can do as served.
type Capabilities struct {
	ContextWindow   int  `yaml:"contextWindow" json:"contextWindow"`
	MaxOutputTokens int  `yaml:"maxOutputTokens" json:"maxOutputTokens"`
	System          bool `yaml:"system" json:"system"`
	Vision          bool `yaml:"vision" json:"vision"`
	Documents       bool `yaml:"documents" json:"documents"`
	Tools           bool `yaml:"tools" json:"tools"`
	Streaming       bool `yaml:"streaming" json:"streaming"`
	Prefill         bool `yaml:"prefill" json:"prefill"`
	Dimensions      int  `yaml:"dimensions,omitempty" json:"dimensions,omitempty"` // embedding models
	// Rerank marks a reranker (cross-encoder): it scores documents against
	// a query through bedrock-agent-runtime's Rerank and knowledge-base
	// reranking, and serves nothing else, so it needs no family.
	Rerank bool `yaml:"rerank,omitempty" json:"rerank,omitempty"`
}

// Model is one catalog entry.
type Model struct {
	ID           string `yaml:"id" json:"id"`
	Name         string `yaml:"name" json:"name"`
	Provider     string `yaml:"provider" json:"provider"`
	Family       string `yaml:"family" json:"family"`
	Backend      string `yaml:"backend" json:"backend"`
	BackendModel string `yaml:"backendModel" json:"backendModel"`
	// Backends, instead of Backend and BackendModel, lists several
	// backends serving the model (docs/routing.md). After New, Backend and
	// BackendModel name the first of them by priority.
	Backends  []Route      `yaml:"backends,omitempty" json:"backends,omitempty"`
	Input     []string     `yaml:"input" json:"input"`   // TEXT, IMAGE, ...
	Output    []string     `yaml:"output" json:"output"` // TEXT, EMBEDDING, IMAGE
	Customize []string     `yaml:"customizations,omitempty" json:"customizations,omitempty"`
	Lifecycle string       `yaml:"lifecycle,omitempty" json:"lifecycle,omitempty"` // ACTIVE (default) or LEGACY
	Caps      Capabilities `yaml:"capabilities" json:"capabilities"`
	// Note says how the model is really served, e.g. which local model
	// stands in for a well-known Bedrock ID.
	Note string `yaml:"note,omitempty" json:"note,omitempty"`
}

// Route is one of several backends serving a model.
type Route struct {
	Backend      string `yaml:"backend" json:"backend"`
	BackendModel string `yaml:"backendModel" json:"backendModel"`
	// Weight shares calls among routes of equal priority (default 1).
	Weight *int `yaml:"weight,omitempty" json:"weight,omitempty"`
	// Priority orders routes: the lowest number is tried first.
	Priority int `yaml:"priority,omitempty" json:"priority,omitempty"`
}

// Routes returns the backends serving m: its Backends, or its single
// Backend with weight 1.
func (m *Model) Routes() []Route {
	if len(m.Backends) > 0 {
		return m.Backends
	}
	one := 1
	return []Route{{Backend: m.Backend, BackendModel: m.BackendModel, Weight: &one}}
}

// checkRoutes validates m.Backends and points Backend and BackendModel at
// the first route by priority.
func checkRoutes(m *Model, backends map[string]bool) error {
	if len(m.Backends) == 0 {
		if backends != nil && !backends[m.Backend] {
			return fmt.Errorf("model %q: backend %q is not configured", m.ID, m.Backend)
		}
		return nil
	}
	if m.Backend != "" || m.BackendModel != "" {
		return fmt.Errorf("model %q: set backend and backendModel, or backends, not both", m.ID)
	}
	m.Backends = append([]Route(nil), m.Backends...) // New must not write into its argument
	seen := map[Route]bool{}
	first := -1
	for i := range m.Backends {
		r := &m.Backends[i]
		if backends != nil && !backends[r.Backend] {
			return fmt.Errorf("model %q: backends[%d]: backend %q is not configured", m.ID, i, r.Backend)
		}
		if r.Weight == nil {
			one := 1
			r.Weight = &one
		}
		if *r.Weight <= 0 {
			return fmt.Errorf("model %q: backends[%d] (%s): weight must be positive, not %d", m.ID, i, r.Backend, *r.Weight)
		}
		key := Route{Backend: r.Backend, BackendModel: r.BackendModel}
		if seen[key] {
			return fmt.Errorf("model %q: backends[%d]: backend %q with backendModel %q is listed twice", m.ID, i, r.Backend, r.BackendModel)
		}
		seen[key] = true
		if first < 0 || r.Priority < m.Backends[first].Priority {
			first = i
		}
	}
	m.Backend, m.BackendModel = m.Backends[first].Backend, m.Backends[first].BackendModel
	return nil
}

// BackendName names the backend serving the model, or "routed" when a
// router chooses among several per call (traces' outcrop.backend).
func (m *Model) BackendName() string {
	if len(m.Backends) > 1 {
		return "routed"
	}
	return m.Backend
}

// Embedding reports whether the model outputs embeddings.
func (m *Model) Embedding() bool { return has(m.Output, "EMBEDDING") }

// Reranker reports whether the model is a reranker (Caps.Rerank).
func (m *Model) Reranker() bool { return m.Caps.Rerank }

// Image reports whether the model outputs images.
func (m *Model) Image() bool { return has(m.Output, "IMAGE") }

func has(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Catalog is an immutable set of models.
type Catalog struct {
	region string
	models []Model
	byID   map[string]*Model
	arns   map[string]string // foundation-model ARNs by model ID, made once
}

// Validator checks references from models to other configuration.
type Validator struct {
	Families map[string]bool
	Backends map[string]bool
}

// New validates models and returns a catalog. region names the region in
// foundation-model ARNs.
func New(region string, models []Model, v Validator) (*Catalog, error) {
	c := &Catalog{region: region, byID: map[string]*Model{}, arns: map[string]string{}}
	c.models = append(c.models, models...)
	sort.Slice(c.models, func(i, j int) bool { return c.models[i].ID < c.models[j].ID })
	for i := range c.models {
		m := &c.models[i]
		ref, err := arn.ParseModelID(m.ID)
		if err != nil || ref.IsARN || ref.Kind != arn.FoundationModel {
			return nil, fmt.Errorf("model %q: id must be a plain model ID like provider.name-v1:0", m.ID)
		}
		if _, dup := c.byID[m.ID]; dup {
			return nil, fmt.Errorf("model %q is listed twice", m.ID)
		}
		if v.Families != nil && !v.Families[m.Family] && !(m.Family == "" && m.Caps.Rerank) {
			return nil, fmt.Errorf("model %q: unknown family %q", m.ID, m.Family)
		}
		if err := checkRoutes(m, v.Backends); err != nil {
			return nil, err
		}
		if len(m.Output) == 0 {
			return nil, fmt.Errorf("model %q: output modalities missing", m.ID)
		}
		if m.Lifecycle == "" {
			m.Lifecycle = "ACTIVE"
		}
		if m.Name == "" {
			m.Name = m.ID
		}
		c.byID[m.ID] = m
		c.arns[m.ID] = arn.FoundationModelARN(region, m.ID)
	}
	return c, nil
}

// Region returns the catalog's region.
func (c *Catalog) Region() string { return c.region }

// List returns every model in ID order.
func (c *Catalog) List() []Model { return c.models }

// ErrInvalidModel is the message Bedrock's runtime gives for an unknown model.
const ErrInvalidModel = "The provided model identifier is invalid."

// Resolve finds the model a reference names. Inference-profile IDs resolve
// to the model they route to.
func (c *Catalog) Resolve(ref arn.ModelRef) (*Model, error) {
	id := ref.ID
	if ref.Kind == arn.InferenceProfile {
		if _, rest, ok := strings.Cut(id, "."); ok {
			id = rest
		}
	}
	if ref.Kind == arn.ApplicationInferenceProfile || ref.Kind == arn.CustomModel {
		return nil, fault.New(fault.Invalid, ErrInvalidModel)
	}
	m, ok := c.byID[id]
	if !ok {
		return nil, fault.New(fault.Invalid, ErrInvalidModel)
	}
	return m, nil
}

// Lookup resolves a raw identifier (ID or ARN).
func (c *Catalog) Lookup(s string) (*Model, error) {
	ref, err := arn.ParseModelID(s)
	if err != nil {
		return nil, err
	}
	return c.Resolve(ref)
}

// ARN returns the foundation-model ARN of m.
func (c *Catalog) ARN(m *Model) string {
	if a, ok := c.arns[m.ID]; ok {
		return a
	}
	return arn.FoundationModelARN(c.region, m.ID)
}
