package audit_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/audit"
)

// chatBody is a small OpenAI chat request (about 250 bytes), the body the
// load profile hands the trail on every call.
var chatBody = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},` +
	`{"role":"user","content":"What is the capital of France? Answer in one word, please."}],` +
	`"max_tokens":64,"temperature":0.2,"top_p":1,"stream":false,"n":1,"user":"bench-user-42"}`)

func benchCall(i int) audit.Call {
	return audit.Call{
		Time: time.Now(), Operation: "InvokeModel", Region: "us-east-1", SourceIP: "10.0.0.7", UserAgent: "openai-python/1.54.0",
		Principal: &audit.Principal{Type: "IAMUser", PrincipalID: "AIDAEXAMPLE", ARN: "arn:aws:iam::000000000000:user/alice", AccountID: "000000000000", AccessKeyID: "AKIATEST", UserName: "alice"},
		Params:    []audit.Param{{"apiDialect", "openai"}, {"apiOperation", "POST /openai/v1/chat/completions"}, {"modelId", "openai.gpt-oss-20b-1:0"}},
		Body:      chatBody,
		RequestID: fmt.Sprintf("req-%d", i),
	}
}

// cpuTime is the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkRedact(b *testing.B) {
	params := []audit.Param{{"modelId", "openai.gpt-oss-20b-1:0"}}
	b.ReportAllocs()
	b.SetBytes(int64(len(chatBody)))
	for b.Loop() {
		audit.Redact(params, chatBody)
	}
}

// BenchmarkTrail records calls as fast as it can and flushes: the
// writer's whole cost per record (redaction, encoding, hashing, batched
// write, fsync, head) plus the enqueue. cpu-ns/op is the process's CPU
// time per record, the figure that competes with requests.
func BenchmarkTrail(b *testing.B) {
	tr, err := audit.Open(audit.Options{Dir: b.TempDir(), AccountID: "000000000000"})
	if err != nil {
		b.Fatal(err)
	}
	calls := make([]audit.Call, 1024)
	for i := range calls {
		calls[i] = benchCall(i)
	}
	b.ReportAllocs()
	cpu := cpuTime()
	i := 0
	for b.Loop() {
		tr.Record(calls[i%len(calls)])
		i++
	}
	if err := tr.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	b.StopTimer()
	if err := tr.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkTrailPaced records calls at about 11,000 a second, the load of
// the profile, in bursts of 11 every millisecond, so that batches are as
// small as under real load. cpu-ns/op is the process's CPU time per record
// (including the pacing loop's own, the same in every build); ns/op is
// just the pacing.
func BenchmarkTrailPaced(b *testing.B) {
	tr, err := audit.Open(audit.Options{Dir: b.TempDir(), AccountID: "000000000000"})
	if err != nil {
		b.Fatal(err)
	}
	calls := make([]audit.Call, 1024)
	for i := range calls {
		calls[i] = benchCall(i)
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	b.ReportAllocs()
	cpu := cpuTime()
	i := 0
	for b.Loop() {
		if i%11 == 0 {
			<-tick.C
		}
		tr.Record(calls[i%len(calls)])
		i++
	}
	if err := tr.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	b.StopTimer()
	if err := tr.Close(); err != nil {
		b.Fatal(err)
	}
}
