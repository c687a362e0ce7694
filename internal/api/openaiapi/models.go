package openaiapi

import (
	"net/http"

	"github.com/outcrop/outcrop/internal/catalog"
)

// Model is an entry of GET /v1/models.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// ModelList is the response of GET /v1/models.
type ModelList struct {
	Object string  `json:"object"`
	Data   []Model `json:"data"`
}

func model(m *catalog.Model) Model {
	owner := m.Provider
	if owner == "" {
		owner = "outcrop"
	}
	return Model{ID: m.ID, Object: "model", OwnedBy: owner}
}

// listModels lists every catalog model; it authorizes as
// bedrock:ListFoundationModels, like ListFoundationModels.
func (h *Handler) listModels(w http.ResponseWriter, r *http.Request) error {
	ms, err := h.m.List(r.Context())
	if err != nil {
		return err
	}
	out := ModelList{Object: "list", Data: make([]Model, 0, len(ms))}
	for i := range ms {
		out.Data = append(out.Data, model(&ms[i]))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (h *Handler) getModel(w http.ResponseWriter, r *http.Request) error {
	m, err := h.m.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, model(m))
}
