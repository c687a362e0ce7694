package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/audit"
	"github.com/outcrop/outcrop/internal/awsapi"
	"github.com/outcrop/outcrop/internal/awsapi/restjson"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/iam"
	"github.com/outcrop/outcrop/internal/quota"
	"github.com/outcrop/outcrop/internal/reqctx"
)

// auditOp is what the audit trail needs to know of one route, worked out
// once when routes are built.
type auditOp struct {
	name    string
	labels  []string // path parameters, e.g. modelId
	capture bool     // keep the response body (mutating, non-streaming calls)
	body    bool     // redact the request body for parameters
}

// invocationOps are the model invocations that quotas limit and whose
// request bodies are prompts: their audit parameters come from the path
// and headers only, and no time is spent parsing the prompt twice.
var invocationOps = map[string]bool{
	"InvokeModel": true, "InvokeModelWithResponseStream": true, "Converse": true, "ConverseStream": true,
}

func newAuditOp(op awsapi.Operation) *auditOp {
	a := &auditOp{name: op.Name}
	path, _, _ := strings.Cut(op.URI, "?")
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			a.labels = append(a.labels, strings.TrimSuffix(strings.Trim(seg, "{}"), "+"))
		}
	}
	a.capture = !audit.ReadOnly(op.Name) && !op.OutputStream
	a.body = !invocationOps[op.Name]
	return a
}

// auditHeaders are request headers recorded as parameters (InvokeModel's
// guardrail and content-type headers); none carries content or secrets.
var auditHeaders = []struct{ header, name string }{
	{"X-Amzn-Bedrock-GuardrailIdentifier", "guardrailIdentifier"},
	{"X-Amzn-Bedrock-GuardrailVersion", "guardrailVersion"},
}

// recordAudit enqueues the audit record of a finished call. It costs an
// allocation or two on the request path; redaction and encoding happen on
// the trail's writer goroutine.
func (s *Server) recordAudit(ctx context.Context, r *http.Request, svc awsapi.Service, a *auditOp, rec *recorder, err error, start time.Time) {
	c := audit.Call{
		Time: start, Operation: a.name, Region: s.opts.Config.Region,
		UserAgent: r.UserAgent(), RequestID: reqctx.RequestID(ctx),
	}
	if o := reqctx.OriginFrom(ctx); o != nil {
		c.SourceIP, c.Region = o.SourceIP, o.Region
	}
	if p := reqctx.PrincipalFrom(ctx); p != nil {
		c.Principal = s.auditPrincipal(ctx, p)
	}
	for _, l := range a.labels {
		if v := r.PathValue(l); v != "" {
			c.Params = append(c.Params, audit.Param{Name: l, Value: v})
		}
	}
	if r.URL.RawQuery != "" {
		for k, vs := range r.URL.Query() {
			// Query strings carry filters and pagination; X-Amz-* (a
			// presigned request's credential and signature) never goes in.
			if len(vs) > 0 && !strings.HasPrefix(strings.ToLower(k), "x-amz-") {
				c.Params = append(c.Params, audit.Param{Name: k, Value: vs[0]})
			}
		}
	}
	for _, h := range auditHeaders {
		if v := r.Header.Get(h.header); v != "" {
			c.Params = append(c.Params, audit.Param{Name: h.name, Value: v})
		}
	}
	if _, ok := r.Body.(*restjson.Body); ok && a.body {
		c.Body, _ = restjson.ReadBody(r) // authentication's copy, never modified
	}
	if svc == awsapi.CloudTrail {
		c.Source = cloudTrailSource
	}
	if err != nil {
		c.ErrorCode, _ = awsapi.ErrorOf(svc, err)
		c.ErrorMsg = fault.Message(err)
	} else if rec.capture != nil {
		c.Response = rec.capture.Bytes()
	}
	s.audit.Record(c)
}

