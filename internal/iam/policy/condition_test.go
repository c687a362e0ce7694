package policy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestConditionOperators checks each operator on its own. The rules for
// absent keys come from the condition operators reference: a positive
// operator on an absent key is false, a negated one true, …IfExists true.
func TestConditionOperators(t *testing.T) {
	tests := []struct {
		op   string
		key  string
		vals []string
		ctx  Context
		want bool
	}{
		// String.
		{"StringEquals", "aws:username", []string{"alice"}, ctx("aws:username", "alice"), true},
		{"StringEquals", "aws:username", []string{"alice"}, ctx("aws:username", "Alice"), false},
		{"StringEquals", "aws:username", []string{"al*"}, ctx("aws:username", "alice"), false},
		{"StringEquals", "aws:username", []string{"al*"}, ctx("aws:username", "al*"), true},
		{"StringEquals", "aws:username", []string{"bob", "alice"}, ctx("aws:username", "alice"), true},
		{"StringEquals", "aws:username", []string{"alice"}, Context{}, false},
		{"StringNotEquals", "aws:username", []string{"alice"}, ctx("aws:username", "bob"), true},
		{"StringNotEquals", "aws:username", []string{"alice"}, ctx("aws:username", "alice"), false},
		{"StringNotEquals", "aws:username", []string{"bob", "alice"}, ctx("aws:username", "alice"), false},
		{"StringNotEquals", "aws:username", []string{"alice"}, Context{}, true},
		{"StringEqualsIgnoreCase", "aws:username", []string{"ALICE"}, ctx("aws:username", "alice"), true},
		{"StringEqualsIgnoreCase", "aws:username", []string{"ALICE"}, ctx("aws:username", "alicia"), false},
		{"StringNotEqualsIgnoreCase", "aws:username", []string{"ALICE"}, ctx("aws:username", "alice"), false},
		{"StringNotEqualsIgnoreCase", "aws:username", []string{"ALICE"}, ctx("aws:username", "bob"), true},
		{"StringLike", "s3:prefix", []string{"home/*"}, ctx("s3:prefix", "home/alice/"), true},
		{"StringLike", "s3:prefix", []string{"home/?"}, ctx("s3:prefix", "home/ab"), false},
		{"StringLike", "s3:prefix", []string{"*/x/*"}, ctx("s3:prefix", "a/b/x/c"), true},
		{"StringLike", "s3:prefix", []string{"Home/*"}, ctx("s3:prefix", "home/a"), false},
		{"StringLike", "s3:prefix", []string{"home/${aws:username}/*"}, ctx("s3:prefix", "home/alice/x", "aws:username", "alice"), true},
		{"StringNotLike", "s3:prefix", []string{"home/*"}, ctx("s3:prefix", "tmp/x"), true},
		{"StringNotLike", "s3:prefix", []string{"home/*"}, Context{}, true},
		{"StringEqualsIfExists", "aws:username", []string{"alice"}, Context{}, true},
		{"StringEqualsIfExists", "aws:username", []string{"alice"}, ctx("aws:username", "bob"), false},
		{"StringNotEqualsIfExists", "aws:username", []string{"alice"}, ctx("aws:username", "alice"), false},
		// Without a set operator, several request values act as "any".
		{"StringEquals", "aws:TagKeys", []string{"a"}, ctx("aws:TagKeys", "b|a"), true},
		{"StringNotEquals", "aws:TagKeys", []string{"a"}, ctx("aws:TagKeys", "b|a"), false},
		// Numeric.
		{"NumericEquals", "s3:max-keys", []string{"10"}, ctx("s3:max-keys", "10"), true},
		{"NumericEquals", "s3:max-keys", []string{"10"}, ctx("s3:max-keys", "10.0"), true},
		{"NumericNotEquals", "s3:max-keys", []string{"10"}, ctx("s3:max-keys", "11"), true},
		{"NumericNotEquals", "s3:max-keys", []string{"10"}, Context{}, true},
		{"NumericLessThan", "s3:max-keys", []string{"10"}, ctx("s3:max-keys", "9"), true},
		{"NumericLessThan", "s3:max-keys", []string{"10"}, ctx("s3:max-keys", "10"), false},
		{"NumericLessThanEquals", "s3:max-keys", []string{"10"}, ctx("s3:max-keys", "10"), true},
		{"NumericGreaterThan", "s3:max-keys", []string{"10"}, ctx("s3:max-keys", "10.5"), true},
		{"NumericGreaterThanEquals", "s3:max-keys", []string{"10"}, ctx("s3:max-keys", "9"), false},
		{"NumericLessThan", "s3:max-keys", []string{"10"}, ctx("s3:max-keys", "ten"), false},
		{"NumericLessThan", "s3:max-keys", []string{"ten"}, ctx("s3:max-keys", "1"), false},
		{"NumericLessThan", "s3:max-keys", []string{"10"}, Context{}, false},
		// Date.
		{"DateEquals", "aws:CurrentTime", []string{"2024-01-02"}, ctx("aws:CurrentTime", "2024-01-02T00:00:00Z"), true},
		{"DateNotEquals", "aws:CurrentTime", []string{"2024-01-02"}, ctx("aws:CurrentTime", "2024-01-02T00:00:01Z"), true},
		{"DateLessThan", "aws:CurrentTime", []string{"2024-01-02T10:00Z"}, ctx("aws:CurrentTime", "2024-01-02T09:59:59.9Z"), true},
		{"DateLessThanEquals", "aws:CurrentTime", []string{"1704189600"}, ctx("aws:CurrentTime", "2024-01-02T10:00:00Z"), true},
		{"DateGreaterThan", "aws:CurrentTime", []string{"2024-01"}, ctx("aws:CurrentTime", "2024-01-01T00:00:01Z"), true},
		{"DateGreaterThanEquals", "aws:EpochTime", []string{"2024-01-01T00:00:00-05:00"}, ctx("aws:EpochTime", "1704085200"), true},
		{"DateGreaterThanEquals", "aws:EpochTime", []string{"2024-01-01T00:00:00-05:00"}, ctx("aws:EpochTime", "1704085199.5"), false},
		{"DateLessThan", "aws:CurrentTime", []string{"someday"}, ctx("aws:CurrentTime", "2024-01-01T00:00:00Z"), false},
		{"DateLessThanIfExists", "aws:TokenIssueTime", []string{"2024-01-01"}, Context{}, true},
		// Bool.
		{"Bool", "aws:SecureTransport", []string{"true"}, ctx("aws:SecureTransport", "true"), true},
		{"Bool", "aws:SecureTransport", []string{"false"}, ctx("aws:SecureTransport", "TRUE"), false},
		{"Bool", "aws:SecureTransport", []string{"false"}, Context{}, false},
		{"BoolIfExists", "aws:MultiFactorAuthPresent", []string{"false"}, Context{}, true},
		// Binary.
		{"BinaryEquals", "s3:key", []string{"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}, ctx("s3:key", "QmluYXJ5VmFsdWVJbkJhc2U2NA=="), true},
		{"BinaryEquals", "s3:key", []string{"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}, ctx("s3:key", "QmluYXJ5"), false},
		{"BinaryEquals", "s3:key", []string{"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}, ctx("s3:key", "!!"), false},
		// IP.
		{"IpAddress", "aws:SourceIp", []string{"10.0.0.0/8"}, ctx("aws:SourceIp", "10.1.2.3"), true},
		{"IpAddress", "aws:SourceIp", []string{"10.1.2.3/8"}, ctx("aws:SourceIp", "10.200.0.1"), true},
		{"IpAddress", "aws:SourceIp", []string{"10.0.0.0/8"}, ctx("aws:SourceIp", "11.0.0.1"), false},
		{"IpAddress", "aws:SourceIp", []string{"2001:db8::/32"}, ctx("aws:SourceIp", "2001:db8:ffff::1"), true},
		{"IpAddress", "aws:SourceIp", []string{"2001:db8::/32"}, ctx("aws:SourceIp", "10.0.0.1"), false},
		{"NotIpAddress", "aws:SourceIp", []string{"10.0.0.0/8"}, ctx("aws:SourceIp", "11.0.0.1"), true},
		{"NotIpAddress", "aws:SourceIp", []string{"10.0.0.0/8"}, Context{}, true},
		{"IpAddressIfExists", "aws:SourceIp", []string{"10.0.0.0/8"}, Context{}, true},
		// ARN: Equals and Like behave the same; components match separately.
		{"ArnEquals", "aws:PrincipalArn", []string{"arn:aws:iam::123456789012:user/*"}, ctx("aws:PrincipalArn", "arn:aws:iam::123456789012:user/alice"), true},
		{"ArnLike", "aws:PrincipalArn", []string{"arn:aws:iam::*:role/admin-?"}, ctx("aws:PrincipalArn", "arn:aws:iam::123456789012:role/admin-1"), true},
		{"ArnLike", "aws:PrincipalArn", []string{"arn:aws:iam::*:role/admin-?"}, ctx("aws:PrincipalArn", "arn:aws:iam::123456789012:role/admin-12"), false},
		{"ArnLike", "aws:PrincipalArn", []string{"arn:aws:iam::*"}, ctx("aws:PrincipalArn", "arn:aws:iam::123456789012:root"), false},
		{"ArnLike", "aws:PrincipalArn", []string{"arn:aws:iam::123456789012:*"}, ctx("aws:PrincipalArn", "arn:aws:iam::123456789012:root"), true},
		{"ArnLike", "aws:PrincipalArn", []string{"arn:aws:iam::123456789012:*"}, ctx("aws:PrincipalArn", "not-an-arn"), false},
		{"ArnNotLike", "aws:PrincipalArn", []string{"arn:aws:iam::*:role/*"}, ctx("aws:PrincipalArn", "arn:aws:iam::123456789012:user/bob"), true},
		{"ArnNotEquals", "aws:PrincipalArn", []string{"arn:aws:iam::*:role/*"}, Context{}, true},
		{"ArnLike", "bedrock:InferenceProfileArn", []string{"arn:aws:bedrock:*:${aws:PrincipalAccount}:application-inference-profile/*"},
			ctx("bedrock:InferenceProfileArn", appProf, "aws:PrincipalAccount", "123456789012"), true},
		// Null.
		{"Null", "aws:TokenIssueTime", []string{"true"}, Context{}, true},
		{"Null", "aws:TokenIssueTime", []string{"true"}, ctx("aws:TokenIssueTime", "2024-01-01T00:00:00Z"), false},
		{"Null", "aws:TokenIssueTime", []string{"false"}, ctx("aws:TokenIssueTime", "2024-01-01T00:00:00Z"), true},
		{"Null", "aws:TokenIssueTime", []string{"false"}, Context{}, false},
		{"Null", "aws:TagKeys", []string{"true"}, ctx("aws:TagKeys", "<empty>"), true},
		// Set operators.
		{"ForAllValues:StringLike", "aws:TagKeys", []string{"team-*"}, ctx("aws:TagKeys", "team-a|team-b"), true},
		{"ForAllValues:StringLike", "aws:TagKeys", []string{"team-*"}, ctx("aws:TagKeys", "team-a|env"), false},
		{"ForAllValues:StringNotEquals", "aws:TagKeys", []string{"secret"}, ctx("aws:TagKeys", "a|b"), true},
		{"ForAllValues:StringNotEquals", "aws:TagKeys", []string{"secret"}, ctx("aws:TagKeys", "a|secret"), false},
		{"ForAllValues:StringNotEquals", "aws:TagKeys", []string{"secret"}, Context{}, true},
		{"ForAllValues:StringEquals", "aws:TagKeys", []string{"a"}, ctx("aws:TagKeys", ""), true},
		{"ForAnyValue:StringEquals", "aws:TagKeys", []string{""}, ctx("aws:TagKeys", ""), false},
		{"StringEquals", "aws:TagKeys", []string{""}, ctx("aws:TagKeys", ""), true},
		{"ForAnyValue:StringEquals", "aws:TagKeys", []string{"secret"}, ctx("aws:TagKeys", "a|secret"), true},
		{"ForAnyValue:StringNotEquals", "aws:TagKeys", []string{"secret"}, Context{}, false},
		{"ForAnyValue:StringEqualsIfExists", "aws:TagKeys", []string{"secret"}, Context{}, true},
		{"ForAllValues:NumericLessThan", "bedrock:Sizes", []string{"5"}, ctx("bedrock:Sizes", "1|4"), true},
		{"ForAnyValue:IpAddress", "aws:SourceIps", []string{"10.0.0.0/8"}, ctx("aws:SourceIps", "1.1.1.1|10.0.0.1"), true},
	}
	for _, tc := range tests {
		c, _ := compileCondition(tc.op, tc.key, tc.vals, true)
		if got := c.eval(&tc.ctx); got != tc.want {
			t.Errorf("%s {%q: %q} with %v = %v, want %v", tc.op, tc.key, tc.vals, tc.ctx.m, got, tc.want)
		}
	}
}

func TestParseOperator(t *testing.T) {
	for _, name := range []string{"StringEquals", "ForAnyValue:StringLikeIfExists", "ForAllValues:ArnNotLike", "NumericLessThanEqualsIfExists", "Null", "ForAllValues:Null"} {
		if _, _, _, ok := parseOperator(name); !ok {
			t.Errorf("parseOperator(%q) rejected", name)
		}
	}
	for _, name := range []string{"stringequals", "StringEqual", "NullIfExists", "ForSomeValues:StringEquals", "IfExists", "ForAnyValue:", "BinaryNotEquals"} {
		if _, _, _, ok := parseOperator(name); ok {
			t.Errorf("parseOperator(%q) accepted", name)
		}
	}
}

func TestParseDate(t *testing.T) {
	utc := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2024-05-01T12:00:00Z", utc("2024-05-01T12:00:00Z"), true},
		{"2024-05-01T12:00:00.25Z", utc("2024-05-01T12:00:00.25Z"), true},
		{"2024-05-01T12:00+02:00", utc("2024-05-01T10:00:00Z"), true},
		{"2024-05-01T12:00:00", utc("2024-05-01T12:00:00Z"), true},
		{"2024-05-01", utc("2024-05-01T00:00:00Z"), true},
		{"2024-05", utc("2024-05-01T00:00:00Z"), true},
		{"1714564800", utc("2024-05-01T12:00:00Z"), true},
		{"1714564800.5", utc("2024-05-01T12:00:00.5Z"), true},
		{"-1.5", utc("1969-12-31T23:59:58.5Z"), true},
		{"", time.Time{}, false},
		{"tomorrow", time.Time{}, false},
		{"2024-13-01", time.Time{}, false},
		{"1.2.3", time.Time{}, false},
	}
	for _, tc := range tests {
		got, ok := parseDate(tc.in)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("parseDate(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestWarnings(t *testing.T) {
	p := mustParse(t, "w", `{"Version": "2012-10-17", "Statement": {"Sid": "S", "Effect": "Allow", "Action": "*", "Resource": "*",
	  "Condition": {"IpAddress": {"aws:SourceIp": "300.1.1.1/8"}, "DateLessThan": {"aws:CurrentTime": "soon"},
	    "Bool": {"aws:SecureTransport": "yes"}, "NumericEquals": {"s3:max-keys": "x"}, "ArnLike": {"aws:SourceArn": "arn:aws"},
	    "BinaryEquals": {"s3:k": "%%"}, "Null": {"aws:userid": "maybe"}}}}`)
	want := []string{
		`Statement[0] (Sid "S"): IpAddress value "300.1.1.1/8" for aws:SourceIp is not an IP address or CIDR block`,
		`Statement[0] (Sid "S"): DateLessThan value "soon" for aws:CurrentTime is not an ISO 8601 date or epoch time`,
		`Statement[0] (Sid "S"): Bool value "yes" for aws:SecureTransport is not true or false`,
		`Statement[0] (Sid "S"): NumericEquals value "x" for s3:max-keys is not a number`,
		`Statement[0] (Sid "S"): ArnLike value "arn:aws" for aws:SourceArn is not an ARN`,
		`Statement[0] (Sid "S"): BinaryEquals value "%%" for s3:k is not base64`,
		`Statement[0] (Sid "S"): Null value "maybe" for aws:userid is not true or false`,
	}
	if diff := cmp.Diff(want, p.Warnings); diff != "" {
		t.Errorf("Warnings mismatch (-want +got):\n%s", diff)
	}
	// Such a statement grants nothing.
	req := &Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: ctx("aws:SourceIp", "10.0.0.1")}
	if d := Evaluate(req, p); d.Outcome != ImplicitDeny {
		t.Errorf("Evaluate = %v, want implicitDeny", d)
	}
}
