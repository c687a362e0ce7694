package iam

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/iam/policy"
)

// Kind says whether an entity is a user or a role.
type Kind string

// Entity kinds.
const (
	User Kind = "user"
	Role Kind = "role"
)

// Entity is an IAM user or role of the account.
type Entity struct {
	Kind    Kind
	Name    string
	ID      string // unique ID: AIDA… for users, AROA… for roles
	Created time.Time
}

// Ref is how keys, inline policies and attachments refer to the entity:
// the user name for a user, "role/<name>" for a role. User names cannot
// contain "/", so the two never collide.
func (e Entity) Ref() string { return ref(e.Kind, e.Name) }

func ref(k Kind, name string) string {
	if k == Role {
		return "role/" + name
	}
	return name
}

// parseRef splits a key owner reference into kind and name.
func parseRef(r string) (Kind, string) {
	if name, ok := strings.CutPrefix(r, "role/"); ok {
		return Role, name
	}
	return User, r
}

// PolicyDoc is a stored policy document. Owner is the entity reference for
// an inline policy and "" for a customer managed policy.
type PolicyDoc struct {
	Owner    string
	Name     string
	Document string
	Created  time.Time
}

// Attachment attaches the managed policy Policy to the entity Owner.
type Attachment struct {
	Owner  string
	Policy string
}

// EntityStore persists users and roles.
type EntityStore interface {
	PutEntity(ctx context.Context, e Entity) error
	// DeleteEntity removes the entity with its inline policies and
	// attachments (fault.NotFound if absent).
	DeleteEntity(ctx context.Context, ref string) error
	Entities(ctx context.Context) ([]Entity, error)
}

// PolicyStore persists inline and managed policy documents and the
// attachments of managed policies.
type PolicyStore interface {
	PutPolicy(ctx context.Context, p PolicyDoc) error
	DeletePolicy(ctx context.Context, owner, name string) error // fault.NotFound if absent
	Policies(ctx context.Context) ([]PolicyDoc, error)
	SetAttached(ctx context.Context, a Attachment, attached bool) error
	Attachments(ctx context.Context) ([]Attachment, error)
}

// TagStore persists tags by resource ARN: IAM users and roles (whose tags
// are aws:PrincipalTag/* when they call) and Bedrock resources (whose tags
// are aws:ResourceTag/*).
type TagStore interface {
	// PutTags replaces the resource's whole tag set; an empty set deletes it.
	PutTags(ctx context.Context, arn string, tags map[string]string) error
	AllTags(ctx context.Context) (map[string]map[string]string, error)
}

// Directory is everything the Service keeps besides keys. store/sqlite
// implements it.
type Directory interface {
	EntityStore
	PolicyStore
	TagStore
	ModelAccessStore
}

// AWS's quotas on identity-based policies: the aggregate size of a user's
// (role's) inline policies and the size of one managed policy, counted
// without whitespace.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
const (
	maxUserInline = 2048
	maxRoleInline = 10240
	maxManaged    = 6144
	maxTags       = 50 // tags per IAM user or role, and per Bedrock resource
)

func validName(kind, name string, max int) error {
	if name == "" || len(name) > max {
		return fault.Newf(fault.Invalid, "ValidationError: %s name must be 1 to %d characters.", kind, max)
	}
	for _, r := range name {
		if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) || strings.ContainsRune("_+=,.@-", r)) {
			return fault.Newf(fault.Invalid, "ValidationError: %s name %q may contain only letters, digits and _+=,.@-", kind, name)
		}
	}
	return nil
}

// CreateUser creates an IAM user.
func (s *Service) CreateUser(ctx context.Context, name string) (Entity, error) {
	return s.createEntity(ctx, User, name)
}

// CreateRole creates an IAM role. Access keys made for "role/<name>" act
// as the role (as a session of it would in AWS).
func (s *Service) CreateRole(ctx context.Context, name string) (Entity, error) {
	return s.createEntity(ctx, Role, name)
}

func (s *Service) createEntity(ctx context.Context, k Kind, name string) (Entity, error) {
	if err := validName(string(k), name, 64); err != nil {
		return Entity{}, err
	}
	if k == User && name == RootUser {
		return Entity{}, fault.New(fault.Conflict, "EntityAlreadyExists: root is the account root user.")
	}
	if _, err := s.entity(ctx, ref(k, name)); err == nil {
		return Entity{}, fault.Newf(fault.Conflict, "EntityAlreadyExists: %s with name %s already exists.", titleKind(k), name)
	}
	prefix := "AIDA"
	if k == Role {
		prefix = "AROA"
	}
	e := Entity{Kind: k, Name: name, ID: prefix + randString(17, keyAlphabet), Created: s.opts.Now().UTC().Truncate(time.Second)}
	if err := s.opts.Directory.PutEntity(ctx, e); err != nil {
		return Entity{}, err
	}
	s.invalidate()
	return e, nil
}

