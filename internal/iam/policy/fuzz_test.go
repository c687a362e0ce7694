package policy

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// globRegexp is the obvious, slow definition of a wildcard pattern, used as
// the reference for the compiled matcher.
func globRegexp(p string, fold bool) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	if fold {
		b.WriteString("(?i)")
	}
	for _, r := range p {
		switch r {
		case '*':
			b.WriteString("(?s:.*)")
		case '?':
			b.WriteString("(?s:.)")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

var patternSeeds = [][2]string{
	{"*", ""},
	{"bedrock:Invoke*", "bedrock:InvokeModel"},
	{"a*b*c", "aXbYbZc"},
	{"a*b?c*", "ab_c"},
	{"*a*a*a*a*b", strings.Repeat("a", 64)},
	{"?", "é"},
	{"??", "é"},
	{"*x", "x"},
	{"x*", "x"},
	{"a**b", "ab"},
	{"*?*?", "a"},
	{"abc", "ABC"},
}

func TestPatternAgainstRegexp(t *testing.T) {
	for _, s := range patternSeeds {
		for _, fold := range []bool{false, true} {
			checkPattern(t, s[0], s[1], fold)
		}
	}
}

func checkPattern(t *testing.T, pat, val string, fold bool) {
	t.Helper()
	p := compilePattern(pat, compileOpts{wild: true, fold: fold})
	got := p.match(val, nil)
	want := globRegexp(pat, fold).MatchString(val)
	if got != want {
		t.Errorf("pattern %q (fold %v) match %q = %v, want %v", pat, fold, val, got, want)
	}
}

func FuzzPattern(f *testing.F) {
	for _, s := range patternSeeds {
		f.Add(s[0], s[1], false)
	}
	f.Fuzz(func(t *testing.T, pat, val string, fold bool) {
		if !utf8.ValidString(pat) || !utf8.ValidString(val) || len(pat) > 64 || len(val) > 256 {
			return
		}
		if fold && !(isASCII(pat) && isASCII(val)) {
			return // EqualFold and (?i) differ on a few non-ASCII folds
		}
		checkPattern(t, pat, val, fold)
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

var parseSeeds = []string{
	allowInvokeFM,
	allowAll,
	`{"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Deny", "NotAction": ["s3:*"], "NotResource": "arn:aws:s3:::b/${aws:username}/*",
	  "Condition": {"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": ["a*", 1, true]}, "Null": {"aws:userid": "true"},
	  "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "::1"]}, "DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
	  "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::${aws:PrincipalAccount}:user/*"}, "BinaryEquals": {"s3:k": "QQ=="},
	  "NumericGreaterThan": {"s3:max-keys": 3.5}, "Bool": {"aws:SecureTransport": "${aws:x, 'tr''ue'}"}}}]}`,
	`{"Statement": {"Effect": "Allow", "Action": "a:b", "Resource": "arn:${*}:${?}:${$}:${a:b}:${"}}`,
	`{"Version": "2008-10-17", "Statement": []}`,
}

// FuzzParse checks that Parse never panics on any input, and that a policy
// it accepts can be evaluated and simulated without panicking.
func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add([]byte(s))
	}
	req := []*Request{
		{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/alice/x"},
		{Action: "bedrock:InvokeModel", Resource: claude, Context: ctx(
			"aws:username", "alice", "aws:TagKeys", "a|b", "aws:SourceIp", "10.1.1.1", "aws:CurrentTime", "2019-01-01T00:00:00Z",
			"aws:PrincipalArn", "arn:aws:iam::1:user/a", "aws:PrincipalAccount", "1", "s3:max-keys", "4", "aws:SecureTransport", "true", "s3:k", "QQ==")},
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := Parse("fuzz", doc)
		if err != nil {
			if p != nil {
				t.Fatalf("Parse returned a policy and an error")
			}
			return
		}
		for _, r := range req {
			d := Evaluate(r, p)
			if sim := Simulate(r, p); sim.Decision != d {
				t.Fatalf("Simulate = %v, Evaluate = %v", sim.Decision, d)
			}
		}
	})
}
