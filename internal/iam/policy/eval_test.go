package policy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func mustParse(t testing.TB, name, doc string) *Policy {
	t.Helper()
	p, err := Parse(name, []byte(doc))
	if err != nil {
		t.Fatalf("Parse(%s) = %v", name, err)
	}
	return p
}

// ctx builds a Context from alternating key, value pairs; a value holding
// "|" is split into several values, and "<empty>" is a key with no values.
func ctx(kv ...string) Context {
	var c Context
	for i := 0; i+1 < len(kv); i += 2 {
		switch v := kv[i+1]; v {
		case "<empty>":
			c.Set(kv[i])
		default:
			c.Set(kv[i], splitBar(v)...)
		}
	}
	return c
}

func splitBar(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '|' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

const (
	claude   = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
	titan    = "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-express-v1"
	profile  = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0"
	appProf  = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"
	invoke   = "bedrock:InvokeModel"
	guardARN = "arn:aws:bedrock:us-east-1:123456789012:guardrail/guardrail-id:1"
)

func allowed(policy, sid string, idx int) Decision {
	return Decision{Outcome: Allowed, Policy: policy, Sid: sid, Statement: idx}
}

func denied(policy, sid string, idx int) Decision {
	return Decision{Outcome: ExplicitDeny, Policy: policy, Sid: sid, Statement: idx}
}

var implicit = Decision{Outcome: ImplicitDeny, Statement: -1}

// evalCase is one row of the policy matrix: policies (name → document), a
// request, and the documented decision.
type evalCase struct {
	name     string
	policies [][2]string
	action   string
	resource string
	ctx      Context
	want     Decision
}

func runEval(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ps []*Policy
			for _, p := range tc.policies {
				ps = append(ps, mustParse(t, p[0], p[1]))
			}
			req := &Request{Action: tc.action, Resource: tc.resource, Context: tc.ctx}
			got := Evaluate(req, ps...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Evaluate(%s on %s) mismatch (-want +got):\n%s", tc.action, tc.resource, diff)
			}
			// The simulator must always agree with the evaluator.
			if sim := Simulate(req, ps...); sim.Decision != got {
				t.Errorf("Simulate = %v, Evaluate = %v", sim.Decision, got)
			}
		})
	}
}

const allowInvokeFM = `{
  "Version": "2012-10-17",
  "Statement": {
    "Sid": "InvokeFoundationModels",
    "Effect": "Allow",
    "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
    "Resource": "arn:aws:bedrock:*::foundation-model/*"
  }
}`

