// Package dialect is the core shared by Outcrop's non-AWS front doors, the
// OpenAI and Anthropic API dialects (openaiapi, anthropicapi). It resolves
// a model ID through the catalog, authorizes the call with the same IAM
// actions the Bedrock runtime uses, runs the canonical request on the
// model's backend under the invocation timeout, and records the same
// per-model metrics. The dialect packages only translate wire formats to
// and from provider types; there is no second pipeline.
package dialect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/outcrop/outcrop/internal/adapt"
	"github.com/outcrop/outcrop/internal/bufpool"
	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/reqctx"
	"github.com/outcrop/outcrop/internal/span"
	"github.com/outcrop/outcrop/internal/wirejson"
)

// Authorizer decides whether a principal may perform an action on a resource.
type Authorizer interface {
	Authorize(ctx context.Context, p *reqctx.Principal, action, resource string) error
}

// Backends finds the adapter serving a catalog model: its backend, or a
// router over its backends with fallback (route.Table).
type Backends interface {
	Model(id string) (provider.Adapter, bool)
}

// Admitter applies quotas to a model invocation before it runs, charging
// one request and estTokens input tokens; it returns a fault.Throttled
// error when a quota is exhausted. The server settles the charge with the
// tokens reported through reqctx.AddUsage when the request ends.
type Admitter interface {
	Admit(ctx context.Context, modelID string, estTokens int) error
}

// Recorder records per-model invocation metrics. The server passes the
// runtime's metrics, so a model's counters are the same whichever front
// door called it.
type Recorder interface {
	Record(modelID string, err error, d time.Duration, in, out int)
	FirstToken(modelID string, d time.Duration)
	Images(modelID string, n int)
}

// Options configures Models.
type Options struct {
	Catalog           *catalog.Catalog
	Backends          Backends
	Auth              Authorizer
	Metrics           Recorder // may be nil
	Quota             Admitter // may be nil: no quotas
	Now               func() time.Time
	InvocationTimeout time.Duration
	// Strict refuses what a model lacks instead of adapting, for every
	// request (the deployment's converse.strict).
	Strict bool
}

// Models runs canonical requests for the dialect handlers.
type Models struct {
	opts Options
}

// New returns Models.
func New(opts Options) *Models {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.InvocationTimeout == 0 {
		opts.InvocationTimeout = 10 * time.Minute
	}
	return &Models{opts: opts}
}

// Now returns the current time of the injected clock.
func (m *Models) Now() time.Time { return m.opts.Now() }

// Target is a resolved, authorized model with its backend.
type Target struct {
	Model   *catalog.Model
	ARN     string
	Adapter provider.Adapter
}

// Actions the dialects authorize, as the Bedrock runtime does for the
// equivalent calls.
const (
	ActionInvoke       = "bedrock:InvokeModel"
	ActionInvokeStream = "bedrock:InvokeModelWithResponseStream"
	ActionCountTokens  = "bedrock:CountTokens"
	ActionListModels   = "bedrock:ListFoundationModels"
	ActionGetModel     = "bedrock:GetFoundationModel"
)

// ErrNoModel is the message for a model the catalog does not have.
func errNoModel(id string) error {
	return fault.Newf(fault.NotFound, "The model `%s` does not exist or you do not have access to it.", id)
}

// Lookup finds a model by ID or ARN without authorizing.
func (m *Models) Lookup(id string) (*catalog.Model, error) {
	if id == "" {
		return nil, fault.New(fault.Invalid, "model: field required")
	}
	md, err := m.opts.Catalog.Lookup(id)
	if err != nil {
		if md := vendorModel(m.opts.Catalog.List(), id); md != nil {
			return md, nil
		}
		return nil, errNoModel(id)
	}
	return md, nil
}

// bedrockVersion is the version suffix of a Bedrock model ID: "-v1:0",
// "-v2", "-1:0", ":0".
var bedrockVersion = regexp.MustCompile(`(-v\d+(:\d+)?|-\d+:\d+|:\d+)$`)

