package bedrockapi

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/outcrop/outcrop/internal/awsapi/restjson"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/iam/policy"
	"github.com/outcrop/outcrop/internal/reqctx"
)

// Tags: TagResource, UntagResource and ListTagsForResource over any
// taggable Bedrock resource ARN of the account, kept by ARN whether or not
// Outcrop implements that resource yet. Tags on a resource are its
// aws:ResourceTag/* condition keys.

// taggableARN is the TaggableResourcesArn pattern of botocore's bedrock
// model, anchored and with the account required.
var taggableARN = regexp.MustCompile(`^arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:(` +
	`custom-model/imported/[a-z0-9]{12}` +
	`|(fine-tuning-job|model-customization-job|custom-model)/[a-z0-9-]{1,63}[.][a-z0-9-]{1,63}([a-z0-9-]{1,63}[.]){0,2}[a-z0-9-]{1,63}(:[a-z0-9-]{1,63}){0,2}/[a-z0-9]{12}` +
	`|guardrail/[a-z0-9]+` +
	`|automated-reasoning-policy/[a-zA-Z0-9]+(:[a-zA-Z0-9]+)?` +
	`|(inference-profile|application-inference-profile)/[a-zA-Z0-9-:.]+` +
	`|(provisioned-model|model-invocation-job|model-evaluation-job|evaluation-job|model-import-job|imported-model|async-invoke|provisioned-model-v2|provisioned-model-reservation|prompt-router|custom-model-deployment)/[a-z0-9]{12}` +
	`)$`)

// tagChars is the TagKey and TagValue pattern.
var tagChars = regexp.MustCompile(`^[a-zA-Z0-9\s._:/=+@-]*$`)

// Limits from the bedrock model (TagKey, TagValue) and AWS's tagging
// quota of 50 tags per resource (enforced by the Tagger).
const (
	maxTagKey   = 128
	maxTagValue = 256
)

type tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func validationf(format string, args ...any) error {
	return fault.Newf(fault.Invalid, "1 validation error detected: "+format, args...)
}

// checkARN validates a resource ARN and that it belongs to the account.
func (h *Handler) checkARN(arn string) error {
	if arn == "" {
		return validationf("Value null at 'resourceARN' failed to satisfy constraint: Member must not be null")
	}
	if len(arn) < 20 || len(arn) > 1011 || !taggableARN.MatchString(arn) {
		return validationf("Value '%s' at 'resourceARN' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", arn, taggableARN.String())
	}
	if acct := strings.SplitN(arn, ":", 6)[4]; acct != h.opts.AccountID {
		return fault.Newf(fault.NotFound, "The resource %s was not found in account %s.", arn, h.opts.AccountID)
	}
	return nil
}

func checkTag(i int, k, v string) error {
	switch {
	case len(k) < 1 || len(k) > maxTagKey:
		return validationf("Value '%s' at 'tags.%d.member.key' failed to satisfy constraint: Member must have length between 1 and %d", k, i, maxTagKey)
	case !tagChars.MatchString(k):
		return validationf("Value '%s' at 'tags.%d.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9\\s._:/=+@-]*", k, i)
	case len(v) > maxTagValue:
		return validationf("Value '%s' at 'tags.%d.member.value' failed to satisfy constraint: Member must have length less than or equal to %d", v, i, maxTagValue)
	case !tagChars.MatchString(v):
		return validationf("Value '%s' at 'tags.%d.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9\\s._:/=+@-]*", v, i)
	}
	return nil
}

// tooManyTags writes Bedrock's TooManyTagsException (HTTP 400), which has
// no fault kind of its own.
func tooManyTags(w http.ResponseWriter, arn string, err error) error {
	w.Header().Set("X-Amzn-Errortype", "TooManyTagsException")
	return restjson.WriteJSON(w, http.StatusBadRequest, struct {
		Message      string `json:"message"`
		ResourceName string `json:"resourceName"`
	}{fault.Message(err), arn})
}

func (h *Handler) tagResource(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ResourceARN string `json:"resourceARN"`
		Tags        []tag  `json:"tags"`
	}
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if err := h.checkARN(in.ResourceARN); err != nil {
		return err
	}
	if in.Tags == nil {
		return validationf("Value null at 'tags' failed to satisfy constraint: Member must not be null")
	}
	add := make(map[string]string, len(in.Tags))
	keys := make([]string, 0, len(in.Tags))
	extra := map[string][]string{}
	for i, t := range in.Tags {
		if err := checkTag(i+1, t.Key, t.Value); err != nil {
			return err
		}
		add[t.Key] = t.Value
		keys = append(keys, t.Key)
		extra[policy.KeyRequestTagPrefix+t.Key] = []string{t.Value}
	}
	extra[policy.KeyTagKeys] = keys
	if err := h.opts.Auth.AuthorizeRequest(r.Context(), reqctx.PrincipalFrom(r.Context()), "bedrock:TagResource", in.ResourceARN, extra); err != nil {
		return err
	}
	if err := h.opts.Tags.TagResource(r.Context(), in.ResourceARN, add, nil); err != nil {
		if fault.KindOf(err) == fault.QuotaExceeded {
			return tooManyTags(w, in.ResourceARN, err)
		}
		return err
	}
	return restjson.WriteJSON(w, http.StatusOK, struct{}{})
}

func (h *Handler) untagResource(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ResourceARN string   `json:"resourceARN"`
		TagKeys     []string `json:"tagKeys"`
	}
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if err := h.checkARN(in.ResourceARN); err != nil {
		return err
	}
	if in.TagKeys == nil {
		return validationf("Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")
	}
	for i, k := range in.TagKeys {
		if len(k) < 1 || len(k) > maxTagKey {
			return validationf("Value '%s' at 'tagKeys.%d.member' failed to satisfy constraint: Member must have length between 1 and %d", k, i+1, maxTagKey)
		}
	}
	extra := map[string][]string{policy.KeyTagKeys: in.TagKeys}
	if err := h.opts.Auth.AuthorizeRequest(r.Context(), reqctx.PrincipalFrom(r.Context()), "bedrock:UntagResource", in.ResourceARN, extra); err != nil {
		return err
	}
	if err := h.opts.Tags.TagResource(r.Context(), in.ResourceARN, nil, in.TagKeys); err != nil {
		return fmt.Errorf("untag: %w", err)
	}
	return restjson.WriteJSON(w, http.StatusOK, struct{}{})
}

func (h *Handler) listTags(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ResourceARN string `json:"resourceARN"`
	}
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if err := h.checkARN(in.ResourceARN); err != nil {
		return err
	}
	if err := h.authorize(r, "bedrock:ListTagsForResource", in.ResourceARN); err != nil {
		return err
	}
	tags, err := h.opts.Tags.ResourceTags(r.Context(), in.ResourceARN)
	if err != nil {
		return err
	}
	out := make([]tag, 0, len(tags))
	for k, v := range tags {
		out = append(out, tag{k, v})
	}
	slices.SortFunc(out, func(a, b tag) int { return strings.Compare(a.Key, b.Key) })
	return restjson.WriteJSON(w, http.StatusOK, struct {
		Tags []tag `json:"tags"`
	}{out})
}
