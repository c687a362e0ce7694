package openaicompat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/h1"
	"github.com/outcrop/outcrop/internal/provider"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secret = "sk-very-secret-123"

// sleeper records the waits instead of waiting.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func testClient(url string, retries int, s *sleeper) *Client {
	return &Client{HTTP: &HTTP{
		BaseURL: url, Name: "openai", MaxRetries: retries, Timeout: 5 * time.Second,
		Header:    http.Header{"Authorization": {"Bearer " + secret}},
		Secrets:   []string{secret},
		ErrorInfo: ErrorInfo,
		Backoff:   Backoff{Sleep: s.Sleep, Rand: func() float64 { return 0.5 }},
	}}
}

func req() *provider.Request {
	return &provider.Request{Model: "m", Messages: []provider.Message{{Role: provider.User, Content: []provider.Block{{Type: provider.TextBlock, Text: "hi"}}}}}
}

const okBody = `{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`

// statusSeq answers with the given statuses in turn, then 200.
func statusSeq(t *testing.T, hdr http.Header, statuses ...int) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		i := int(n.Add(1)) - 1
		if i < len(statuses) {
			for k, v := range hdr {
				w.Header()[k] = v
			}
			w.WriteHeader(statuses[i])
			fmt.Fprintf(w, `{"error":{"message":"bad key %s","type":"t_%d"}}`, secret, statuses[i])
			return
		}
		io.WriteString(w, okBody)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name         string
		statuses     []int
		retries      int
		hdr          http.Header
		wantAttempts int32
		wantKind     *fault.Kind // nil: success
		wantWaits    []time.Duration
	}{
		{"429 then ok", []int{429}, 2, nil, 2, nil, []time.Duration{250 * time.Millisecond}},
		{"500 500 then ok", []int{500, 500}, 2, nil, 3, nil, []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}},
		{"503 exhausts retries", []int{503, 503, 503, 503}, 2, nil, 3, kind(fault.Unavailable), []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}},
		{"502", []int{502, 502}, 1, nil, 2, kind(fault.Unavailable), []time.Duration{250 * time.Millisecond}},
		{"504", []int{504}, 0, nil, 1, kind(fault.Unavailable), nil},
		{"529 overloaded", []int{529}, 1, nil, 2, nil, []time.Duration{250 * time.Millisecond}},
		{"no retries configured", []int{429}, 0, nil, 1, kind(fault.Throttled), nil},
		{"400 not retried", []int{400}, 3, nil, 1, kind(fault.Invalid), nil},
		{"401 not retried", []int{401}, 3, nil, 1, kind(fault.Unavailable), nil},
		{"403 not retried", []int{403}, 3, nil, 1, kind(fault.Unavailable), nil},
		{"404 not retried", []int{404}, 3, nil, 1, kind(fault.ModelNotReady), nil},
		{"408", []int{408}, 3, nil, 1, kind(fault.ModelTimeout), nil},
		{"422", []int{422}, 3, nil, 1, kind(fault.Invalid), nil},
		{"501 not retried", []int{501}, 3, nil, 1, kind(fault.ModelFailed), nil},
		{"Retry-After seconds", []int{429}, 2, http.Header{"Retry-After": {"3"}}, 2, nil, []time.Duration{3 * time.Second}},
		{"retry-after-ms", []int{429}, 2, http.Header{"Retry-After-Ms": {"1500"}, "Retry-After": {"2"}}, 2, nil, []time.Duration{1500 * time.Millisecond}},
		{"Retry-After too long", []int{429}, 2, http.Header{"Retry-After": {"3600"}}, 1, kind(fault.Throttled), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := statusSeq(t, tc.hdr, tc.statuses...)
			s := &sleeper{}
			c := testClient(srv.URL, tc.retries, s)
			c.HTTP.Backoff.Base = 500 * time.Millisecond
			_, err := c.Converse(context.Background(), req())
			checkKind(t, err, tc.wantKind)
			if got := n.Load(); got != tc.wantAttempts {
				t.Errorf("attempts = %d, want %d", got, tc.wantAttempts)
			}
			if d := cmp.Diff(tc.wantWaits, s.waits); d != "" {
				t.Errorf("waits (-want +got):\n%s", d)
			}
		})
	}
}

func kind(k fault.Kind) *fault.Kind { return &k }

