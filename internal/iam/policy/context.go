package policy

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Condition context keys that Outcrop fills in, as AWS names them. Key names
// are case-insensitive (aws:SourceIp and AWS:SOURCEIP are the same key), so
// these spellings are for people; Context lower-cases them.
//
// Global keys: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
// Bedrock keys: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrock.html
const (
	KeyCurrentTime      = "aws:CurrentTime"      // ISO 8601 UTC, e.g. 2024-05-01T12:00:00Z
	KeyEpochTime        = "aws:EpochTime"        // seconds since the epoch
	KeySecureTransport  = "aws:SecureTransport"  // "true" over TLS
	KeySourceIP         = "aws:SourceIp"         // caller's IPv4 or IPv6 address
	KeyUsername         = "aws:username"         // IAM user name
	KeyUserID           = "aws:userid"           // unique ID of the principal
	KeyPrincipalARN     = "aws:PrincipalArn"     // ARN of the caller
	KeyPrincipalAccount = "aws:PrincipalAccount" // account of the caller
	KeyPrincipalType    = "aws:PrincipalType"    // Account, User, AssumedRole…
	KeyRequestedRegion  = "aws:RequestedRegion"  // region the request was sent to
	KeyTagKeys          = "aws:TagKeys"          // multivalued: tag keys in the request

	// The tag prefixes take the tag key after the slash, e.g.
	// aws:ResourceTag/team. Tag keys are case-insensitive like the rest of
	// the name.
	KeyPrincipalTagPrefix = "aws:PrincipalTag/" // tags on the calling user or role
	KeyResourceTagPrefix  = "aws:ResourceTag/"  // tags on the resource acted on
	KeyRequestTagPrefix   = "aws:RequestTag/"   // tags the request sets

	// Bedrock's own keys (Service Authorization Reference, Amazon Bedrock).
	KeyBedrockInferenceProfileARN = "bedrock:InferenceProfileArn" // ARN: the profile a model was invoked through
	KeyBedrockGuardrailIdentifier = "bedrock:GuardrailIdentifier" // ARN: guardrail (with :version) applied to an inference call
	KeyBedrockPromptRouterARN     = "bedrock:PromptRouterArn"     // ARN: the prompt router a model was invoked through
	KeyBedrockBearerTokenType     = "bedrock:BearerTokenType"     // SHORT_TERM or LONG_TERM API key
)

// Context is the request context that conditions and policy variables read:
// each condition key has zero or more values. A key with no values is
// treated as absent. The zero Context is empty and usable.
type Context struct {
	m map[string][]string // keys lower-cased
}

// NewContext returns a Context holding kv. Keys are lower-cased; values
// are not copied, so the caller must not change them afterwards.
func NewContext(kv map[string][]string) Context {
	c := Context{m: make(map[string][]string, len(kv))}
	for k, v := range kv {
		c.m[strings.ToLower(k)] = v
	}
	return c
}

// Set sets key to values, replacing any earlier values.
func (c *Context) Set(key string, values ...string) {
	if c.m == nil {
		c.m = map[string][]string{}
	}
	c.m[strings.ToLower(key)] = values
}

// Get returns the values of key, whatever its case.
func (c *Context) Get(key string) []string { return c.lookup(strings.ToLower(key)) }

// Len returns the number of keys set.
func (c *Context) Len() int { return len(c.m) }

// lookup takes an already lower-cased key.
func (c *Context) lookup(lower string) []string {
	if c == nil || c.m == nil {
		return nil
	}
	return c.m[lower]
}

// SetTime sets aws:CurrentTime (ISO 8601, UTC, whole seconds) and
// aws:EpochTime from t.
func (c *Context) SetTime(t time.Time) {
	t = t.UTC()
	c.Set(KeyCurrentTime, t.Format("2006-01-02T15:04:05Z"))
	c.Set(KeyEpochTime, strconv.FormatInt(t.Unix(), 10))
}

// SetTags sets prefix+key to each tag's value: use KeyPrincipalTagPrefix,
// KeyResourceTagPrefix or KeyRequestTagPrefix. For request tags it also
// sets the multivalued aws:TagKeys.
func (c *Context) SetTags(prefix string, tags map[string]string) {
	keys := make([]string, 0, len(tags))
	for k, v := range tags {
		c.Set(prefix+k, v)
		keys = append(keys, k)
	}
	if strings.EqualFold(prefix, KeyRequestTagPrefix) {
		slices.Sort(keys)
		c.Set(KeyTagKeys, keys...)
	}
}
