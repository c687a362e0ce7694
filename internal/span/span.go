// Package span lets domain code mark the phases of a request (a call to a
// backend, the engine's queue wait, prefill and decode) and annotate the
// request's span with what only it knows (the model, token usage, the
// finish reason), without depending on a tracing library.
//
// The server installs a Tracer in a request's context when tracing is on
// (internal/server/tracing.go, over OpenTelemetry). Without one every
// function here returns at once after a context lookup and allocates
// nothing; callers building attributes guard them with Span.Recording.
package span

import "context"

// Tracer starts spans and finds the current one. Implementations must be
// safe for concurrent use.
type Tracer interface {
	// Start starts a child of the span current in ctx.
	Start(ctx context.Context, name string) (context.Context, Recorder)
	// Current returns the span current in ctx.
	Current(ctx context.Context) Recorder
}

// Recorder is one span of a Tracer.
type Recorder interface {
	Set(attrs ...Attr)
	// End ends the span; a non-nil err marks it failed.
	End(err error)
}

type tracerKey struct{}

// WithTracer returns ctx carrying t.
func WithTracer(ctx context.Context, t Tracer) context.Context {
	return context.WithValue(ctx, tracerKey{}, t)
}

func tracerFrom(ctx context.Context) Tracer {
	t, _ := ctx.Value(tracerKey{}).(Tracer)
	return t
}

// Span is a span, or nothing when tracing is off (the zero Span).
type Span struct{ r Recorder }

// Recording reports whether the span records (tracing is on).
func (s Span) Recording() bool { return s.r != nil }

// Set adds attributes.
func (s Span) Set(attrs ...Attr) {
	if s.r != nil {
		s.r.Set(attrs...)
	}
}

// End ends the span.
func (s Span) End(err error) {
	if s.r != nil {
		s.r.End(err)
	}
}

// Start starts a child of the span current in ctx.
func Start(ctx context.Context, name string) (context.Context, Span) {
	t := tracerFrom(ctx)
	if t == nil {
		return ctx, Span{}
	}
	ctx, r := t.Start(ctx, name)
	return ctx, Span{r}
}

// Current returns the span current in ctx: in an API handler, the
// request's server span.
func Current(ctx context.Context) Span {
	t := tracerFrom(ctx)
	if t == nil {
		return Span{}
	}
	return Span{t.Current(ctx)}
}

// Attr is a span attribute: a string, an integer or a list of strings.
type Attr struct {
	Key  string
	Str  string
	Int  int64
	Strs []string
	Kind AttrKind
}

// AttrKind says which field of an Attr holds its value.
type AttrKind uint8

// The kinds of attribute value.
const (
	StringAttr AttrKind = iota
	IntAttr
	StringsAttr
)

// String returns a string attribute.
func String(k, v string) Attr { return Attr{Key: k, Str: v} }

// Int returns an integer attribute.
func Int(k string, v int) Attr { return Attr{Key: k, Int: int64(v), Kind: IntAttr} }

// Strings returns a string-list attribute.
func Strings(k string, v ...string) Attr { return Attr{Key: k, Strs: v, Kind: StringsAttr} }

// Attribute keys of OpenTelemetry's GenAI semantic conventions
// (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/), and
// Outcrop's own.
const (
	GenAISystem                = "gen_ai.system"
	GenAIOperationName         = "gen_ai.operation.name"
	GenAIRequestModel          = "gen_ai.request.model"
	GenAIRequestMaxTokens      = "gen_ai.request.max_tokens"
	GenAIUsageInputTokens      = "gen_ai.usage.input_tokens"
	GenAIUsageOutputTokens     = "gen_ai.usage.output_tokens"
	GenAIResponseFinishReasons = "gen_ai.response.finish_reasons"
	GenAIOutputType            = "gen_ai.output.type"
	// Images is the number of images an image generation returned.
	Images = "outcrop.images"
	// Backend is the configured name of the backend serving a call.
	Backend = "outcrop.backend"
)

// The GenAI operation names Outcrop's invocations are.
const (
	OpChat       = "chat"
	OpEmbeddings = "embeddings"
	// OpGenerateContent is image generation, with GenAIOutputType "image".
	OpGenerateContent = "generate_content"
)

// Invocation traces one model invocation: it annotates the request's span
// and a child span of the call to the backend.
type Invocation struct{ req, call Recorder }

// StartInvocation notes that the request invokes model (the catalog ID)
// with a GenAI operation (OpChat, OpEmbeddings), and starts the span of
// the call to its backend, named "{operation} {backendModel}" as the GenAI
// conventions name inference spans. Call the adapter with the returned
// context, then End.
func StartInvocation(ctx context.Context, op, model, backend, backendModel string) (context.Context, Invocation) {
	t := tracerFrom(ctx)
	if t == nil {
		return ctx, Invocation{}
	}
	inv := Invocation{req: t.Current(ctx)}
	inv.req.Set(String(GenAIOperationName, op), String(GenAIRequestModel, model))
	ctx, inv.call = t.Start(ctx, op+" "+backendModel)
	inv.call.Set(String(GenAIOperationName, op), String(GenAIRequestModel, backendModel), String(Backend, backend))
	return ctx, inv
}

// Set adds attributes to the backend call's span and the request's.
func (i Invocation) Set(attrs ...Attr) {
	if i.call == nil {
		return
	}
	i.call.Set(attrs...)
	i.req.Set(attrs...)
}

// End ends the backend call's span with the invocation's token usage and
// finish reason ("" if none), which also go on the request's span.
func (i Invocation) End(err error, in, out int, finish string) {
	if i.call == nil {
		return
	}
	attrs := []Attr{Int(GenAIUsageInputTokens, in), Int(GenAIUsageOutputTokens, out)}
	if finish != "" {
		attrs = append(attrs, Strings(GenAIResponseFinishReasons, finish))
	}
	if err == nil || in+out > 0 {
		i.call.Set(attrs...)
		i.req.Set(attrs...)
	}
	i.call.End(err)
}
