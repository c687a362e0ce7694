package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/audit"
)

func TestAuditCommands(t *testing.T) {
	dir := t.TempDir()
	tr, err := audit.Open(audit.Options{Dir: filepath.Join(dir, "audit"), AccountID: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, op := range []string{"Converse", "ListFoundationModels", "Converse"} {
		c := audit.Call{Time: now.Add(time.Duration(i) * time.Second), Operation: op, Region: "us-east-1", RequestID: "req-" + op,
			Principal: &audit.Principal{Type: "IAMUser", ARN: "arn:aws:iam::000000000000:user/alice", UserName: "alice"},
			Params:    []audit.Param{{Name: "modelId", Value: "m1"}}}
		if i == 2 {
			c.ErrorCode, c.RequestID = "ThrottlingException", "req-throttled"
		}
		tr.Record(c)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	out := run(t, "--data-dir", dir, "audit", "lookup", "--event-name", "Converse", "--since", "1h")
	if !strings.Contains(out, "req-throttled") || !strings.Contains(out, "ThrottlingException") || strings.Contains(out, "ListFoundationModels") {
		t.Errorf("lookup printed:\n%s", out)
	}
	out = run(t, "--data-dir", dir, "audit", "lookup", "--principal", "alice", "--resource", "m1", "--errors", "--json")
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, `"eventName":"Converse"`) {
		t.Errorf("lookup --json printed:\n%s", out)
	}
	out = run(t, "--data-dir", dir, "audit", "export")
	if strings.Count(out, "\n") != 3 || !strings.HasPrefix(out, `{"eventVersion"`) {
		t.Errorf("export printed:\n%s", out)
	}
	if out = run(t, "--data-dir", dir, "audit", "verify"); !strings.Contains(out, "verified: 3 records") {
		t.Errorf("verify printed %q", out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "audit", "*.jsonl"))
	b, _ := os.ReadFile(files[0])
	lines := strings.SplitAfter(string(b), "\n")
	os.WriteFile(files[0], []byte(lines[0]+strings.Join(lines[2:], "")), 0o600) // delete record 2
	root := newRoot()
	var buf bytes.Buffer
	root.SetOut(&buf)
	root.SetErr(&buf)
	root.SetArgs([]string{"--data-dir", dir, "audit", "verify"})
	err = root.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(buf.String(), "record 2 was deleted") {
		t.Errorf("verify after a deletion: %v\n%s", err, buf.String())
	}
}
