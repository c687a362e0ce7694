// Package agentapi serves bedrock-agent over HTTP: knowledge bases,
// ingestion jobs and direct document ingestion (kb.go), data sources and
// their chunking configuration (datasource.go), and the
// resource tag operations on /tags/{resourceArn} (TagResource,
// UntagResource, ListTagsForResource), which bedrock-agent-runtime shares:
// the route belongs to bedrock-agent, so session ARNs of
// bedrock-agent-runtime are accepted too.
package agentapi

import (
	"context"
	"net/http"
	"regexp"
	"strings"

	"github.com/outcrop/outcrop/internal/awsapi/restjson"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/iam/policy"
	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/reqctx"
)

// Authorizer decides whether a principal may perform an action on a
// resource, with request-specific condition keys.
type Authorizer interface {
	AuthorizeRequest(ctx context.Context, p *reqctx.Principal, action, resource string, extra map[string][]string) error
}

// Tagger keeps tags by resource ARN.
type Tagger interface {
	ResourceTags(ctx context.Context, arn string) (map[string]string, error)
	// TagResource adds add and removes remove; fault.QuotaExceeded when
	// the resource would have too many tags.
	TagResource(ctx context.Context, arn string, add map[string]string, remove []string) error
}

// Options configures the handler.
type Options struct {
	Auth      Authorizer
	Tags      Tagger
	AccountID string
	// KB runs knowledge bases; nil leaves their operations unrouted.
	KB *kb.Service
}

// Handler serves bedrock-agent operations.
type Handler struct{ opts Options }

// New returns a Handler.
func New(opts Options) *Handler { return &Handler{opts: opts} }

// Routes maps operation names to handlers.
func (h *Handler) Routes() map[string]func(http.ResponseWriter, *http.Request) error {
	m := map[string]func(http.ResponseWriter, *http.Request) error{
		"TagResource":         h.tagResource,
		"UntagResource":       h.untagResource,
		"ListTagsForResource": h.listTags,
	}
	if h.opts.KB != nil {
		h.kbRoutes(m)
	}
	return m
}

// taggableARN is bedrock-agent's TaggableResourcesArn (agents, aliases,
// knowledge bases, flows and their aliases, prompts and their versions;
// the model's "/d{12}" read as the twelve digits it means) or
// bedrock-agent-runtime's (sessions).
var taggableARN = regexp.MustCompile(`^arn:aws(-[^:]+)?:bedrock:[a-zA-Z0-9-]+:[0-9]{12}:(` +
	`(agent|agent-alias|knowledge-base|flow|prompt)/[A-Z0-9]{10}(/[A-Z0-9]{10})?` +
	`|flow/[A-Z0-9]{10}/alias/[A-Z0-9]{10}` +
	`|prompt/[A-Z0-9]{10}(:[0-9]+)?` +
	`|session/[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}` +
	`)$`)

var tagChars = regexp.MustCompile(`^[a-zA-Z0-9\s._:/=+@-]*$`)

func validationf(format string, args ...any) error {
	return fault.Newf(fault.Invalid, "1 validation error detected: "+format, args...)
}

func (h *Handler) resource(r *http.Request) (string, error) {
	arn := r.PathValue("resourceArn")
	if len(arn) < 20 || len(arn) > 1011 || !taggableARN.MatchString(arn) {
		return "", validationf("Value '%s' at 'resourceArn' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", arn, taggableARN.String())
	}
	if acct := strings.SplitN(arn, ":", 6)[4]; acct != h.opts.AccountID {
		return "", fault.Newf(fault.NotFound, "The resource %s was not found in account %s.", arn, h.opts.AccountID)
	}
	return arn, nil
}

func checkKey(at, k string) error {
	if len(k) < 1 || len(k) > 128 {
		return validationf("Value '%s' at '%s' failed to satisfy constraint: Member must have length between 1 and 128", k, at)
	}
	if !tagChars.MatchString(k) {
		return validationf("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9\\s._:/=+@-]*", k, at)
	}
	return nil
}

func (h *Handler) tagResource(w http.ResponseWriter, r *http.Request) error {
	arn, err := h.resource(r)
	if err != nil {
		return err
	}
	body, err := restjson.ReadBody(r)
	if err != nil {
		return err
	}
	var in struct {
		Tags map[string]string `json:"tags"`
	}
	if err := restjson.Decode(body, &in); err != nil {
		return err
	}
	if in.Tags == nil {
		return validationf("Value null at 'tags' failed to satisfy constraint: Member must not be null")
	}
	extra := map[string][]string{}
	keys := make([]string, 0, len(in.Tags))
	for k, v := range in.Tags {
		if err := checkKey("tags", k); err != nil {
			return err
		}
		if len(v) > 256 || !tagChars.MatchString(v) {
			return validationf("Value '%s' at 'tags' failed to satisfy constraint: Member must have length less than or equal to 256 and satisfy regular expression pattern: [a-zA-Z0-9\\s._:/=+@-]*", v)
		}
		keys = append(keys, k)
		extra[policy.KeyRequestTagPrefix+k] = []string{v}
	}
	extra[policy.KeyTagKeys] = keys
	if err := h.opts.Auth.AuthorizeRequest(r.Context(), reqctx.PrincipalFrom(r.Context()), "bedrock:TagResource", arn, extra); err != nil {
		return err
	}
	if err := h.opts.Tags.TagResource(r.Context(), arn, in.Tags, nil); err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusOK, struct{}{})
}

func (h *Handler) untagResource(w http.ResponseWriter, r *http.Request) error {
	arn, err := h.resource(r)
	if err != nil {
		return err
	}
	keys, ok := r.URL.Query()["tagKeys"]
	if !ok {
		return validationf("Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")
	}
	for _, k := range keys {
		if err := checkKey("tagKeys", k); err != nil {
			return err
		}
	}
	if err := h.opts.Auth.AuthorizeRequest(r.Context(), reqctx.PrincipalFrom(r.Context()), "bedrock:UntagResource", arn, map[string][]string{policy.KeyTagKeys: keys}); err != nil {
		return err
	}
	if err := h.opts.Tags.TagResource(r.Context(), arn, nil, keys); err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusOK, struct{}{})
}

func (h *Handler) listTags(w http.ResponseWriter, r *http.Request) error {
	arn, err := h.resource(r)
	if err != nil {
		return err
	}
	if err := h.opts.Auth.AuthorizeRequest(r.Context(), reqctx.PrincipalFrom(r.Context()), "bedrock:ListTagsForResource", arn, nil); err != nil {
		return err
	}
	tags, err := h.opts.Tags.ResourceTags(r.Context(), arn)
	if err != nil {
		return err
	}
	return restjson.WriteJSON(w, http.StatusOK, struct {
		Tags map[string]string `json:"tags"`
	}{tags})
}