const allowAll = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}`

// TestEvaluationLogic follows the identity-based policy evaluation logic in
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html:
// "By default, all requests are implicitly denied", "An explicit deny in any
// policy overrides any allows", and an Allow in an identity-based policy
// allows when nothing denies.
func TestEvaluationLogic(t *testing.T) {
	denyClaude := `{"Version": "2012-10-17", "Statement": [
	  {"Sid": "NoClaude", "Effect": "Deny", "Action": "bedrock:*", "Resource": "arn:aws:bedrock:*::foundation-model/anthropic.*"}]}`
	runEval(t, []evalCase{
		{name: "allow", policies: [][2]string{{"p", allowInvokeFM}}, action: invoke, resource: claude,
			want: allowed("p", "InvokeFoundationModels", 0)},
		{name: "no policies is an implicit deny", action: invoke, resource: claude, want: implicit},
		{name: "action not listed is an implicit deny", policies: [][2]string{{"p", allowInvokeFM}},
			action: "bedrock:CreateGuardrail", resource: claude, want: implicit},
		{name: "resource not listed is an implicit deny", policies: [][2]string{{"p", allowInvokeFM}},
			action: invoke, resource: profile, want: implicit},
		{name: "explicit deny overrides allow in another policy",
			policies: [][2]string{{"all", allowAll}, {"deny", denyClaude}}, action: invoke, resource: claude,
			want: denied("deny", "NoClaude", 0)},
		{name: "explicit deny overrides allow whatever the order",
			policies: [][2]string{{"deny", denyClaude}, {"all", allowAll}}, action: invoke, resource: claude,
			want: denied("deny", "NoClaude", 0)},
		{name: "deny that does not apply leaves the allow",
			policies: [][2]string{{"all", allowAll}, {"deny", denyClaude}}, action: invoke, resource: titan,
			want: allowed("all", "", 0)},
		{name: "deny alone never allows", policies: [][2]string{{"deny", denyClaude}}, action: invoke, resource: titan,
			want: implicit},
		{name: "first matching allow is reported",
			policies: [][2]string{{"a", allowInvokeFM}, {"all", allowAll}}, action: invoke, resource: claude,
			want: allowed("a", "InvokeFoundationModels", 0)},
		{name: "deny in the same policy after an allow",
			policies: [][2]string{{"p", `{"Version": "2012-10-17", "Statement": [
			  {"Effect": "Allow", "Action": "*", "Resource": "*"},
			  {"Effect": "Deny", "Action": "bedrock:InvokeModel", "Resource": "*"}]}`}},
			action: invoke, resource: claude, want: denied("p", "", 1)},
	})
}

// TestWildcards follows "Action" and "Resource" in the JSON element
// reference: action names are case-insensitive and take * and ?; resource
// ARNs are case-sensitive, and a wildcard matches within one of the six
// colon-separated ARN components (the last, the resource, runs to the end
// and may hold colons, as Bedrock model IDs do).
func TestWildcards(t *testing.T) {
	pol := func(action, resource string) [][2]string {
		return [][2]string{{"p", `{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "` +
			action + `", "Resource": "` + resource + `"}}`}}
	}
	runEval(t, []evalCase{
		{name: "action prefix wildcard", policies: pol("bedrock:Invoke*", "*"),
			action: "bedrock:InvokeModelWithResponseStream", resource: claude, want: allowed("p", "", 0)},
		{name: "action is case-insensitive", policies: pol("BEDROCK:invokemodel", "*"),
			action: invoke, resource: claude, want: allowed("p", "", 0)},
		{name: "action wildcard is case-insensitive", policies: pol("bedrock:get*", "*"),
			action: "bedrock:GetFoundationModel", resource: claude, want: allowed("p", "", 0)},
		{name: "action single-character wildcard", policies: pol("bedrock:Get?oundationModel", "*"),
			action: "bedrock:GetFoundationModel", resource: claude, want: allowed("p", "", 0)},
		{name: "? matches exactly one character", policies: pol("bedrock:Get?FoundationModel", "*"),
			action: "bedrock:GetFoundationModel", resource: claude, want: implicit},
		{name: "star action", policies: pol("*", "*"), action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: allowed("p", "", 0)},
		{name: "service star does not cover other services", policies: pol("bedrock:*", "*"),
			action: "s3:GetObject", resource: "arn:aws:s3:::b/k", want: implicit},
		{name: "resource with model-ID colon", policies: pol("bedrock:InvokeModel", "arn:aws:bedrock:us-east-1::foundation-model/anthropic.*"),
			action: invoke, resource: claude, want: allowed("p", "", 0)},
		{name: "resource is case-sensitive", policies: pol("bedrock:InvokeModel", "arn:aws:bedrock:us-east-1::foundation-model/Anthropic.*"),
			action: invoke, resource: claude, want: implicit},
		{name: "wildcard per ARN component", policies: pol("bedrock:InvokeModel", "arn:aws:bedrock:us-*:*:inference-profile/*"),
			action: invoke, resource: profile, want: allowed("p", "", 0)},
		{name: "account wildcard does not span a colon", policies: pol("bedrock:InvokeModel", "arn:aws:bedrock:us-east-1:1*:abc"),
			action: invoke, resource: "arn:aws:bedrock:us-east-1:1:2:abc", want: implicit},
		{name: "empty region and account", policies: pol("bedrock:InvokeModel", "arn:aws:bedrock:*::foundation-model/*"),
			action: invoke, resource: profile, want: implicit},
		{name: "resource ? wildcard", policies: pol("bedrock:InvokeModel", "arn:aws:bedrock:us-east-?::foundation-model/*"),
			action: invoke, resource: titan, want: allowed("p", "", 0)},
		{name: "resource that is not an ARN matches only *", policies: pol("bedrock:ListFoundationModels", "arn:aws:bedrock:*:*:*"),
			action: "bedrock:ListFoundationModels", resource: "*", want: implicit},
	})
}

