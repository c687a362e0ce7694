package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/iam"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "outcrop.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestDirectoryRoundTrip(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	alice := iam.Entity{Kind: iam.User, Name: "alice", ID: "AIDAALICE", Created: at}
	ops := iam.Entity{Kind: iam.Role, Name: "ops", ID: "AROAOPS", Created: at}
	for _, e := range []iam.Entity{alice, ops} {
		if err := s.PutEntity(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	docs := []iam.PolicyDoc{
		{Owner: "", Name: "shared", Document: `{"a":1}`, Created: at},
		{Owner: "alice", Name: "mine", Document: `{"b":2}`, Created: at},
		{Owner: "role/ops", Name: "ops", Document: `{"c":3}`, Created: at},
	}
	for _, d := range docs {
		if err := s.PutPolicy(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []iam.Attachment{{Owner: "alice", Policy: "shared"}, {Owner: "role/ops", Policy: "shared"}} {
		if err := s.SetAttached(ctx, a, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetAttached(ctx, iam.Attachment{Owner: "alice", Policy: "shared"}, true); err != nil {
		t.Fatalf("attaching twice: %v", err)
	}
	if err := s.PutTags(ctx, "arn:x", map[string]string{"a": "1", "b": "2"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTags(ctx, "arn:x", map[string]string{"b": "3"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTags(ctx, "arn:y", map[string]string{"c": "4"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTags(ctx, "arn:y", nil); err != nil {
		t.Fatal(err)
	}

	es, err := s.Entities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]iam.Entity{alice, ops}, es); diff != "" {
		t.Errorf("Entities (-want +got):\n%s", diff)
	}
	got, err := s.Policies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]iam.PolicyDoc{docs[0], docs[1], docs[2]}, got); diff != "" {
		t.Errorf("Policies (-want +got):\n%s", diff)
	}
	tags, err := s.AllTags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]map[string]string{"arn:x": {"b": "3"}}, tags); diff != "" {
		t.Errorf("AllTags (-want +got):\n%s", diff)
	}

	// Deleting a principal takes its inline policies and attachments.
	if err := s.DeleteEntity(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteEntity(ctx, "alice"); fault.KindOf(err) != fault.NotFound {
		t.Errorf("deleting twice: %v", err)
	}
	got, _ = s.Policies(ctx)
	atts, _ := s.Attachments(ctx)
	if diff := cmp.Diff([]iam.PolicyDoc{docs[0], docs[2]}, got); diff != "" {
		t.Errorf("Policies after delete (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]iam.Attachment{{Owner: "role/ops", Policy: "shared"}}, atts); diff != "" {
		t.Errorf("Attachments after delete (-want +got):\n%s", diff)
	}
	if err := s.DeletePolicy(ctx, "", "nope"); fault.KindOf(err) != fault.NotFound {
		t.Errorf("DeletePolicy of a missing policy: %v", err)
	}
}

func TestModelAccessAndSettings(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for _, a := range []iam.ModelAccess{{ModelID: "b.m", Enabled: true, Updated: at}, {ModelID: "a.m", Enabled: true, Updated: at}, {ModelID: "b.m", Enabled: false, Updated: at}} {
		if err := s.PutModelAccess(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ModelAccessList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []iam.ModelAccess{{ModelID: "a.m", Enabled: true, Updated: at}, {ModelID: "b.m", Enabled: false, Updated: at}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ModelAccessList (-want +got):\n%s", diff)
	}
	if _, err := s.Setting(ctx, "x"); fault.KindOf(err) != fault.NotFound {
		t.Errorf("missing setting: %v", err)
	}
	if err := s.PutSetting(ctx, "x", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSetting(ctx, "x", []byte("two")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Setting(ctx, "x"); err != nil || string(v) != "two" {
		t.Errorf("Setting = %q, %v", v, err)
	}
}
