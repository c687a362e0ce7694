package audit

import (
	"encoding/json"
	"strings"
	"time"
)

// Event is one API call in CloudTrail's record shape
// (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html).
// RequestParameters and ResponseElements hold only what Redact keeps:
// identifiers, names, versions, numbers and flags; never a prompt, an
// output, a secret or a signature.
type Event struct {
	EventVersion       string          `json:"eventVersion"`
	UserIdentity       UserIdentity    `json:"userIdentity"`
	EventTime          string          `json:"eventTime"` // RFC 3339 UTC, whole seconds, as CloudTrail writes it
	EventSource        string          `json:"eventSource"`
	EventName          string          `json:"eventName"`
	AWSRegion          string          `json:"awsRegion"`
	SourceIPAddress    string          `json:"sourceIPAddress"`
	UserAgent          string          `json:"userAgent"`
	ErrorCode          string          `json:"errorCode,omitempty"`
	ErrorMessage       string          `json:"errorMessage,omitempty"`
	RequestParameters  json.RawMessage `json:"requestParameters"`
	ResponseElements   json.RawMessage `json:"responseElements"`
	RequestID          string          `json:"requestID"`
	EventID            string          `json:"eventID"`
	ReadOnly           bool            `json:"readOnly"`
	Resources          []Resource      `json:"resources,omitempty"`
	EventType          string          `json:"eventType"`
	ManagementEvent    bool            `json:"managementEvent"`
	RecipientAccountID string          `json:"recipientAccountId"`
	EventCategory      string          `json:"eventCategory"`
}

// UserIdentity says who made the call, as CloudTrail's userIdentity element.
type UserIdentity struct {
	Type        string `json:"type"` // Root, IAMUser, AssumedRole, or Unknown before authentication
	PrincipalID string `json:"principalId,omitempty"`
	ARN         string `json:"arn,omitempty"`
	AccountID   string `json:"accountId,omitempty"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	UserName    string `json:"userName,omitempty"`
}

// Resource is a resource the call named, as CloudTrail's resources element.
type Resource struct {
	ARN       string `json:"ARN"`
	AccountID string `json:"accountId,omitempty"`
	Type      string `json:"type"`
}

// Time returns the event time (zero if unparseable).
func (e *Event) Time() time.Time {
	t, _ := time.Parse(time.RFC3339, e.EventTime)
	return t
}

// EventSource is the eventSource of every Bedrock service's events.
const EventSource = "bedrock.amazonaws.com"

// eventVersion is the CloudTrail record version whose shape Event follows.
const eventVersion = "1.09"

// dataOperations are the operations CloudTrail records as data events for
// Bedrock (resource types AWS::Bedrock::AgentAlias, KnowledgeBase,
// FlowAlias, Guardrail, Prompt); every other operation is a management
// event, including InvokeModel and Converse.
var dataOperations = map[string]bool{
	"InvokeAgent": true, "InvokeInlineAgent": true, "Retrieve": true, "RetrieveAndGenerate": true,
	"RetrieveAndGenerateStream": true, "InvokeFlow": true, "ApplyGuardrail": true, "RenderPrompt": true,
	"GetAgentMemory": true, "DeleteAgentMemory": true, "OptimizePrompt": true, "Rerank": true,
}

// readOnly reports whether an operation leaves state unchanged, as
// CloudTrail's readOnly field does (model invocations count as read-only).
func readOnly(op string) bool {
	for _, p := range []string{"Get", "List", "Describe", "Lookup", "Invoke", "Converse", "Count", "Retrieve", "Render", "Apply", "Rerank", "Optimize"} {
		if strings.HasPrefix(op, p) {
			return true
		}
	}
	return false
}

// IsDataEvent reports whether CloudTrail records op as a data event.
func IsDataEvent(op string) bool { return dataOperations[op] }

// ReadOnly reports whether op is recorded with readOnly true.
func ReadOnly(op string) bool { return readOnly(op) }

// resourceTypes names the CloudTrail resource type of a path parameter.
var resourceTypes = map[string]struct{ typ, arnPart string }{
	"modelId":             {"AWS::Bedrock::Model", "foundation-model/"},
	"modelIdentifier":     {"AWS::Bedrock::Model", "foundation-model/"},
	"guardrailIdentifier": {"AWS::Bedrock::Guardrail", "guardrail/"},
	"knowledgeBaseId":     {"AWS::Bedrock::KnowledgeBase", "knowledge-base/"},
	"agentId":             {"AWS::Bedrock::Agent", "agent/"},
	"agentAliasId":        {"AWS::Bedrock::AgentAlias", "agent-alias/"},
	"flowIdentifier":      {"AWS::Bedrock::Flow", "flow/"},
	"flowAliasIdentifier": {"AWS::Bedrock::FlowAlias", "flow-alias/"},
	"promptIdentifier":    {"AWS::Bedrock::Prompt", "prompt/"},
	"jobIdentifier":       {"AWS::Bedrock::Job", ""},
	"resourceArn":         {"AWS::Bedrock::Resource", ""},
	"resourceARN":         {"AWS::Bedrock::Resource", ""},
	"invocationArn":       {"AWS::Bedrock::AsyncInvoke", ""},
}

// resources derives the resources a call names from its path parameters.
func resources(params []Param, region, account string) []Resource {
	var out []Resource
	for _, p := range params {
		rt, ok := resourceTypes[p.Name]
		if !ok || p.Value == "" {
			continue
		}
		arn := p.Value
		acct := account
		if !strings.HasPrefix(arn, "arn:") && rt.arnPart != "" {
			if rt.arnPart == "foundation-model/" {
				arn, acct = "arn:aws:bedrock:"+region+"::foundation-model/"+p.Value, ""
			} else {
				arn = "arn:aws:bedrock:" + region + ":" + account + ":" + rt.arnPart + p.Value
			}
		}
		out = append(out, Resource{ARN: arn, AccountID: acct, Type: rt.typ})
	}
	return out
}
