package policy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/outcrop/outcrop/internal/fault"
)

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want *Policy
	}{
		{
			name: "statement object, string elements",
			doc:  `{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "*"}}`,
			want: &Policy{Name: "p", Version: Version2012, Statements: []Statement{
				{Effect: Allow, Action: []string{"bedrock:InvokeModel"}, Resource: []string{"*"}},
			}},
		},
		{
			name: "statement array, lists, Id and Sid",
			doc: `{"Version": "2008-10-17", "Id": "doc-1", "Statement": [
			  {"Sid": "One", "Effect": "Deny", "NotAction": ["s3:*", "iam:*"], "NotResource": ["arn:aws:s3:::a", "arn:aws:s3:::b/*"]},
			  {"Sid": "Two2", "Effect": "Allow", "Action": "*", "Resource": "*"}]}`,
			want: &Policy{Name: "p", Version: Version2008, ID: "doc-1", Statements: []Statement{
				{Sid: "One", Effect: Deny, NotAction: []string{"s3:*", "iam:*"}, NotResource: []string{"arn:aws:s3:::a", "arn:aws:s3:::b/*"}},
				{Sid: "Two2", Index: 1, Effect: Allow, Action: []string{"*"}, Resource: []string{"*"}},
			}},
		},
		{
			name: "no version, members in any order, scalar condition values",
			doc: `{"Statement": [{"Resource": "*", "Condition": {"NumericLessThan": {"s3:max-keys": 10}, "Bool": {"aws:SecureTransport": true},
			  "StringEquals": {"aws:PrincipalTag/a": ["x", 1, false]}}, "Action": "s3:ListBucket", "Effect": "Allow"}]}`,
			want: &Policy{Name: "p", Statements: []Statement{
				{Effect: Allow, Action: []string{"s3:ListBucket"}, Resource: []string{"*"}},
			}},
		},
		{
			name: "empty Sid",
			doc:  `{"Version": "2012-10-17", "Statement": [{"Sid": "", "Effect": "Allow", "Action": "*", "Resource": "*"}, {"Sid": "", "Effect": "Allow", "Action": "*", "Resource": "*"}]}`,
			want: &Policy{Name: "p", Version: Version2012, Statements: []Statement{
				{Effect: Allow, Action: []string{"*"}, Resource: []string{"*"}},
				{Index: 1, Effect: Allow, Action: []string{"*"}, Resource: []string{"*"}},
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("p", []byte(tc.doc))
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreUnexported(Statement{})); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseConditionKeys(t *testing.T) {
	p := mustParse(t, "p", `{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
	  "Condition": {"StringEquals": {"aws:PrincipalTag/team": "a", "aws:RequestedRegion": "us-east-1"}, "Bool": {"aws:SecureTransport": "true"}}}}`)
	got := p.Statements[0].ConditionKeys()
	want := []string{"aws:PrincipalTag/team", "aws:RequestedRegion", "aws:SecureTransport"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ConditionKeys mismatch (-want +got):\n%s", diff)
	}
	if got := p.Statements[0].Label(); got != "Statement[0]" {
		t.Errorf("Label() = %q", got)
	}
}

// TestParseRejects checks that malformed documents are fault.Invalid errors
// whose message names the statement and element at fault.
func TestParseRejects(t *testing.T) {
	const ok = `"Effect": "Allow", "Action": "*", "Resource": "*"`
	tests := []struct {
		name, doc, want string
	}{
		{"not JSON", `{"Version": `, "not valid JSON"},
		{"trailing data", `{"Statement": {` + ok + `}} {}`, "not valid JSON"},
		{"not an object", `[]`, "must be a JSON object"},
		{"bad version", `{"Version": "2012-10-18", "Statement": {` + ok + `}}`, "valid version string"},
		{"version not a string", `{"Version": 2012, "Statement": {` + ok + `}}`, "valid version string"},
		{"unknown top-level element", `{"Version": "2012-10-17", "Statment": {` + ok + `}}`, `unknown element "Statment" at the top level`},
		{"duplicate top-level element", `{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": {` + ok + `}}`, `duplicate element "Version"`},
		{"missing Statement", `{"Version": "2012-10-17"}`, "missing required element Statement"},
		{"empty Statement", `{"Statement": []}`, "at least one statement"},
		{"Statement string", `{"Statement": "x"}`, "Statement must be an object or an array"},
		{"statement not an object", `{"Statement": [{` + ok + `}, 3]}`, "Statement[1]: a statement must be an object"},
		{"missing Effect", `{"Statement": {"Action": "*", "Resource": "*"}}`, "Statement[0]: missing required element Effect"},
		{"lower-case effect", `{"Statement": {"Sid": "A", "Effect": "allow", "Action": "*", "Resource": "*"}}`, `Statement[0] (Sid "A"): Invalid effect: allow`},
		{"missing Action", `{"Statement": [{` + ok + `}, {"Effect": "Allow", "Resource": "*"}]}`, "Statement[1]: Policy statement must contain actions"},
		{"Action and NotAction", `{"Statement": {` + ok + `, "NotAction": "s3:*"}}`, "both Action and NotAction"},
		{"missing Resource", `{"Statement": {"Effect": "Allow", "Action": "*"}}`, "must contain resources"},
		{"Resource and NotResource", `{"Statement": {` + ok + `, "NotResource": "*"}}`, "both Resource and NotResource"},
		{"Principal", `{"Statement": {` + ok + `, "Principal": "*"}}`, "should not specify a principal"},
		{"unknown statement element", `{"Statement": {` + ok + `, "Conditions": {}}}`, `Statement[0]: Syntax errors in policy: unknown element "Conditions"`},
		{"duplicate statement element", `{"Statement": {` + ok + `, "Effect": "Deny"}}`, `duplicate element "Effect"`},
		{"empty Action array", `{"Statement": {"Effect": "Allow", "Action": [], "Resource": "*"}}`, "Action must not be an empty array"},
		{"Action number", `{"Statement": {"Effect": "Allow", "Action": 3, "Resource": "*"}}`, "Action must be a string or an array of strings, not a number"},
		{"Action array of numbers", `{"Statement": {"Effect": "Allow", "Action": [3], "Resource": "*"}}`, "Action must hold only strings"},
		{"action without vendor", `{"Statement": {"Effect": "Allow", "Action": "InvokeModel", "Resource": "*"}}`, `Action "InvokeModel": Actions/Conditions must be prefaced by a vendor`},
		{"action with empty name", `{"Statement": {"Effect": "Allow", "Action": "bedrock:", "Resource": "*"}}`, `Action "bedrock:"`},
		{"bad vendor", `{"Statement": {"Effect": "Allow", "NotAction": "bed rock:x", "Resource": "*"}}`, `NotAction "bed rock:x": vendor`},
		{"resource not an ARN", `{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "bucket"}}`, `Resource bucket must be in ARN format or "*"`},
		{"resource ARN too short", `{"Statement": {"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:bedrock:*"}}`, `NotResource arn:aws:bedrock:* must be in ARN format`},
		{"Sid not alphanumeric", `{"Statement": {"Sid": "my-sid", ` + ok + `}}`, "must be alpha-numeric"},
		{"Sid not a string", `{"Statement": {"Sid": 1, ` + ok + `}}`, "Sid must be a string"},
		{"duplicate Sid", `{"Statement": [{"Sid": "A", ` + ok + `}, {"Sid": "A", ` + ok + `}]}`, "must be unique: statements 0 and 1"},
		{"Condition not an object", `{"Statement": {` + ok + `, "Condition": []}}`, "Condition must be an object"},
		{"unknown operator", `{"Statement": {"Sid": "X", ` + ok + `, "Condition": {"StringEqual": {"aws:username": "a"}}}}`, `Statement[0] (Sid "X"): Condition: Invalid Condition type : StringEqual`},
		{"NullIfExists", `{"Statement": {` + ok + `, "Condition": {"NullIfExists": {"aws:username": "true"}}}}`, "Invalid Condition type : NullIfExists"},
		{"operator value not an object", `{"Statement": {` + ok + `, "Condition": {"StringEquals": "a"}}}`, "Condition.StringEquals must be an object of condition keys"},
		{"key without vendor", `{"Statement": {` + ok + `, "Condition": {"StringEquals": {"username": "a"}}}}`, `Condition.StringEquals["username"]: Actions/Conditions must be prefaced by a vendor`},
		{"duplicate key differing in case", `{"Statement": {` + ok + `, "Condition": {"StringEquals": {"aws:username": "a", "AWS:UserName": "b"}}}}`, `Condition.StringEquals["AWS:UserName"]: duplicate condition key`},
		{"condition value object", `{"Statement": {` + ok + `, "Condition": {"StringEquals": {"aws:username": {}}}}}`, `Condition.StringEquals["aws:username"] must be a string, number, boolean or an array of them, not an object`},
		{"condition value null", `{"Statement": {` + ok + `, "Condition": {"StringEquals": {"aws:username": null}}}}`, "not null"},
		{"condition value empty array", `{"Statement": {` + ok + `, "Condition": {"StringEquals": {"aws:username": []}}}}`, "must not be an empty array"},
		{"condition value nested array", `{"Statement": {` + ok + `, "Condition": {"StringEquals": {"aws:username": [["a"]]}}}}`, "must hold only strings, numbers or booleans, not an array"},
		{"too deep", strings.Repeat("[", 100) + strings.Repeat("]", 100), "not valid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p", []byte(tc.doc))
			if err == nil {
				t.Fatalf("Parse(%s) succeeded, want an error containing %q", tc.doc, tc.want)
			}
			if k := fault.KindOf(err); k != fault.Invalid {
				t.Errorf("Parse error kind = %v, want Invalid", k)
			}
			if msg := fault.Message(err); !strings.Contains(msg, tc.want) {
				t.Errorf("Parse error message = %q, want it to contain %q", msg, tc.want)
			}
		})
	}
}
