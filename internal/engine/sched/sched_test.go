package sched

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/outcrop/outcrop/internal/engine/arch/all"
	"github.com/outcrop/outcrop/internal/engine/enginetest"
	"github.com/outcrop/outcrop/internal/engine/llm"
	"github.com/outcrop/outcrop/internal/engine/sample"
	"github.com/outcrop/outcrop/internal/fault"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakeModel struct {
	name string
	gen  int // load number
}

type fakeSession struct{ id int }

// fakeLoader counts loads and unloads; gate, when set, holds Load until
// it is closed.
type fakeLoader struct {
	mu       sync.Mutex
	plan     Plan
	planErr  error
	gate     chan struct{}
	loads    map[string]int
	sessions int
	unloaded chan string // receives each unloaded model's name, if set
}

func newFake() *fakeLoader {
	return &fakeLoader{loads: map[string]int{}, plan: Plan{WeightBytes: 100, SessionBytes: 10}, unloaded: make(chan string, 16)}
}

func (f *fakeLoader) Plan(name string) (Plan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.plan, f.planErr
}

func (f *fakeLoader) Load(name string) (*fakeModel, error) {
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads[name]++
	return &fakeModel{name: name, gen: f.loads[name]}, nil
}

func (f *fakeLoader) NewSession(m *fakeModel) (*fakeSession, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions++
	return &fakeSession{id: f.sessions}, nil
}

func (f *fakeLoader) Unload(m *fakeModel) error {
	f.unloaded <- m.name
	return nil
}

func (f *fakeLoader) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loads[name]
}

// waitFor spins (yielding, never sleeping) until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

func waiting(s *Scheduler[*fakeModel, *fakeSession], name string) int {
	for _, st := range s.Models() {
		if st.Name == name {
			return st.Waiting
		}
	}
	return -1
}

func TestConcurrentFirstRequestsLoadOnce(t *testing.T) {
	f := newFake()
	f.gate = make(chan struct{})
	s := New[*fakeModel, *fakeSession](f, Options{Sessions: 4, QueueDepth: 4})
	defer s.Close()
	const n = 6
	var wg sync.WaitGroup
	leases := make(chan *Lease[*fakeModel, *fakeSession], n)
	for range n {
		wg.Go(func() {
			l, err := s.Acquire(context.Background(), "m", nil)
			if err != nil {
				t.Error(err)
				return
			}
			leases <- l
		})
	}
	waitFor(t, "all requests to wait for the load", func() bool { return waiting(s, "m") == n })
	close(f.gate)
	// Four run at once, two wait in the queue; releasing lets them in.
	for range n {
		l := <-leases
		l.Release()
	}
	wg.Wait()
	if got := f.count("m"); got != 1 {
		t.Errorf("loads = %d, want 1", got)
	}
	if f.sessions < 1 || f.sessions > 4 {
		t.Errorf("sessions created = %d, want 1 to 4 (never more than Sessions)", f.sessions)
	}
}