func checkKind(t *testing.T, err error, want *fault.Kind) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %v", *want)
	}
	if got := fault.KindOf(err); got != *want {
		t.Errorf("kind = %v (%v), want %v", got, err, *want)
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(fault.Message(err), secret) {
		t.Errorf("error leaks the key: %v", err)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Max: time.Second, Rand: func() float64 { return 0.999999 }}
	var got []time.Duration
	for i := range 6 {
		d, ok := b.delay(i, 0)
		if !ok {
			t.Fatal("not ok")
		}
		got = append(got, d.Round(time.Millisecond))
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ceilings (-want +got):\n%s", d)
	}
	b.Rand = func() float64 { return 0 }
	if d, _ := b.delay(3, 0); d != 0 {
		t.Errorf("full jitter lower bound = %v, want 0", d)
	}
	if d, _ := b.delay(100, 0); d != 0 {
		t.Errorf("large attempt: %v", d)
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := http.Header{"Retry-After": {now.Add(7 * time.Second).Format(http.TimeFormat)}}
	if got := retryAfter(h, now); got != 7*time.Second {
		t.Errorf("retryAfter = %v", got)
	}
	for _, v := range []string{"", "-1", "soon", "0"} {
		if got := retryAfter(http.Header{"Retry-After": {v}}, now); got != 0 {
			t.Errorf("retryAfter(%q) = %v", v, got)
		}
	}
}

func TestRetryAfterDateUsesInjectedClock(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	srv, n := statusSeq(t, http.Header{"Retry-After": {now.Add(4 * time.Second).Format(http.TimeFormat)}}, 503)
	s := &sleeper{}
	c := testClient(srv.URL, 1, s)
	c.HTTP.Now = func() time.Time { return now }
	if _, err := c.Converse(context.Background(), req()); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]time.Duration{4 * time.Second}, s.waits); d != "" || n.Load() != 2 {
		t.Errorf("attempts %d, waits (-want +got):\n%s", n.Load(), d)
	}
}

func TestConnectionErrorRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			conn.Close() // reset before any response
		}
	}()
	s := &sleeper{}
	c := testClient("http://"+ln.Addr().String(), 2, s)
	_, err = c.Converse(context.Background(), req())
	ln.Close()
	<-done
	checkKind(t, err, kind(fault.Unavailable))
	if got := len(s.waits); got != 2 {
		t.Errorf("retries = %d, want 2", got)
	}
	if n.Load() < 3 {
		t.Errorf("connections = %d, want at least 3", n.Load())
	}
}

func TestUnreachable(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	s := &sleeper{}
	c := testClient("http://"+addr, 1, s)
	err := c.ConverseStream(context.Background(), req(), func(provider.Event) error { return nil })
	checkKind(t, err, kind(fault.Unavailable))
	if len(s.waits) != 1 {
		t.Errorf("waits = %v, want one retry", s.waits)
	}
}

// TestNoRetryAfterStreamBegan: a stream that breaks after its first
// event is not retried, and the caller sees an error.
func TestNoRetryAfterStreamBegan(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		n.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}`+"\n\n")
		w.(http.Flusher).Flush()
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close()
	}))
	defer srv.Close()
	s := &sleeper{}
	c := testClient(srv.URL, 3, s)
	var evs []provider.Event
	err := c.ConverseStream(context.Background(), req(), func(ev provider.Event) error { evs = append(evs, ev); return nil })
	if err == nil {
		t.Fatal("no error")
	}
	if k := fault.KindOf(err); k != fault.Unavailable && k != fault.ModelFailed {
		t.Errorf("kind = %v (%v)", k, err)
	}
	if n.Load() != 1 || len(s.waits) != 0 {
		t.Errorf("attempts = %d, waits = %v; want 1 attempt and no retry", n.Load(), s.waits)
	}
	if len(evs) != 2 || evs[1].Text != "Hel" {
		t.Errorf("events = %+v", evs)
	}
}

func TestCancelMidStream(t *testing.T) {
	gone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"content":"one"}}]}`+"\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the upstream sees the client go away
		close(gone)
	}))
	defer srv.Close()
	c := testClient(srv.URL, 2, &sleeper{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := c.ConverseStream(ctx, req(), func(ev provider.Event) error {
		if ev.Type == provider.TextDeltaEvent {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream request was not closed")
	}
}

func TestEmitErrorStops(t *testing.T) {
	gone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"content":"one"}}]}`+"\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(gone)
	}))
	defer srv.Close()
	c := testClient(srv.URL, 2, &sleeper{})
	stop := errors.New("client gone")
	err := c.ConverseStream(context.Background(), req(), func(ev provider.Event) error {
		if ev.Type == provider.TextDeltaEvent {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("err = %v, want the emit error", err)
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream request was not closed")
	}
}

func TestTimeouts(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	slowHeaders := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slowHeaders.Close()
	stalls := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"content":"one"}}]}`+"\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer stalls.Close()
	for _, url := range []string{slowHeaders.URL, stalls.URL} {
		s := &sleeper{}
		c := testClient(url, 2, s)
		c.HTTP.Timeout = 50 * time.Millisecond
		err := c.ConverseStream(context.Background(), req(), func(provider.Event) error { return nil })
		checkKind(t, err, kind(fault.ModelTimeout))
		if len(s.waits) != 0 {
			t.Errorf("timeouts are not retried; waits = %v", s.waits)
		}
	}
}