// vendorModel finds the catalog model a vendor's own model name stands
// for, so that programs written against OpenAI's or Anthropic's API keep
// their model names: the Bedrock ID without its provider prefix and
// version ("claude-3-haiku-20240307" is anthropic.claude-3-haiku-20240307-v1:0),
// or, for a name without its date, the one model with that name and a
// date ("claude-haiku-4-5" is claude-haiku-4-5-20251001). A name that
// matches several models, or none, finds nothing.
func vendorModel(models []catalog.Model, name string) *catalog.Model {
	if name == "" || strings.Contains(name, ".") || strings.Contains(name, ":") {
		return nil
	}
	var exact, dated []*catalog.Model
	for i := range models {
		_, rest, ok := strings.Cut(models[i].ID, ".")
		if !ok {
			continue
		}
		native := bedrockVersion.ReplaceAllString(rest, "")
		if native == name {
			exact = append(exact, &models[i])
		} else if date, ok := strings.CutPrefix(native, name+"-"); ok && isDate(date) {
			dated = append(dated, &models[i])
		}
	}
	switch {
	case len(exact) == 1:
		return exact[0]
	case len(exact) == 0 && len(dated) == 1:
		return dated[0]
	}
	return nil
}

// isDate reports whether s is eight digits, as in model names' dates.
func isDate(s string) bool {
	if len(s) != 8 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Resolve finds the model id names, authorizes action on its ARN (which
// also checks model access), and finds its backend.
func (m *Models) Resolve(ctx context.Context, id, action string) (*Target, error) {
	md, err := m.Lookup(id)
	if err != nil {
		return nil, err
	}
	t := &Target{Model: md, ARN: m.opts.Catalog.ARN(md)}
	if err := m.opts.Auth.Authorize(ctx, reqctx.PrincipalFrom(ctx), action, t.ARN); err != nil {
		return nil, err
	}
	a, ok := m.opts.Backends.Model(md.ID)
	if !ok {
		return nil, fault.Newf(fault.Unavailable, "The backend %q serving model %s is not available.", md.Backend, md.ID)
	}
	t.Adapter = a
	return t, nil
}

// Authorize checks action on resource for the caller.
func (m *Models) Authorize(ctx context.Context, action, resource string) error {
	return m.opts.Auth.Authorize(ctx, reqctx.PrincipalFrom(ctx), action, resource)
}

// List authorizes bedrock:ListFoundationModels and returns the catalog.
func (m *Models) List(ctx context.Context) ([]catalog.Model, error) {
	if err := m.Authorize(ctx, ActionListModels, "*"); err != nil {
		return nil, err
	}
	return m.opts.Catalog.List(), nil
}

// Get authorizes bedrock:GetFoundationModel on the model and returns it.
func (m *Models) Get(ctx context.Context, id string) (*catalog.Model, error) {
	md, err := m.Lookup(id)
	if err != nil {
		return nil, err
	}
	if err := m.Authorize(ctx, ActionGetModel, m.opts.Catalog.ARN(md)); err != nil {
		return nil, err
	}
	return md, nil
}

// ResolveChat resolves the model of a chat-style call, authorizing it as
// InvokeModel or, for a streamed call, InvokeModelWithResponseStream, and
// checks that the model can serve req (CheckChat).
func (m *Models) ResolveChat(ctx context.Context, id string, stream bool, req *provider.Request) (*Target, error) {
	action := ActionInvoke
	if stream {
		action = ActionInvokeStream
	}
	t, err := m.Resolve(ctx, id, action)
	if err != nil {
		return nil, err
	}
	if err := CheckChat(t, req); err != nil {
		return nil, err
	}
	return t, nil
}

// AdaptChat fits req to t's model as Converse does (adapt.Prepare: the
// system prompt folded, documents as text, tools through a JSON prompt, a
// prefill as an instruction, the context window checked), replacing t's
// adapter with one that reads the answers back when needed. Strict mode —
// the x-outcrop-strict request header or the deployment's Strict —
// refuses instead with Bedrock's messages. The adaptations made are named
// in the x-outcrop-adaptations response header; it returns the request to
// run.
func (m *Models) AdaptChat(w http.ResponseWriter, r *http.Request, t *Target, req *provider.Request) (*provider.Request, error) {
	strict := m.opts.Strict || r.Header.Get(adapt.StrictHeader) == "true"
	c, err := adapt.Prepare(r.Context(), t.Model.Caps, t.Adapter, req, adapt.Options{Strict: strict})
	if err != nil {
		return nil, err
	}
	if len(c.Applied) > 0 {
		w.Header().Set(adapt.Header, strings.Join(c.Applied, ","))
	}
	t.Adapter = c.Adapter
	return c.Request, nil
}

// CheckChat rejects requests a chat call cannot serve on t's model.
func CheckChat(t *Target, req *provider.Request) error {
	if t.Model.Embedding() {
		return fault.Newf(fault.Invalid, "The model `%s` is an embedding model and does not support this endpoint.", t.Model.ID)
	}
	if t.Model.Image() {
		return fault.Newf(fault.Invalid, "The model `%s` is an image generation model and does not support this endpoint; use /v1/images/generations.", t.Model.ID)
	}
	if t.Model.Reranker() {
		return fault.Newf(fault.Invalid, "The model `%s` is a reranker and does not support this endpoint; use bedrock-agent-runtime's Rerank.", t.Model.ID)
	}
	if req.Format != nil && !provider.FormatsOutput(t.Adapter) {
		return Invalid("response_format", fmt.Sprintf("The model `%s` cannot constrain its output to JSON on the backend serving it; response_format %s is not supported. Describe the format in the prompt instead.", t.Model.ID, req.Format.Type))
	}
	if req.Logprobs && !provider.ReportsLogprobs(t.Adapter) {
		return Invalid("logprobs", fmt.Sprintf("The model `%s` cannot report log probabilities on the backend serving it.", t.Model.ID))
	}
	if c := t.Model.Caps.MaxOutputTokens; c > 0 && req.MaxTokens > c {
		return fault.Newf(fault.Invalid, "max_tokens is too large: %d. This model supports at most %d completion tokens.", req.MaxTokens, c)
	}
	req.Model = t.Model.BackendModel
	return nil
}

// Converse runs req on t under the invocation timeout and records metrics.
func (m *Models) Converse(ctx context.Context, t *Target, req *provider.Request) (*provider.Response, error) {
	if err := m.admit(ctx, t, EstimateTokens(req)); err != nil {
		return nil, err
	}
	start := m.opts.Now()
	ctx, cancel := context.WithTimeout(ctx, m.opts.InvocationTimeout)
	defer cancel()
	ctx, tr := traceCall(ctx, span.OpChat, t)
	resp, err := t.Adapter.Converse(ctx, req)
	err = backendError(ctx, err)
	var u provider.Usage
	var stop provider.StopReason
	if resp != nil {
		u, stop = resp.Usage, resp.StopReason
	}
	tr.End(err, u.InputTokens, u.OutputTokens, string(stop))
	m.record(ctx, t, err, start, u)
	return resp, err
}

// Stream runs req on t, calling emit for each event, and records metrics
// including the time to the first token.
func (m *Models) Stream(ctx context.Context, t *Target, req *provider.Request, emit func(provider.Event) error) error {
	if !t.Model.Caps.Streaming {
		return fault.Newf(fault.Invalid, "The model `%s` does not support streaming.", t.Model.ID)
	}
	if err := m.admit(ctx, t, EstimateTokens(req)); err != nil {
		return err
	}
	start := m.opts.Now()
	ctx, cancel := context.WithTimeout(ctx, m.opts.InvocationTimeout)
	defer cancel()
	var usage provider.Usage
	var stop provider.StopReason
	first := true
	ctx, tr := traceCall(ctx, span.OpChat, t)
	err := t.Adapter.ConverseStream(ctx, req, func(ev provider.Event) error {
		if first && (ev.Type == provider.TextDeltaEvent || ev.Type == provider.ToolInputDeltaEvent || ev.Type == provider.ReasoningDeltaEvent) {
			first = false
			if m.opts.Metrics != nil {
				m.opts.Metrics.FirstToken(t.Model.ID, m.opts.Now().Sub(start))
			}
		}
		switch ev.Type {
		case provider.MetadataEvent:
			usage = ev.Usage
		case provider.MessageStopEvent:
			stop = ev.StopReason
		}
		return emit(ev)
	})
	err = backendError(ctx, err)
	tr.End(err, usage.InputTokens, usage.OutputTokens, string(stop))
	m.record(ctx, t, err, start, usage)
	return err
}

// Embed runs an embedding request on t.
func (m *Models) Embed(ctx context.Context, t *Target, req *provider.EmbedRequest) (*provider.EmbedResponse, error) {
	if !t.Model.Embedding() {
		return nil, fault.Newf(fault.Invalid, "The model `%s` does not support embeddings.", t.Model.ID)
	}
	e, ok := t.Adapter.(provider.Embedder)
	if !ok {
		return nil, fault.Newf(fault.Invalid, "The backend of model `%s` cannot compute embeddings.", t.Model.ID)
	}
	req.Model = t.Model.BackendModel
	chars := 0
	for _, s := range req.Texts {
		chars += len(s)
	}
	if err := m.admit(ctx, t, max(1, (chars+3)/4)); err != nil {
		return nil, err
	}
	start := m.opts.Now()
	ctx, cancel := context.WithTimeout(ctx, m.opts.InvocationTimeout)
	defer cancel()
	ctx, tr := traceCall(ctx, span.OpEmbeddings, t)
	resp, err := e.Embed(ctx, req)
	err = backendError(ctx, err)
	var u provider.Usage
	if resp != nil {
		u.InputTokens = resp.InputTokens
	}
	tr.End(err, u.InputTokens, 0, "")
	m.record(ctx, t, err, start, u)
	return resp, err
}

// GenerateImages runs an image request on t under the invocation timeout,
// charging quotas one request and records metrics; the images are reported
// for usage accounting (reqctx.AddImages).
func (m *Models) GenerateImages(ctx context.Context, t *Target, req *provider.ImageRequest) (*provider.ImageResponse, error) {
	if !t.Model.Image() {
		return nil, fault.Newf(fault.Invalid, "The model `%s` does not generate images.", t.Model.ID)
	}
	g, ok := t.Adapter.(provider.ImageGenerator)
	if !ok {
		return nil, fault.Newf(fault.Invalid, "The backend %q of model `%s` cannot generate images. Serve the model from an image backend such as kind openai-images (docs/backends.md).", t.Model.Backend, t.Model.ID)
	}
	req.Model = t.Model.BackendModel
	if err := m.admit(ctx, t, max(1, (len(req.Prompt)+len(req.NegativePrompt)+3)/4)); err != nil {
		return nil, err
	}
	start := m.opts.Now()
	ctx, cancel := context.WithTimeout(ctx, m.opts.InvocationTimeout)
	defer cancel()
	ctx, tr := traceCall(ctx, span.OpGenerateContent, t)
	tr.Set(span.String(span.GenAIOutputType, "image"))
	resp, err := g.GenerateImages(ctx, req)
	err = backendError(ctx, err)
	if err == nil {
		tr.Set(span.Int(span.Images, len(resp.Images)))
	}
	tr.End(err, 0, 0, "")
	if err == nil && len(resp.Images) != req.Count {
		err = fault.Newf(fault.ModelFailed, "The backend returned %d images for %d requested.", len(resp.Images), req.Count)
	}
	m.record(ctx, t, err, start, provider.Usage{})
	if err != nil {
		return nil, err
	}
	reqctx.AddImages(ctx, len(resp.Images))
	if m.opts.Metrics != nil {
		m.opts.Metrics.Images(t.Model.ID, len(resp.Images))
	}
	return resp, nil
}

// CountTokens counts the input tokens of req on t's backend, or estimates
// them when the backend cannot count.
func (m *Models) CountTokens(ctx context.Context, t *Target, req *provider.Request) (int, error) {
	req.Model = t.Model.BackendModel
	if tc, ok := t.Adapter.(provider.TokenCounter); ok {
		return tc.CountTokens(ctx, req)
	}
	return EstimateTokens(req), nil
}

// admit applies quotas before an invocation of t.
func (m *Models) admit(ctx context.Context, t *Target, estTokens int) error {
	if m.opts.Quota == nil {
		return nil
	}
	return m.opts.Quota.Admit(ctx, t.Model.ID, estTokens)
}

// record reports an invocation's tokens for quotas and usage accounting
// (reqctx.AddUsage, as the Bedrock runtime does) and records its metrics.
func (m *Models) record(ctx context.Context, t *Target, err error, start time.Time, u provider.Usage) {
	reqctx.AddUsage(ctx, u.InputTokens, u.OutputTokens)
	if m.opts.Metrics == nil {
		return
	}
	if Gone(err) {
		err = fault.Wrap(fault.Invalid, err, "client closed request")
	}
	m.opts.Metrics.Record(t.Model.ID, err, m.opts.Now().Sub(start), u.InputTokens, u.OutputTokens)
}

// backendError turns a context expiry into ModelTimeout.
func backendError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fault.Wrap(fault.ModelTimeout, err, "The model timed out processing the request. Try again.")
	}
	return err
}