// TestNotActionNotResource follows "NotAction" and "NotResource" in the JSON
// element reference: with Allow, NotAction allows every action not listed
// but does not deny the listed ones; with Deny, it denies every action not
// listed. NotResource matches every resource not listed.
func TestNotActionNotResource(t *testing.T) {
	allowNotDelete := `{"Version": "2012-10-17", "Statement": {"Sid": "AllButDelete", "Effect": "Allow",
	  "NotAction": "bedrock:Delete*", "Resource": "*"}}`
	denyNotInvoke := `{"Version": "2012-10-17", "Statement": {"Sid": "OnlyInvoke", "Effect": "Deny",
	  "NotAction": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"], "Resource": "*"}}`
	denyNotTitan := `{"Version": "2012-10-17", "Statement": {"Sid": "OnlyTitan", "Effect": "Deny",
	  "Action": "bedrock:InvokeModel*", "NotResource": ["arn:aws:bedrock:*::foundation-model/amazon.titan-*"]}}`
	allowNotClaude := `{"Version": "2012-10-17", "Statement": {"Effect": "Allow",
	  "Action": "bedrock:InvokeModel", "NotResource": "arn:aws:bedrock:*::foundation-model/anthropic.*"}}`
	runEval(t, []evalCase{
		{name: "Allow NotAction allows unlisted", policies: [][2]string{{"p", allowNotDelete}},
			action: invoke, resource: claude, want: allowed("p", "AllButDelete", 0)},
		{name: "Allow NotAction does not allow listed", policies: [][2]string{{"p", allowNotDelete}},
			action: "bedrock:DeleteGuardrail", resource: claude, want: implicit},
		{name: "Allow NotAction listed can be allowed elsewhere", policies: [][2]string{{"p", allowNotDelete}, {"all", allowAll}},
			action: "bedrock:DeleteGuardrail", resource: claude, want: allowed("all", "", 0)},
		{name: "Deny NotAction denies unlisted", policies: [][2]string{{"all", allowAll}, {"d", denyNotInvoke}},
			action: "bedrock:CreateGuardrail", resource: "*", want: denied("d", "OnlyInvoke", 0)},
		{name: "Deny NotAction spares listed", policies: [][2]string{{"all", allowAll}, {"d", denyNotInvoke}},
			action: "bedrock:invokemodel", resource: claude, want: allowed("all", "", 0)},
		{name: "Deny NotResource denies unlisted", policies: [][2]string{{"all", allowAll}, {"d", denyNotTitan}},
			action: invoke, resource: claude, want: denied("d", "OnlyTitan", 0)},
		{name: "Deny NotResource spares listed", policies: [][2]string{{"all", allowAll}, {"d", denyNotTitan}},
			action: invoke, resource: titan, want: allowed("all", "", 0)},
		{name: "Allow NotResource allows unlisted", policies: [][2]string{{"p", allowNotClaude}},
			action: invoke, resource: titan, want: allowed("p", "", 0)},
		{name: "Allow NotResource does not allow listed", policies: [][2]string{{"p", allowNotClaude}},
			action: invoke, resource: claude, want: implicit},
	})
}

// TestTagConditions follows the ABAC examples: "Controlling access to AWS
// resources using tags" (aws:ResourceTag), "Controlling access for IAM
// principals" (aws:PrincipalTag matched to a resource tag through a policy
// variable), and the rule that a condition on an absent key is false.
func TestTagConditions(t *testing.T) {
	abac := `{"Version": "2012-10-17", "Statement": {"Sid": "SameTeam", "Effect": "Allow",
	  "Action": "bedrock:InvokeModel", "Resource": "arn:aws:bedrock:*:*:application-inference-profile/*",
	  "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}}}`
	prodOnly := `{"Version": "2012-10-17", "Statement": {"Sid": "Prod", "Effect": "Allow",
	  "Action": "bedrock:*", "Resource": "*",
	  "Condition": {"StringEquals": {"aws:ResourceTag/env": ["prod", "staging"], "aws:PrincipalTag/dept": "ml"}}}}`
	runEval(t, []evalCase{
		{name: "resource tag equals principal tag", policies: [][2]string{{"abac", abac}}, action: invoke, resource: appProf,
			ctx: ctx("aws:ResourceTag/team", "red", "aws:PrincipalTag/team", "red"), want: allowed("abac", "SameTeam", 0)},
		{name: "resource tag differs", policies: [][2]string{{"abac", abac}}, action: invoke, resource: appProf,
			ctx: ctx("aws:ResourceTag/team", "blue", "aws:PrincipalTag/team", "red"), want: implicit},
		{name: "principal untagged: variable unresolved", policies: [][2]string{{"abac", abac}}, action: invoke, resource: appProf,
			ctx: ctx("aws:ResourceTag/team", "red"), want: implicit},
		{name: "resource untagged", policies: [][2]string{{"abac", abac}}, action: invoke, resource: appProf,
			ctx: ctx("aws:PrincipalTag/team", "red"), want: implicit},
		{name: "tag values are case-sensitive with StringEquals", policies: [][2]string{{"abac", abac}}, action: invoke, resource: appProf,
			ctx: ctx("aws:ResourceTag/team", "Red", "aws:PrincipalTag/team", "red"), want: implicit},
		{name: "key names are case-insensitive", policies: [][2]string{{"abac", abac}}, action: invoke, resource: appProf,
			ctx: ctx("AWS:RESOURCETAG/TEAM", "red", "aws:principaltag/Team", "red"), want: allowed("abac", "SameTeam", 0)},
		{name: "values ORed, keys ANDed: both hold", policies: [][2]string{{"p", prodOnly}}, action: invoke, resource: claude,
			ctx: ctx("aws:ResourceTag/env", "staging", "aws:PrincipalTag/dept", "ml"), want: allowed("p", "Prod", 0)},
		{name: "values ORed, keys ANDed: one fails", policies: [][2]string{{"p", prodOnly}}, action: invoke, resource: claude,
			ctx: ctx("aws:ResourceTag/env", "prod", "aws:PrincipalTag/dept", "finance"), want: implicit},
	})
}