// TestSlowStreamNotCutOff: a stream that keeps producing outlives the
// timeout, which bounds only each wait.
func TestSlowStreamNotCutOff(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		for range 6 {
			io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"content":"x"}}]}`+"\n\n")
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
		}
		io.WriteString(w, `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\ndata: [DONE]\n\n")
	}))
	defer srv.Close()
	c := testClient(srv.URL, 0, &sleeper{})
	c.HTTP.Timeout = 80 * time.Millisecond
	if err := c.ConverseStream(context.Background(), req(), func(provider.Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestAuthErrorNeverLeaksKey(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(401)
		fmt.Fprintf(w, `{"error":{"message":"Incorrect API key provided: %s","type":"invalid_request_error","code":"invalid_api_key"}}`, r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	c := testClient(srv.URL, 2, &sleeper{})
	_, err := c.Converse(context.Background(), req())
	checkKind(t, err, kind(fault.Unavailable))
	if !strings.Contains(fault.Message(err), "credentials") || !strings.Contains(fault.Message(err), "invalid_api_key") {
		t.Errorf("message %q does not tell the operator what is wrong", fault.Message(err))
	}
	if strings.Contains(err.Error(), "Incorrect API key") {
		t.Errorf("the 401 body is kept: %v", err)
	}
}

func TestRedactsSecretsFromCauses(t *testing.T) {
	srv, _ := statusSeq(t, nil, 500)
	c := testClient(srv.URL, 0, &sleeper{})
	_, err := c.Converse(context.Background(), req())
	checkKind(t, err, kind(fault.ModelFailed))
	if !strings.Contains(err.Error(), "REDACTED") {
		t.Errorf("cause %q: want the upstream message kept with the key redacted", err)
	}
}

func TestPooledClient(t *testing.T) {
	c := PooledClient(&http.Client{Timeout: time.Minute})
	tr, ok := c.Transport.(*h1.Transport)
	if !ok || c.Timeout != time.Minute {
		t.Fatalf("PooledClient = %+v", c)
	}
	if fb, ok := tr.Fallback.(*http.Transport); !ok || fb.MaxIdleConnsPerHost < 64 {
		t.Errorf("the fallback transport is %+v", tr.Fallback)
	}
	custom := &http.Client{Transport: http.DefaultTransport}
	if PooledClient(custom) != custom {
		t.Error("a client with its own transport is replaced")
	}
	if PooledClient(nil).Transport != c.Transport {
		t.Error("the pooled transport is not shared")
	}
}

// TestClientTimeoutBoundsStream: on the direct transport the client's
// overall Timeout still ends a stream that keeps producing (each wait is
// shorter than the attempt's timeout, the whole is longer).
func TestClientTimeoutBoundsStream(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; r.Context().Err() == nil && i < 200; i++ {
			io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"content":"x"}}]}`+"\n\n")
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
		}
	}))
	defer srv.Close()
	c := testClient(srv.URL, 0, &sleeper{})
	c.HTTP.Client = PooledClient(&http.Client{Timeout: 300 * time.Millisecond})
	events := 0
	err := c.ConverseStream(context.Background(), req(), func(provider.Event) error { events++; return nil })
	checkKind(t, err, kind(fault.ModelTimeout))
	if events == 0 {
		t.Error("no event arrived before the timeout")
	}
}

func TestSecretLogValue(t *testing.T) {
	s := Secret("sk-1")
	if s.LogValue().String() != "REDACTED" || fmt.Sprint(s) != "REDACTED" {
		t.Error("Secret prints its value")
	}
}

// TestBodyStallTimesOut: a plain answer whose body stops after the head
// is cut off a timeout after the head arrived, not left waiting.
func TestBodyStallTimesOut(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "1000")
		io.WriteString(w, `{"choices":[`)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	c := testClient(srv.URL, 0, &sleeper{})
	c.HTTP.Timeout = 50 * time.Millisecond
	_, err := c.Converse(context.Background(), req())
	checkKind(t, err, kind(fault.ModelTimeout))
}