// Gone reports whether err means the caller went away.
func Gone(err error) bool { return errors.Is(err, context.Canceled) }

// EstimateTokens approximates a token count (about four characters per
// token) for backends that cannot count exactly.
func EstimateTokens(req *provider.Request) int {
	chars := utf8.RuneCountInString(req.Prompt) + utf8.RuneCountInString(provider.TextOf(req.System))
	for _, m := range req.Messages {
		chars += utf8.RuneCountInString(provider.TextOf(m.Content))
		for _, b := range m.Content {
			if b.ToolUse != nil {
				chars += len(b.ToolUse.Input)
			}
		}
	}
	for _, t := range req.Tools {
		chars += len(t.Name) + len(t.Description) + len(t.Schema)
	}
	return max(1, (chars+3)/4)
}

// MaxBody is the largest request body the dialects accept (Anthropic's
// Messages API limit).
const MaxBody = 32 << 20

// ReadJSON decodes r's body (at most MaxBody bytes) into v. Unknown fields
// are ignored, as both vendors' SDKs add fields over time; fields Outcrop
// cannot honour are rejected by the handlers one by one.
func ReadJSON(r *http.Request, v any) error {
	if r.Body == nil {
		return fault.New(fault.Invalid, "The request body is empty; send a JSON object.")
	}
	bp := bufpool.Get()
	defer bufpool.Put(bp)
	b := *bp
	// A declared length sizes the buffer at once, up to what would be
	// pooled: a larger body's memory grows only as its bytes arrive.
	if n := r.ContentLength; n > 0 && n < bufpool.MaxPooled && int(n) >= cap(b) {
		b = make([]byte, 0, n+1) // room to read the end of the body too
	}
	// One byte more than MaxBody tells a body that is too large.
	b, err := bufpool.ReadAtMost(r.Body, b, MaxBody+1)
	*bp = b
	if err != nil {
		return fault.Wrap(fault.Invalid, err, "Could not read the request body.")
	}
	if len(b) > MaxBody {
		return fault.Newf(fault.Invalid, "The request body is larger than %d bytes.", MaxBody)
	}
	// Decoding copies what it keeps (strings, json.RawMessage), so the
	// buffer can be reused once v is filled.
	return DecodeJSON(b, v)
}

