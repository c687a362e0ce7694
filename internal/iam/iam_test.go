package iam_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/iam"
	"github.com/outcrop/outcrop/internal/reqctx"
	"github.com/outcrop/outcrop/internal/store/sqlite"
)

// clock is a settable clock for the snapshot's lifetime.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newService(t *testing.T, st *sqlite.Store, clk *clock, ttl time.Duration, modelsOn bool) *iam.Service {
	return iam.New(iam.Options{Store: st, Directory: st, AccountID: "123456789012", Now: clk.Now, CacheTTL: ttl, ModelAccessDefault: modelsOn})
}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "outcrop.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

const model = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0"

func msg(err error) string {
	if err == nil {
		return "allowed"
	}
	return fault.KindOf(err).String() + ": " + fault.Message(err)
}

func TestAuthorizeMessages(t *testing.T) {
	st := openStore(t)
	clk := &clock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	s := newService(t, st, clk, 0, true)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutInlinePolicy(ctx, "alice", "p", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"bedrock:*","Resource":"*"},
		{"Effect":"Deny","Action":"bedrock:DeleteGuardrail","Resource":"*"},
		{"Effect":"Deny","Action":"bedrock:InvokeModel","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}}]}`); err != nil {
		t.Fatal(err)
	}
	alice := s.Principal("alice", "AKIAALICE")
	root := s.Principal("root", "AKIAROOT")
	stranger := &reqctx.Principal{AccountID: "999999999999", ARN: "arn:aws:iam::999999999999:user/x", Name: "x"}
	bob := s.Principal("bob", "AKIABOB") // a key whose user no longer exists
	for _, tc := range []struct {
		name     string
		p        *reqctx.Principal
		action   string
		resource string
		want     string
	}{
		{"allowed", alice, "bedrock:InvokeModel", model, "allowed"},
		{"explicit deny, no resource", alice, "bedrock:DeleteGuardrail", "*", "Denied: User: arn:aws:iam::123456789012:user/alice is not authorized to perform: bedrock:DeleteGuardrail with an explicit deny in an identity-based policy"},
		{"implicit deny", alice, "iam:CreateUser", "*", "Denied: User: arn:aws:iam::123456789012:user/alice is not authorized to perform: iam:CreateUser because no identity-based policy allows the iam:CreateUser action"},
		{"deleted user", bob, "bedrock:InvokeModel", model, "Denied: User: arn:aws:iam::123456789012:user/bob is not authorized to perform: bedrock:InvokeModel on resource: " + model + " because no identity-based policy allows the bedrock:InvokeModel action"},
		{"root", root, "iam:Anything", "*", "allowed"},
		{"other account", stranger, "bedrock:ListFoundationModels", "*", "Denied: User: arn:aws:iam::999999999999:user/x is not authorized to perform: bedrock:ListFoundationModels because no identity-based policy allows the bedrock:ListFoundationModels action"},
	} {
		if got := msg(s.Authorize(ctx, tc.p, tc.action, tc.resource)); got != tc.want {
			t.Errorf("%s: Authorize = %q, want %q", tc.name, got, tc.want)
		}
	}
	// The injected clock is aws:CurrentTime.
	clk.Add(60 * 24 * time.Hour)
	if got := msg(s.Authorize(ctx, alice, "bedrock:InvokeModel", model)); got == "allowed" {
		t.Errorf("after 2027: InvokeModel allowed")
	}
}

// TestSnapshotLifetime checks that another process's change (here a second
// Service on the same database, as `outcrop iam` would be) is seen once the
// snapshot is older than CacheTTL, and a change through the Service at once.
func TestSnapshotLifetime(t *testing.T) {
	st := openStore(t)
	clk := &clock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	server := newService(t, st, clk, 2*time.Second, true)
	cli := newService(t, st, clk, 0, true)
	ctx := context.Background()
	if _, err := cli.CreateUser(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	p := server.Principal("u", "AKIAU")
	check := func(when, want string) {
		t.Helper()
		if got := msg(server.Authorize(ctx, p, "bedrock:InvokeModel", model)); (got == "allowed") != (want == "allowed") {
			t.Errorf("%s: %s, want %s", when, got, want)
		}
	}
	check("no policy", "denied")
	if err := cli.PutInlinePolicy(ctx, "u", "p", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`); err != nil {
		t.Fatal(err)
	}
	check("other process, within TTL", "denied")
	clk.Add(3 * time.Second)
	check("other process, after TTL", "allowed")
	if err := server.DeletePolicy(ctx, "u", "p"); err != nil {
		t.Fatal(err)
	}
	check("own change", "denied")
}

// TestModelAccess checks that explicit grants and revocations win and
// that other models follow the configured default.
func TestModelAccess(t *testing.T) {
	st := openStore(t)
	clk := &clock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	s := newService(t, st, clk, 0, true)
	if err := s.SetModelAccess(ctx, "a.model-v1", true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetModelAccess(ctx, "b.model-v1", false); err != nil {
		t.Fatal(err)
	}
	const no = "Denied: You don't have access to the model with the specified model ID."
	for _, tc := range []struct {
		def  bool
		want map[string]string
	}{
		{true, map[string]string{"a.model-v1": "allowed", "b.model-v1": no, "c.model-v1": "allowed", "get b": "allowed"}},
		{false, map[string]string{"a.model-v1": "allowed", "b.model-v1": no, "c.model-v1": no, "get b": "allowed"}},
	} {
		s := newService(t, st, clk, 0, tc.def)
		root := s.Principal("root", "")
		got := map[string]string{}
		for _, id := range []string{"a.model-v1", "b.model-v1", "c.model-v1"} {
			got[id] = msg(s.Authorize(ctx, root, "bedrock:InvokeModel", "arn:aws:bedrock:us-east-1::foundation-model/"+id))
		}
		// Only invocation needs model access.
		got["get b"] = msg(s.Authorize(ctx, root, "bedrock:GetFoundationModel", "arn:aws:bedrock:us-east-1::foundation-model/b.model-v1"))
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("default enabled=%v (-want +got):\n%s", tc.def, diff)
		}
	}
}

func TestTagLimit(t *testing.T) {
	st := openStore(t)
	s := newService(t, st, &clock{t: time.Now()}, 0, true)
	ctx := context.Background()
	arn := "arn:aws:bedrock:us-east-1:123456789012:guardrail/abc"
	tags := map[string]string{}
	for i := range 50 {
		tags[string(rune('A'+i%26))+string(rune('a'+i/26))] = "v"
	}
	if err := s.TagResource(ctx, arn, tags, nil); err != nil {
		t.Fatalf("50 tags: %v", err)
	}
	if err := s.TagResource(ctx, arn, map[string]string{"one-more": "v"}, nil); fault.KindOf(err) != fault.QuotaExceeded {
		t.Errorf("51st tag: %v", err)
	}
	if err := s.TagResource(ctx, arn, map[string]string{"one-more": "v"}, []string{"Aa"}); err != nil {
		t.Errorf("replace one tag: %v", err)
	}
}
