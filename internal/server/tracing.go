package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/outcrop/outcrop/internal/awsapi"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider/openaicompat"
	"github.com/outcrop/outcrop/internal/span"
)

// tracing is the server's OpenTelemetry state (docs/metrics.md, Traces).
// The server holds nil when tracing is off: then no handler is wrapped,
// no context carries a span.Tracer, and the request path is unchanged.
// Nothing here is global: the provider, propagator and tracer are the
// server's own, so two servers in one process (tests) do not mix.
type tracing struct {
	tp   *sdktrace.TracerProvider
	prop propagation.TextMapPropagator
	hook otelHook
}

// newTracing builds the exporter and tracer provider when an OTLP
// endpoint is configured in c or the standard environment variables.
func newTracing(ctx context.Context, c config.Telemetry, getenv func(string) string) (*tracing, error) {
	if getenv("OTEL_SDK_DISABLED") == "true" {
		return nil, nil
	}
	if c.OTLPEndpoint == "" && getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return nil, nil
	}
	protocol := c.Protocol
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if protocol == "" {
			protocol = getenv(k)
		}
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch protocol {
	case "grpc":
		var opts []otlptracegrpc.Option
		if c.OTLPEndpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(c.OTLPEndpoint))
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	case "", "http/protobuf":
		// Without an endpoint in the configuration the exporter reads
		// the OTEL_EXPORTER_OTLP_* variables itself.
		var opts []otlptracehttp.Option
		if c.OTLPEndpoint != "" {
			u, err := url.Parse(c.OTLPEndpoint)
			if err != nil {
				return nil, fmt.Errorf("telemetry.otlpEndpoint: %w", err)
			}
			if u.Path == "" || u.Path == "/" {
				u.Path = "/v1/traces"
			}
			opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	default:
		return nil, fmt.Errorf("OTLP protocol %q: want http/protobuf or grpc", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	ratio := 1.0
	if c.SampleRatio != nil {
		ratio = *c.SampleRatio
	}
	name := getenv("OTEL_SERVICE_NAME")
	if name == "" {
		name = c.ServiceName
	}
	if name == "" {
		name = "outcrop"
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", name))),
		// A caller's sampling decision (the traceparent's flag) wins, so a
		// trace is never cut in half at the gateway.
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	)
	return &tracing{
		tp:   tp,
		prop: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		hook: otelHook{tp.Tracer("github.com/outcrop/outcrop")},
	}, nil
}

// setupTracing starts tracing from the configuration and the process
// environment.
func (s *Server) setupTracing(ctx context.Context) (err error) {
	s.tracing, err = newTracing(ctx, s.opts.Config.Telemetry, os.Getenv)
	return err
}

// traced wraps h, the pipeline of one operation, in its server span named
// by operation ("bedrock-runtime.Converse", "openai.ChatCompletions"),
// never by path (model IDs would make names unbounded). An incoming
// traceparent makes the span its child. The span.Tracer in the request's
// context lets the handlers, adapters and engine below add their spans.
func (s *Server) traced(name string, h http.Handler, attrs ...attribute.KeyValue) http.Handler {
	t := s.tracing
	if t == nil || name == "" {
		return h
	}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(span.WithTracer(r.Context(), t.hook)))
	})
	return otelhttp.NewHandler(inner, name,
		otelhttp.WithTracerProvider(t.tp), otelhttp.WithPropagators(t.prop),
		otelhttp.WithMeterProvider(noop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(func(op string, _ *http.Request) string { return op }),
		otelhttp.WithSpanOptions(trace.WithAttributes(attrs...)),
	)
}

// apiSpanAttrs are the server span's attributes fixed per operation.
func apiSpanAttrs(system, service, op string) []attribute.KeyValue {
	kv := []attribute.KeyValue{
		attribute.String("rpc.system", "aws-api"), attribute.String("rpc.service", service), attribute.String("rpc.method", op),
	}
	if system != "" {
		kv = append(kv, attribute.String(span.GenAISystem, system))
	}
	return kv
}

// traceRequest puts the request ID (x-amzn-RequestId, the audit record's
// requestID) on the request's span.
func traceRequest(ctx context.Context, id string) {
	if sp := span.Current(ctx); sp.Recording() {
		sp.Set(span.String("aws.request_id", id))
	}
}

