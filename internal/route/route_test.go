package route

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// fake is a backend whose answers tests set.
type fake struct {
	name string
	mu   sync.Mutex
	err  error // returned by every call (after emitting `before` events)
	// before is how many stream events are emitted before err.
	before int
	calls  []string // models asked for, in order
}

func (f *fake) record(model string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, model)
	return f.err
}

func (f *fake) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fake) Converse(_ context.Context, req *provider.Request) (*provider.Response, error) {
	if err := f.record(req.Model); err != nil {
		return nil, err
	}
	return &provider.Response{Message: provider.Message{Role: provider.Assistant, Content: []provider.Block{{Type: provider.TextBlock, Text: f.name}}}}, nil
}

func (f *fake) ConverseStream(_ context.Context, req *provider.Request, emit func(provider.Event) error) error {
	err := f.record(req.Model)
	n := f.before
	if err == nil {
		n = 2
	}
	for i := 0; i < n; i++ {
		if e := emit(provider.Event{Type: provider.TextDeltaEvent, Text: f.name}); e != nil {
			return e
		}
	}
	return err
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

type counts struct {
	mu        sync.Mutex
	calls     map[string]int
	errors    map[string]int
	fallbacks map[string]int
}

func newCounts() *counts {
	return &counts{calls: map[string]int{}, errors: map[string]int{}, fallbacks: map[string]int{}}
}

func (c *counts) Call(b string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[b]++
	if err != nil {
		c.errors[b]++
	}
}

func (c *counts) Fallback(b string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fallbacks[b]++
}

func seeded() func() float64 { return rand.New(rand.NewPCG(1, 2)).Float64 }

func names(cs []Candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Backend)
	}
	return out
}

func TestOrderByPriority(t *testing.T) {
	a, b, c := &fake{name: "a"}, &fake{name: "b"}, &fake{name: "c"}
	r := New("m", []Candidate{
		{Backend: "c", Weight: 100, Priority: 2, Adapter: c},
		{Backend: "a", Weight: 1, Priority: 0, Adapter: a},
		{Backend: "b", Weight: 1, Priority: 1, Adapter: b},
	}, Options{Rand: seeded()}).(*Router)
	for i := 0; i < 50; i++ {
		if d := cmp.Diff([]string{"a", "b", "c"}, names(r.Order())); d != "" {
			t.Fatalf("order (-want +got):\n%s", d)
		}
	}
}

func TestWeights(t *testing.T) {
	for _, tc := range []struct {
		weights []int
		want    []float64 // share of calls each backend is tried first
	}{
		{[]int{1, 1}, []float64{0.5, 0.5}},
		{[]int{1, 3}, []float64{0.25, 0.75}},
		{[]int{2, 3, 5}, []float64{0.2, 0.3, 0.5}},
	} {
		var cands []Candidate
		for i, w := range tc.weights {
			cands = append(cands, Candidate{Backend: string(rune('a' + i)), Weight: w, Adapter: &fake{}})
		}
		r := New("m", cands, Options{Rand: seeded()}).(*Router)
		const n = 20000
		first := map[string]int{}
		for i := 0; i < n; i++ {
			first[r.Order()[0].Backend]++
		}
		for i, want := range tc.want {
			got := float64(first[string(rune('a'+i))]) / n
			if got < want-0.015 || got > want+0.015 {
				t.Errorf("weights %v: backend %c first %.3f of calls, want %.2f", tc.weights, 'a'+i, got, want)
			}
		}
	}
}

func TestFallback(t *testing.T) {
	for _, tc := range []struct {
		kind     fault.Kind
		fallback bool
	}{
		{fault.Throttled, true},
		{fault.Unavailable, true},
		{fault.ModelTimeout, true},
		{fault.ModelFailed, true},
		{fault.Invalid, false},
		{fault.Denied, false},
		{fault.ModelNotReady, false},
		{fault.Internal, false},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			a := &fake{name: "a", err: fault.New(tc.kind, "a failed")}
			b := &fake{name: "b"}
			obs := newCounts()
			r := New("m", []Candidate{
				{Backend: "a", Model: "a-model", Weight: 1, Priority: 0, Adapter: a},
				{Backend: "b", Model: "b-model", Weight: 1, Priority: 1, Adapter: b},
			}, Options{Rand: seeded(), Observer: obs})
			resp, err := r.Converse(context.Background(), &provider.Request{Model: "catalog"})
			if tc.fallback {
				if err != nil || provider.TextOf(resp.Message.Content) != "b" {
					t.Fatalf("Converse = %v, %v; want b's answer", resp, err)
				}
				if d := cmp.Diff(map[string]int{"a": 1}, obs.fallbacks); d != "" {
					t.Errorf("fallbacks (-want +got):\n%s", d)
				}
			} else if fault.KindOf(err) != tc.kind || b.Calls() != 0 {
				t.Fatalf("Converse err = %v with %d calls to b; want a's %v and no fallback", err, b.Calls(), tc.kind)
			}
			if d := cmp.Diff([]string{"a-model"}, a.calls); d != "" {
				t.Errorf("a's models (-want +got):\n%s", d)
			}

			// Streams fall back the same way while nothing was sent.
			b.calls = nil
			var got []string
			err = r.ConverseStream(context.Background(), &provider.Request{}, func(ev provider.Event) error {
				got = append(got, ev.Text)
				return nil
			})
			if tc.fallback {
				if err != nil || cmp.Diff([]string{"b", "b"}, got) != "" || cmp.Diff([]string{"b-model"}, b.calls) != "" {
					t.Errorf("stream: %v, events %v, b's models %v", err, got, b.calls)
				}
			} else if fault.KindOf(err) != tc.kind || len(b.calls) != 0 {
				t.Errorf("stream err = %v, b called %d times", err, len(b.calls))
			}
		})
	}
}

