package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// runErr runs outcrop and returns its output and error.
func runErr(args ...string) (string, error) {
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIAMCommands(t *testing.T) {
	dir := t.TempDir()
	iam := func(args ...string) string { return run(t, append([]string{"--data-dir", dir, "iam"}, args...)...) }
	team := writeFile(t, dir, "team.json", `{
	  "Version": "2012-10-17",
	  "Statement": [
	    {"Sid": "TeamModels", "Effect": "Allow", "Action": "bedrock:InvokeModel*",
	     "Resource": "arn:aws:bedrock:*::foundation-model/*",
	     "Condition": {"StringEquals": {"aws:PrincipalTag/team": "ml"}}},
	    {"Sid": "Office", "Effect": "Deny", "Action": "*", "Resource": "*",
	     "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
	  ]
	}`)
	list := writeFile(t, dir, "list.json", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:List*","Resource":"*"}}`)

	if out := iam("create-user", "alice"); !strings.HasPrefix(out, "created user arn:aws:iam::000000000000:user/alice (AIDA") {
		t.Errorf("create-user printed %q", out)
	}
	iam("create-role", "reader")
	iam("tag-user", "alice", "team=ml", "cost=42")
	iam("put-user-policy", "--user", "alice", "--name", "team", "--file", team)
	iam("create-policy", "--name", "list", "--file", list)
	iam("attach-policy", "--role", "reader", "--policy", "arn:aws:iam::000000000000:policy/list")

	users := iam("list-users")
	for _, want := range []string{"alice", "user", "arn:aws:iam::000000000000:user/alice", "cost=42,team=ml", "reader", "role", "arn:aws:iam::000000000000:role/reader"} {
		if !strings.Contains(users, want) {
			t.Errorf("list-users lacks %q:\n%s", want, users)
		}
	}
	pols := iam("list-policies")
	for _, want := range []string{"team  inline   alice", "list  managed  role/reader"} {
		if !strings.Contains(pols, want) {
			t.Errorf("list-policies lacks %q:\n%s", want, pols)
		}
	}
	if got := iam("list-policies", "--user", "alice"); strings.Contains(got, "list ") {
		t.Errorf("alice's policies include the role's:\n%s", got)
	}

	model := "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{
			name: "allowed by tag, from the office",
			args: []string{"--user", "alice", "--action", "bedrock:InvokeModel", "--resource", model, "--context", "aws:SourceIp=10.1.2.3"},
			want: "decision: allowed\ndecided by: policy \"team\", statement \"TeamModels\"\nmatched statements:\n  Allow policy \"team\", statement \"TeamModels\"\n",
		},
		{
			name: "denied from elsewhere",
			args: []string{"--user", "alice", "--action", "bedrock:InvokeModel", "--resource", model, "--context", "aws:SourceIp=192.0.2.1"},
			want: "decision: explicitDeny\ndecided by: policy \"team\", statement \"Office\"\nmatched statements:\n  Allow policy \"team\", statement \"TeamModels\"\n  Deny  policy \"team\", statement \"Office\"\n",
		},
		{
			name: "implicit deny, source IP missing",
			args: []string{"--user", "alice", "--action", "bedrock:CreateGuardrail"},
			want: "decision: explicitDeny\ndecided by: policy \"team\", statement \"Office\"\nmatched statements:\n  Deny  policy \"team\", statement \"Office\"\nmissing context keys: aws:SourceIp\n",
		},
		{
			name: "role with a managed policy",
			args: []string{"--role", "reader", "--action", "bedrock:ListFoundationModels"},
			want: "decision: allowed\ndecided by: policy \"arn:aws:iam::000000000000:policy/list\", statement Statement[0]\nmatched statements:\n  Allow policy \"arn:aws:iam::000000000000:policy/list\", statement Statement[0]\n",
		},
		{
			name: "role without permission",
			args: []string{"--role", "reader", "--action", "bedrock:InvokeModel", "--resource", model},
			want: "decision: implicitDeny\n",
		},
	} {
		got := iam(append([]string{"simulate"}, tc.args...)...)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("simulate %s (-want +got):\n%s", tc.name, diff)
		}
	}

	// Errors.
	bad := writeFile(t, dir, "bad.json", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"bucket"}}`)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"put-user-policy", "--user", "alice", "--name", "bad", "--file", bad}, "MalformedPolicyDocument: Statement[0]: Resource bucket must be in ARN format or \"*\"."},
		{[]string{"create-user", "alice"}, "EntityAlreadyExists: User with name alice already exists."},
		{[]string{"put-user-policy", "--user", "bob", "--name", "x", "--file", list}, "NoSuchEntity: The user with name bob cannot be found."},
		{[]string{"delete-policy", "--name", "list"}, "DeleteConflict: Cannot delete a policy attached to entities."},
		{[]string{"create-user", "no/slash"}, "ValidationError: user name \"no/slash\" may contain only letters, digits and _+=,.@-"},
	} {
		_, err := runErr(append([]string{"--data-dir", dir, "iam"}, tc.args...)...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("iam %s: error %v, want %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}

	// Keys bind to roles; deleting a user revokes its keys.
	run(t, "--data-dir", dir, "keys", "create", "--user", "role/reader")
	run(t, "--data-dir", dir, "keys", "create", "--user", "alice")
	iam("untag-user", "alice", "cost")
	if got := iam("list-users"); !strings.Contains(got, "  team=ml") || strings.Contains(got, "cost=") {
		t.Errorf("after untag-user:\n%s", got)
	}
	iam("delete-user", "alice")
	keys := run(t, "--data-dir", dir, "keys", "list")
	if !strings.Contains(keys, "access-key  alice        revoked") || !strings.Contains(keys, "access-key  role/reader  active") {
		t.Errorf("keys after delete-user:\n%s", keys)
	}
	if got := iam("list-users"); strings.Contains(got, "alice") {
		t.Errorf("alice still listed:\n%s", got)
	}
}
