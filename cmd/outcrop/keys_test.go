package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) string {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("outcrop %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

func TestKeysLifecycle(t *testing.T) {
	dir := t.TempDir()
	run(t, "--data-dir", dir, "iam", "create-user", "alice")
	out := run(t, "--data-dir", dir, "keys", "create", "--user", "alice")
	id := regexp.MustCompile(`AWS_ACCESS_KEY_ID=(AKIA[A-Z2-7]{16})`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("create printed %q", out)
	}
	out = run(t, "--data-dir", dir, "keys", "create-api-key", "--expires", "1h")
	api := regexp.MustCompile(`# API key (BAK[A-Z2-7]+)`).FindStringSubmatch(out)
	if api == nil || !strings.Contains(out, "AWS_BEARER_TOKEN_BEDROCK=ABSK") {
		t.Fatalf("create-api-key printed %q", out)
	}
	list := run(t, "--data-dir", dir, "keys", "list")
	for _, want := range []string{id[1] + "  access-key  alice  active", api[1] + "  api-key     root   active"} {
		if !strings.Contains(list, want) {
			t.Errorf("list lacks %q:\n%s", want, list)
		}
	}
	run(t, "--data-dir", dir, "keys", "revoke", id[1])
	if list := run(t, "--data-dir", dir, "keys", "list"); !strings.Contains(list, id[1]+"  access-key  alice  revoked") {
		t.Errorf("after revoke:\n%s", list)
	}
}

func TestModelsShow(t *testing.T) {
	out := run(t, "--data-dir", t.TempDir(), "models", "show", "us.anthropic.claude-3-haiku-20240307-v1:0")
	for _, want := range []string{`"id": "anthropic.claude-3-haiku-20240307-v1:0"`, `"family": "anthropic-messages"`, `"contextWindow": 8192`} {
		if !strings.Contains(out, want) {
			t.Errorf("models show lacks %s:\n%s", want, out)
		}
	}
}