// TestIPConditions follows the documented example "AWS: Denies access to AWS
// based on the source IP", a Deny with NotIpAddress, and the missing-key
// rule for negated operators (NotIpAddress on an absent aws:SourceIp is
// true).
func TestIPConditions(t *testing.T) {
	denyOutside := `{"Version": "2012-10-17", "Statement": {"Sid": "DenyOutside", "Effect": "Deny", "Action": "*", "Resource": "*",
	  "Condition": {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24", "2001:DB8:1234:5678::/64"]}}}}`
	allowFrom := `{"Version": "2012-10-17", "Statement": {"Sid": "Office", "Effect": "Allow", "Action": "bedrock:*", "Resource": "*",
	  "Condition": {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "198.51.100.7"]}}}}`
	runEval(t, []evalCase{
		{name: "inside IPv4 range", policies: [][2]string{{"all", allowAll}, {"d", denyOutside}}, action: invoke, resource: claude,
			ctx: ctx("aws:SourceIp", "203.0.113.77"), want: allowed("all", "", 0)},
		{name: "outside range is denied", policies: [][2]string{{"all", allowAll}, {"d", denyOutside}}, action: invoke, resource: claude,
			ctx: ctx("aws:SourceIp", "198.51.100.1"), want: denied("d", "DenyOutside", 0)},
		{name: "inside IPv6 range", policies: [][2]string{{"all", allowAll}, {"d", denyOutside}}, action: invoke, resource: claude,
			ctx: ctx("aws:SourceIp", "2001:db8:1234:5678::1"), want: allowed("all", "", 0)},
		{name: "outside IPv6 range", policies: [][2]string{{"all", allowAll}, {"d", denyOutside}}, action: invoke, resource: claude,
			ctx: ctx("aws:SourceIp", "2001:db8:1234:5679::1"), want: denied("d", "DenyOutside", 0)},
		{name: "absent source IP: NotIpAddress holds", policies: [][2]string{{"all", allowAll}, {"d", denyOutside}}, action: invoke, resource: claude,
			want: denied("d", "DenyOutside", 0)},
		{name: "IpAddress allows", policies: [][2]string{{"p", allowFrom}}, action: invoke, resource: claude,
			ctx: ctx("aws:SourceIp", "203.0.113.1"), want: allowed("p", "Office", 0)},
		{name: "single address without a prefix", policies: [][2]string{{"p", allowFrom}}, action: invoke, resource: claude,
			ctx: ctx("aws:SourceIp", "198.51.100.7"), want: allowed("p", "Office", 0)},
		{name: "IPv4-mapped IPv6 source", policies: [][2]string{{"p", allowFrom}}, action: invoke, resource: claude,
			ctx: ctx("aws:SourceIp", "::ffff:203.0.113.9"), want: allowed("p", "Office", 0)},
		{name: "IpAddress on absent key is false", policies: [][2]string{{"p", allowFrom}}, action: invoke, resource: claude,
			want: implicit},
		{name: "malformed source IP does not match", policies: [][2]string{{"p", allowFrom}}, action: invoke, resource: claude,
			ctx: ctx("aws:SourceIp", "not-an-ip"), want: implicit},
	})
}