func TestQueueFullThrottles(t *testing.T) {
	f := newFake()
	s := New[*fakeModel, *fakeSession](f, Options{Sessions: 1, QueueDepth: 1})
	defer s.Close()
	ctx := context.Background()
	a, err := s.Acquire(ctx, "m", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *Lease[*fakeModel, *fakeSession])
	go func() {
		l, err := s.Acquire(ctx, "m", nil)
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	waitFor(t, "the second request to queue", func() bool { return waiting(s, "m") == 1 })
	_, err = s.Acquire(ctx, "m", nil)
	if fault.KindOf(err) != fault.Throttled || fault.Message(err) != "Too many requests for model m; try again later." {
		t.Errorf("third Acquire = %v (kind %v), want Throttled", err, fault.KindOf(err))
	}
	sess := a.Session
	a.Release()
	b := <-got
	if b.Session != sess {
		t.Errorf("queued request got session %d, want the released one %d", b.Session.id, sess.id)
	}
	b.Release()
}

func TestQueuedRequestLeavesOnCancel(t *testing.T) {
	f := newFake()
	s := New[*fakeModel, *fakeSession](f, Options{Sessions: 1, QueueDepth: 2})
	defer s.Close()
	a, err := s.Acquire(context.Background(), "m", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := s.Acquire(ctx, "m", nil)
		errc <- err
	}()
	waitFor(t, "the request to queue", func() bool { return waiting(s, "m") == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Acquire = %v, want context.Canceled", err)
	}
	if w := waiting(s, "m"); w != 0 {
		t.Errorf("waiting after cancel = %d, want 0", w)
	}
	a.Release()
	b, err := s.Acquire(context.Background(), "m", nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.Session != a.Session {
		t.Errorf("session not reused")
	}
	b.Release()
}

func TestCancelWhileLoading(t *testing.T) {
	f := newFake()
	f.gate = make(chan struct{})
	s := New[*fakeModel, *fakeSession](f, Options{})
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := s.Acquire(ctx, "m", nil)
		errc <- err
	}()
	waitFor(t, "the request to wait for the load", func() bool { return waiting(s, "m") == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire = %v, want context.Canceled", err)
	}
	close(f.gate) // the load finishes and the model stays loaded
	l, err := s.Acquire(context.Background(), "m", nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	if got := f.count("m"); got != 1 {
		t.Errorf("loads = %d, want 1", got)
	}
}

func TestKeepAliveUnloads(t *testing.T) {
	f := newFake()
	s := New[*fakeModel, *fakeSession](f, Options{KeepAlive: time.Millisecond})
	defer s.Close()
	l, err := s.Acquire(context.Background(), "m", nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	if got := <-f.unloaded; got != "m" {
		t.Errorf("unloaded %q", got)
	}
	l, err = s.Acquire(context.Background(), "m", nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.Model.gen != 2 {
		t.Errorf("model generation = %d, want a fresh load", l.Model.gen)
	}
	l.Release()
}

func TestExpireSparesModelsInUse(t *testing.T) {
	f := newFake()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := New[*fakeModel, *fakeSession](f, Options{KeepAlive: time.Minute, Now: func() time.Time { return now }})
	defer s.Close()
	l, err := s.Acquire(context.Background(), "m", nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := s.expire(now.Add(time.Hour)); d != -1 {
		t.Errorf("expire with the model in use = %v, want -1", d)
	}
	if len(s.Models()) != 1 {
		t.Fatal("model in use was unloaded")
	}
	l.Release()
	if d := s.expire(now.Add(30 * time.Second)); d != 30*time.Second {
		t.Errorf("next expiry = %v, want 30s", d)
	}
	s.expire(now.Add(time.Minute))
	if got := <-f.unloaded; got != "m" || len(s.Models()) != 0 {
		t.Errorf("unloaded %q, models %v", got, s.Models())
	}
}

func TestMemoryBudget(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"budget", Options{MemoryBudget: 50, Sessions: 2},
			"Not enough memory to load model m: it needs 120 B (weights 100 B + 2 sessions × 10 B of KV cache and buffers), but only 50 B of the 50 B memory budget is free. Lower sessionsPerModel or contextTokens, or free memory."},
		{"memavailable", Options{Margin: 2048, Sessions: 1, MemAvailable: func() (int64, error) { return 2100, nil }},
			"Not enough memory to load model m: it needs 110 B (weights 100 B + 1 sessions × 10 B of KV cache and buffers), but only 52 B is available (MemAvailable less a 2.0 KiB safety margin). Lower sessionsPerModel or contextTokens, or free memory."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			s := New[*fakeModel, *fakeSession](f, tt.o)
			defer s.Close()
			_, err := s.Acquire(context.Background(), "m", nil)
			if fault.KindOf(err) != fault.QuotaExceeded {
				t.Fatalf("Acquire = %v, want QuotaExceeded", err)
			}
			if diff := cmp.Diff(tt.want, fault.Message(err)); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
			if f.count("m") != 0 {
				t.Error("model loaded despite the refusal")
			}
		})
	}
}

func TestMemoryBudgetEvictsIdle(t *testing.T) {
	f := newFake()
	s := New[*fakeModel, *fakeSession](f, Options{MemoryBudget: 150, Sessions: 1})
	defer s.Close()
	ctx := context.Background()
	a, err := s.Acquire(ctx, "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	// a is in use, so b cannot evict it.
	if _, err := s.Acquire(ctx, "b", nil); fault.KindOf(err) != fault.QuotaExceeded {
		t.Fatalf("Acquire b while a runs = %v, want QuotaExceeded", err)
	}
	a.Release()
	b, err := s.Acquire(ctx, "b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := <-f.unloaded; got != "a" {
		t.Errorf("evicted %q, want a", got)
	}
	b.Release()
}

func TestLoadErrorReachesWaitersAndRetries(t *testing.T) {
	f := newFake()
	f.planErr = fault.New(fault.ModelNotReady, "weights missing")
	s := New[*fakeModel, *fakeSession](f, Options{})
	defer s.Close()
	if _, err := s.Acquire(context.Background(), "m", nil); fault.KindOf(err) != fault.ModelNotReady {
		t.Fatalf("Acquire = %v, want ModelNotReady", err)
	}
	f.mu.Lock()
	f.planErr = nil
	f.mu.Unlock()
	l, err := s.Acquire(context.Background(), "m", nil)
	if err != nil {
		t.Fatalf("Acquire after the weights appeared = %v", err)
	}
	l.Release()
}

func TestUsePinsModel(t *testing.T) {
	f := newFake()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := New[*fakeModel, *fakeSession](f, Options{KeepAlive: time.Minute, Now: func() time.Time { return now }})
	defer s.Close()
	err := s.Use(context.Background(), "m", func(m *fakeModel) error {
		s.expire(now.Add(time.Hour))
		if len(s.Models()) != 1 {
			t.Error("model unloaded while in Use")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPickChoosesSession(t *testing.T) {
	f := newFake()
	s := New[*fakeModel, *fakeSession](f, Options{Sessions: 2})
	defer s.Close()
	ctx := context.Background()
	a, _ := s.Acquire(ctx, "m", nil)
	b, _ := s.Acquire(ctx, "m", nil)
	a.Release()
	b.Release()
	l, err := s.Acquire(ctx, "m", func(idle []*fakeSession) int {
		for i, x := range idle {
			if x == a.Session {
				return i
			}
		}
		return -1
	})
	if err != nil {
		t.Fatal(err)
	}
	if l.Session != a.Session {
		t.Errorf("picked session %d, want %d", l.Session.id, a.Session.id)
	}
	l.Release()
}

func TestClose(t *testing.T) {
	f := newFake()
	s := New[*fakeModel, *fakeSession](f, Options{Sessions: 1})
	a, err := s.Acquire(context.Background(), "m", nil)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error)
	go func() {
		_, err := s.Acquire(context.Background(), "m", nil)
		errc <- err
	}()
	waitFor(t, "the request to queue", func() bool { return waiting(s, "m") == 1 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; fault.KindOf(err) != fault.Unavailable {
		t.Errorf("queued request after Close = %v, want Unavailable", err)
	}
	if _, err := s.Acquire(context.Background(), "m", nil); fault.KindOf(err) != fault.Unavailable {
		t.Errorf("Acquire after Close = %v, want Unavailable", err)
	}
	select {
	case m := <-f.unloaded:
		t.Fatalf("%s unloaded while in use", m)
	default:
	}
	a.Release()
	if got := <-f.unloaded; got != "m" {
		t.Errorf("unloaded %q", got)
	}
}

func TestParseMemAvailable(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"MemTotal:       24684176 kB\nMemFree:        17654768 kB\nMemAvailable:   22712284 kB\n", 22712284 * 1024, false},
		{"MemTotal: 1 kB\n", 0, true},
		{"MemAvailable: x kB\n", 0, true},
	}
	for _, tt := range tests {
		got, err := parseMemAvailable([]byte(tt.in))
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("parseMemAvailable(%q) = %d, %v; want %d (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestBytes(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{512, "512 B"}, {1536, "1.5 KiB"}, {190 << 20, "190.0 MiB"}, {3 << 30, "3.0 GiB"}} {
		if got := Bytes(tt.n).String(); got != tt.want {
			t.Errorf("Bytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// llmLoader runs real llm models from a directory.
type llmLoader struct{ dir string }

func (l llmLoader) Plan(name string) (Plan, error) {
	st, err := os.Stat(filepath.Join(l.dir, name))
	if err != nil {
		return Plan{}, fault.Wrap(fault.ModelNotReady, err, "no such model")
	}
	return Plan{WeightBytes: st.Size(), SessionBytes: 1 << 20}, nil
}

func (l llmLoader) Load(name string) (*llm.Model, error) {
	return llm.Load(filepath.Join(l.dir, name), llm.Options{Archs: all.Archs, Threads: 2})
}

func (llmLoader) NewSession(m *llm.Model) (*llm.Session, error) { return m.NewSession(128) }
func (llmLoader) Unload(m *llm.Model) error                     { return m.Close() }

// TestSyntheticModelConcurrentSessions runs two sequences of a synthetic
// GGUF model at once through the scheduler and checks they agree with
// each other and with a third, sequential run that reuses a session.
func TestSyntheticModelConcurrentSessions(t *testing.T) {
	dir := t.TempDir()
	enginetest.TinyLlama(t, dir, "tiny.gguf", 3, "")
	s := New[*llm.Model, *llm.Session](llmLoader{dir}, Options{Sessions: 2})
	defer s.Close()
	run := func() (string, error) {
		l, err := s.Acquire(context.Background(), "tiny.gguf", nil)
		if err != nil {
			return "", err
		}
		defer l.Release()
		prompt := l.Model.Tokenizer().Encode("<|im_start|>user\nhello<|im_end|>\n", true)
		var out strings.Builder
		_, err = l.Session.Generate(context.Background(), prompt, sample.Params{MaxTokens: 8}, func(tk llm.Token) bool {
			out.WriteString(tk.Text)
			return true
		})
		return out.String(), err
	}
	var wg sync.WaitGroup
	outs := make([]string, 2)
	for i := range outs {
		wg.Go(func() {
			var err error
			if outs[i], err = run(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	third, err := run()
	if err != nil {
		t.Fatal(err)
	}
	if outs[0] != outs[1] || outs[0] != third {
		t.Errorf("greedy outputs differ: %q %q %q", outs[0], outs[1], third)
	}
	if _, err := s.Acquire(context.Background(), "missing.gguf", nil); fault.KindOf(err) != fault.ModelNotReady {
		t.Errorf("missing model = %v, want ModelNotReady", err)
	}
}
