package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/api/anthropicapi"
	"github.com/outcrop/outcrop/internal/api/dialect"
	"github.com/outcrop/outcrop/internal/api/openaiapi"
	"github.com/outcrop/outcrop/internal/audit"
	"github.com/outcrop/outcrop/internal/awsapi"
	"github.com/outcrop/outcrop/internal/awsapi/restjson"
	"github.com/outcrop/outcrop/internal/awsapi/sigv4"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/invlog"
	"github.com/outcrop/outcrop/internal/quota"
	"github.com/outcrop/outcrop/internal/reqctx"
)

// The second front door: the OpenAI and Anthropic API dialects on the same
// listener as the Bedrock APIs, over the same catalog, backends,
// identities, authorization and metrics (STYLE.md §2: one canonical
// request underneath). Their paths start with /v1/, /openai/v1/ or
// /anthropic/v1/, which no Bedrock operation uses.

// dialectKind names a front door for metrics and error rendering.
type dialectKind int

const (
	openAIDialect dialectKind = iota
	anthropicDialect
)

func (d dialectKind) service() string {
	if d == anthropicDialect {
		return "anthropic"
	}
	return "openai"
}

// AWS serves the same two APIs for Bedrock models under vendor prefixes:
// bedrock-runtime at /openai/v1 and /anthropic/v1, bedrock-mantle at /v1,
// /openai/v1 and /anthropic/v1. Outcrop answers on all of them, so a client
// configured for either AWS endpoint needs only a new host.
const (
	openAIPrefix    = "/openai"
	anthropicPrefix = "/anthropic"
)

// prefixed returns pattern ("METHOD /v1/...") with prefix before its path.
func prefixed(prefix, pattern string) string {
	method, path, _ := strings.Cut(pattern, " ")
	return method + " " + prefix + path
}

// dialectRoutes registers both dialects on mux, each at /v1/ and under its
// vendor prefix.
func (s *Server) dialectRoutes(mux *http.ServeMux, m *apiMetrics) error {
	s.dialectSigV4 = s.newDialectSigV4()
	models := dialect.New(dialect.Options{
		Catalog: s.catalog, Backends: s.router, Auth: dialectGate{s}, Quota: dialectGate{s}, Metrics: s.invocations,
		Now: s.opts.Now, InvocationTimeout: time.Duration(s.opts.Config.InvocationTimeout), Strict: s.opts.Config.Converse.Strict,
	})
	oa := openaiapi.New(openaiapi.Options{Models: models})
	an := anthropicapi.New(anthropicapi.Options{Models: models})
	oaRoutes := oa.Routes()
	for pattern, h := range oaRoutes {
		wrapped := s.wrapDialect(openAIDialect, pattern, h, m)
		if err := register(mux, prefixed(openAIPrefix, pattern), wrapped); err != nil {
			return err
		}
		if strings.HasPrefix(pattern, "GET /v1/models") {
			continue // /v1/models is shared with Anthropic's models list, below
		}
		if err := register(mux, pattern, wrapped); err != nil {
			return err
		}
	}
	for pattern, h := range an.Routes() {
		wrapped := s.wrapDialect(anthropicDialect, pattern, h, m)
		for _, p := range []string{pattern, prefixed(anthropicPrefix, pattern)} {
			if err := register(mux, p, wrapped); err != nil {
				return err
			}
		}
	}
	// GET /v1/models is both vendors' path; Anthropic's SDKs always send
	// anthropic-version, OpenAI's never do.
	for pattern, anth := range map[string]handlerFunc{"GET /v1/models": an.ListModels, "GET /v1/models/{id...}": an.GetModel} {
		oaH := s.wrapDialect(openAIDialect, pattern, oaRoutes[pattern], m)
		anH := s.wrapDialect(anthropicDialect, pattern, anth, m)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("anthropic-version") != "" {
				anH.ServeHTTP(w, r)
				return
			}
			oaH.ServeHTTP(w, r)
		})
		if err := register(mux, pattern, h); err != nil {
			return err
		}
		if err := register(mux, prefixed(anthropicPrefix, pattern), anH); err != nil {
			return err
		}
	}
	// Unknown paths answer in the dialect's form rather than as an AWS
	// UnknownOperation.
	notFound := func(_ http.ResponseWriter, r *http.Request) error {
		return fault.Newf(fault.NotFound, "Invalid URL (%s %s)", r.Method, r.URL.Path)
	}
	for path, d := range map[string]dialectKind{"/v1/": openAIDialect, openAIPrefix + "/v1/": openAIDialect, anthropicPrefix + "/v1/": anthropicDialect} {
		if err := register(mux, path, s.wrapDialect(d, "", notFound, m)); err != nil {
			return err
		}
	}
	return nil
}