// TestDateConditions follows the documented example "AWS: Allows access
// within specific dates" (DateGreaterThan and DateLessThan on
// aws:CurrentTime), with epoch values as the Date operators accept.
func TestDateConditions(t *testing.T) {
	window := `{"Version": "2012-10-17", "Statement": {"Sid": "Q2", "Effect": "Allow", "Action": "bedrock:*", "Resource": "*",
	  "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"},
	                "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"}}}}`
	epoch := `{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "*", "Resource": "*",
	  "Condition": {"DateGreaterThanEquals": {"aws:EpochTime": 1735689600}}}}`
	runEval(t, []evalCase{
		{name: "inside window", policies: [][2]string{{"p", window}}, action: invoke, resource: claude,
			ctx: ctx("aws:CurrentTime", "2020-05-15T12:00:00Z"), want: allowed("p", "Q2", 0)},
		{name: "before window", policies: [][2]string{{"p", window}}, action: invoke, resource: claude,
			ctx: ctx("aws:CurrentTime", "2020-03-31T23:59:59Z"), want: implicit},
		{name: "bound is exclusive", policies: [][2]string{{"p", window}}, action: invoke, resource: claude,
			ctx: ctx("aws:CurrentTime", "2020-04-01T00:00:00Z"), want: implicit},
		{name: "other zone", policies: [][2]string{{"p", window}}, action: invoke, resource: claude,
			ctx: ctx("aws:CurrentTime", "2020-04-01T01:30:00+01:00"), want: allowed("p", "Q2", 0)},
		{name: "epoch request value against ISO policy", policies: [][2]string{{"p", window}}, action: invoke, resource: claude,
			ctx: ctx("aws:CurrentTime", "1589544000"), want: allowed("p", "Q2", 0)},
		{name: "after window", policies: [][2]string{{"p", window}}, action: invoke, resource: claude,
			ctx: ctx("aws:CurrentTime", "2021-01-01T00:00:00Z"), want: implicit},
		{name: "epoch bound reached", policies: [][2]string{{"all", allowAll}, {"e", epoch}}, action: invoke, resource: claude,
			ctx: ctx("aws:EpochTime", "1735689600"), want: denied("e", "", 0)},
		{name: "epoch bound not reached", policies: [][2]string{{"all", allowAll}, {"e", epoch}}, action: invoke, resource: claude,
			ctx: ctx("aws:EpochTime", "1735689599"), want: allowed("all", "", 0)},
	})
}

