package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"gocloud.dev/secrets"
	_ "gocloud.dev/secrets/awskms"     // awskms:// keepers
	_ "gocloud.dev/secrets/hashivault" // hashivault:// keepers

	"github.com/outcrop/outcrop/internal/awsapi"
	"github.com/outcrop/outcrop/internal/awsapi/restjson"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/invlog"
	"github.com/outcrop/outcrop/internal/reqctx"
)

// openInvocationLog starts model invocation logging (docs/invocation-logging.md):
// configuration and local log groups under <data-dir>/invocation-logs,
// records to the buckets under <data-dir>/buckets, every object sealed
// with a data key wrapped by invocationLogging.keeper, by default the local
// key <data-dir>/invocation-logs.key.
func (s *Server) openInvocationLog(ctx context.Context) (*invlog.Logger, error) {
	c := s.opts.Config
	var keeper *secrets.Keeper
	var err error
	if u := c.InvocationLogging.Keeper; u != "" {
		if keeper, err = secrets.OpenKeeper(ctx, u); err != nil {
			return nil, fmt.Errorf("invocationLogging.keeper: %w (this build has the base64key://, awskms:// "+
				"and hashivault:// keepers)", err)
		}
	} else if keeper, err = invlog.LocalKeeper(filepath.Join(c.DataDir, "invocation-logs.key")); err != nil {
		return nil, err
	}
	return invlog.Open(invlog.Options{
		Dir: filepath.Join(c.DataDir, "invocation-logs"), OpenBucket: s.openBucket, Keeper: keeper,
		AccountID: c.AccountID, Logger: s.log.With("component", "invlog"), Now: s.opts.Now,
	})
}

// FlushInvocationLog writes every invocation record made so far.
func (s *Server) FlushInvocationLog(ctx context.Context) error {
	s.settled()
	return s.invlog.Flush(ctx)
}

// maxInvlogCapture bounds the response bytes kept for an invocation record.
const maxInvlogCapture = 32 << 20

// prepareInvocation readies a model invocation for accounting: a blocking
// budget of the caller or its key refuses it; its token usage is
// collected when usage is metered or the invocation is logged; its
// response is captured while invocation logging is on. A disabled log
// costs one atomic load.
func (s *Server) prepareInvocation(ctx context.Context, r *http.Request, op string, rec *recorder) (context.Context, error) {
	if !invocationOps[op] {
		return ctx, nil
	}
	if s.meter != nil {
		var principal, key string
		if p := reqctx.PrincipalFrom(ctx); p != nil {
			principal, key = p.Name, p.KeyID
		}
		if err := s.meter.Admit(ctx, principal, key); err != nil {
			s.countRefused(r, op, err)
			return ctx, err
		}
	}
	logged := s.invlog.Enabled()
	if logged {
		rec.invlog = new(bytes.Buffer)
	}
	if (logged || s.meter != nil) && reqctx.UsageFrom(ctx) == nil {
		ctx = reqctx.WithUsage(ctx, new(reqctx.Usage))
	}
	return ctx, nil
}

// meterInvocation records a finished invocation's usage and cost.
func (s *Server) meterInvocation(ctx context.Context, r *http.Request, op string, err error) {
	if s.meter == nil || !invocationOps[op] {
		return
	}
	u := reqctx.UsageFrom(ctx)
	if u == nil {
		return // refused before it was admitted
	}
	in, out := u.Tokens()
	if err != nil && in == 0 && out == 0 {
		return
	}
	var principal, key string
	if p := reqctx.PrincipalFrom(ctx); p != nil {
		principal, key = p.Name, p.KeyID
	}
	model := modelIDOf(r.PathValue("modelId"))
	if m, lerr := s.catalog.Lookup(model); lerr == nil {
		model = m.ID
	}
	s.meter.Record(ctx, model, principal, key, in, out, u.Images())
}

func (r *recorder) invlogWrite(b []byte) {
	if r.invlog == nil {
		return
	}
	if r.invlog.Len()+len(b) > maxInvlogCapture {
		r.invlog = nil
		return
	}
	r.invlog.Write(b)
}

// logInvocation queues the invocation record of a finished call.
func (s *Server) logInvocation(ctx context.Context, r *http.Request, svc awsapi.Service, op string, rec *recorder, err error, start time.Time) {
	if rec.invlog == nil {
		return // logging was off, or the call failed before it was admitted
	}
	e := &invlog.Entry{
		Time: start, RequestID: reqctx.RequestID(ctx), Operation: op, ModelID: r.PathValue("modelId"),
		Region: s.opts.Config.Region, InputType: "application/json", OutputType: "application/json",
	}
	if o := reqctx.OriginFrom(ctx); o != nil && o.Region != "" {
		e.Region = o.Region
	}
	if p := reqctx.PrincipalFrom(ctx); p != nil {
		e.IdentityARN = p.ARN
	}
	if u := reqctx.UsageFrom(ctx); u != nil {
		e.InputTokens, e.OutputTokens = u.Tokens()
	}
	if m, lerr := s.catalog.Lookup(e.ModelID); lerr == nil {
		e.Embedding = m.Embedding()
	}
	e.Input, _ = restjson.ReadBody(r) // authentication's copy, never modified
	if err != nil {
		e.ErrorCode, _ = awsapi.ErrorFor(svc, fault.KindOf(err))
	}
	if err == nil && rec.status == http.StatusOK {
		switch op {
		case "InvokeModelWithResponseStream", "ConverseStream":
			e.Chunks = streamEvents(rec.invlog.Bytes())
		default:
			e.Output = rec.invlog.Bytes()
		}
	}
	s.invlog.Record(e)
}

// streamEvents decodes a captured event stream into what Bedrock's log
// records for it: each InvokeModel chunk's decoded bytes, or each
// ConverseStream event as {"<eventType>": payload}.
func streamEvents(b []byte) [][]byte {
	dec := eventstream.NewDecoder()
	rd := bytes.NewReader(b)
	var out [][]byte
	for rd.Len() > 0 {
		m, err := dec.Decode(rd, nil)
		if err != nil {
			break
		}
		et := m.Headers.Get(":event-type")
		if et == nil {
			continue // an exception frame
		}
		name := et.String()
		if name == "chunk" {
			var c struct {
				Bytes []byte `json:"bytes"`
			}
			if json.Unmarshal(m.Payload, &c) == nil && json.Valid(c.Bytes) {
				out = append(out, c.Bytes)
			}
			continue
		}
		if !json.Valid(m.Payload) {
			continue
		}
		ev, _ := json.Marshal(map[string]json.RawMessage{name: m.Payload})
		out = append(out, ev)
	}
	return out
}

// countRefused counts an invocation that quotas or a budget refused before
// it reached the runtime handler in the per-model metrics, as CloudWatch
// counts it in InvocationThrottles. Unknown model IDs are not counted, so
// that callers cannot create labels.
func (s *Server) countRefused(r *http.Request, op string, err error) {
	if !invocationOps[op] {
		return
	}
	m, lerr := s.catalog.Lookup(r.PathValue("modelId"))
	if lerr != nil {
		return
	}
	s.invocations.Record(m.ID, err, 0, 0, 0)
}