// DecodeJSON decodes b into v with client-safe error messages.
func DecodeJSON(b []byte, v any) error {
	if len(b) == 0 {
		return fault.New(fault.Invalid, "The request body is empty; send a JSON object.")
	}
	if err := wirejson.Unmarshal(b, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fault.Wrap(fault.Invalid, err, "Invalid type for '"+te.Field+"': expected "+te.Type.String()+", got "+te.Value+".")
		}
		var ce interface{ ClientMessage() string }
		if errors.As(err, &ce) {
			return fault.Wrap(fault.Invalid, err, ce.ClientMessage())
		}
		return fault.Wrap(fault.Invalid, err, "We could not parse the JSON body of your request. The body must be a valid JSON object.")
	}
	return nil
}

// BadField is the error for a field with an invalid value; the message
// names the field so the dialects can report it as the error's param.
type BadField struct {
	Field string
	Msg   string
}

func (e *BadField) Error() string { return e.Msg }

// ClientMessage returns the message for the caller.
func (e *BadField) ClientMessage() string { return e.Msg }

// Invalid returns a fault.Invalid error about field, whose message is msg.
func Invalid(field, msg string) error {
	return fault.Wrap(fault.Invalid, &BadField{Field: field, Msg: msg}, msg)
}

// FieldOf returns the field an Invalid error names, if any.
func FieldOf(err error) string {
	var bf *BadField
	if errors.As(err, &bf) {
		return bf.Field
	}
	return ""
}

// WriteBody writes a whole answer: status, Content-Type, Content-Length
// and b. The server sends it when the handler returns (a long one goes out
// as it is written), then does the call's bookkeeping.
func WriteBody(w http.ResponseWriter, status int, contentType []string, b []byte) error {
	h := w.Header()
	h["Content-Type"] = contentType
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	writingLast(w)
	_, err := w.Write(b)
	return err
}

// writingLast tells w, when it wants to know, that the answer's last
// bytes are written next: the server then holds back whatever reads the
// call's bookkeeping (the audit trail, the usage report) until that
// bookkeeping is done, so that a client that has its whole answer finds
// the call there, however soon it asks.
func writingLast(w http.ResponseWriter) {
	if l, ok := w.(interface{ WritingLast() }); ok {
		l.WritingLast()
	}
}