// dialectCall is the server's state of one dialect request: the Bedrock
// action and resource it was authorized for (its audit record's eventName
// and resource, known only once the handler has read the model from the
// body), its token usage and its quota ticket. The dialect handlers reach
// it only through dialectGate, the Authorizer and Admitter the server
// gives them.
type dialectCall struct {
	action, resource string
	admitted         bool   // the model invocation started
	model            string // its catalog ID
	ticket           *quota.Ticket
	usage            reqctx.Usage
	body             *bytes.Buffer // the request body, for the invocation log
}

type dialectCallKey struct{}

func dialectCallFrom(ctx context.Context) *dialectCall {
	c, _ := ctx.Value(dialectCallKey{}).(*dialectCall)
	return c
}

// dialectGate authorizes with IAM and applies quotas for dialect.Models,
// noting in the request's dialectCall what the call was authorized as.
type dialectGate struct{ s *Server }

func (g dialectGate) Authorize(ctx context.Context, p *reqctx.Principal, action, resource string) error {
	if c := dialectCallFrom(ctx); c != nil && c.action == "" {
		c.action = action
		if resource != "*" {
			c.resource = resource
		}
	}
	return g.s.iam.Authorize(ctx, p, action, resource)
}

// Admit starts a model invocation, once per request (n choices are one
// request, as on Bedrock): a blocking budget of the caller or its key
// refuses it, and it is charged to the quotas of the model, the principal
// and the key. Its usage is metered and it is logged when it ends.
func (g dialectGate) Admit(ctx context.Context, modelID string, estTokens int) error {
	c := dialectCallFrom(ctx)
	if c == nil || c.admitted {
		return nil
	}
	if g.s.meter != nil {
		var principal, key string
		if p := reqctx.PrincipalFrom(ctx); p != nil {
			principal, key = p.Name, p.KeyID
		}
		if err := g.s.meter.Admit(ctx, principal, key); err != nil {
			return err
		}
	}
	if g.s.quota != nil {
		t, err := g.s.quota.Admit(ctx, quotaSubject(ctx, modelID), estTokens)
		if err != nil {
			return err
		}
		c.ticket = t
	}
	c.admitted, c.model = true, modelID
	return nil
}

// finishDialect meters a dialect invocation's usage and cost and writes
// its invocation log record, as the Bedrock runtime's calls are: the
// record's operation is the action the call was authorized as, its bodies
// the dialect's request and response (a stream's events as its chunks).
func (s *Server) finishDialect(ctx context.Context, c *dialectCall, rec *recorder, err error, start time.Time) {
	if !c.admitted {
		return
	}
	in, out := c.usage.Tokens()
	var principal, key, arn string
	if p := reqctx.PrincipalFrom(ctx); p != nil {
		principal, key, arn = p.Name, p.KeyID, p.ARN
	}
	if s.meter != nil && (err == nil || in+out > 0) {
		s.meter.Record(ctx, c.model, principal, key, in, out, c.usage.Images())
	}
	if rec.invlog == nil || c.body == nil {
		return
	}
	e := &invlog.Entry{
		Time: start, RequestID: reqctx.RequestID(ctx), Operation: strings.TrimPrefix(c.action, "bedrock:"), ModelID: c.model,
		IdentityARN: arn, Region: s.opts.Config.Region, InputType: "application/json", OutputType: "application/json",
		InputTokens: in, OutputTokens: out, Input: c.body.Bytes(),
	}
	if m, lerr := s.catalog.Lookup(c.model); lerr == nil {
		e.Embedding = m.Embedding()
	}
	if err != nil {
		e.ErrorCode, _ = awsapi.ErrorFor(awsapi.Runtime, fault.KindOf(err))
	} else if rec.status == http.StatusOK {
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") {
			e.Chunks = sseChunks(rec.invlog.Bytes())
		} else {
			e.Output = rec.invlog.Bytes()
		}
	}
	s.invlog.Record(e)
}

// sseChunks returns the JSON data of each server-sent event in b.
func sseChunks(b []byte) [][]byte {
	var out [][]byte
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		d, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r"), []byte("data:"))
		if d = bytes.TrimSpace(d); ok && json.Valid(d) {
			out = append(out, d)
		}
	}
	return out
}

// teeBody keeps a copy of the request body (up to maxInvlogCapture bytes)
// while the handler reads it.
type teeBody struct {
	io.ReadCloser
	buf *bytes.Buffer
}

