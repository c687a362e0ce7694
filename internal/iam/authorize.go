package iam

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/iam/policy"
	"github.com/outcrop/outcrop/internal/reqctx"
)

// Authorize is the authorization hook every operation calls with its IAM
// action (e.g. "bedrock:InvokeModel") and resource ARN ("*" for operations
// without one). See AuthorizeRequest.
func (s *Service) Authorize(ctx context.Context, p *reqctx.Principal, action, resource string) error {
	return s.AuthorizeRequest(ctx, p, action, resource, nil)
}

// AuthorizeRequest decides whether p may perform action on resource.
//
// The account root is allowed everything, as AWS's root user is. A user or
// role is evaluated against its identity-based policies (inline and
// attached managed) with AWS's single-account logic, and a request context
// holding aws:CurrentTime, aws:EpochTime, aws:SourceIp, aws:SecureTransport,
// aws:RequestedRegion (from the reqctx.Origin in ctx), the principal's
// aws:username, aws:userid, aws:PrincipalArn, aws:PrincipalAccount,
// aws:PrincipalType and aws:PrincipalTag/*, the resource's
// aws:ResourceTag/*, bedrock:BearerTokenType for API keys, and extra
// (request-specific keys such as aws:RequestTag/*).
//
// A denial is fault.Denied with AWS's message naming the principal, action
// and resource and saying whether no policy allowed it or a policy denied
// it explicitly. Once IAM allows an invocation of a foundation model, the
// model must also be enabled for the account (model access); if it is not,
// the error is Bedrock's "You don't have access to the model with the
// specified model ID."
func (s *Service) AuthorizeRequest(ctx context.Context, p *reqctx.Principal, action, resource string, extra map[string][]string) error {
	if p == nil {
		return fault.New(fault.Denied, MsgNoModelAccess)
	}
	if !p.Anonymous && p.AccountID != s.opts.AccountID {
		return fault.New(fault.Denied, denyMessage(p.ARN, action, resource, policy.ImplicitDeny))
	}
	st, err := s.state(ctx)
	if err != nil {
		return err
	}
	if !p.Anonymous && p.Name != RootUser {
		var req policy.Request
		req.Action, req.Resource = action, resource
		ps := st.principals[p.Name]
		s.fillContext(ctx, &req.Context, p, ps, st.tags[resource], extra)
		var pols []*policy.Policy
		if ps != nil {
			pols = ps.policies
		}
		if d := policy.Evaluate(&req, pols...); !d.Allowed() {
			return fault.New(fault.Denied, denyMessage(p.ARN, action, resource, d.Outcome))
		}
	}
	if needsModelAccess(action) {
		if id := foundationModelID(resource); id != "" && !st.modelEnabled(id, s.opts.ModelAccessDefault) {
			return fault.New(fault.Denied, MsgNoModelAccess)
		}
	}
	return nil
}

// RequestContext returns the condition keys AuthorizeRequest would supply
// for p acting on resource, for the policy simulator.
func (s *Service) RequestContext(ctx context.Context, p *reqctx.Principal, resource string) (policy.Context, error) {
	st, err := s.state(ctx)
	if err != nil {
		return policy.Context{}, err
	}
	var c policy.Context
	s.fillContext(ctx, &c, p, st.principals[p.Name], st.tags[resource], nil)
	return c, nil
}

func (s *Service) fillContext(ctx context.Context, c *policy.Context, p *reqctx.Principal, ps *principalState, resTags map[string]string, extra map[string][]string) {
	now := s.opts.Now().UTC()
	c.Set("aws:currenttime", now.Format(time.RFC3339))
	c.Set("aws:epochtime", strconv.FormatInt(now.Unix(), 10))
	if o := reqctx.OriginFrom(ctx); o != nil {
		if o.SourceIP != "" {
			c.Set("aws:sourceip", o.SourceIP)
		}
		c.Set("aws:securetransport", strconv.FormatBool(o.Secure))
		if o.Region != "" {
			c.Set("aws:requestedregion", o.Region)
		}
	}
	if ps != nil {
		for _, e := range ps.static {
			c.Set(e.key, e.values...)
		}
		if ps.entity.Kind == Role {
			c.Set("aws:userid", ps.entity.ID+":"+p.KeyID)
		}
	}
	if p.APIKey {
		c.Set(policy.KeyBedrockBearerTokenType, "LONG_TERM")
	}
	for k, v := range resTags {
		c.Set(policy.KeyResourceTagPrefix+k, v)
	}
	for k, v := range extra {
		c.Set(k, v...)
	}
}

// denyMessage is AWS's access-denied message for identity-based policies
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html).
// Actions on no particular resource ("*") name none.
func denyMessage(principal, action, resource string, o policy.Outcome) string {
	var b strings.Builder
	b.WriteString("User: ")
	b.WriteString(principal)
	b.WriteString(" is not authorized to perform: ")
	b.WriteString(action)
	if resource != "" && resource != "*" {
		b.WriteString(" on resource: ")
		b.WriteString(resource)
	}
	if o == policy.ExplicitDeny {
		b.WriteString(" with an explicit deny in an identity-based policy")
	} else {
		b.WriteString(" because no identity-based policy allows the ")
		b.WriteString(action)
		b.WriteString(" action")
	}
	return b.String()
}
