package iam

import (
	"context"

	"github.com/outcrop/outcrop/internal/reqctx"
)

// PrincipalID returns the unique ID by which CloudTrail's userIdentity
// names p: the account ID for the root, the user's ID (AIDA…) for a user,
// and the role's ID with the session name (AROA…:session) for a role
// session. It reads the authorization snapshot, so on the request path it
// costs a map lookup; it returns "" when p is unknown.
func (s *Service) PrincipalID(ctx context.Context, p *reqctx.Principal) string {
	if p == nil {
		return ""
	}
	if p.Name == RootUser {
		return p.AccountID
	}
	st, err := s.state(ctx)
	if err != nil {
		return ""
	}
	ps, ok := st.principals[p.Name]
	if !ok {
		return ""
	}
	if ps.entity.Kind == Role {
		return ps.entity.ID + ":" + p.KeyID
	}
	return ps.entity.ID
}
