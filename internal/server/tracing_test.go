package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/google/go-cmp/cmp"
	oai "github.com/openai/openai-go/v3"
	oaioption "github.com/openai/openai-go/v3/option"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/config"
	familyall "github.com/outcrop/outcrop/internal/family/all"
	"github.com/outcrop/outcrop/internal/outcroptest"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/local"
	"github.com/outcrop/outcrop/internal/provider/openai"
)

// otlpReceiver is an OTLP/HTTP trace receiver: it decodes each
// ExportTraceServiceRequest (protobuf) and keeps its spans.
type otlpReceiver struct {
	URL string

	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	rc := &otlpReceiver{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("OTLP receiver: %s %s (%s)", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			http.Error(w, "bad request", 400)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Errorf("OTLP receiver: %v", err)
			http.Error(w, err.Error(), 400)
			return
		}
		rc.mu.Lock()
		for _, rs := range req.ResourceSpans {
			rc.services = append(rc.services, attrString(rs.Resource.GetAttributes(), "service.name"))
			for _, ss := range rs.ScopeSpans {
				rc.spans = append(rc.spans, ss.Spans...)
			}
		}
		rc.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(hs.Close)
	rc.URL = hs.URL
	return rc
}

func (rc *otlpReceiver) received() ([]*tracepb.Span, []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*tracepb.Span(nil), rc.spans...), append([]string(nil), rc.services...)
}

func attrValue(kvs []*commonpb.KeyValue, key string) *commonpb.AnyValue {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
}

func attrString(kvs []*commonpb.KeyValue, key string) string {
	return attrValue(kvs, key).GetStringValue()
}

// attrs renders a span's attributes as strings, for comparison.
func attrs(s *tracepb.Span, keys ...string) map[string]string {
	out := map[string]string{}
	for _, k := range keys {
		v := attrValue(s.Attributes, k)
		switch {
		case v == nil:
			out[k] = "<missing>"
		case v.GetArrayValue() != nil:
			var vs []string
			for _, e := range v.GetArrayValue().Values {
				vs = append(vs, e.GetStringValue())
			}
			out[k] = "[" + strings.Join(vs, ",") + "]"
		case v.GetStringValue() != "":
			out[k] = v.GetStringValue()
		default:
			b, _ := json.Marshal(v.GetIntValue())
			out[k] = string(b)
		}
	}
	return out
}

// traceparentTransport sends a W3C traceparent, as a traced client would.
type traceparentTransport struct{ value string }

func (t traceparentTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("traceparent", t.value)
	return outcroptest.BodyCopyTransport{}.RoundTrip(r)
}

const (
	clientTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpanID  = "00f067aa0ba902b7"
)

func tracedRuntimeClient(srv *outcroptest.Server) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(srv.Key.ID, srv.Key.Secret, ""),
		HTTPClient:       &http.Client{Transport: traceparentTransport{"00-" + clientTraceID + "-" + clientSpanID + "-01"}},
		RetryMaxAttempts: 1,
	})
}

