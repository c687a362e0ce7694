// Package awsapi holds the AWS wire mechanics that every Bedrock service
// shares: the per-service error tables (generated from botocore's models by
// gen_tables.go), the mapping from fault kinds to exception names, the
// operation inventory used to build routes, and the front-door errors of
// authentication. It knows nothing about models or inference.
package awsapi

//go:generate go run gen_tables.go ../../../shared/aws-models/botocore

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/outcrop/outcrop/internal/fault"
)

// Service is one of the four Bedrock APIs served on the one endpoint.
type Service int

// The Bedrock services.
const (
	Runtime      Service = iota // bedrock-runtime
	Bedrock                     // bedrock (control plane)
	Agent                       // bedrock-agent
	AgentRuntime                // bedrock-agent-runtime
	// CloudTrail serves LookupEvents over the audit trail (awsJson1_1).
	// It is not in Services: its one operation is routed by X-Amz-Target.
	CloudTrail // cloudtrail
)

// String returns the service's endpoint prefix.
func (s Service) String() string {
	switch s {
	case Runtime:
		return "bedrock-runtime"
	case Bedrock:
		return "bedrock"
	case Agent:
		return "bedrock-agent"
	case AgentRuntime:
		return "bedrock-agent-runtime"
	case CloudTrail:
		return "cloudtrail"
	}
	return fmt.Sprintf("Service(%d)", int(s))
}

// Services lists every service.
var Services = []Service{Runtime, Bedrock, Agent, AgentRuntime}

// Operation is one operation of a service, as its model describes it.
type Operation struct {
	Name         string
	Method       string
	URI          string // e.g. /model/{modelId}/converse, may carry a ?query
	SuccessCode  int
	OutputStream bool
}

// Operations returns the service's operations in name order.
func Operations(s Service) []Operation { return generatedOperations[s] }

// AcceptsBearer reports whether the service's model lists Bedrock API keys
// (httpBearerAuth) as an auth scheme.
func AcceptsBearer(s Service) bool { return generatedBearer[s] }

// kindNames maps a fault kind to the exception each service uses for it, in
// order of preference; the first one the service's model declares wins.
var kindNames = map[fault.Kind][]string{
	fault.Invalid:       {"ValidationException"},
	fault.NotFound:      {"ResourceNotFoundException"},
	fault.Conflict:      {"ConflictException"},
	fault.Denied:        {"AccessDeniedException"},
	fault.Throttled:     {"ThrottlingException"},
	fault.QuotaExceeded: {"ServiceQuotaExceededException"},
	fault.ModelNotReady: {"ModelNotReadyException", "ServiceUnavailableException", "InternalServerException"},
	fault.ModelTimeout:  {"ModelTimeoutException", "DependencyFailedException", "InternalServerException"},
	fault.ModelFailed:   {"ModelErrorException", "DependencyFailedException", "InternalServerException"},
	fault.Unavailable:   {"ServiceUnavailableException", "BadGatewayException", "InternalServerException"},
	fault.Internal:      {"InternalServerException"},
}

// ErrorFor returns the exception name and HTTP status with which service s
// reports an error of kind k. Authentication kinds use the AWS front-door
// names shared by all services.
func ErrorFor(s Service, k fault.Kind) (name string, status int) {
	switch k {
	case fault.Unauthenticated:
		return "UnrecognizedClientException", http.StatusForbidden
	case fault.BadSignature:
		return "InvalidSignatureException", http.StatusForbidden
	case fault.Unsigned:
		return "MissingAuthenticationTokenException", http.StatusForbidden
	case fault.Expired:
		return "ExpiredTokenException", http.StatusForbidden
	}
	if s == CloudTrail {
		return cloudTrailError(k)
	}
	table := generatedErrors[s]
	for _, n := range kindNames[k] {
		if st, ok := table[n]; ok {
			return n, st
		}
	}
	return "InternalServerException", table["InternalServerException"]
}

// cloudTrailError maps a kind to the AWS JSON protocol's common errors,
// which CloudTrail returns with status 400 for client errors
// (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/CommonErrors.html).
// Operation-specific exceptions are named with Named.
func cloudTrailError(k fault.Kind) (string, int) {
	switch k {
	case fault.Invalid, fault.NotFound, fault.Conflict:
		return "InvalidParameterException", http.StatusBadRequest
	case fault.Denied:
		return "AccessDeniedException", http.StatusBadRequest
	case fault.Throttled, fault.QuotaExceeded:
		return "ThrottlingException", http.StatusBadRequest
	case fault.Unavailable:
		return "ServiceUnavailable", http.StatusServiceUnavailable
	}
	return "InternalFailure", http.StatusInternalServerError
}

// NamedError gives an error the exception name an operation documents
// for it (for example CloudTrail's InvalidTimeRangeException), where the
// service's table for its kind would give a generic one.
type NamedError struct {
	Name string
	Err  error
}

func (e *NamedError) Error() string { return e.Err.Error() }

// Unwrap returns the error named.
func (e *NamedError) Unwrap() error { return e.Err }

// Named returns err under the exception name name.
func Named(name string, err error) error { return &NamedError{Name: name, Err: err} }

// ErrorOf returns the exception name and status with which service s
// reports err: its name from Named, or the one of its kind.
func ErrorOf(s Service, err error) (name string, status int) {
	name, status = ErrorFor(s, fault.KindOf(err))
	var ne *NamedError
	if errors.As(err, &ne) {
		name = ne.Name
	}
	return name, status
}

// StreamException returns the event-stream member name (lower camel case,
// e.g. "throttlingException") under which an exception shape travels in the
// named union of service s, and false if the union has no such member.
func StreamException(s Service, union, shape string) (string, bool) {
	m, ok := generatedStreamExceptions[s.String()+"/"+union]
	if !ok {
		return "", false
	}
	name, ok := m[shape]
	return name, ok
}

// actionExceptions lists operations whose IAM action is not
// "bedrock:<operation name>", as the operations' API references document
// (for example, "Converse requires permission for the
// bedrock:InvokeModel action"; StartAsyncInvoke likewise).
var actionExceptions = map[string]string{
	"Converse":                  "bedrock:InvokeModel",
	"ConverseStream":            "bedrock:InvokeModelWithResponseStream",
	"StartAsyncInvoke":          "bedrock:InvokeModel",
	"RetrieveAndGenerateStream": "bedrock:RetrieveAndGenerate",
}

// Action returns the IAM action an operation is authorized as. All four
// Bedrock services share the "bedrock" action prefix.
func Action(s Service, op string) string {
	if a, ok := actionExceptions[op]; ok {
		return a
	}
	return "bedrock:" + op
}