func (s *Server) auditPrincipal(ctx context.Context, p *reqctx.Principal) *audit.Principal {
	a := &audit.Principal{ARN: p.ARN, AccountID: p.AccountID, AccessKeyID: p.KeyID, PrincipalID: s.iam.PrincipalID(ctx, p)}
	switch {
	case p.Name == iam.RootUser:
		a.Type = "Root"
	case strings.HasPrefix(p.Name, "role/"):
		a.Type = "AssumedRole"
	default:
		a.Type, a.UserName = "IAMUser", p.Name
	}
	return a
}

// maxCapture bounds the response bytes kept for the audit record of a
// mutating call; longer responses are recorded without responseElements.
const maxCapture = 64 << 10

func (r *recorder) captureWrite(b []byte) {
	if r.capture == nil {
		return
	}
	if r.capture.Len()+len(b) > maxCapture {
		r.capture = nil
		return
	}
	r.capture.Write(b)
}

func newCapture(a *auditOp) *bytes.Buffer {
	if a == nil || !a.capture {
		return nil
	}
	return new(bytes.Buffer)
}

// newLimiter builds the quota limiter from the configuration (nil: none),
// with its buckets in Redis when quotas.redis is set.
func newLimiter(q config.Quotas, now func() time.Time, log *slog.Logger) (*quota.Limiter, error) {
	conv := func(m map[string]config.QuotaLimit) map[string]quota.Limit {
		out := make(map[string]quota.Limit, len(m))
		for k, v := range m {
			if v.RequestsPerMinute > 0 || v.TokensPerMinute > 0 {
				out[k] = quota.Limit{RequestsPerMinute: v.RequestsPerMinute, TokensPerMinute: v.TokensPerMinute}
			}
		}
		return out
	}
	opts := quota.Options{Models: conv(q.Models), Principals: conv(q.Principals), Keys: conv(q.Keys), Now: now, Logger: log}
	if q.Redis != "" && len(opts.Models)+len(opts.Principals)+len(opts.Keys) > 0 {
		st, err := quota.NewRedisStore(q.Redis, "outcrop:quota:")
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := quota.Ping(ctx, st); err != nil {
			quota.Close(st)
			return nil, fmt.Errorf("quotas.redis: %w", err)
		}
		opts.Store = st
	}
	return quota.New(opts), nil
}

// admit applies quotas to a model invocation. Its input tokens are
// estimated up front from the body size (about four bytes a token, which
// overcounts JSON's punctuation) and the charge is settled with the real
// input and output tokens that the front door reports through
// reqctx.AddUsage. settle must be called when the call ends.
func (s *Server) admit(ctx context.Context, op string, r *http.Request) (context.Context, func(), error) {
	if s.quota == nil || !invocationOps[op] {
		return ctx, func() {}, nil
	}
	body, _ := restjson.ReadBody(r)
	t, err := s.quota.Admit(ctx, quotaSubject(ctx, modelIDOf(r.PathValue("modelId"))), (len(body)+3)/4)
	if err != nil || t == nil {
		return ctx, func() {}, err
	}
	u := new(reqctx.Usage)
	return reqctx.WithUsage(ctx, u), func() {
		in, out := u.Tokens()
		t.Settle(context.WithoutCancel(ctx), in+out)
	}, nil
}

// quotaSubject is the caller in ctx invoking model.
func quotaSubject(ctx context.Context, model string) quota.Subject {
	sub := quota.Subject{Model: model}
	if p := reqctx.PrincipalFrom(ctx); p != nil {
		sub.Principal, sub.ARN, sub.Key = p.Name, p.ARN, p.KeyID
	}
	return sub
}

// modelIDOf returns the model ID in a foundation-model ARN, or id itself.
func modelIDOf(id string) string {
	if strings.HasPrefix(id, "arn:") {
		if i := strings.LastIndex(id, "foundation-model/"); i >= 0 {
			return id[i+len("foundation-model/"):]
		}
	}
	return id
}

// AuditDir returns the directory of the audit trail's files.
func (s *Server) AuditDir() string { return filepath.Join(s.opts.Config.DataDir, "audit") }

// FlushAudit waits until every call recorded so far is written and synced.
func (s *Server) FlushAudit(ctx context.Context) error {
	s.settled()
	return s.audit.Flush(ctx)
}
