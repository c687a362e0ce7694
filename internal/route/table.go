package route

import (
	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/provider"
)

// Table finds the adapter serving each backend and each catalog model.
type Table struct {
	backends map[string]provider.Adapter
	models   map[string]provider.Adapter
}

// NewTable builds the adapters of models over backends (by name). A model
// with one backend is served by that backend's adapter directly; a model
// with several gets a Router, all of them sharing opts.Health. The catalog
// has already checked that every backend exists.
func NewTable(backends map[string]provider.Adapter, models []catalog.Model, opts Options) *Table {
	if opts.Health == nil {
		opts.Health = NewHealth(0, 0, nil)
	}
	t := &Table{backends: backends, models: make(map[string]provider.Adapter, len(models))}
	for i := range models {
		m := &models[i]
		if len(m.Backends) == 0 {
			if a, ok := backends[m.Backend]; ok {
				t.models[m.ID] = a
			}
			continue
		}
		var cands []Candidate
		for _, r := range m.Routes() {
			w := 1
			if r.Weight != nil {
				w = *r.Weight
			}
			cands = append(cands, Candidate{Backend: r.Backend, Model: r.BackendModel, Weight: w, Priority: r.Priority, Adapter: backends[r.Backend]})
		}
		t.models[m.ID] = New(m.ID, cands, opts)
	}
	return t
}

// Adapter returns the backend called name.
func (t *Table) Adapter(name string) (provider.Adapter, bool) {
	a, ok := t.backends[name]
	return a, ok
}

// Model returns the adapter serving the catalog model id.
func (t *Table) Model(id string) (provider.Adapter, bool) {
	a, ok := t.models[id]
	return a, ok
}
