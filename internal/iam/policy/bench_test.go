package policy

import "testing"

// benchPolicy is a realistic 20-statement policy for a multi-tenant Bedrock
// deployment: per-team model access through tags and policy variables,
// guardrail enforcement, network and transport restrictions, a
// maintenance window, and administrative statements that do not apply to
// inference. Most statements carry conditions.
const benchPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "ListModels", "Effect": "Allow", "Action": ["bedrock:ListFoundationModels", "bedrock:GetFoundationModel"], "Resource": "*"},
    {"Sid": "DenyInsecure", "Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    {"Sid": "DenyOutsideNetwork", "Effect": "Deny", "Action": "bedrock:*", "Resource": "*",
     "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"]}, "Bool": {"aws:ViaAWSService": "false"}}},
    {"Sid": "DenyOtherRegions", "Effect": "Deny", "Action": "bedrock:*", "Resource": "*",
     "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "us-west-2", "eu-west-1"]}}},
    {"Sid": "DenyMaintenance", "Effect": "Deny", "Action": "bedrock:InvokeModel*", "Resource": "*",
     "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}, "DateLessThan": {"aws:CurrentTime": "2030-01-02T00:00:00Z"}}},
    {"Sid": "RequireGuardrail", "Effect": "Deny", "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream", "bedrock:Converse", "bedrock:ConverseStream"],
     "Resource": "arn:aws:bedrock:*::foundation-model/*",
     "Condition": {"StringNotLike": {"bedrock:GuardrailIdentifier": "arn:aws:bedrock:*:123456789012:guardrail/*"}}},
    {"Sid": "DenyExpensive", "Effect": "Deny", "Action": "bedrock:InvokeModel*",
     "Resource": ["arn:aws:bedrock:*::foundation-model/anthropic.claude-3-opus*", "arn:aws:bedrock:*::foundation-model/meta.llama3-1-405b*"],
     "Condition": {"StringNotEquals": {"aws:PrincipalTag/tier": "premium"}}},
    {"Sid": "DenyUntaggedCreate", "Effect": "Deny", "Action": ["bedrock:CreateGuardrail", "bedrock:CreateInferenceProfile"], "Resource": "*",
     "Condition": {"Null": {"aws:RequestTag/team": "true"}}},
    {"Sid": "DenyForeignTags", "Effect": "Deny", "Action": "bedrock:TagResource", "Resource": "*",
     "Condition": {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["team", "env", "cost-center"]}}},
    {"Sid": "ManageOwnGuardrails", "Effect": "Allow", "Action": ["bedrock:*Guardrail*"], "Resource": "arn:aws:bedrock:*:123456789012:guardrail/*",
     "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}},
    {"Sid": "ManageOwnProfiles", "Effect": "Allow", "Action": ["bedrock:GetInferenceProfile", "bedrock:DeleteInferenceProfile", "bedrock:TagResource"],
     "Resource": "arn:aws:bedrock:*:123456789012:application-inference-profile/*",
     "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}},
    {"Sid": "CreateTagged", "Effect": "Allow", "Action": ["bedrock:CreateGuardrail", "bedrock:CreateInferenceProfile"], "Resource": "*",
     "Condition": {"StringEquals": {"aws:RequestTag/team": "${aws:PrincipalTag/team}"}, "ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env", "cost-center"]}}},
    {"Sid": "JobsInOwnPrefix", "Effect": "Allow", "Action": ["bedrock:CreateModelInvocationJob", "bedrock:GetModelInvocationJob"],
     "Resource": "arn:aws:bedrock:*:123456789012:model-invocation-job/${aws:username}-*"},
    {"Sid": "ProfilesOfTeam", "Effect": "Allow", "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
     "Resource": "arn:aws:bedrock:*:123456789012:application-inference-profile/*",
     "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}},
    {"Sid": "SystemProfiles", "Effect": "Allow", "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
     "Resource": "arn:aws:bedrock:*:123456789012:inference-profile/us.*",
     "Condition": {"StringEquals": {"aws:PrincipalTag/cross-region": "true"}}},
    {"Sid": "EmbeddingsForAll", "Effect": "Allow", "Action": "bedrock:InvokeModel",
     "Resource": ["arn:aws:bedrock:*::foundation-model/amazon.titan-embed-*", "arn:aws:bedrock:*::foundation-model/cohere.embed-*"]},
    {"Sid": "ClaudeForML", "Effect": "Allow", "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
     "Resource": "arn:aws:bedrock:*::foundation-model/anthropic.*",
     "Condition": {"StringEquals": {"aws:PrincipalTag/dept": ["ml", "research"]}, "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::123456789012:user/*"}}},
    {"Sid": "LlamaInBusinessHours", "Effect": "Allow", "Action": "bedrock:InvokeModel*", "Resource": "arn:aws:bedrock:*::foundation-model/meta.*",
     "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}, "NumericLessThan": {"bedrock:MaxTokens": "4096"}}},
    {"Sid": "MistralFromOffice", "Effect": "Allow", "Action": "bedrock:InvokeModel*", "Resource": "arn:aws:bedrock:*::foundation-model/mistral.*",
     "Condition": {"IpAddress": {"aws:SourceIp": "10.20.0.0/16"}}},
    {"Sid": "TitanText", "Effect": "Allow", "Action": "bedrock:InvokeModel*", "Resource": "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-*",
     "Condition": {"StringEqualsIgnoreCase": {"aws:PrincipalTag/env": "PROD"}, "Bool": {"aws:SecureTransport": "true"}}}
  ]
}`

func benchRequest() *Request {
	return &Request{
		Action:   "bedrock:InvokeModel",
		Resource: "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0",
		Context: NewContext(map[string][]string{
			KeyCurrentTime:                {"2025-03-14T15:09:26Z"},
			KeyEpochTime:                  {"1741964966"},
			KeySecureTransport:            {"true"},
			KeySourceIP:                   {"10.20.30.40"},
			KeyUsername:                   {"alice"},
			KeyUserID:                     {"AIDAEXAMPLEALICE"},
			KeyPrincipalARN:               {"arn:aws:iam::123456789012:user/alice"},
			KeyPrincipalAccount:           {"123456789012"},
			KeyRequestedRegion:            {"us-east-1"},
			"aws:ViaAWSService":           {"false"},
			"aws:PrincipalTag/team":       {"search"},
			"aws:PrincipalTag/dept":       {"ml"},
			"aws:PrincipalTag/tier":       {"standard"},
			KeyBedrockGuardrailIdentifier: {"arn:aws:bedrock:us-east-1:123456789012:guardrail/abc123:1"},
		}),
	}
}

func TestBenchPolicy(t *testing.T) {
	p := mustParse(t, "team", benchPolicy)
	if len(p.Statements) != 20 || len(p.Warnings) != 0 {
		t.Fatalf("bench policy: %d statements, warnings %v", len(p.Statements), p.Warnings)
	}
	req := benchRequest()
	if d, want := Evaluate(req, p), allowed("team", "ClaudeForML", 16); d != want {
		t.Errorf("Evaluate = %v, want %v", d, want)
	}
	req.Context.Set(KeyBedrockGuardrailIdentifier)
	if d, want := Evaluate(req, p), denied("team", "RequireGuardrail", 5); d != want {
		t.Errorf("without guardrail: Evaluate = %v, want %v", d, want)
	}
}

// BenchmarkEvaluate evaluates an InvokeModel request against the
// 20-statement policy. The allowing statement is the 17th, so every Deny
// and most Allows are tested on the way.
func BenchmarkEvaluate(b *testing.B) {
	p := mustParse(b, "team", benchPolicy)
	req := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		if d := Evaluate(req, p); d.Outcome != Allowed {
			b.Fatal(d)
		}
	}
}

// BenchmarkEvaluateImplicitDeny is the slowest path: nothing applies, so
// every statement is tested.
func BenchmarkEvaluateImplicitDeny(b *testing.B) {
	p := mustParse(b, "team", benchPolicy)
	req := benchRequest()
	req.Resource = "arn:aws:bedrock:us-east-1::foundation-model/ai21.jamba-1-5-large-v1:0"
	b.ReportAllocs()
	for b.Loop() {
		if d := Evaluate(req, p); d.Outcome != ImplicitDeny {
			b.Fatal(d)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	doc := []byte(benchPolicy)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("team", doc); err != nil {
			b.Fatal(err)
		}
	}
}

// TestConcurrentEvaluate shares one compiled policy and one request between
// goroutines; run with -race.
func TestConcurrentEvaluate(t *testing.T) {
	p := mustParse(t, "team", benchPolicy)
	req := benchRequest()
	want := Evaluate(req, p)
	done := make(chan Decision)
	for range 4 {
		go func() {
			var d Decision
			for range 200 {
				d = Evaluate(req, p, nil)
			}
			done <- d
		}()
	}
	for range 4 {
		if d := <-done; d != want {
			t.Errorf("concurrent Evaluate = %v, want %v", d, want)
		}
	}
}
