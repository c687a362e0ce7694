// Package route chooses, for one model ID, which of several backends serves
// a call: the lowest priority number first, weighted random among equals,
// skipping backends whose circuit breaker is open, and falling back to the
// next candidate when a call fails with a retryable fault before any output
// was sent. docs/routing.md describes the configuration.
package route

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"sync"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// Candidate is one backend that can serve a model.
type Candidate struct {
	Backend  string // the backend's configured name
	Model    string // the backend's own name for the model
	Weight   int    // > 0
	Priority int    // lowest first
	Adapter  provider.Adapter
}

// Observer is told about every routed call; the server counts them.
type Observer interface {
	// Call notes a call to backend and whether it failed (err != nil).
	Call(backend string, err error)
	// Fallback notes that a call moves on from backend after a failure.
	Fallback(backend string)
}

// Options configures a Router.
type Options struct {
	Health *Health // shared by every router (nil: a private one)
	// Rand returns a number in [0, 1) (nil: math/rand/v2).
	Rand     func() float64
	Observer Observer // may be nil
}

// Router is an adapter over several candidates. It is safe for concurrent
// use.
type Router struct {
	model string // the catalog model ID, for messages
	cands []Candidate
	opts  Options
	mu    sync.Mutex // guards opts.Rand, which need not be concurrency-safe
}

// countingRouter is a Router whose candidates can count tokens.
type countingRouter struct{ *Router }

var (
	_ provider.Adapter        = (*Router)(nil)
	_ provider.Embedder       = (*Router)(nil)
	_ provider.ImageGenerator = (*Router)(nil)
	_ provider.Reranker       = (*Router)(nil)
	_ provider.RawInvoker     = (*Router)(nil)
	_ provider.TokenCounter   = countingRouter{}
)

// New returns the adapter serving model through cands. A router is
// returned as a provider.TokenCounter too when some candidate counts
// tokens.
func New(model string, cands []Candidate, opts Options) provider.Adapter {
	if opts.Health == nil {
		opts.Health = NewHealth(0, 0, nil)
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	r := &Router{model: model, cands: cands, opts: opts}
	for _, c := range cands {
		if _, ok := c.Adapter.(provider.TokenCounter); ok {
			return countingRouter{r}
		}
	}
	return r
}

// Order returns the candidates in the order a call tries them: by
// priority, and within a priority a weighted random permutation. It does
// not look at health.
func (r *Router) Order() []Candidate {
	out := append([]Candidate(nil), r.cands...)
	r.mu.Lock()
	keys := make([]float64, len(out))
	for i := range out {
		keys[i] = r.opts.Rand()
	}
	r.mu.Unlock()
	// Weighted random permutation without replacement (Efraimidis–Spirakis):
	// sort by u^(1/w) descending, here as log(u)/w.
	idx := make([]int, len(out))
	score := make([]float64, len(out))
	for i := range out {
		idx[i] = i
		score[i] = math.Log(keys[i]) / float64(out[i].Weight)
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ca, cb := out[idx[a]], out[idx[b]]
		if ca.Priority != cb.Priority {
			return ca.Priority < cb.Priority
		}
		return score[idx[a]] > score[idx[b]]
	})
	sorted := make([]Candidate, len(out))
	for i, j := range idx {
		sorted[i] = out[j]
	}
	return sorted
}

// retryable reports whether another backend may succeed where this one
// failed.
func retryable(err error) bool {
	switch fault.KindOf(err) {
	case fault.Throttled, fault.Unavailable, fault.ModelTimeout, fault.ModelFailed:
		return true
	}
	return false
}

// outcomeOf classifies a finished call for the breaker.
func outcomeOf(ctx context.Context, err error) outcome {
	switch {
	case err == nil:
		return success
	case ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return neutral
	case retryable(err):
		return failure
	}
	return success
}

// run tries the candidates that eligible accepts, in order, with call.
// call reports whether output already reached the caller (then no other
// candidate is tried).
func (r *Router) run(ctx context.Context, eligible func(Candidate) bool, call func(Candidate) (sent bool, err error)) error {
	h := r.opts.Health
	order := r.Order()
	single := len(order) == 1
	var last error
	var prev string
	tried := 0
	for _, c := range order {
		if eligible != nil && !eligible(c) {
			continue
		}
		b := h.breaker(c.Backend)
		// A model with one backend always calls it: there is nowhere else
		// to go, and its own error says more than "circuit open".
		if !b.allow(h) && !single {
			continue
		}
		if tried > 0 && r.opts.Observer != nil {
			r.opts.Observer.Fallback(prev)
		}
		tried++
		prev = c.Backend
		sent, err := call(c)
		b.done(h, outcomeOf(ctx, err))
		if r.opts.Observer != nil {
			r.opts.Observer.Call(c.Backend, err)
		}
		if err == nil || sent || !retryable(err) || ctx.Err() != nil {
			return err
		}
		last = err
	}
	if last != nil {
		return last
	}
	if tried == 0 && eligible != nil && !r.anyEligible(eligible) {
		return fault.Newf(fault.Invalid, "No backend serving %s supports this operation.", r.model)
	}
	return fault.Newf(fault.Unavailable, "Every backend serving %s is failing; try again later.", r.model)
}

func (r *Router) anyEligible(eligible func(Candidate) bool) bool {
	for _, c := range r.cands {
		if eligible(c) {
			return true
		}
	}
	return false
}

