package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outcrop/outcrop/internal/api/agentapi"
	"github.com/outcrop/outcrop/internal/api/agentruntimeapi"
	"github.com/outcrop/outcrop/internal/api/bedrockapi"
	"github.com/outcrop/outcrop/internal/api/cloudtrailapi"
	"github.com/outcrop/outcrop/internal/api/runtimeapi"
	"github.com/outcrop/outcrop/internal/awsapi"
	"github.com/outcrop/outcrop/internal/awsapi/restjson"
	"github.com/outcrop/outcrop/internal/awsapi/sigv4"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/reqctx"
)

type handlerFunc = func(http.ResponseWriter, *http.Request) error

// apiMetrics count requests per operation.
type apiMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// opMetrics are one operation's series. The duration and the count of 200
// answers (almost every request) are looked up once, on first use, so that
// a request hashes no labels; other statuses are looked up each time.
type opMetrics struct {
	m       *apiMetrics
	svc, op string
	ok      func() prometheus.Counter
	dur     func() prometheus.Observer
}

func (m *apiMetrics) op(svc, op string) *opMetrics {
	return &opMetrics{m: m, svc: svc, op: op,
		ok:  sync.OnceValue(func() prometheus.Counter { return m.requests.WithLabelValues(svc, op, "200") }),
		dur: sync.OnceValue(func() prometheus.Observer { return m.duration.WithLabelValues(svc, op) }),
	}
}

// observe counts a request that ended with status after d.
func (o *opMetrics) observe(status int, d time.Duration) {
	if status == http.StatusOK {
		o.ok().Inc()
	} else {
		o.m.requests.WithLabelValues(o.svc, o.op, strconv.Itoa(status)).Inc()
	}
	o.dur().Observe(d.Seconds())
}

// routes registers every operation of every service on one mux. Operations
// Outcrop does not implement yet answer with a clear error instead of 404,
// so a client can tell "not yet" from "wrong URL".
//
// Paths never collide across the four services except `/tags/{resourceArn}`
// (TagResource, UntagResource, ListTagsForResource), which both agent
// services define; the first service in awsapi.Services that declares a
// route owns it.
func (s *Server) routes(rt *runtimeapi.Handler, br *bedrockapi.Handler, ag *agentapi.Handler, ar *agentruntimeapi.Handler) (*http.ServeMux, error) {
	m := &apiMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outcrop_api_requests_total", Help: "API requests by service, operation and HTTP status.",
		}, []string{"service", "operation", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "outcrop_api_request_duration_seconds", Help: "API request duration.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 15),
		}, []string{"service", "operation"}),
	}
	s.reg.MustRegister(m.requests, m.duration)
	impl := map[awsapi.Service]map[string]handlerFunc{
		awsapi.Runtime:      rt.Routes(),
		awsapi.Bedrock:      br.Routes(),
		awsapi.Agent:        ag.Routes(),
		awsapi.AgentRuntime: ar.Routes(),
	}
	verifier := sigv4.NewVerifier(s.iam, s.opts.Now, "bedrock")
	mux := http.NewServeMux()
	seen := map[string]string{}
	for _, svc := range awsapi.Services {
		for _, op := range awsapi.Operations(svc) {
			path, _, _ := strings.Cut(op.URI, "?")
			pattern := op.Method + " " + path
			if owner, dup := seen[pattern]; dup {
				s.log.Debug("route shared", "pattern", pattern, "owner", owner, "service", svc.String())
				continue
			}
			seen[pattern] = svc.String() + ":" + op.Name
			h, ok := impl[svc][op.Name]
			if !ok {
				h = s.notImplemented(svc, op.Name)
			}
			if err := register(mux, pattern, s.wrap(svc, op, h, verifier, m)); err != nil {
				return nil, err
			}
		}
	}
	if err := register(mux, "GET /outcrop/usage", s.wrap(awsapi.Bedrock, usageOperation, s.getUsage, verifier, m)); err != nil {
		return nil, err
	}
	if err := s.dialectRoutes(mux, m); err != nil {
		return nil, err
	}
	if err := s.cloudTrailRoutes(mux, m); err != nil {
		return nil, err
	}
	mux.Handle("/", s.wrap(awsapi.Runtime, awsapi.Operation{Name: "Unknown"}, func(http.ResponseWriter, *http.Request) error {
		return errUnknownOperation
	}, nil, m))
	return mux, nil
}

