package awsapi

import (
	"testing"

	"github.com/outcrop/outcrop/internal/fault"
)

// The expectations mirror the table in STYLE.md §4, itself read from the
// service models; the implementation reads the generated tables.
func TestErrorFor(t *testing.T) {
	tests := []struct {
		svc        Service
		kind       fault.Kind
		wantName   string
		wantStatus int
	}{
		{Runtime, fault.Invalid, "ValidationException", 400},
		{Runtime, fault.Conflict, "ConflictException", 400},
		{Agent, fault.Conflict, "ConflictException", 409},
		{AgentRuntime, fault.Conflict, "ConflictException", 409},
		{Agent, fault.QuotaExceeded, "ServiceQuotaExceededException", 402},
		{Bedrock, fault.QuotaExceeded, "ServiceQuotaExceededException", 400},
		{Runtime, fault.ModelNotReady, "ModelNotReadyException", 429},
		{AgentRuntime, fault.ModelNotReady, "ModelNotReadyException", 424},
		{Runtime, fault.ModelTimeout, "ModelTimeoutException", 408},
		{Runtime, fault.ModelFailed, "ModelErrorException", 424},
		{AgentRuntime, fault.ModelFailed, "DependencyFailedException", 424},
		{Runtime, fault.Unavailable, "ServiceUnavailableException", 503},
		{AgentRuntime, fault.Unavailable, "BadGatewayException", 502},
		{Agent, fault.Unavailable, "InternalServerException", 500},
		{Bedrock, fault.NotFound, "ResourceNotFoundException", 404},
		{Runtime, fault.Throttled, "ThrottlingException", 429},
		{Runtime, fault.Denied, "AccessDeniedException", 403},
		{Runtime, fault.Internal, "InternalServerException", 500},
		{Agent, fault.Unauthenticated, "UnrecognizedClientException", 403},
		{Runtime, fault.BadSignature, "InvalidSignatureException", 403},
		{Runtime, fault.Expired, "ExpiredTokenException", 403},
		{Runtime, fault.Unsigned, "MissingAuthenticationTokenException", 403},
	}
	for _, tt := range tests {
		name, status := ErrorFor(tt.svc, tt.kind)
		if name != tt.wantName || status != tt.wantStatus {
			t.Errorf("ErrorFor(%v, %v) = %s %d, want %s %d", tt.svc, tt.kind, name, status, tt.wantName, tt.wantStatus)
		}
	}
}

func TestStreamException(t *testing.T) {
	if m, ok := StreamException(Runtime, "ConverseStreamOutput", "ThrottlingException"); !ok || m != "throttlingException" {
		t.Errorf("ConverseStreamOutput throttling = %q %v", m, ok)
	}
	if _, ok := StreamException(Runtime, "ConverseStreamOutput", "ModelTimeoutException"); ok {
		t.Error("ConverseStreamOutput has no modelTimeoutException member")
	}
	if m, ok := StreamException(Runtime, "ResponseStream", "ModelTimeoutException"); !ok || m != "modelTimeoutException" {
		t.Errorf("ResponseStream timeout = %q %v", m, ok)
	}
}

func TestOperationsAndBearer(t *testing.T) {
	counts := map[Service]int{}
	for _, s := range Services {
		counts[s] = len(Operations(s))
	}
	if counts[Runtime] < 10 || counts[Bedrock] < 100 || counts[Agent] < 70 || counts[AgentRuntime] < 30 {
		t.Errorf("operation counts = %v", counts)
	}
	if !AcceptsBearer(Runtime) || !AcceptsBearer(Bedrock) || AcceptsBearer(Agent) || AcceptsBearer(AgentRuntime) {
		t.Error("bearer auth must be accepted by bedrock and bedrock-runtime only")
	}
}