// traceError names a failed request's error on its span: the exception
// (or dialect error kind) as error.type.
func traceError(ctx context.Context, svc awsapi.Service, err error) {
	if sp := span.Current(ctx); sp.Recording() {
		name, _ := awsapi.ErrorOf(svc, err)
		sp.Set(span.String("error.type", name))
	}
}

// tracedTransport returns the transport of the backends' HTTP clients:
// client spans for every upstream call, with the W3C traceparent (and
// baggage) sent to the upstream. Nil when tracing is off (the adapters
// then use their pooled transport as is).
func (s *Server) tracedTransport() http.RoundTripper {
	t := s.tracing
	if t == nil {
		return nil
	}
	return otelhttp.NewTransport(openaicompat.PooledClient(nil).Transport,
		otelhttp.WithTracerProvider(t.tp), otelhttp.WithPropagators(t.prop),
		otelhttp.WithMeterProvider(noop.NewMeterProvider()))
}

// FlushTraces exports the spans ended so far (no-op when tracing is off).
func (s *Server) FlushTraces(ctx context.Context) error {
	if s.tracing == nil {
		return nil
	}
	return s.tracing.tp.ForceFlush(ctx)
}

// closeTracing exports the remaining spans and stops the exporter.
func (s *Server) closeTracing() error {
	if s.tracing == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.tracing.tp.Shutdown(ctx)
}

// otelHook is span.Tracer over an OpenTelemetry tracer.
type otelHook struct{ tr trace.Tracer }

func (h otelHook) Start(ctx context.Context, name string) (context.Context, span.Recorder) {
	ctx, s := h.tr.Start(ctx, name)
	return ctx, otelSpan{s}
}

func (h otelHook) Current(ctx context.Context) span.Recorder {
	return otelSpan{trace.SpanFromContext(ctx)}
}

type otelSpan struct{ s trace.Span }

func (o otelSpan) Set(attrs ...span.Attr) {
	if !o.s.IsRecording() {
		return
	}
	kv := make([]attribute.KeyValue, len(attrs))
	for i, a := range attrs {
		switch a.Kind {
		case span.IntAttr:
			kv[i] = attribute.Int64(a.Key, a.Int)
		case span.StringsAttr:
			kv[i] = attribute.StringSlice(a.Key, a.Strs)
		default:
			kv[i] = attribute.String(a.Key, a.Str)
		}
	}
	o.s.SetAttributes(kv...)
}

// End records a failure as the span's error status with the fault kind
// and client-safe message only: spans leave the host, so they get what
// a client may see, never the logged cause.
func (o otelSpan) End(err error) {
	if err != nil {
		o.s.SetAttributes(attribute.String("error.type", fault.KindOf(err).String()))
		o.s.SetStatus(codes.Error, fault.Message(err))
	}
	o.s.End()
}

// spanName names the server span of op of svc ("" for the unknown
// operation, which is not traced).
func spanName(svc, op string) string {
	if op == "Unknown" {
		return ""
	}
	return svc + "." + op
}

// genAISystem is gen_ai.system of a service's spans: the API the client
// spoke, for the services that invoke models.
func genAISystem(svc awsapi.Service) string {
	if svc == awsapi.Runtime || svc == awsapi.AgentRuntime {
		return "aws.bedrock"
	}
	return ""
}

// dialectSpanName names the server span of a dialect operation by its
// pattern: "openai.ChatCompletions", "anthropic.Messages",
// "openai.ListModels" ("" for unknown paths, which are not traced).
func dialectSpanName(svc, pattern string) string {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		return ""
	}
	var name strings.Builder
	for _, seg := range strings.Split(strings.TrimPrefix(path, "/v1/"), "/") {
		if strings.HasPrefix(seg, "{") {
			continue
		}
		for _, w := range strings.Split(seg, "_") {
			if w != "" {
				name.WriteString(strings.ToUpper(w[:1]) + w[1:])
			}
		}
	}
	op := name.String()
	if method == "GET" && op == "Models" {
		op = "ListModels"
		if strings.HasSuffix(path, "}") {
			op = "GetModel"
		}
	}
	return svc + "." + op
}

// dialectSpanAttrs are a dialect server span's fixed attributes.
func dialectSpanAttrs(svc string) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String(span.GenAISystem, svc)}
}

// traceDialectError names a failed dialect request's error kind on its span.
func traceDialectError(ctx context.Context, err error) {
	if sp := span.Current(ctx); sp.Recording() {
		sp.Set(span.String("error.type", fault.KindOf(err).String()))
	}
}