var errUnknownOperation = fault.New(fault.NotFound, "UnknownOperationException")

// register adds a pattern, turning ServeMux's panic on conflicts into an error.
func register(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("route %q: %v", pattern, r)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// notImplemented answers an operation Outcrop does not implement yet. It
// authorizes first, as every operation does, so that a caller without
// permission learns that rather than what is missing.
func (s *Server) notImplemented(svc awsapi.Service, op string) handlerFunc {
	action := awsapi.Action(svc, op)
	return func(_ http.ResponseWriter, r *http.Request) error {
		if err := s.iam.Authorize(r.Context(), reqctx.PrincipalFrom(r.Context()), action, "*"); err != nil {
			return err
		}
		return fault.Newf(fault.Invalid, "Outcrop does not implement %s %s yet.", svc, op)
	}
}

// newRequestID returns a random UUID (version 4), the form AWS uses.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	hex.Encode(out[9:13], b[4:6])
	hex.Encode(out[14:18], b[6:8])
	hex.Encode(out[19:23], b[8:10])
	hex.Encode(out[24:], b[10:])
	out[8], out[13], out[18], out[23] = '-', '-', '-', '-'
	return string(out[:])
}

// recorder notes the status and whether the response has started.
type recorder struct {
	http.ResponseWriter
	status  int
	capture *bytes.Buffer // the response body for the audit record, or nil
	invlog  *bytes.Buffer // the response body for the invocation log, or nil
	// settle, when set (dialect calls), is Server.settling, held by
	// WritingLast from before the answer's last bytes (generation gen).
	settle *settleBarrier
	held   bool
	gen    uint64
}

// WritingLast holds back the readers of the call's bookkeeping
// (Server.settled) from before the answer's last bytes are written until
// the bookkeeping is done (wrapDialect releases it).
func (r *recorder) WritingLast() {
	if r.settle != nil && !r.held {
		r.gen, r.held = r.settle.hold(), true
	}
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.captureWrite(b)
	r.invlogWrite(b)
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush on the real writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// wrap is the request pipeline around one operation.
func (s *Server) wrap(svc awsapi.Service, op awsapi.Operation, h handlerFunc, v *sigv4.Verifier, m *apiMetrics) http.Handler {
	svcName := svc.String()
	om := m.op(svcName, op.Name)
	var aop *auditOp
	if v != nil && s.audit != nil {
		aop = newAuditOp(op)
	}
	return s.traced(spanName(svcName, op.Name), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.opts.Now()
		id := newRequestID()
		w.Header().Set(restjson.RequestIDHeader, id)
		ctx := reqctx.WithRequestID(r.Context(), id)
		traceRequest(ctx, id)
		rec := &recorder{ResponseWriter: w, capture: newCapture(aop)}
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fault.Wrap(fault.Internal, fmt.Errorf("panic: %v", p), "")
				}
			}()
			if v == nil { // unknown route
				return h(rec, r)
			}
			ctx, err = s.authenticate(ctx, svc, r, v)
			if err != nil {
				return err
			}
			var settle func()
			if ctx, settle, err = s.admit(ctx, op.Name, r); err != nil {
				s.countRefused(r, op.Name, err)
				return err
			}
			defer settle()
			if ctx, err = s.prepareInvocation(ctx, r, op.Name, rec); err != nil {
				return err
			}
			return h(rec, r.WithContext(ctx))
		}()
		if err != nil {
			s.writeError(ctx, rec, svc, op.Name, err)
		}
		if op.Name != "Unknown" {
			om.observe(rec.status, s.opts.Now().Sub(start))
		}
		if aop != nil {
			s.recordAudit(ctx, r, svc, aop, rec, err, start)
		}
		s.logInvocation(ctx, r, svc, op.Name, rec, err, start)
		s.meterInvocation(ctx, r, op.Name, err)
	}), apiSpanAttrs(genAISystem(svc), svcName, op.Name)...)
}

