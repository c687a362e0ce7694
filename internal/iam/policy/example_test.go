package policy_test

import (
	"fmt"
	"time"

	"github.com/outcrop/outcrop/internal/iam/policy"
)

func ExampleSimulate() {
	p, err := policy.Parse("team-access", []byte(`{
	  "Version": "2012-10-17",
	  "Statement": [
	    {"Sid": "SameTeam", "Effect": "Allow", "Action": "bedrock:InvokeModel*",
	     "Resource": "arn:aws:bedrock:*:123456789012:application-inference-profile/*",
	     "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}},
	    {"Sid": "OfficeOnly", "Effect": "Deny", "Action": "*", "Resource": "*",
	     "Condition": {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}
	  ]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	req := &policy.Request{
		Action:   "bedrock:InvokeModel",
		Resource: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123",
	}
	req.Context.SetTime(time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC))
	req.Context.Set(policy.KeySourceIP, "203.0.113.10")
	req.Context.SetTags(policy.KeyPrincipalTagPrefix, map[string]string{"team": "search"})
	req.Context.SetTags(policy.KeyResourceTagPrefix, map[string]string{"team": "search"})

	fmt.Print(policy.Simulate(req, p).Report())

	req.Context.Set(policy.KeySourceIP, "198.51.100.1")
	fmt.Println(policy.Evaluate(req, p))
	// Output:
	// decision: allowed
	// decided by: policy "team-access", statement "SameTeam"
	// matched statements:
	//   Allow policy "team-access", statement "SameTeam"
	// explicitDeny by policy "team-access" statement "OfficeOnly"
}
