// Package arn parses and formats the model identifiers Bedrock accepts in
// its `modelId` path label: bare foundation-model IDs, inference-profile IDs
// and the ARNs of foundation models, inference profiles and custom models.
package arn

import (
	"fmt"
	"strings"

	awsarn "github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/outcrop/outcrop/internal/fault"
)

// RefKind says what a model reference names.
type RefKind int

// Kinds of model reference.
const (
	FoundationModel             RefKind = iota // anthropic.claude-3-haiku-20240307-v1:0
	InferenceProfile                           // us.anthropic.claude-3-haiku-20240307-v1:0
	ApplicationInferenceProfile                // arn:...:application-inference-profile/<id>
	CustomModel                                // arn:...:custom-model/..., imported-model/..., provisioned-model/...
)

// ModelRef is a parsed model identifier.
type ModelRef struct {
	Kind      RefKind
	ID        string // the model or profile ID without any ARN prefix
	Region    string // from an ARN, else ""
	AccountID string // from an ARN, else ""
	IsARN     bool
	Raw       string
}

// MaxModelIDLen is the longest modelId Bedrock accepts.
const MaxModelIDLen = 2048

// geoPrefixes are the system inference-profile prefixes.
var geoPrefixes = []string{"us.", "eu.", "apac.", "jp.", "au.", "ca.", "us-gov.", "global."}

// ParseModelID parses a decoded modelId path label.
func ParseModelID(s string) (ModelRef, error) {
	if s == "" {
		return ModelRef{}, fault.New(fault.Invalid, "The provided model identifier is invalid.")
	}
	if len(s) > MaxModelIDLen {
		return ModelRef{}, fault.Newf(fault.Invalid, "1 validation error detected: Value at 'modelId' failed to satisfy constraint: Member must have length less than or equal to %d", MaxModelIDLen)
	}
	ref := ModelRef{Raw: s}
	if strings.HasPrefix(s, "arn:") {
		a, err := awsarn.Parse(s)
		if err != nil || a.Service != "bedrock" {
			return ModelRef{}, fault.New(fault.Invalid, "The provided model identifier is invalid.")
		}
		typ, id, ok := strings.Cut(a.Resource, "/")
		if !ok || id == "" {
			return ModelRef{}, fault.New(fault.Invalid, "The provided model identifier is invalid.")
		}
		ref.IsARN, ref.Region, ref.AccountID, ref.ID = true, a.Region, a.AccountID, id
		switch typ {
		case "foundation-model":
			ref.Kind = FoundationModel
		case "inference-profile":
			ref.Kind = InferenceProfile
		case "application-inference-profile":
			ref.Kind = ApplicationInferenceProfile
		case "custom-model", "imported-model", "provisioned-model", "custom-model-deployment":
			ref.Kind = CustomModel
		default:
			return ModelRef{}, fault.New(fault.Invalid, "The provided model identifier is invalid.")
		}
		return ref, validChars(id)
	}
	if err := validChars(s); err != nil {
		return ModelRef{}, err
	}
	ref.ID = s
	for _, p := range geoPrefixes {
		if strings.HasPrefix(s, p) {
			ref.Kind = InferenceProfile
			return ref, nil
		}
	}
	return ref, nil
}

func validChars(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '-' || c == '_' || c == ':' || c == '/'
		if !ok {
			return fault.New(fault.Invalid, "The provided model identifier is invalid.")
		}
	}
	return nil
}

// FoundationModelARN formats the ARN of a foundation model. Foundation-model
// ARNs have an empty account field.
func FoundationModelARN(region, modelID string) string {
	return fmt.Sprintf("arn:aws:bedrock:%s::foundation-model/%s", region, modelID)
}

// InferenceProfileARN formats the ARN of a system inference profile.
func InferenceProfileARN(region, account, profileID string) string {
	return fmt.Sprintf("arn:aws:bedrock:%s:%s:inference-profile/%s", region, account, profileID)
}
