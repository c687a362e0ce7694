package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/audit"
)

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

var t0 = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)

func TestRedact(t *testing.T) {
	tests := []struct {
		name   string
		params []audit.Param
		body   string
		want   string
	}{
		{"converse", []audit.Param{{"modelId", "anthropic.claude-3-haiku-20240307-v1:0"}},
			`{"messages":[{"role":"user","content":[{"text":"secret plan"},{"document":{"name":"plan.pdf"}}]}],"system":[{"text":"be nice"}],
			  "inferenceConfig":{"maxTokens":64,"temperature":0.5,"stopSequences":["STOP"]},"guardrailConfig":{"guardrailIdentifier":"gr1","guardrailVersion":"1"}}`,
			`{"guardrailConfig":{"guardrailIdentifier":"gr1","guardrailVersion":"1"},"inferenceConfig":{"maxTokens":64,"temperature":0.5},"messages":"HIDDEN_DUE_TO_SECURITY_REASONS","modelId":"anthropic.claude-3-haiku-20240307-v1:0","system":"HIDDEN_DUE_TO_SECURITY_REASONS"}`},
		{"secrets dropped", nil, `{"name":"g","secretKey":"abc","credentialsSecretArn":"arn:x","apiKeyId":"k","tags":[{"key":"team","value":"ml"}]}`,
			`{"name":"g","tags":[{"key":"team"}]}`},
		{"not json", []audit.Param{{"modelId", "m"}}, `plain text prompt`, `{"modelId":"m"}`},
		{"nothing", nil, `{"prompt":"x"}`, `{"prompt":"HIDDEN_DUE_TO_SECURITY_REASONS"}`},
		{"empty", nil, ``, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(audit.Redact(tt.params, []byte(tt.body)))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Redact mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func call(i int, op string) audit.Call {
	return audit.Call{
		Time: t0.Add(time.Duration(i) * time.Second), Operation: op, Region: "us-east-1", SourceIP: "127.0.0.1", UserAgent: "test",
		Principal: &audit.Principal{Type: "IAMUser", ARN: "arn:aws:iam::000000000000:user/alice", UserName: "alice", AccountID: "000000000000", AccessKeyID: "AKIATEST"},
		Params:    []audit.Param{{"modelId", fmt.Sprintf("model-%d", i%3)}},
		Body:      []byte(`{"messages":[{"role":"user","content":[{"text":"PROMPT-TEXT"}]}]}`),
		RequestID: fmt.Sprintf("req-%d", i),
	}
}

// writeTrail writes n calls with a digest every 10 records and closes.
func writeTrail(t *testing.T, dir string, clk *clock, n int) {
	t.Helper()
	tr, err := audit.Open(audit.Options{Dir: dir, AccountID: "000000000000", Now: clk.Now, DigestEvery: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		tr.Record(call(i, "Converse"))
		if i%7 == 0 {
			if err := tr.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestTrailChainAndReopen(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: t0}
	writeTrail(t, dir, clk, 25)
	clk.Add(24 * time.Hour) // the next day's file
	writeTrail(t, dir, clk, 5)
	key, err := audit.ReadKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Records != 30 || rep.Files != 2 {
		t.Fatalf("Verify = %+v, want 30 records in 2 files and no problems", rep)
	}
	// 25 records: digests after 10, 20, and on close (5); then 5 and close.
	if rep.Digests != 4 {
		t.Errorf("digests = %d, want 4", rep.Digests)
	}
	// No prompt text anywhere.
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			b, _ := os.ReadFile(p)
			if bytes.Contains(b, []byte("PROMPT-TEXT")) {
				t.Errorf("%s contains the prompt", p)
			}
		}
		return nil
	})
}

// lines returns the lines of the trail's first file.
func firstFile(t *testing.T, dir string) (string, []string) {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if len(m) == 0 {
		t.Fatal("no trail files")
	}
	b, err := os.ReadFile(m[0])
	if err != nil {
		t.Fatal(err)
	}
	return m[0], strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(lines []string) []string
		want   string // in the first problem
	}{
		{"edited", func(l []string) []string {
			l[4] = strings.Replace(l[4], `"eventName":"Converse"`, `"eventName":"ListFoundationModels"`, 1)
			return l
		}, "record 5 was modified"},
		{"deleted", func(l []string) []string { return append(l[:6:6], l[7:]...) }, "record 7 was deleted"},
		{"deleted two", func(l []string) []string { return append(l[:6:6], l[8:]...) }, "records 7 to 8 were deleted"},
		{"inserted", func(l []string) []string {
			return append(l[:3:3], append([]string{strings.Replace(l[2], `"req-2"`, `"req-x"`, 1)}, l[3:]...)...)
		}, "record 3 is out of sequence"},
		{"truncated", func(l []string) []string { return l[:len(l)-3] }, "deleted from the end"},
		{"last edited", func(l []string) []string {
			l[len(l)-1] = strings.Replace(l[len(l)-1], `"digestTime"`, `"digestTime" `, 1)
			return l
		}, "the last) was modified"},
		{"garbage", func(l []string) []string { l[9] = "{}"; return l }, "not a valid audit record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTrail(t, dir, &clock{t: t0}, 25)
			path, lines := firstFile(t, dir)
			if err := os.WriteFile(path, []byte(strings.Join(tt.tamper(lines), "\n")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			key, _ := audit.ReadKey(dir)
			rep, err := audit.Verify(dir, key)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Fatalf("Verify found nothing after %s", tt.name)
			}
			if got := rep.Problems[0].String(); !strings.Contains(got, tt.want) {
				t.Errorf("first problem = %q, want it to contain %q (all: %v)", got, tt.want, rep.Problems)
			}
		})
	}
}

func TestForgedDigest(t *testing.T) {
	dir := t.TempDir()
	writeTrail(t, dir, &clock{t: t0}, 12)
	rep, err := audit.Verify(dir, []byte("another key of thirty-two bytes!"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || !strings.Contains(rep.Problems[0].Msg, "bad signature") {
		t.Errorf("Verify with the wrong key = %v, want a bad signature", rep.Problems)
	}
}

func TestLookup(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: t0}
	tr, err := audit.Open(audit.Options{Dir: dir, AccountID: "000000000000", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 9 {
		c := call(i, []string{"Converse", "ListFoundationModels", "InvokeModel"}[i%3])
		if i == 4 {
			c.Principal = &audit.Principal{Type: "Root", ARN: "arn:aws:iam::000000000000:root", AccountID: "000000000000"}
			c.ErrorCode, c.ErrorMsg = "ThrottlingException", "Too many requests, please wait before trying again."
		}
		tr.Record(c)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	ids := func(evs []audit.Event) []string {
		var out []string
		for _, e := range evs {
			out = append(out, e.RequestID)
		}
		return out
	}
	tests := []struct {
		name string
		f    audit.Filter
		want []string
	}{
		{"all newest first", audit.Filter{Max: 3}, []string{"req-8", "req-7", "req-6"}},
		{"event name", audit.Filter{EventName: "Converse"}, []string{"req-6", "req-3", "req-0"}},
		{"principal", audit.Filter{Principal: "arn:aws:iam::000000000000:root"}, []string{"req-4"}},
		{"user name", audit.Filter{Principal: "alice", EventName: "InvokeModel"}, []string{"req-8", "req-5", "req-2"}},
		{"resource", audit.Filter{Resource: "model-1"}, []string{"req-7", "req-4", "req-1"}},
		{"resource ARN", audit.Filter{Resource: "arn:aws:bedrock:us-east-1::foundation-model/model-2", Max: 1}, []string{"req-8"}},
		{"time range", audit.Filter{Start: t0.Add(2 * time.Second), End: t0.Add(3 * time.Second)}, []string{"req-3", "req-2"}},
		{"errors", audit.Filter{ErrorsOnly: true}, []string{"req-4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := audit.Lookup(dir, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
				t.Errorf("Lookup(%+v) mismatch (-want +got):\n%s", tt.f, diff)
			}
		})
	}
	evs, _ := audit.Lookup(dir, audit.Filter{Principal: "arn:aws:iam::000000000000:root"})
	e := evs[0]
	if e.ErrorCode != "ThrottlingException" || e.EventSource != "bedrock.amazonaws.com" || e.EventCategory != "Management" ||
		!e.ManagementEvent || !e.ReadOnly || e.EventType != "AwsApiCall" || e.EventTime != "2026-05-04T12:00:04Z" || e.EventID == "" {
		t.Errorf("event = %+v", e)
	}
	var buf bytes.Buffer
	n, err := audit.Export(dir, audit.Filter{}, &buf)
	if err != nil || n != 9 || strings.Count(buf.String(), "\n") != 9 || strings.Contains(buf.String(), `"seq"`) {
		t.Errorf("Export = %d, %v:\n%s", n, err, buf.String())
	}
}

// BenchmarkRecord measures what an audited request pays: building the
// Call and enqueueing it, as the server does for a Converse call (no body:
// invocation bodies are prompts and are not parsed for parameters). The
// queue is large enough for every iteration, so this is the enqueue cost
// alone; the writer drains concurrently. Run with -benchtime 200000x.
func BenchmarkRecord(b *testing.B) {
	tr, err := audit.Open(audit.Options{Dir: b.TempDir(), AccountID: "000000000000", QueueSize: 1 << 18})
	if err != nil {
		b.Fatal(err)
	}
	p := &audit.Principal{Type: "Root", ARN: "arn:aws:iam::000000000000:root", AccountID: "000000000000", AccessKeyID: "AKIATEST"}
	b.ReportAllocs()
	for b.Loop() {
		tr.Record(audit.Call{
			Time: time.Now(), Operation: "Converse", Region: "us-east-1", SourceIP: "127.0.0.1", UserAgent: "aws-sdk-go-v2/1.0",
			Principal: p, Params: []audit.Param{{"modelId", "outcrop.echo-v1:0"}}, RequestID: "req",
		})
	}
	b.StopTimer()
	if err := tr.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWriter measures the writer's cost per record (redaction,
// encoding, hashing, and the batched write and fsync), which runs off the
// request path.
func BenchmarkWriter(b *testing.B) {
	tr, err := audit.Open(audit.Options{Dir: b.TempDir(), AccountID: "000000000000"})
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"messages":[{"role":"user","content":[{"text":"What is the capital of France?"}]}],"inferenceConfig":{"maxTokens":64}}`)
	b.ReportAllocs()
	for b.Loop() {
		tr.Record(audit.Call{Time: time.Now(), Operation: "Converse", Params: []audit.Param{{"modelId", "m"}}, Body: body})
	}
	if err := tr.Close(); err != nil {
		b.Fatal(err)
	}
}

// TestWindowEndsEarly checks that the writer does not sit out its whole
// collection window when a batch's worth of calls is queued or the trail
// is closed: with an hour-long window, both must return at once.
func TestWindowEndsEarly(t *testing.T) {
	for _, tt := range []struct {
		name  string
		calls int
		close bool
	}{
		{"full batch then flush", 4, false},
		{"two batches then flush", 8, false},
		{"one call then close", 1, true},
		{"full batch then close", 4, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tr, err := audit.Open(audit.Options{Dir: dir, AccountID: "000000000000", Now: (&clock{t: t0}).Now, BatchSize: 4, FlushInterval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.calls {
				tr.Record(call(i, "Converse"))
			}
			done := make(chan error, 1)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			go func() {
				if tt.close {
					done <- tr.Close()
				} else {
					done <- tr.Flush(ctx)
				}
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-ctx.Done():
				t.Fatal("the writer waited out its window")
			}
			if !tt.close {
				// What the flush waited for is the calls that filled the
				// batch, not the rest of the window.
				if err := tr.Close(); err != nil {
					t.Fatal(err)
				}
			}
			key, _ := audit.ReadKey(dir)
			rep, err := audit.Verify(dir, key)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() || rep.Records != int64(tt.calls) {
				t.Errorf("Verify = %+v, want %d records and no problems", rep, tt.calls)
			}
		})
	}
}

// headSeq reads the record the trail's head names (0 when there is none).
func headSeq(t *testing.T, dir string) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "head.json"))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Seq int64 }
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h.Seq
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestHeadTrails: records are synced with every batch, the head follows
// at most HeadInterval later: at once for the first batch, on Flush and
// Close, and by itself once the interval has passed with no more batches.
// records counts the lines in the trail's record files.
func records(dir string) int {
	fs, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	n := 0
	for _, f := range fs {
		b, _ := os.ReadFile(f)
		n += bytes.Count(b, []byte("\n"))
	}
	return n
}

func TestHeadTrails(t *testing.T) {
	t.Run("lags until flushed", func(t *testing.T) {
		dir := t.TempDir()
		tr, err := audit.Open(audit.Options{Dir: dir, AccountID: "000000000000", FlushInterval: time.Millisecond, HeadInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		tr.Record(call(0, "Converse"))
		waitFor(t, "the first head", func() bool { return headSeq(t, dir) == 1 })
		tr.Record(call(1, "Converse"))
		tr.Record(call(2, "Converse"))
		waitFor(t, "the later records on disk", func() bool { return records(dir) == 3 })
		if got := headSeq(t, dir); got != 1 {
			t.Errorf("head names record %d within the interval, want 1 (the first batch's)", got)
		}
		if rep, err := audit.Verify(dir, nil); err != nil || !rep.OK() {
			t.Errorf("a trail whose head trails it does not verify: %v %+v", err, rep)
		}
		if err := tr.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := headSeq(t, dir); got != 3 {
			t.Errorf("head names record %d after Flush, want 3", got)
		}
		tr.Record(call(3, "Converse"))
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		if got := headSeq(t, dir); got < 4 {
			t.Errorf("head names record %d after Close, want at least 4", got)
		}
	})
	t.Run("catches up by itself", func(t *testing.T) {
		dir := t.TempDir()
		tr, err := audit.Open(audit.Options{Dir: dir, AccountID: "000000000000", FlushInterval: time.Millisecond, HeadInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		tr.Record(call(0, "Converse"))
		waitFor(t, "the first head", func() bool { return headSeq(t, dir) == 1 })
		tr.Record(call(1, "Converse"))
		waitFor(t, "the head to name the second record", func() bool { return headSeq(t, dir) == 2 })
	})
}

// Records are written every FlushInterval but fsynced at most every
// SyncInterval; the head, which names only fsynced records, shows when.
func TestSyncTrails(t *testing.T) {
	open := func(t *testing.T, sync time.Duration) (*audit.Trail, string) {
		dir := t.TempDir()
		tr, err := audit.Open(audit.Options{Dir: dir, AccountID: "000000000000", FlushInterval: time.Millisecond,
			SyncInterval: sync, HeadInterval: time.Nanosecond})
		if err != nil {
			t.Fatal(err)
		}
		return tr, dir
	}
	t.Run("written before fsynced", func(t *testing.T) {
		tr, dir := open(t, time.Hour)
		defer tr.Close()
		tr.Record(call(0, "Converse"))
		waitFor(t, "the first batch fsynced", func() bool { return headSeq(t, dir) == 1 })
		tr.Record(call(1, "Converse"))
		tr.Record(call(2, "Converse"))
		waitFor(t, "the later records written", func() bool { return records(dir) == 3 })
		if got := headSeq(t, dir); got != 1 {
			t.Errorf("head names record %d before the next fsync is due, want 1", got)
		}
		if err := tr.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := headSeq(t, dir); got != 3 {
			t.Errorf("head names record %d after Flush, want 3", got)
		}
	})
	t.Run("fsynced by the timer", func(t *testing.T) {
		tr, dir := open(t, 20*time.Millisecond)
		defer tr.Close()
		tr.Record(call(0, "Converse"))
		waitFor(t, "the first batch fsynced", func() bool { return headSeq(t, dir) == 1 })
		tr.Record(call(1, "Converse"))
		waitFor(t, "the second record fsynced", func() bool { return headSeq(t, dir) == 2 })
	})
}