// fakeOpenAI is an OpenAI-compatible upstream that notes the traceparent
// of each chat completion request.
func fakeOpenAI(t *testing.T) (url string, traceparents func() []string) {
	var mu sync.Mutex
	var seen []string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		seen = append(seen, r.Header.Get("traceparent"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-test",
"choices":[{"index":0,"message":{"role":"assistant","content":"Paris"},"finish_reason":"stop"}],
"usage":{"prompt_tokens":12,"completion_tokens":1,"total_tokens":13}}`)
	}))
	t.Cleanup(hs.Close)
	return hs.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

const upstreamModel = "outcrop.upstream-v1:0"

func upstreamServer(t *testing.T, upstream string, telemetry config.Telemetry) *outcroptest.Server {
	return outcroptest.NewServer(t, outcroptest.Options{
		Extra: []provider.Spec{openai.Spec},
		Mutate: func(c *config.Config) {
			c.Backends["up"] = config.Backend{Kind: "openai", Config: map[string]any{"baseURL": upstream + "/v1", "apiKey": "sk-test", "maxRetries": 0}}
			c.Models = append(c.Models, catalog.Model{ID: upstreamModel, Name: "Upstream", Provider: "Outcrop", Family: "converse",
				Backend: "up", BackendModel: "gpt-test", Input: []string{"TEXT"}, Output: []string{"TEXT"},
				Caps: catalog.Capabilities{ContextWindow: 4096, MaxOutputTokens: 1000, System: true, Streaming: true}})
			c.Telemetry = telemetry
		},
	})
}

func hexID(b []byte) string { return hex.EncodeToString(b) }

// clearOTelEnv unsets the OpenTelemetry variables that would override
// the test's telemetry configuration.
func clearOTelEnv(t *testing.T) {
	for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		t.Setenv(k, "")
	}
}

// TestTracesConverse sends a Converse call with a traceparent through the
// running server to a fake OpenAI upstream, with the spans exported over
// OTLP/HTTP to an in-test receiver: the server span continues the
// caller's trace, the backend call is its child, the upstream HTTP call
// the backend call's child, and the upstream receives that span as its
// parent in traceparent.
func TestTracesConverse(t *testing.T) {
	clearOTelEnv(t)
	rc := newOTLPReceiver(t)
	upstream, traceparents := fakeOpenAI(t)
	ratio := 1.0
	srv := upstreamServer(t, upstream, config.Telemetry{OTLPEndpoint: rc.URL, SampleRatio: &ratio, ServiceName: "outcrop-test"})
	ctx := context.Background()
	out, err := tracedRuntimeClient(srv).Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(upstreamModel), Messages: userText("capital of France?")})
	if err != nil {
		t.Fatal(err)
	}
	reqID, _ := awsmw.GetRequestIDMetadata(out.ResultMetadata)
	waitSpans(t, srv, rc, "bedrock-runtime.Converse", "chat gpt-test", "HTTP POST")
	spans, services := rc.received()
	byName := map[string]*tracepb.Span{}
	var names []string
	for _, s := range spans {
		if hexID(s.TraceId) != clientTraceID {
			t.Errorf("span %q has trace ID %x, want the caller's %s", s.Name, s.TraceId, clientTraceID)
		}
		byName[s.Name] = s
		names = append(names, s.Name)
	}
	sort.Strings(names)
	if diff := cmp.Diff([]string{"HTTP POST", "bedrock-runtime.Converse", "chat gpt-test"}, names); diff != "" {
		t.Fatalf("span names (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"outcrop-test"}, services[:1]); diff != "" {
		t.Errorf("service.name (-want +got):\n%s", diff)
	}

	server, call, client := byName["bedrock-runtime.Converse"], byName["chat gpt-test"], byName["HTTP POST"]
	for _, c := range []struct {
		span   *tracepb.Span
		kind   tracepb.Span_SpanKind
		parent string
	}{
		{server, tracepb.Span_SPAN_KIND_SERVER, clientSpanID},
		{call, tracepb.Span_SPAN_KIND_INTERNAL, hexID(server.SpanId)},
		{client, tracepb.Span_SPAN_KIND_CLIENT, hexID(call.SpanId)},
	} {
		if c.span.Kind != c.kind || hexID(c.span.ParentSpanId) != c.parent {
			t.Errorf("span %q: kind %v parent %x, want %v parent %s", c.span.Name, c.span.Kind, c.span.ParentSpanId, c.kind, c.parent)
		}
	}
	want := map[string]string{
		"gen_ai.system": "aws.bedrock", "gen_ai.operation.name": "chat", "gen_ai.request.model": upstreamModel,
		"gen_ai.usage.input_tokens": "12", "gen_ai.usage.output_tokens": "1", "gen_ai.response.finish_reasons": "[end_turn]",
		"rpc.service": "bedrock-runtime", "rpc.method": "Converse", "http.response.status_code": "200", "aws.request_id": reqID,
	}
	if diff := cmp.Diff(want, attrs(server, keys(want)...)); diff != "" {
		t.Errorf("server span attributes (-want +got):\n%s", diff)
	}
	want = map[string]string{
		"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-test", "outcrop.backend": "up",
		"gen_ai.usage.input_tokens": "12", "gen_ai.usage.output_tokens": "1", "gen_ai.response.finish_reasons": "[end_turn]",
	}
	if diff := cmp.Diff(want, attrs(call, keys(want)...)); diff != "" {
		t.Errorf("backend span attributes (-want +got):\n%s", diff)
	}
	if got := attrs(client, "http.request.method", "http.response.status_code"); got["http.request.method"] != "POST" || got["http.response.status_code"] != "200" {
		t.Errorf("upstream HTTP span attributes = %v", got)
	}
	wantTP := "00-" + clientTraceID + "-" + hexID(client.SpanId) + "-01"
	if diff := cmp.Diff([]string{wantTP}, traceparents()); diff != "" {
		t.Errorf("upstream traceparent (-want +got):\n%s", diff)
	}
}

// waitSpans flushes the server's spans until the receiver holds every
// named span. A server span ends just after its handler returns, which
// may be after the client has read the response, so one flush may miss it.
func waitSpans(t *testing.T, srv *outcroptest.Server, rc *otlpReceiver, names ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := srv.Srv.FlushTraces(context.Background()); err != nil {
			t.Fatal(err)
		}
		spans, _ := rc.received()
		have := map[string]bool{}
		for _, s := range spans {
			have[s.Name] = true
		}
		missing := 0
		for _, n := range names {
			if !have[n] {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("spans %v were not all exported within 10s", names)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestTracesOff checks that without telemetry configuration nothing is
// traced or propagated: the upstream sees no traceparent, not even the
// caller's.
func TestTracesOff(t *testing.T) {
	clearOTelEnv(t)
	upstream, traceparents := fakeOpenAI(t)
	srv := upstreamServer(t, upstream, config.Telemetry{})
	_, err := tracedRuntimeClient(srv).Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(upstreamModel), Messages: userText("hi")})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{""}, traceparents()); diff != "" {
		t.Errorf("upstream traceparent with tracing off (-want +got):\n%s", diff)
	}
}

// TestTracesEngine runs Converse on the built-in engine with the real
// SmolLM2 weights and checks the engine's spans under the backend call:
// tokenize, queue, prefill and decode, in that order.
func TestTracesEngine(t *testing.T) {
	clearOTelEnv(t)
	dir := realModelsDir(t)
	rc := newOTLPReceiver(t)
	def, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	srv := outcroptest.NewServer(t, outcroptest.Options{
		Families: familyall.Families,
		Extra:    []provider.Spec{local.Spec},
		Mutate: func(c *config.Config) {
			c.Backends["local"] = config.Backend{Kind: "local", Config: map[string]any{"threads": 2}}
			c.ModelsDir = dir
			c.Models = def.Models
			c.Telemetry = config.Telemetry{OTLPEndpoint: rc.URL}
		},
	})
	ctx := context.Background()
	_, err = tracedRuntimeClient(srv).Converse(ctx, &bedrockruntime.ConverseInput{
		ModelId: aws.String(smolModel), Messages: userText("What is the capital of France?"),
		InferenceConfig: &rt.InferenceConfiguration{MaxTokens: aws.Int32(8), Temperature: aws.Float32(0)},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitSpans(t, srv, rc, "bedrock-runtime.Converse", "engine.decode")
	spans, _ := rc.received()
	byName := map[string]*tracepb.Span{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	server := byName["bedrock-runtime.Converse"]
	var call *tracepb.Span
	for name, s := range byName {
		if strings.HasPrefix(name, "chat ") {
			call = s
		}
	}
	if server == nil || call == nil || !bytes.Equal(call.ParentSpanId, server.SpanId) {
		t.Fatalf("spans %v: want bedrock-runtime.Converse with a chat child", keysOf(byName))
	}
	var prev uint64
	for _, name := range []string{"engine.tokenize", "engine.queue", "engine.prefill", "engine.decode"} {
		s := byName[name]
		if s == nil {
			t.Fatalf("no %s span among %v", name, keysOf(byName))
		}
		if !bytes.Equal(s.ParentSpanId, call.SpanId) {
			t.Errorf("%s's parent is %x, want the backend call %x", name, s.ParentSpanId, call.SpanId)
		}
		if s.StartTimeUnixNano < prev || s.EndTimeUnixNano < s.StartTimeUnixNano {
			t.Errorf("%s runs %d..%d, before the previous phase ended (%d)", name, s.StartTimeUnixNano, s.EndTimeUnixNano, prev)
		}
		prev = s.EndTimeUnixNano
	}
	// The decode span counts the tokens the response reports.
	decoded := attrs(byName["engine.decode"], "outcrop.engine.output_tokens")["outcrop.engine.output_tokens"]
	got := attrs(server, "gen_ai.usage.output_tokens", "gen_ai.response.finish_reasons")
	if got["gen_ai.usage.output_tokens"] != decoded || decoded == "0" || (got["gen_ai.response.finish_reasons"] != "[max_tokens]" && got["gen_ai.response.finish_reasons"] != "[end_turn]") {
		t.Errorf("server span usage = %v, decode span output tokens %s", got, decoded)
	}

	// An embedding through InvokeModel: queue and embed under the call.
	body, _ := json.Marshal(map[string]string{"inputText": "A cat sits on the mat."})
	if _, err := tracedRuntimeClient(srv).InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String("amazon.titan-embed-text-v2:0"), Body: body}); err != nil {
		t.Fatal(err)
	}
	waitSpans(t, srv, rc, "bedrock-runtime.InvokeModel", "engine.embed")
	spans, _ = rc.received()
	byName = map[string]*tracepb.Span{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	inv, emb := byName["bedrock-runtime.InvokeModel"], byName["engine.embed"]
	call = nil
	for name, s := range byName {
		if strings.HasPrefix(name, "embeddings ") {
			call = s
		}
	}
	if inv == nil || call == nil || emb == nil || !bytes.Equal(call.ParentSpanId, inv.SpanId) || !bytes.Equal(emb.ParentSpanId, call.SpanId) {
		t.Fatalf("spans %v: want bedrock-runtime.InvokeModel > embeddings … > engine.embed", keysOf(byName))
	}
	if got := attrs(inv, "gen_ai.operation.name", "gen_ai.request.model"); got["gen_ai.operation.name"] != "embeddings" || got["gen_ai.request.model"] != "amazon.titan-embed-text-v2:0" {
		t.Errorf("InvokeModel span = %v", got)
	}
}

func keysOf(m map[string]*tracepb.Span) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// BenchmarkPipelineServeHTTPTraced is BenchmarkPipelineServeHTTP with
// tracing on: every request sampled, its spans batched and exported over
// OTLP/HTTP to a receiver that discards them. With tracing off (the
// default), BenchmarkPipelineServeHTTP is the figure to compare.
func BenchmarkPipelineServeHTTPTraced(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	b.Cleanup(sink.Close)
	srv := outcroptest.NewServer(b, outcroptest.Options{KeyCacheTTL: time.Minute, Mutate: func(c *config.Config) {
		c.Telemetry.OTLPEndpoint = sink.URL
	}})
	tmpl := signedRequest(b, "http://"+srv.HTTP.Listener.Addr().String(), srv)
	h := srv.Srv.Handler()
	serveLoop(b, h, func() *http.Request {
		r := tmpl.Clone(context.Background())
		r.Body = io.NopCloser(bytes.NewReader(benchBody))
		r.RequestURI = tmpl.URL.RequestURI()
		r.Header.Set("traceparent", "00-"+clientTraceID+"-"+clientSpanID+"-01")
		return r
	})
}

// grpcReceiver is an OTLP/gRPC trace receiver.
type grpcReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	rc *otlpReceiver
}

func (g *grpcReceiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	g.rc.mu.Lock()
	defer g.rc.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		g.rc.services = append(g.rc.services, attrString(rs.Resource.GetAttributes(), "service.name"))
		for _, ss := range rs.ScopeSpans {
			g.rc.spans = append(g.rc.spans, ss.Spans...)
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// TestTracesDialectGRPCEnv configures tracing through the standard
// environment variables only (endpoint, gRPC protocol, service name) and
// traces an OpenAI SDK chat completion through the OpenAI dialect.
func TestTracesDialectGRPCEnv(t *testing.T) {
	clearOTelEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rc := &otlpReceiver{}
	gs := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(gs, &grpcReceiver{rc: rc})
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+ln.Addr().String())
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_SERVICE_NAME", "outcrop-env")

	srv, key := newDialectServer(t)
	ctx := context.Background()
	c := openAIClient(srv.URL, key)
	_, err = c.Chat.Completions.New(ctx, oai.ChatCompletionNewParams{
		Model: echoModel, Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("hello there world")},
	}, oaioption.WithHeader("traceparent", "00-"+clientTraceID+"-"+clientSpanID+"-01"))
	if err != nil {
		t.Fatal(err)
	}
	waitSpans(t, srv, rc, "openai.ChatCompletions", "chat echo")
	spans, services := rc.received()
	byName := map[string]*tracepb.Span{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	server, call := byName["openai.ChatCompletions"], byName["chat echo"]
	if server == nil || call == nil {
		t.Fatalf("spans %v, want openai.ChatCompletions and chat echo", keysOf(byName))
	}
	if hexID(server.TraceId) != clientTraceID || hexID(server.ParentSpanId) != clientSpanID || !bytes.Equal(call.ParentSpanId, server.SpanId) {
		t.Errorf("trace %x parent %x, call parent %x", server.TraceId, server.ParentSpanId, call.ParentSpanId)
	}
	want := map[string]string{
		"gen_ai.system": "openai", "gen_ai.operation.name": "chat", "gen_ai.request.model": echoModel,
		"gen_ai.usage.output_tokens": "3", "gen_ai.response.finish_reasons": "[end_turn]",
	}
	if diff := cmp.Diff(want, attrs(server, keys(want)...)); diff != "" {
		t.Errorf("server span attributes (-want +got):\n%s", diff)
	}
	if len(services) == 0 || services[0] != "outcrop-env" {
		t.Errorf("service.name = %v, want outcrop-env", services)
	}
}
