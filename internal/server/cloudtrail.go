package server

import (
	"context"
	"net/http"

	"github.com/outcrop/outcrop/internal/api/cloudtrailapi"
	"github.com/outcrop/outcrop/internal/awsapi"
	"github.com/outcrop/outcrop/internal/awsapi/sigv4"
)

// cloudTrailSource is the eventSource of CloudTrail's own calls.
const cloudTrailSource = "cloudtrail.amazonaws.com"

// auditFlusher flushes the audit trail once the calls already answered
// have recorded their events.
type auditFlusher struct{ s *Server }

func (f auditFlusher) Flush(ctx context.Context) error { return f.s.FlushAudit(ctx) }

// cloudTrailRoutes serves CloudTrail's LookupEvents over the audit trail
// (docs/audit.md) on POST /, the path of every awsJson1_1 operation, by
// X-Amz-Target. Each operation runs through the same pipeline as the
// Bedrock ones (request ID, SigV4 scoped to the "cloudtrail" signing name,
// metrics, audit); a POST / with any other target is an unknown
// operation, as any unrouted request is.
func (s *Server) cloudTrailRoutes(mux *http.ServeMux, m *apiMetrics) error {
	ct := cloudtrailapi.New(cloudtrailapi.Options{Auth: s.iam, Trail: auditFlusher{s}, Dir: s.AuditDir()})
	v := sigv4.NewVerifier(s.iam, s.opts.Now, awsapi.CloudTrail.String())
	targets := map[string]http.Handler{}
	for target, op := range ct.Targets() {
		targets[target] = s.wrap(awsapi.CloudTrail, awsapi.Operation{Name: op.Name, Method: "POST", URI: "/", SuccessCode: http.StatusOK}, op.Handle, v, m)
	}
	unknown := s.wrap(awsapi.Runtime, awsapi.Operation{Name: "Unknown"}, func(http.ResponseWriter, *http.Request) error {
		return errUnknownOperation
	}, nil, m)
	return register(mux, "POST /{$}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := targets[r.Header.Get("X-Amz-Target")]; ok {
			h.ServeHTTP(w, r)
			return
		}
		unknown.ServeHTTP(w, r)
	}))
}