func (t teeBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if t.buf.Len()+n <= maxInvlogCapture {
		t.buf.Write(p[:n])
	}
	return n, err
}

// dialectEvents are the audit eventNames of dialect operations that fail
// before they are authorized for a model (a bad body, a bad key): the
// Bedrock action each one is normally authorized as.
var dialectEvents = map[string]string{
	"/v1/messages/count_tokens": "CountTokens",
	"/v1/models":                "ListFoundationModels",
	"/v1/models/{id...}":        "GetFoundationModel",
}

// wrapDialect is the request pipeline of a dialect operation: request ID,
// authentication with a Bedrock API key, the handler (which authorizes and
// applies quotas through dialectGate), error rendering in the dialect's
// shape, request metrics, quota settlement and the audit record.
func (s *Server) wrapDialect(d dialectKind, pattern string, h handlerFunc, m *apiMetrics) http.Handler {
	svc := d.service()
	op := pattern
	if _, path, ok := strings.Cut(pattern, " "); ok {
		op = path
	}
	om := m.op(svc, op)
	event := dialectEvents[op]
	if event == "" {
		event = "InvokeModel"
	}
	return s.traced(dialectSpanName(svc, pattern), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.opts.Now()
		id := newRequestID()
		// The header names are given in canonical form, which Set then
		// need not make anew.
		if d == anthropicDialect {
			w.Header().Set("Request-Id", id) // request-id
		} else {
			w.Header().Set("X-Request-Id", id) // x-request-id
		}
		ctx := reqctx.WithRequestID(r.Context(), id)
		traceRequest(ctx, id)
		rec := &recorder{ResponseWriter: w, settle: &s.settling}
		call := new(dialectCall)
		// hr is r as the handler gets it, made once ctx is complete; it
		// carries the request ID that error rendering reads.
		var hr *http.Request
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fault.Wrap(fault.Internal, fmt.Errorf("panic: %v", p), "")
				}
			}()
			if op == "" {
				hr = r.WithContext(ctx)
				return h(rec, hr)
			}
			ctx, err = s.authenticateDialect(ctx, d, r)
			if err != nil {
				return err
			}
			ctx = reqctx.WithUsage(context.WithValue(ctx, dialectCallKey{}, call), &call.usage)
			if r.Method == http.MethodPost && s.invlog.Enabled() {
				call.body, rec.invlog = new(bytes.Buffer), new(bytes.Buffer)
				r.Body = teeBody{r.Body, call.body}
			}
			hr = r.WithContext(ctx)
			return h(rec, hr)
		}()
		if hr == nil { // refused before the handler
			hr = r.WithContext(ctx)
		}
		r = hr
		// The answer leaves before the bookkeeping that follows it; what
		// reads that bookkeeping waits for it (Server.settled), from
		// before the answer's last bytes were written (a handler's
		// answer) or from here (an error written below).
		rec.WritingLast()
		defer s.settling.release(rec.gen)
		if call.ticket != nil {
			in, out := call.usage.Tokens()
			call.ticket.Settle(context.WithoutCancel(ctx), in+out)
		}
		if err != nil {
			traceDialectError(ctx, err)
			k := fault.KindOf(err)
			if k == fault.Internal {
				s.log.ErrorContext(ctx, "request failed", "service", svc, "operation", op, "err", err)
			} else {
				s.log.DebugContext(ctx, "request rejected", "service", svc, "operation", op, "kind", k.String(), "err", err)
			}
			if rec.status == 0 {
				if d == anthropicDialect {
					anthropicapi.WriteError(rec, r, err)
				} else {
					openaiapi.WriteError(rec, err)
				}
			}
		}
		if op != "" {
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			om.observe(rec.status, s.opts.Now().Sub(start))
			s.auditDialect(ctx, r, d, pattern, event, call, err, start)
			s.finishDialect(ctx, call, rec, err, start)
		}
	}), dialectSpanAttrs(svc)...)
}

