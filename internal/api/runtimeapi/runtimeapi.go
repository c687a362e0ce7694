// Package runtimeapi serves bedrock-runtime over HTTP: InvokeModel,
// InvokeModelWithResponseStream, Converse, ConverseStream and CountTokens.
// It decodes each wire format into canonical provider types (through the
// model's family codec, or the Converse format), authorizes the call, runs
// it on the backend the catalog names, and encodes the answer.
package runtimeapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/outcrop/outcrop/internal/awsapi"
	"github.com/outcrop/outcrop/internal/awsapi/restjson"
	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/reqctx"
)

// Authorizer decides whether a principal may perform an action on a resource.
type Authorizer interface {
	Authorize(ctx context.Context, p *reqctx.Principal, action, resource string) error
}

// Backends finds the adapter serving a catalog model (its backend, or a
// router over its backends).
type Backends interface {
	Model(id string) (provider.Adapter, bool)
}

// Options configures the handler.
type Options struct {
	Logger            *slog.Logger
	Catalog           *catalog.Catalog
	Families          *family.Registry
	Backends          Backends
	Auth              Authorizer
	Now               func() time.Time
	InvocationTimeout time.Duration
	Metrics           *Metrics
	// StrictConverse refuses Converse requests that use what a model
	// lacks, with Bedrock's messages, instead of adapting them (package
	// adapt). Callers can ask for it per request.
	StrictConverse bool
}

// Handler serves the runtime operations.
type Handler struct {
	opts Options
	log  *slog.Logger
}

// New returns a Handler.
func New(opts Options) *Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.InvocationTimeout == 0 {
		opts.InvocationTimeout = 10 * time.Minute
	}
	return &Handler{opts: opts, log: opts.Logger}
}

// Routes maps operation names to handlers; the server registers them on the
// patterns the service model gives.
func (h *Handler) Routes() map[string]func(http.ResponseWriter, *http.Request) error {
	return map[string]func(http.ResponseWriter, *http.Request) error{
		"InvokeModel":                   h.invokeModel,
		"InvokeModelWithResponseStream": h.invokeModelStream,
		"Converse":                      h.converse,
		"ConverseStream":                h.converseStream,
		"CountTokens":                   h.countTokens,
	}
}

// target is a resolved model with its backend.
type target struct {
	model   *catalog.Model
	arn     string
	adapter provider.Adapter
	adapted []string // adaptations made to a Converse request
}

// resolve finds the model named by the request path, authorizes action on
// it, and finds its backend.
func (h *Handler) resolve(r *http.Request, action string) (*target, error) {
	m, err := h.opts.Catalog.Lookup(r.PathValue("modelId"))
	if err != nil {
		return nil, err
	}
	t := &target{model: m, arn: h.opts.Catalog.ARN(m)}
	if err := h.opts.Auth.Authorize(r.Context(), reqctx.PrincipalFrom(r.Context()), action, t.arn); err != nil {
		return nil, err
	}
	a, ok := h.opts.Backends.Model(m.ID)
	if !ok {
		return nil, fault.Newf(fault.Unavailable, "The backend %q serving model %s is not available.", m.Backend, m.ID)
	}
	t.adapter = a
	return t, nil
}

// refused counts a call refused before its backend ran — a bad body,
// access denied on the model, a disabled model — in the model's invocation
// metrics, as CloudWatch's InvocationClientErrors counts it. A model the
// catalog does not know has no series (labels stay bounded by the catalog).
func (h *Handler) refused(r *http.Request, err error) {
	if err == nil {
		return
	}
	if m, lerr := h.opts.Catalog.Lookup(r.PathValue("modelId")); lerr == nil {
		h.opts.Metrics.record(m.ID, err, 0, 0, 0)
	}
}

// timeout derives the invocation context. Work stops when the client goes
// away (r.Context is cancelled) or the timeout passes.
func (h *Handler) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, h.opts.InvocationTimeout)
}

// backendError turns a context expiry into ModelTimeout.
func backendError(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fault.Wrap(fault.ModelTimeout, err, "Model has timed out in processing the request. Try your request again.")
	}
	return err
}

// WriteError renders err for the runtime service.
func WriteError(w http.ResponseWriter, err error) { restjson.WriteError(w, awsapi.Runtime, err) }

func readBody(r *http.Request) ([]byte, error) { return restjson.ReadBody(r) }