// TestIfExistsSetsAndNull follows "...IfExists condition operators" (an
// absent key makes the condition true), "Condition operator to check
// existence of condition keys" (Null), and the set-operator rules of
// "Single-valued vs. multivalued context keys": ForAllValues is true for an
// absent key or an empty set, ForAnyValue is false for both.
func TestIfExistsSetsAndNull(t *testing.T) {
	ifExists := `{"Version": "2012-10-17", "Statement": {"Sid": "ViaProfile", "Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "*",
	  "Condition": {"StringEqualsIfExists": {"bedrock:InferenceProfileArn": "` + profile + `"}}}}`
	forAll := `{"Version": "2012-10-17", "Statement": {"Sid": "AllowedKeys", "Effect": "Allow", "Action": "bedrock:TagResource", "Resource": "*",
	  "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}}}}`
	forAllNotNull := `{"Version": "2012-10-17", "Statement": {"Sid": "AllowedKeys", "Effect": "Allow", "Action": "bedrock:TagResource", "Resource": "*",
	  "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}, "Null": {"aws:TagKeys": "false"}}}}`
	forAny := `{"Version": "2012-10-17", "Statement": {"Sid": "AnyKey", "Effect": "Allow", "Action": "bedrock:TagResource", "Resource": "*",
	  "Condition": {"ForAnyValue:StringLike": {"aws:TagKeys": ["team-*", "owner"]}}}}`
	denyUntagged := `{"Version": "2012-10-17", "Statement": {"Sid": "RequireTeamTag", "Effect": "Deny", "Action": "bedrock:CreateGuardrail", "Resource": "*",
	  "Condition": {"Null": {"aws:RequestTag/team": "true"}}}}`
	forAllNeg := `{"Version": "2012-10-17", "Statement": {"Sid": "NoReserved", "Effect": "Deny", "Action": "bedrock:TagResource", "Resource": "*",
	  "Condition": {"ForAnyValue:StringNotLike": {"aws:TagKeys": ["team", "env"]}}}}`
	runEval(t, []evalCase{
		{name: "IfExists: absent key holds", policies: [][2]string{{"p", ifExists}}, action: invoke, resource: claude,
			want: allowed("p", "ViaProfile", 0)},
		{name: "IfExists: present and equal", policies: [][2]string{{"p", ifExists}}, action: invoke, resource: claude,
			ctx: ctx("bedrock:InferenceProfileArn", profile), want: allowed("p", "ViaProfile", 0)},
		{name: "IfExists: present and different", policies: [][2]string{{"p", ifExists}}, action: invoke, resource: claude,
			ctx: ctx("bedrock:InferenceProfileArn", appProf), want: implicit},
		{name: "ForAllValues: subset", policies: [][2]string{{"p", forAll}}, action: "bedrock:TagResource", resource: appProf,
			ctx: ctx("aws:TagKeys", "environment"), want: allowed("p", "AllowedKeys", 0)},
		{name: "ForAllValues: equal set", policies: [][2]string{{"p", forAll}}, action: "bedrock:TagResource", resource: appProf,
			ctx: ctx("aws:TagKeys", "cost-center|environment"), want: allowed("p", "AllowedKeys", 0)},
		{name: "ForAllValues: one value outside", policies: [][2]string{{"p", forAll}}, action: "bedrock:TagResource", resource: appProf,
			ctx: ctx("aws:TagKeys", "environment|owner"), want: implicit},
		{name: "ForAllValues: absent key is true", policies: [][2]string{{"p", forAll}}, action: "bedrock:TagResource", resource: appProf,
			want: allowed("p", "AllowedKeys", 0)},
		{name: "ForAllValues: empty set is true", policies: [][2]string{{"p", forAll}}, action: "bedrock:TagResource", resource: appProf,
			ctx: ctx("aws:TagKeys", "<empty>"), want: allowed("p", "AllowedKeys", 0)},
		{name: "ForAllValues with Null false: absent key", policies: [][2]string{{"p", forAllNotNull}}, action: "bedrock:TagResource", resource: appProf,
			want: implicit},
		{name: "ForAllValues with Null false: present", policies: [][2]string{{"p", forAllNotNull}}, action: "bedrock:TagResource", resource: appProf,
			ctx: ctx("aws:TagKeys", "environment"), want: allowed("p", "AllowedKeys", 0)},
		{name: "ForAnyValue: one matches", policies: [][2]string{{"p", forAny}}, action: "bedrock:TagResource", resource: appProf,
			ctx: ctx("aws:TagKeys", "cost|team-red"), want: allowed("p", "AnyKey", 0)},
		{name: "ForAnyValue: none match", policies: [][2]string{{"p", forAny}}, action: "bedrock:TagResource", resource: appProf,
			ctx: ctx("aws:TagKeys", "cost|env"), want: implicit},
		{name: "ForAnyValue: absent key is false", policies: [][2]string{{"p", forAny}}, action: "bedrock:TagResource", resource: appProf,
			want: implicit},
		{name: "ForAnyValue: empty set is false", policies: [][2]string{{"p", forAny}}, action: "bedrock:TagResource", resource: appProf,
			ctx: ctx("aws:TagKeys", "<empty>"), want: implicit},
		{name: "ForAnyValue negated: one value outside the list", policies: [][2]string{{"all", allowAll}, {"d", forAllNeg}}, action: "bedrock:TagResource", resource: appProf,
			ctx: ctx("aws:TagKeys", "team|cost"), want: denied("d", "NoReserved", 0)},
		{name: "ForAnyValue negated: all inside the list", policies: [][2]string{{"all", allowAll}, {"d", forAllNeg}}, action: "bedrock:TagResource", resource: appProf,
			ctx: ctx("aws:TagKeys", "team|env"), want: allowed("all", "", 0)},
		{name: "Null true: key absent", policies: [][2]string{{"all", allowAll}, {"d", denyUntagged}}, action: "bedrock:CreateGuardrail", resource: "*",
			want: denied("d", "RequireTeamTag", 0)},
		{name: "Null true: key present", policies: [][2]string{{"all", allowAll}, {"d", denyUntagged}}, action: "bedrock:CreateGuardrail", resource: "*",
			ctx: ctx("aws:RequestTag/team", "red"), want: allowed("all", "", 0)},
	})
}

