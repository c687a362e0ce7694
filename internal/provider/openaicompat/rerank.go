package openaicompat

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

var _ provider.Reranker = (*Client)(nil)

// The de-facto rerank endpoint: POST {baseURL}/rerank with {model, query,
// documents, top_n}, answered with {results: [{index, relevance_score}]}
// best first. vLLM, llama.cpp's server, Jina (api.jina.ai/v1) and Cohere
// (api.cohere.com/v2) serve it with this shape; they add fields (id, model,
// usage, meta, document) that are not needed here.
type (
	rerankRequest struct {
		Model     string   `json:"model"`
		Query     string   `json:"query"`
		Documents []string `json:"documents"`
		TopN      int      `json:"top_n,omitempty"`
	}
	rerankResponse struct {
		Results []struct {
			Index          *int     `json:"index"`
			RelevanceScore *float64 `json:"relevance_score"`
		} `json:"results"`
	}
)

// Rerank calls /rerank with every document in one request. A request's
// Extra fields are added to the body when they do not clash with the ones
// set here (return_documents, max_tokens_per_doc, ...).
func (c *Client) Rerank(ctx context.Context, req *provider.RerankRequest) (*provider.RerankResponse, error) {
	if len(req.Documents) == 0 {
		return nil, fault.New(fault.Invalid, "There are no documents to rerank.")
	}
	body, err := json.Marshal(rerankRequest{Model: req.Model, Query: req.Query, Documents: req.Documents, TopN: req.TopN})
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "The request cannot be encoded for the backend.")
	}
	if body, err = mergeExtra(body, req.Extra); err != nil {
		return nil, err
	}
	var rr rerankResponse
	if err := c.HTTP.PostJSON(ctx, "/rerank", body, 64<<20, &rr, "a rerank response"); err != nil {
		return nil, err
	}
	out := &provider.RerankResponse{Results: make([]provider.RerankResult, 0, len(rr.Results))}
	seen := make([]bool, len(req.Documents))
	for _, r := range rr.Results {
		if r.Index == nil || r.RelevanceScore == nil || *r.Index < 0 || *r.Index >= len(seen) || seen[*r.Index] {
			return nil, fault.Newf(fault.ModelFailed, "The %s backend sent rerank results with a missing or bad index or score.", c.name())
		}
		seen[*r.Index] = true
		out.Results = append(out.Results, provider.RerankResult{Index: *r.Index, Score: *r.RelevanceScore})
	}
	// Servers send results best first; sort anyway, so that one that does
	// not cannot change the order callers see.
	sort.SliceStable(out.Results, func(i, j int) bool { return out.Results[i].Score > out.Results[j].Score })
	if req.TopN > 0 && len(out.Results) > req.TopN {
		out.Results = out.Results[:req.TopN]
	}
	return out, nil
}

// mergeExtra adds the top-level fields of extra (a JSON object) to body
// where body does not set them.
func mergeExtra(body []byte, extra json.RawMessage) ([]byte, error) {
	if len(extra) == 0 || string(extra) == "null" {
		return body, nil
	}
	var add map[string]json.RawMessage
	if err := json.Unmarshal(extra, &add); err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "additionalModelRequestFields must be a JSON object.")
	}
	if len(add) == 0 {
		return body, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fault.Wrap(fault.Internal, err, "")
	}
	for k, v := range add {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	return json.Marshal(m)
}