func TestNoFallbackAfterStreamStarted(t *testing.T) {
	a := &fake{name: "a", err: fault.New(fault.Throttled, "a throttled mid-stream"), before: 1}
	b := &fake{name: "b"}
	r := New("m", []Candidate{
		{Backend: "a", Weight: 1, Priority: 0, Adapter: a},
		{Backend: "b", Weight: 1, Priority: 1, Adapter: b},
	}, Options{Rand: seeded()})
	var got []string
	err := r.ConverseStream(context.Background(), &provider.Request{}, func(ev provider.Event) error {
		got = append(got, ev.Text)
		return nil
	})
	if fault.KindOf(err) != fault.Throttled || b.Calls() != 0 || cmp.Diff([]string{"a"}, got) != "" {
		t.Errorf("err %v, events %v, b calls %d; want a's error after its one event and no fallback", err, got, b.Calls())
	}

	// An error from emit (the client went away) ends the call too.
	a.err, a.before = nil, 0
	gone := errors.New("client gone")
	err = r.ConverseStream(context.Background(), &provider.Request{}, func(provider.Event) error { return gone })
	if !errors.Is(err, gone) || b.Calls() != 0 {
		t.Errorf("emit error: %v, b calls %d", err, b.Calls())
	}
}

func TestLastErrorWhenAllFail(t *testing.T) {
	a := &fake{err: fault.New(fault.Unavailable, "a down")}
	b := &fake{err: fault.New(fault.Throttled, "b busy")}
	r := New("m", []Candidate{{Backend: "a", Weight: 1, Adapter: a}, {Backend: "b", Weight: 1, Priority: 1, Adapter: b}}, Options{Rand: seeded()})
	_, err := r.Converse(context.Background(), &provider.Request{})
	if fault.KindOf(err) != fault.Throttled || fault.Message(err) != "b busy" {
		t.Errorf("err = %v; want the last candidate's", err)
	}
}

func TestBreaker(t *testing.T) {
	clk := &clock{t: time.Unix(1e9, 0)}
	health := NewHealth(2, 10*time.Second, clk.now)
	a := &fake{name: "a", err: fault.New(fault.Unavailable, "a down")}
	b := &fake{name: "b"}
	cands := []Candidate{{Backend: "a", Weight: 1, Priority: 0, Adapter: a}, {Backend: "b", Weight: 1, Priority: 1, Adapter: b}}
	r := New("m1", cands, Options{Rand: seeded(), Health: health})
	// A second model on the same backends shares their breakers.
	r2 := New("m2", cands, Options{Rand: seeded(), Health: health})

	type step struct {
		name    string
		advance time.Duration
		aErr    error
		router  provider.Adapter
		aCalls  int  // a's calls so far
		open    bool // a's breaker afterwards
	}
	for _, s := range []step{
		{name: "first failure", router: r, aErr: a.err, aCalls: 1, open: false},
		{name: "second failure opens", router: r, aErr: a.err, aCalls: 2, open: true},
		{name: "open: a skipped", router: r, aErr: a.err, aCalls: 2, open: true},
		{name: "open for the other model too", router: r2, aErr: a.err, aCalls: 2, open: true},
		{name: "still cooling down", advance: 9 * time.Second, router: r, aErr: a.err, aCalls: 2, open: true},
		{name: "half-open probe fails", advance: time.Second, router: r, aErr: a.err, aCalls: 3, open: true},
		{name: "reopened", router: r, aErr: a.err, aCalls: 3, open: true},
		{name: "probe succeeds, closes", advance: 10 * time.Second, router: r2, aErr: nil, aCalls: 4, open: false},
		{name: "closed", router: r, aErr: nil, aCalls: 5, open: false},
	} {
		clk.advance(s.advance)
		a.mu.Lock()
		a.err = s.aErr
		a.mu.Unlock()
		if s.aErr == nil {
			a.err = nil
		}
		resp, err := s.router.Converse(context.Background(), &provider.Request{})
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		want := "b"
		if s.aErr == nil {
			want = "a"
		}
		if got := provider.TextOf(resp.Message.Content); got != want {
			t.Errorf("%s: answered by %s, want %s", s.name, got, want)
		}
		if a.Calls() != s.aCalls || health.Open("a") != s.open {
			t.Errorf("%s: a called %d times (want %d), open %v (want %v)", s.name, a.Calls(), s.aCalls, health.Open("a"), s.open)
		}
	}
}