// TestPolicyVariables follows "IAM policy elements: Variables and tags":
// variables are replaced in Resource and condition values in 2012-10-17
// policies only, ${*}, ${?} and ${$} stand for the literal characters, a
// default applies when the key has no value, and an unresolved variable
// matches nothing.
func TestPolicyVariables(t *testing.T) {
	home := func(version string) string {
		return `{"Version": "` + version + `", "Statement": {"Sid": "Home", "Effect": "Allow", "Action": "s3:GetObject",
		  "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*"}}`
	}
	literalStar := `{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject",
	  "Resource": "arn:aws:s3:::bucket/${*}${?}${$}"}}`
	withDefault := `{"Version": "2012-10-17", "Statement": {"Sid": "Team", "Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "*",
	  "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team, 'company-wide'}"}}}}`
	accountVar := `{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "bedrock:InvokeModel",
	  "Resource": "arn:aws:bedrock:us-east-1:${aws:PrincipalAccount}:inference-profile/*"}}`
	notEqualsUser := `{"Version": "2012-10-17", "Statement": {"Sid": "OthersOnly", "Effect": "Deny", "Action": "bedrock:DeleteGuardrail", "Resource": "*",
	  "Condition": {"StringNotEquals": {"aws:ResourceTag/owner": "${aws:username}"}}}}`
	runEval(t, []evalCase{
		{name: "own home", policies: [][2]string{{"p", home(Version2012)}}, action: "s3:GetObject",
			resource: "arn:aws:s3:::amzn-s3-demo-bucket/home/alice/notes.txt", ctx: ctx("aws:username", "alice"), want: allowed("p", "Home", 0)},
		{name: "someone else's home", policies: [][2]string{{"p", home(Version2012)}}, action: "s3:GetObject",
			resource: "arn:aws:s3:::amzn-s3-demo-bucket/home/bob/notes.txt", ctx: ctx("aws:username", "alice"), want: implicit},
		{name: "no user name: unresolved", policies: [][2]string{{"p", home(Version2012)}}, action: "s3:GetObject",
			resource: "arn:aws:s3:::amzn-s3-demo-bucket/home/alice/notes.txt", want: implicit},
		{name: "variable value is literal, not a wildcard", policies: [][2]string{{"p", home(Version2012)}}, action: "s3:GetObject",
			resource: "arn:aws:s3:::amzn-s3-demo-bucket/home/alice/notes.txt", ctx: ctx("aws:username", "*"), want: implicit},
		{name: "2008 version: variable is literal text", policies: [][2]string{{"p", home(Version2008)}}, action: "s3:GetObject",
			resource: "arn:aws:s3:::amzn-s3-demo-bucket/home/alice/notes.txt", ctx: ctx("aws:username", "alice"), want: implicit},
		{name: "2008 version: literal text matches", policies: [][2]string{{"p", home(Version2008)}}, action: "s3:GetObject",
			resource: "arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/x", ctx: ctx("aws:username", "alice"), want: allowed("p", "Home", 0)},
		{name: "no version: variables are literal", policies: [][2]string{{"p", `{"Statement": {"Effect": "Allow", "Action": "s3:GetObject",
		  "Resource": "arn:aws:s3:::b/${aws:username}"}}`}}, action: "s3:GetObject",
			resource: "arn:aws:s3:::b/alice", ctx: ctx("aws:username", "alice"), want: implicit},
		{name: "escaped special characters", policies: [][2]string{{"p", literalStar}}, action: "s3:GetObject",
			resource: "arn:aws:s3:::bucket/*?$", want: allowed("p", "", 0)},
		{name: "escaped star is not a wildcard", policies: [][2]string{{"p", literalStar}}, action: "s3:GetObject",
			resource: "arn:aws:s3:::bucket/abc?$", want: implicit},
		{name: "default used when tag absent", policies: [][2]string{{"p", withDefault}}, action: invoke, resource: claude,
			ctx: ctx("aws:ResourceTag/team", "company-wide"), want: allowed("p", "Team", 0)},
		{name: "tag wins over default", policies: [][2]string{{"p", withDefault}}, action: invoke, resource: claude,
			ctx: ctx("aws:ResourceTag/team", "company-wide", "aws:PrincipalTag/team", "red"), want: implicit},
		{name: "variable inside an ARN component with a colon in its name", policies: [][2]string{{"p", accountVar}}, action: invoke,
			resource: profile, ctx: ctx("aws:PrincipalAccount", "123456789012"), want: allowed("p", "", 0)},
		{name: "variable in negated condition: owner differs", policies: [][2]string{{"all", allowAll}, {"d", notEqualsUser}},
			action: "bedrock:DeleteGuardrail", resource: "*", ctx: ctx("aws:username", "alice", "aws:ResourceTag/owner", "bob"),
			want: denied("d", "OthersOnly", 0)},
		{name: "variable in negated condition: own resource", policies: [][2]string{{"all", allowAll}, {"d", notEqualsUser}},
			action: "bedrock:DeleteGuardrail", resource: "*", ctx: ctx("aws:username", "alice", "aws:ResourceTag/owner", "alice"),
			want: allowed("all", "", 0)},
	})
}