func titleKind(k Kind) string {
	if k == Role {
		return "Role"
	}
	return "User"
}

// entity returns the user or role with reference r.
func (s *Service) entity(ctx context.Context, r string) (Entity, error) {
	es, err := s.opts.Directory.Entities(ctx)
	if err != nil {
		return Entity{}, err
	}
	for _, e := range es {
		if e.Ref() == r {
			return e, nil
		}
	}
	k, name := parseRef(r)
	return Entity{}, fault.Newf(fault.NotFound, "NoSuchEntity: The %s with name %s cannot be found.", k, name)
}

// DeleteEntity deletes a user (ref "alice") or role (ref "role/ops") with
// its inline policies, attachments and tags, and revokes its keys.
func (s *Service) DeleteEntity(ctx context.Context, r string) error {
	e, err := s.entity(ctx, r)
	if err != nil {
		return err
	}
	if err := s.revokeKeysOf(ctx, r); err != nil {
		return err
	}
	if err := s.opts.Directory.PutTags(ctx, s.EntityARN(e.Kind, e.Name), nil); err != nil {
		return err
	}
	if err := s.opts.Directory.DeleteEntity(ctx, r); err != nil {
		return err
	}
	s.invalidate()
	return nil
}

func (s *Service) revokeKeysOf(ctx context.Context, r string) error {
	aks, err := s.opts.Store.AccessKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range aks {
		if k.User == r && k.Active {
			if err := s.RevokeKey(ctx, k.ID); err != nil {
				return err
			}
		}
	}
	apis, err := s.opts.Store.APIKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range apis {
		if k.User == r && k.Active {
			k.Active = false
			if err := s.opts.Store.PutAPIKey(ctx, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// Entities lists users and roles.
func (s *Service) Entities(ctx context.Context) ([]Entity, error) {
	return s.opts.Directory.Entities(ctx)
}

// EntityARN returns the IAM ARN of a user or role.
func (s *Service) EntityARN(k Kind, name string) string {
	return "arn:aws:iam::" + s.opts.AccountID + ":" + string(k) + "/" + name
}

// ManagedPolicyARN returns the ARN of the customer managed policy name.
func (s *Service) ManagedPolicyARN(name string) string {
	return "arn:aws:iam::" + s.opts.AccountID + ":policy/" + name
}

// policySize counts a document's characters other than whitespace, as
// IAM's quotas do.
func policySize(doc string) int {
	n := 0
	for _, r := range doc {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

// malformed turns a parse error into IAM's MalformedPolicyDocument.
func malformed(err error) error {
	var fe *fault.Error
	if errors.As(err, &fe) {
		return &fault.Error{Kind: fault.Invalid, Msg: "MalformedPolicyDocument: " + fe.Msg, Err: fe.Err}
	}
	return fault.Wrap(fault.Invalid, err, "MalformedPolicyDocument: "+fault.Message(err))
}

// PutInlinePolicy adds or replaces the inline policy name of the user or
// role r. The document is validated with the policy language first.
func (s *Service) PutInlinePolicy(ctx context.Context, r, name, doc string) error {
	e, err := s.entity(ctx, r)
	if err != nil {
		return err
	}
	if err := validName("policy", name, 128); err != nil {
		return err
	}
	if _, err := policy.Parse(name, []byte(doc)); err != nil {
		return malformed(err)
	}
	docs, err := s.opts.Directory.Policies(ctx)
	if err != nil {
		return err
	}
	total := policySize(doc)
	for _, d := range docs {
		if d.Owner == r && d.Name != name {
			total += policySize(d.Document)
		}
	}
	limit := maxUserInline
	if e.Kind == Role {
		limit = maxRoleInline
	}
	if total > limit {
		return fault.Newf(fault.QuotaExceeded, "LimitExceeded: Maximum policy size of %d bytes exceeded for %s %s", limit, e.Kind, e.Name)
	}
	err = s.opts.Directory.PutPolicy(ctx, PolicyDoc{Owner: r, Name: name, Document: doc, Created: s.opts.Now().UTC().Truncate(time.Second)})
	s.invalidate()
	return err
}

// CreatePolicy creates the customer managed policy name.
func (s *Service) CreatePolicy(ctx context.Context, name, doc string) (arn string, err error) {
	if err := validName("policy", name, 128); err != nil {
		return "", err
	}
	if _, err := policy.Parse(name, []byte(doc)); err != nil {
		return "", malformed(err)
	}
	if n := policySize(doc); n > maxManaged {
		return "", fault.Newf(fault.QuotaExceeded, "LimitExceeded: Cannot exceed quota for PolicySize: %d", maxManaged)
	}
	docs, err := s.opts.Directory.Policies(ctx)
	if err != nil {
		return "", err
	}
	for _, d := range docs {
		if d.Owner == "" && d.Name == name {
			return "", fault.Newf(fault.Conflict, "EntityAlreadyExists: A policy called %s already exists. Duplicate names are not allowed.", name)
		}
	}
	if err := s.opts.Directory.PutPolicy(ctx, PolicyDoc{Name: name, Document: doc, Created: s.opts.Now().UTC().Truncate(time.Second)}); err != nil {
		return "", err
	}
	s.invalidate()
	return s.ManagedPolicyARN(name), nil
}

// DeletePolicy deletes an inline policy (owner set) or a managed policy
// (owner ""). A managed policy must be detached first, as in IAM.
func (s *Service) DeletePolicy(ctx context.Context, owner, name string) error {
	name = strings.TrimPrefix(name, s.ManagedPolicyARN(""))
	if owner == "" {
		atts, err := s.opts.Directory.Attachments(ctx)
		if err != nil {
			return err
		}
		for _, a := range atts {
			if a.Policy == name {
				return fault.New(fault.Conflict, "DeleteConflict: Cannot delete a policy attached to entities.")
			}
		}
	}
	if err := s.opts.Directory.DeletePolicy(ctx, owner, name); err != nil {
		return err
	}
	s.invalidate()
	return nil
}

// Attach attaches (or with attached false, detaches) the managed policy
// named by name or ARN to the user or role r.
func (s *Service) Attach(ctx context.Context, r, name string, attached bool) error {
	name = strings.TrimPrefix(name, s.ManagedPolicyARN(""))
	if _, err := s.entity(ctx, r); err != nil {
		return err
	}
	docs, err := s.opts.Directory.Policies(ctx)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(docs, func(d PolicyDoc) bool { return d.Owner == "" && d.Name == name }) {
		return fault.Newf(fault.NotFound, "NoSuchEntity: Policy %s does not exist or is not attachable.", s.ManagedPolicyARN(name))
	}
	if err := s.opts.Directory.SetAttached(ctx, Attachment{Owner: r, Policy: name}, attached); err != nil {
		return err
	}
	s.invalidate()
	return nil
}

// Policies lists every stored policy document.
func (s *Service) Policies(ctx context.Context) ([]PolicyDoc, error) {
	return s.opts.Directory.Policies(ctx)
}

// Attachments lists managed-policy attachments.
func (s *Service) Attachments(ctx context.Context) ([]Attachment, error) {
	return s.opts.Directory.Attachments(ctx)
}

// CompiledPolicies returns the parsed identity-based policies of the user
// or role r: its inline policies (named by their names), then its attached
// managed policies (named by their ARNs).
func (s *Service) CompiledPolicies(ctx context.Context, r string) ([]*policy.Policy, error) {
	st, err := s.state(ctx)
	if err != nil {
		return nil, err
	}
	if p := st.principals[r]; p != nil {
		return p.policies, nil
	}
	if r == RootUser {
		return nil, nil
	}
	_, err = s.entity(ctx, r)
	return nil, err
}

// EntityTags returns the tags of a user or role.
func (s *Service) EntityTags(ctx context.Context, r string) (map[string]string, error) {
	e, err := s.entity(ctx, r)
	if err != nil {
		return nil, err
	}
	return s.ResourceTags(ctx, s.EntityARN(e.Kind, e.Name))
}

// TagEntity adds or replaces tags on a user or role, and removes the keys
// in remove.
func (s *Service) TagEntity(ctx context.Context, r string, add map[string]string, remove []string) error {
	e, err := s.entity(ctx, r)
	if err != nil {
		return err
	}
	return s.TagResource(ctx, s.EntityARN(e.Kind, e.Name), add, remove)
}

// ResourceTags returns the tags of the resource with the given ARN (none
// is an empty map).
func (s *Service) ResourceTags(ctx context.Context, arn string) (map[string]string, error) {
	st, err := s.state(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(st.tags[arn]))
	for k, v := range st.tags[arn] {
		out[k] = v
	}
	return out, nil
}

// TagResource adds or replaces the tags add and removes the keys remove on
// the resource arn. Tag keys are case-sensitive. More than 50 tags in all
// is fault.QuotaExceeded (TooManyTagsException on the wire).
func (s *Service) TagResource(ctx context.Context, arn string, add map[string]string, remove []string) error {
	s.tagMu.Lock()
	defer s.tagMu.Unlock()
	all, err := s.opts.Directory.AllTags(ctx)
	if err != nil {
		return err
	}
	tags := all[arn]
	if tags == nil {
		tags = map[string]string{}
	}
	for k, v := range add {
		tags[k] = v
	}
	for _, k := range remove {
		delete(tags, k)
	}
	if len(tags) > maxTags {
		return fault.Newf(fault.QuotaExceeded, "The number of tags on resource %s would exceed the limit of %d.", arn, maxTags)
	}
	if err := s.opts.Directory.PutTags(ctx, arn, tags); err != nil {
		return fmt.Errorf("tag %s: %w", arn, err)
	}
	s.invalidate()
	return nil
}