func TestBreakerIgnoresInvalid(t *testing.T) {
	health := NewHealth(1, time.Minute, nil)
	a := &fake{err: fault.New(fault.Invalid, "bad request")}
	r := New("m", []Candidate{{Backend: "a", Weight: 1, Adapter: a}, {Backend: "b", Weight: 1, Priority: 1, Adapter: &fake{}}}, Options{Health: health})
	for i := 0; i < 3; i++ {
		r.Converse(context.Background(), &provider.Request{})
	}
	if health.Open("a") || a.Calls() != 3 {
		t.Errorf("invalid requests opened the breaker (calls %d)", a.Calls())
	}
}

func TestAllOpen(t *testing.T) {
	health := NewHealth(1, time.Minute, nil)
	a := &fake{err: fault.New(fault.Unavailable, "a down")}
	b := &fake{err: fault.New(fault.ModelTimeout, "b slow")}
	r := New("m", []Candidate{{Backend: "a", Weight: 1, Adapter: a}, {Backend: "b", Weight: 1, Adapter: b}}, Options{Health: health, Rand: seeded()})
	r.Converse(context.Background(), &provider.Request{})
	_, err := r.Converse(context.Background(), &provider.Request{})
	if fault.KindOf(err) != fault.Unavailable || a.Calls()+b.Calls() != 2 {
		t.Errorf("with every breaker open: %v after %d calls; want a fast Unavailable", err, a.Calls()+b.Calls())
	}

	// A model with a single backend still calls it.
	one := New("one", []Candidate{{Backend: "a", Weight: 1, Adapter: a}}, Options{Health: health})
	_, err = one.Converse(context.Background(), &provider.Request{})
	if fault.Message(err) != "a down" || a.Calls() != 2 {
		t.Errorf("single backend behind an open breaker: %v (calls %d)", err, a.Calls())
	}
}

type countingFake struct{ fake }

func (*countingFake) CountTokens(_ context.Context, req *provider.Request) (int, error) {
	return len(req.Model), nil
}

func TestOptionalInterfaces(t *testing.T) {
	plain := New("m", []Candidate{{Backend: "a", Weight: 1, Adapter: &fake{}}}, Options{})
	if _, ok := plain.(provider.TokenCounter); ok {
		t.Error("router counts tokens though no candidate does")
	}
	r := New("m", []Candidate{
		{Backend: "a", Weight: 1, Adapter: &fake{}},
		{Backend: "c", Model: "counter", Weight: 1, Priority: 1, Adapter: &countingFake{}},
	}, Options{})
	tc, ok := r.(provider.TokenCounter)
	if !ok {
		t.Fatal("router hides the candidate's token counter")
	}
	if n, err := tc.CountTokens(context.Background(), &provider.Request{Model: "catalog"}); n != len("counter") || err != nil {
		t.Errorf("CountTokens = %d, %v", n, err)
	}
	if _, err := r.(provider.Embedder).Embed(context.Background(), &provider.EmbedRequest{}); fault.KindOf(err) != fault.Invalid {
		t.Errorf("Embed with no embedding candidate: %v", err)
	}
	if r.(provider.RawInvoker).AcceptsRaw("anthropic-messages", "") {
		t.Error("AcceptsRaw with candidates that do not")
	}
}

// imageFake generates one image named after the backend and model.
type imageFake struct{ fake }

func (f *imageFake) GenerateImages(_ context.Context, req *provider.ImageRequest) (*provider.ImageResponse, error) {
	if err := f.record(req.Model); err != nil {
		return nil, err
	}
	return &provider.ImageResponse{Images: []provider.Image{{Format: "png", Data: []byte(f.name + "/" + req.Model)}}}, nil
}

func TestGenerateImages(t *testing.T) {
	busy := &imageFake{fake{name: "busy", err: fault.New(fault.Throttled, "slow down")}}
	ok := &imageFake{fake{name: "ok"}}
	r := New("m", []Candidate{
		{Backend: "text", Weight: 1, Adapter: &fake{}}, // cannot generate images: skipped
		{Backend: "busy", Model: "b", Weight: 1, Priority: 1, Adapter: busy},
		{Backend: "ok", Model: "o", Weight: 1, Priority: 2, Adapter: ok},
	}, Options{Rand: seeded()})
	resp, err := r.(provider.ImageGenerator).GenerateImages(context.Background(), &provider.ImageRequest{Model: "catalog", Prompt: "x", Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(resp.Images[0].Data); got != "ok/o" || busy.Calls() != 1 {
		t.Errorf("image from %q after %d calls to busy, want ok/o after 1", got, busy.Calls())
	}
	none := New("m", []Candidate{{Backend: "a", Weight: 1, Adapter: &fake{}}, {Backend: "b", Weight: 1, Adapter: &fake{}}}, Options{})
	if _, err := none.(provider.ImageGenerator).GenerateImages(context.Background(), &provider.ImageRequest{}); fault.KindOf(err) != fault.Invalid {
		t.Errorf("GenerateImages with no image candidate: %v", err)
	}
}