func withModel(req *provider.Request, model string) *provider.Request {
	cp := *req
	cp.Model = model
	return &cp
}

// FormatsOutput reports whether every candidate honours Request.Format,
// so that a fallback cannot drop it.
func (r *Router) FormatsOutput() bool {
	for _, c := range r.cands {
		if !provider.FormatsOutput(c.Adapter) {
			return false
		}
	}
	return len(r.cands) > 0
}

// ReportsLogprobs reports whether every candidate honours
// Request.Logprobs.
func (r *Router) ReportsLogprobs() bool {
	for _, c := range r.cands {
		if !provider.ReportsLogprobs(c.Adapter) {
			return false
		}
	}
	return len(r.cands) > 0
}

// Converse runs req on the first candidate that answers.
func (r *Router) Converse(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	var resp *provider.Response
	err := r.run(ctx, nil, func(c Candidate) (bool, error) {
		var err error
		resp, err = c.Adapter.Converse(ctx, withModel(req, c.Model))
		return false, err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// ConverseStream streams from the first candidate that answers. Once a
// candidate has emitted an event, its failure is the stream's failure.
func (r *Router) ConverseStream(ctx context.Context, req *provider.Request, emit func(provider.Event) error) error {
	return r.run(ctx, nil, func(c Candidate) (bool, error) {
		sent := false
		var emitErr error
		err := c.Adapter.ConverseStream(ctx, withModel(req, c.Model), func(ev provider.Event) error {
			sent = true
			if err := emit(ev); err != nil {
				emitErr = err
				return err
			}
			return nil
		})
		if emitErr != nil {
			return true, emitErr
		}
		return sent, err
	})
}

func embedder(c Candidate) bool {
	_, ok := c.Adapter.(provider.Embedder)
	return ok
}

// Embed runs req on the first candidate that can embed and answers.
func (r *Router) Embed(ctx context.Context, req *provider.EmbedRequest) (*provider.EmbedResponse, error) {
	var resp *provider.EmbedResponse
	err := r.run(ctx, embedder, func(c Candidate) (bool, error) {
		cp := *req
		cp.Model = c.Model
		var err error
		resp, err = c.Adapter.(provider.Embedder).Embed(ctx, &cp)
		return false, err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func reranker(c Candidate) bool {
	_, ok := c.Adapter.(provider.Reranker)
	return ok
}

// Rerank runs req on the first candidate that reranks and answers.
func (r *Router) Rerank(ctx context.Context, req *provider.RerankRequest) (*provider.RerankResponse, error) {
	var resp *provider.RerankResponse
	err := r.run(ctx, reranker, func(c Candidate) (bool, error) {
		cp := *req
		cp.Model = c.Model
		var err error
		resp, err = c.Adapter.(provider.Reranker).Rerank(ctx, &cp)
		return false, err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func imageGenerator(c Candidate) bool {
	_, ok := c.Adapter.(provider.ImageGenerator)
	return ok
}

// GenerateImages runs req on the first candidate that generates images and
// answers.
func (r *Router) GenerateImages(ctx context.Context, req *provider.ImageRequest) (*provider.ImageResponse, error) {
	var resp *provider.ImageResponse
	err := r.run(ctx, imageGenerator, func(c Candidate) (bool, error) {
		cp := *req
		cp.Model = c.Model
		var err error
		resp, err = c.Adapter.(provider.ImageGenerator).GenerateImages(ctx, &cp)
		return false, err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// AcceptsRaw reports whether every candidate reads family's native bodies
// (model is ignored: each candidate has its own).
func (r *Router) AcceptsRaw(family, _ string) bool {
	for _, c := range r.cands {
		ri, ok := c.Adapter.(provider.RawInvoker)
		if !ok || !ri.AcceptsRaw(family, c.Model) {
			return false
		}
	}
	return true
}

// InvokeRaw sends body to the first candidate that answers.
func (r *Router) InvokeRaw(ctx context.Context, _ string, body []byte) (*provider.RawResponse, error) {
	var resp *provider.RawResponse
	err := r.run(ctx, nil, func(c Candidate) (bool, error) {
		var err error
		resp, err = c.Adapter.(provider.RawInvoker).InvokeRaw(ctx, c.Model, body)
		return false, err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// InvokeRawStream streams from the first candidate that answers.
func (r *Router) InvokeRawStream(ctx context.Context, _ string, body []byte, emit func([]byte) error) (provider.Usage, error) {
	var usage provider.Usage
	err := r.run(ctx, nil, func(c Candidate) (bool, error) {
		sent := false
		var emitErr error
		u, err := c.Adapter.(provider.RawInvoker).InvokeRawStream(ctx, c.Model, body, func(b []byte) error {
			sent = true
			if err := emit(b); err != nil {
				emitErr = err
				return err
			}
			return nil
		})
		usage = u
		if emitErr != nil {
			return true, emitErr
		}
		return sent, err
	})
	return usage, err
}

// CountTokens asks the first candidate by priority that counts tokens.
func (r countingRouter) CountTokens(ctx context.Context, req *provider.Request) (int, error) {
	cands := append([]Candidate(nil), r.cands...)
	sort.SliceStable(cands, func(a, b int) bool { return cands[a].Priority < cands[b].Priority })
	for _, c := range cands {
		if tc, ok := c.Adapter.(provider.TokenCounter); ok {
			return tc.CountTokens(ctx, withModel(req, c.Model))
		}
	}
	return 0, fault.New(fault.Internal, "no candidate counts tokens")
}