func (s *Server) writeError(ctx context.Context, rec *recorder, svc awsapi.Service, op string, err error) {
	traceError(ctx, svc, err)
	k := fault.KindOf(err)
	if k == fault.Internal {
		s.log.ErrorContext(ctx, "request failed", "operation", op, "err", err)
	} else {
		s.log.DebugContext(ctx, "request rejected", "operation", op, "kind", k.String(), "err", err)
	}
	if rec.status != 0 {
		return // the response has started; the handler reported in-band
	}
	if err == errUnknownOperation {
		rec.Header().Set("X-Amzn-Errortype", "UnknownOperationException")
		_ = restjson.WriteJSON(rec, http.StatusNotFound, restjson.ErrorBody{Message: "Unknown operation"})
		return
	}
	if svc == awsapi.CloudTrail {
		cloudtrailapi.WriteError(rec, err)
		return
	}
	restjson.WriteError(rec, svc, err)
}

// authenticate verifies SigV4 or a Bedrock API key and returns the context
// carrying the principal. The body is read (bounded) and put back so the
// handler can read it again.
func (s *Server) authenticate(ctx context.Context, svc awsapi.Service, r *http.Request, v *sigv4.Verifier) (context.Context, error) {
	body, err := restjson.ReadBody(r)
	if err != nil {
		return ctx, err
	}
	r.Body = restjson.NewBody(body)
	origin := s.origin(r)
	ctx = reqctx.WithOrigin(ctx, origin)
	if s.opts.Config.Auth.Mode == "any" {
		p := s.iam.Principal("root", "")
		p.Anonymous = true
		return reqctx.WithPrincipal(ctx, p), nil
	}
	authz := r.Header.Get("Authorization")
	if token, ok := strings.CutPrefix(authz, "Bearer "); ok {
		if !awsapi.AcceptsBearer(svc) {
			return ctx, fault.Newf(fault.Unauthenticated, "Bedrock API keys are not accepted by %s; sign the request with SigV4.", svc)
		}
		p, err := s.iam.AuthenticateBearer(r.Context(), strings.TrimSpace(token))
		if err != nil {
			return ctx, err
		}
		// Using an API key is itself an action that policies control
		// (https://docs.aws.amazon.com/bedrock/latest/userguide/api-keys-permissions.html).
		if err := s.iam.Authorize(ctx, p, "bedrock:CallWithBearerToken", "*"); err != nil {
			return ctx, err
		}
		return reqctx.WithPrincipal(ctx, p), nil
	}
	if authz == "" {
		if r.URL.Query().Get("X-Amz-Signature") != "" {
			return ctx, fault.New(fault.BadSignature, "Presigned requests are not supported; sign with the Authorization header.")
		}
		return ctx, fault.New(fault.Unsigned, "Missing Authentication Token")
	}
	return s.verifySigV4(ctx, r, body, v, origin)
}

// verifySigV4 checks r's signature over body with v and returns the
// context carrying the access key's principal; origin takes the region the
// request was signed for.
func (s *Server) verifySigV4(ctx context.Context, r *http.Request, body []byte, v *sigv4.Verifier, origin *reqctx.Origin) (context.Context, error) {
	a, err := v.Verify(r, body)
	if err != nil {
		return ctx, err
	}
	origin.Region = a.Region
	p, err := s.iam.PrincipalForAccessKey(r.Context(), a.AccessKeyID)
	if err != nil {
		return ctx, err
	}
	return reqctx.WithPrincipal(ctx, p), nil
}

// origin returns where r came from: the peer address, or when the peer is
// a trusted proxy, the nearest untrusted address in X-Forwarded-For (and
// X-Forwarded-Proto for TLS). Region is the configured one until SigV4
// says which region the request was signed for.
func (s *Server) origin(r *http.Request) *reqctx.Origin {
	o := &reqctx.Origin{Secure: r.TLS != nil, Region: s.opts.Config.Region}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return o
	}
	peer = peer.Unmap()
	if peer.Is4() && strings.IndexByte(host, ':') < 0 {
		// ParseAddr takes only the canonical dotted form of IPv4 (no
		// leading zeros), so host is what String would make anew.
		o.SourceIP = host
	} else {
		o.SourceIP = peer.String()
	}
	if !s.trusted(peer) {
		return o
	}
	xff := r.Header.Values("X-Forwarded-For")
	hops := strings.Split(strings.Join(xff, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		o.SourceIP = a.String()
		if !s.trusted(a) {
			break
		}
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		o.Secure = strings.EqualFold(strings.TrimSpace(p), "https")
	}
	return o
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
