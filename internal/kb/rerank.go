package kb

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// Rerankers is implemented by Models that also resolve reranker models.
// It is optional: without it every reranking request fails as for a model
// the account has no access to.
type Rerankers interface {
	// Reranker returns the reranker serving a reranker model and the
	// backend's name for it.
	Reranker(modelARN string) (r provider.Reranker, model string, err error)
}

// MsgNoReranker is what a reranking request to a model that no backend
// reranks for fails with: Bedrock's message for a model the account may
// not use, then what an operator must do.
const MsgNoReranker = "You don't have access to the model with the specified model ID. No reranker serves this model on this server; an operator must point its backend at a rerank server (docs/knowledge-bases.md, Reranking)."

// RerankRequest is a Rerank call: documents scored against a query.
type RerankRequest struct {
	ModelARN  string
	Query     string
	Documents []string
	N         int             // how many results; 0 for all
	Extra     json.RawMessage // additionalModelRequestFields
}

// Rerank scores r.Documents against r.Query with the reranker model and
// returns the best r.N of them, best first.
func (s *Service) Rerank(ctx context.Context, r RerankRequest) ([]provider.RerankResult, error) {
	rr, model, err := s.reranker(r.ModelARN)
	if err != nil {
		return nil, err
	}
	resp, err := rr.Rerank(ctx, &provider.RerankRequest{Model: model, Query: r.Query, Documents: r.Documents, TopN: r.N, Extra: r.Extra})
	if err != nil {
		return nil, err
	}
	out := resp.Results
	if r.N > 0 && len(out) > r.N {
		out = out[:r.N]
	}
	return out, nil
}

func (s *Service) reranker(modelARN string) (provider.Reranker, string, error) {
	m, ok := s.opts.Models.(Rerankers)
	if !ok {
		return nil, "", fault.New(fault.Denied, MsgNoReranker)
	}
	return m.Reranker(modelARN)
}

// Metadata selection modes of reranking (RerankingMetadataSelectionMode).
const (
	RerankMetadataAll       = "ALL"
	RerankMetadataSelective = "SELECTIVE"
)

// Reranking asks Retrieve to rerank its results with a reranker model
// (vectorSearchConfiguration.rerankingConfiguration).
type Reranking struct {
	ModelARN string
	// N is how many results are returned after reranking
	// (numberOfRerankedResults); 0 means the query's N.
	N     int
	Extra json.RawMessage
	// Metadata says which metadata the reranker sees with each passage:
	// "" none, ALL every attribute, SELECTIVE those in Include (or, when
	// Include is empty, all but those in Exclude).
	Metadata         string
	Include, Exclude []string
}

// maxRerankCandidates bounds the passages sent to the reranker.
const maxRerankCandidates = 100

// retrieveReranked retrieves more candidates than asked for (four times
// the results wanted, at least the query's N, at most 100), has the
// reranker score them against the query and returns the best, scored by
// the reranker.
func (s *Service) retrieveReranked(ctx context.Context, q Query) ([]Result, error) {
	rk := q.Rerank
	if _, err := s.opts.Store.KnowledgeBase(ctx, q.KBID); err != nil {
		return nil, err
	}
	rr, model, err := s.reranker(rk.ModelARN)
	if err != nil {
		return nil, err
	}
	n := q.N
	if n <= 0 {
		n = 5
	}
	want := n
	if rk.N > 0 {
		want = rk.N
	}
	cand := q
	cand.Rerank = nil
	cand.N = max(n, min(maxRerankCandidates, 4*want))
	res, err := s.Retrieve(ctx, cand)
	if err != nil || len(res) == 0 {
		return res, err
	}
	docs := make([]string, len(res))
	for i, r := range res {
		docs[i] = rerankText(r, rk)
	}
	resp, err := rr.Rerank(ctx, &provider.RerankRequest{Model: model, Query: q.Text, Documents: docs, TopN: min(want, len(docs)), Extra: rk.Extra})
	if err != nil {
		return nil, err
	}
	out := make([]Result, 0, min(want, len(resp.Results)))
	for _, x := range resp.Results {
		if len(out) == want {
			break
		}
		r := res[x.Index]
		r.Score = x.Score
		out = append(out, r)
	}
	return out, nil
}

// rerankText is what the reranker reads of a passage: its text and, as
// the configuration selects, its metadata as "key: value" lines.
func rerankText(r Result, rk *Reranking) string {
	if rk.Metadata == "" || len(r.Meta) == 0 {
		return r.Text
	}
	inc := map[string]bool{}
	for _, k := range rk.Include {
		inc[k] = true
	}
	exc := map[string]bool{}
	for _, k := range rk.Exclude {
		exc[k] = true
	}
	var b strings.Builder
	b.WriteString(r.Text)
	for _, k := range sortedKeys(r.Meta) {
		if k == metaParentText || k == metaParentSeq {
			continue
		}
		if rk.Metadata == RerankMetadataSelective && (len(inc) > 0 && !inc[k] || exc[k]) {
			continue
		}
		v := r.Meta[k]
		if l, ok := v.([]string); ok {
			v = strings.Join(l, ", ")
		}
		fmt.Fprintf(&b, "\n%s: %v", k, v)
	}
	return b.String()
}