// auditDialect records a dialect call in the audit trail as the Bedrock
// call it amounts to: eventSource bedrock.amazonaws.com, eventName the
// action it was authorized as (InvokeModel, InvokeModelWithResponseStream,
// CountTokens, ListFoundationModels, GetFoundationModel), the model as
// modelId and resource, and the dialect and path as parameters. The body
// is never passed on: it is the prompt, and the model ID was taken from
// the authorization instead.
func (s *Server) auditDialect(ctx context.Context, r *http.Request, d dialectKind, pattern, event string, call *dialectCall, err error, start time.Time) {
	if s.audit == nil {
		return
	}
	name := event
	if a, ok := strings.CutPrefix(call.action, "bedrock:"); ok {
		name = a
	}
	c := audit.Call{
		Time: start, Operation: name, Region: s.opts.Config.Region,
		UserAgent: r.UserAgent(), RequestID: reqctx.RequestID(ctx),
		// Room for the modelId too, in the one allocation.
		Params: append(make([]audit.Param, 0, 3), audit.Param{Name: "apiDialect", Value: d.service()}, audit.Param{Name: "apiOperation", Value: pattern}),
	}
	if o := reqctx.OriginFrom(ctx); o != nil {
		c.SourceIP, c.Region = o.SourceIP, o.Region
	}
	if p := reqctx.PrincipalFrom(ctx); p != nil {
		c.Principal = s.auditPrincipal(ctx, p)
	}
	if call.resource != "" {
		c.Params = append(c.Params, audit.Param{Name: "modelId", Value: modelIDOf(call.resource)})
	}
	if err != nil {
		svc := awsapi.Runtime
		if name == "ListFoundationModels" || name == "GetFoundationModel" {
			svc = awsapi.Bedrock
		}
		c.ErrorCode, _ = awsapi.ErrorFor(svc, fault.KindOf(err))
		c.ErrorMsg = fault.Message(err)
	}
	s.audit.Record(c)
}

// dialectSigV4 verifies SigV4 on the dialect paths: AWS signs its
// OpenAI- and Anthropic-compatible endpoints for the service "bedrock"
// (bedrock-runtime) or "bedrock-mantle" (bedrock-mantle), and the vendors'
// SDKs sign for whichever endpoint they were set up for.
type dialectSigV4 map[string]*sigv4.Verifier

func (s *Server) newDialectSigV4() dialectSigV4 {
	return dialectSigV4{
		"bedrock":        sigv4.NewVerifier(s.iam, s.opts.Now, "bedrock"),
		"bedrock-mantle": sigv4.NewVerifier(s.iam, s.opts.Now, "bedrock-mantle"),
	}
}

// authenticateDialect accepts a Bedrock API key as a bearer token (both
// dialects) or in x-api-key (Anthropic's header; accepted on both, since
// some OpenAI-compatible tools send it too), or a SigV4 signature for
// bedrock or bedrock-mantle, as AWS's compatible endpoints do. Using a key
// is authorized as bedrock:CallWithBearerToken, as on the Bedrock APIs.
func (s *Server) authenticateDialect(ctx context.Context, d dialectKind, r *http.Request) (context.Context, error) {
	origin := s.origin(r)
	ctx = reqctx.WithOrigin(ctx, origin)
	if s.opts.Config.Auth.Mode == "any" {
		p := s.iam.Principal("root", "")
		p.Anonymous = true
		return reqctx.WithPrincipal(ctx, p), nil
	}
	authz := r.Header.Get("Authorization")
	if strings.HasPrefix(authz, "AWS4-") {
		return s.authenticateDialectSigV4(ctx, r, origin)
	}
	token, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok {
		token = r.Header.Get("x-api-key")
	}
	token = strings.TrimSpace(token)
	if token == "" {
		if d == anthropicDialect {
			return ctx, fault.New(fault.Unauthenticated, "x-api-key header is required")
		}
		return ctx, fault.New(fault.Unauthenticated, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). Create one with `outcrop keys create-api-key`.")
	}
	p, err := s.iam.AuthenticateBearer(ctx, token)
	if err != nil {
		return ctx, err
	}
	// The principal goes in the context even when it may not use API
	// keys, so that the denial's audit record names it.
	ctx = reqctx.WithPrincipal(ctx, p)
	return ctx, s.iam.Authorize(ctx, p, "bedrock:CallWithBearerToken", "*")
}

// authenticateDialectSigV4 verifies a SigV4-signed dialect request. The
// body is read (bounded) for the payload hash and put back for the handler.
func (s *Server) authenticateDialectSigV4(ctx context.Context, r *http.Request, origin *reqctx.Origin) (context.Context, error) {
	a, err := sigv4.ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return ctx, err
	}
	v, ok := s.dialectSigV4[a.Service]
	if !ok {
		v = s.dialectSigV4["bedrock"] // its error names the service expected
	}
	body, err := restjson.ReadBody(r)
	if err != nil {
		return ctx, err
	}
	r.Body = restjson.NewBody(body)
	// The key is looked up under the request's context with its ID, as
	// the handler's request has it.
	return s.verifySigV4(ctx, r.WithContext(ctx), body, v, origin)
}