// TestBedrockGuardrailEnforcement follows Bedrock's "Enforce the use of
// specific guardrails in model inference requests" example: an Allow with
// StringEquals on bedrock:GuardrailIdentifier and a Deny with
// StringNotEquals on it, so a request without a guardrail is explicitly
// denied (a negated operator on an absent key is true).
func TestBedrockGuardrailEnforcement(t *testing.T) {
	doc := `{"Version": "2012-10-17", "Statement": [
	  {"Sid": "InvokeFoundationModelStatement1", "Effect": "Allow",
	   "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
	   "Resource": ["arn:aws:bedrock:us-east-1::foundation-model/*"],
	   "Condition": {"StringEquals": {"bedrock:GuardrailIdentifier": "` + guardARN + `"}}},
	  {"Sid": "InvokeFoundationModelStatement2", "Effect": "Deny",
	   "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
	   "Resource": ["arn:aws:bedrock:us-east-1::foundation-model/*"],
	   "Condition": {"StringNotEquals": {"bedrock:GuardrailIdentifier": "` + guardARN + `"}}}]}`
	runEval(t, []evalCase{
		{name: "with the guardrail", policies: [][2]string{{"g", doc}}, action: invoke, resource: claude,
			ctx: ctx("bedrock:GuardrailIdentifier", guardARN), want: allowed("g", "InvokeFoundationModelStatement1", 0)},
		{name: "another guardrail version", policies: [][2]string{{"g", doc}}, action: invoke, resource: claude,
			ctx: ctx("bedrock:GuardrailIdentifier", guardARN[:len(guardARN)-1]+"2"), want: denied("g", "InvokeFoundationModelStatement2", 1)},
		{name: "no guardrail", policies: [][2]string{{"g", doc}}, action: invoke, resource: claude,
			want: denied("g", "InvokeFoundationModelStatement2", 1)},
	})
}

func TestSimulate(t *testing.T) {
	a := mustParse(t, "a", allowInvokeFM)
	d := mustParse(t, "d", `{"Version": "2012-10-17", "Statement": [
	  {"Sid": "OfficeOnly", "Effect": "Deny", "Action": "*", "Resource": "*",
	   "Condition": {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}, "BoolIfExists": {"aws:SecureTransport": "false"}}},
	  {"Sid": "Other", "Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"Null": {"aws:userid": "true"}}}]}`)
	req := &Request{Action: invoke, Resource: claude, Context: ctx("aws:SourceIp", "198.51.100.1")}
	got := Simulate(req, a, d)
	want := Simulation{
		Decision: denied("d", "OfficeOnly", 0),
		Matched: []Match{
			{Policy: "a", Sid: "InvokeFoundationModels", Statement: 0, Effect: Allow},
			{Policy: "d", Sid: "OfficeOnly", Statement: 0, Effect: Deny},
		},
		MissingKeys: []string{"aws:SecureTransport"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Simulate mismatch (-want +got):\n%s", diff)
	}
	if s := got.Decision.String(); s != `explicitDeny by policy "d" statement "OfficeOnly"` {
		t.Errorf("Decision.String() = %q", s)
	}
	if s := implicit.String(); s != "implicitDeny: no statement allows the request" {
		t.Errorf("Decision.String() = %q", s)
	}
}

func TestContextHelpers(t *testing.T) {
	var c Context
	c.SetTime(time.Date(2025, 3, 14, 16, 9, 26, 500, time.FixedZone("CET", 3600)))
	c.SetTags(KeyRequestTagPrefix, map[string]string{"team": "red", "Env": "prod"})
	c.SetTags(KeyPrincipalTagPrefix, map[string]string{"dept": "ml"})
	got := map[string][]string{}
	for _, k := range []string{"aws:currenttime", "AWS:EpochTime", "aws:RequestTag/TEAM", "aws:requesttag/env", "aws:TagKeys", "aws:PrincipalTag/dept"} {
		got[k] = c.Get(k)
	}
	want := map[string][]string{
		"aws:currenttime":       {"2025-03-14T15:09:26Z"},
		"AWS:EpochTime":         {"1741964966"},
		"aws:RequestTag/TEAM":   {"red"},
		"aws:requesttag/env":    {"prod"},
		"aws:TagKeys":           {"Env", "team"},
		"aws:PrincipalTag/dept": {"ml"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("context mismatch (-want +got):\n%s", diff)
	}
	if c.Len() != 6 {
		t.Errorf("Len() = %d, want 6", c.Len())
	}
}
