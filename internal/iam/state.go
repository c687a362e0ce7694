package iam

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/iam/policy"
)

// state is an immutable snapshot of everything Authorize reads: each
// principal's compiled policies and its static context keys, every tag set,
// and model access. The request path reads it through an atomic pointer
// and never touches the store.
//
// Lifetime: a change made through the Service marks the snapshot stale, so
// the next request reloads it; changes made by another process on the same
// data directory (`outcrop iam` while the server runs) are picked up when
// the snapshot is older than CacheTTL.
type state struct {
	loaded     time.Time
	principals map[string]*principalState // by entity reference
	tags       map[string]map[string]string
	access     map[string]bool // explicit model access by model ID
}

// principalState is one user or role, precompiled.
type principalState struct {
	entity   Entity
	arn      string           // IAM ARN (aws:PrincipalArn)
	policies []*policy.Policy // inline, then attached managed
	// static holds the context keys that depend only on the principal,
	// lower-cased, with value slices shared read-only by every request.
	static []contextEntry
}

type contextEntry struct {
	key    string // lower-cased condition key
	values []string
}

func (st *state) modelEnabled(id string, def bool) bool {
	if v, ok := st.access[id]; ok {
		return v
	}
	return def
}

// invalidate marks the snapshot stale after a change through the Service.
func (s *Service) invalidate() { s.dirty.Store(true) }

// state returns a current snapshot, reloading it when stale. While one
// request reloads, concurrent ones keep using the previous snapshot.
func (s *Service) state(ctx context.Context) (*state, error) {
	cur := s.st.Load()
	if cur != nil && s.fresh(cur) {
		return cur, nil
	}
	if cur != nil {
		if !s.reloadMu.TryLock() {
			return cur, nil
		}
	} else {
		s.reloadMu.Lock()
	}
	defer s.reloadMu.Unlock()
	if cur = s.st.Load(); cur != nil && s.fresh(cur) {
		return cur, nil
	}
	s.dirty.Store(false)
	next, err := s.load(ctx)
	if err != nil {
		s.dirty.Store(true)
		return nil, err
	}
	s.st.Store(next)
	return next, nil
}

func (s *Service) fresh(st *state) bool {
	return !s.dirty.Load() && s.opts.CacheTTL > 0 && s.opts.Now().Sub(st.loaded) < s.opts.CacheTTL
}

// load reads the whole directory and compiles every policy.
func (s *Service) load(ctx context.Context) (*state, error) {
	d := s.opts.Directory
	st := &state{loaded: s.opts.Now(), principals: map[string]*principalState{}, access: map[string]bool{}}
	es, err := d.Entities(ctx)
	if err != nil {
		return nil, err
	}
	if st.tags, err = d.AllTags(ctx); err != nil {
		return nil, err
	}
	docs, err := d.Policies(ctx)
	if err != nil {
		return nil, err
	}
	atts, err := d.Attachments(ctx)
	if err != nil {
		return nil, err
	}
	acc, err := d.ModelAccessList(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range acc {
		st.access[a.ModelID] = a.Enabled
	}
	managed := map[string]*policy.Policy{}
	inline := map[string][]*policy.Policy{}
	for _, doc := range docs {
		name := doc.Name
		if doc.Owner == "" {
			name = s.ManagedPolicyARN(doc.Name)
		}
		p, err := policy.Parse(name, []byte(doc.Document))
		if err != nil {
			return nil, fmt.Errorf("stored policy %q of %q: %w", doc.Name, doc.Owner, err)
		}
		if doc.Owner == "" {
			managed[doc.Name] = p
		} else {
			inline[doc.Owner] = append(inline[doc.Owner], p)
		}
	}
	for _, e := range es {
		ps := &principalState{entity: e, arn: s.EntityARN(e.Kind, e.Name), policies: inline[e.Ref()]}
		for _, a := range atts {
			if a.Owner == e.Ref() && managed[a.Policy] != nil {
				ps.policies = append(ps.policies, managed[a.Policy])
			}
		}
		ps.static = s.staticContext(ps, st.tags[ps.arn])
		st.principals[e.Ref()] = ps
	}
	return st, nil
}

// staticContext computes the principal's own condition keys
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html).
// aws:userid is the unique ID for a user; for a role it is
// "<role ID>:<session>", so it is added per request.
func (s *Service) staticContext(ps *principalState, tags map[string]string) []contextEntry {
	one := func(k, v string) contextEntry { return contextEntry{strings.ToLower(k), []string{v}} }
	out := []contextEntry{
		one(policy.KeyPrincipalARN, ps.arn),
		one(policy.KeyPrincipalAccount, s.opts.AccountID),
	}
	if ps.entity.Kind == User {
		out = append(out, one(policy.KeyUsername, ps.entity.Name), one(policy.KeyUserID, ps.entity.ID), one(policy.KeyPrincipalType, "User"))
	} else {
		out = append(out, one(policy.KeyPrincipalType, "AssumedRole"))
	}
	for k, v := range tags {
		out = append(out, one(policy.KeyPrincipalTagPrefix+k, v))
	}
	return out
}
