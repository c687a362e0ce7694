package providertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// Cassette is one recorded or documented HTTP exchange with an upstream.
//
// On disk it is a text file: free comment lines (where the shapes come
// from), then a request section and a response section.
//
//	-- request --
//	POST /v1/chat/completions
//	Authorization: Bearer test-key
//
//	{"model": "gpt-4o", ...}
//	-- response --
//	200
//	Content-Type: text/event-stream
//
//	data: {...}
//
// The request's headers are required (only those listed); its body, when
// present, must equal the adapter's as JSON. The response body is sent
// verbatim, flushed line by line so that stream parsers see it arrive in
// pieces.
type Cassette struct {
	Method, Path string
	ReqHeader    http.Header
	ReqBody      []byte
	Status       int
	RespHeader   http.Header
	RespBody     []byte
}

// LoadCassette reads a cassette file.
func LoadCassette(path string) (*Cassette, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sections := map[string][]byte{}
	var cur string
	var buf bytes.Buffer
	flush := func() {
		if cur != "" {
			sections[cur] = append([]byte(nil), buf.Bytes()...)
		}
		buf.Reset()
	}
	for _, line := range bytes.SplitAfter(raw, []byte("\n")) {
		t := strings.TrimSpace(string(line))
		if strings.HasPrefix(t, "-- ") && strings.HasSuffix(t, " --") {
			flush()
			cur = strings.TrimSuffix(strings.TrimPrefix(t, "-- "), " --")
			continue
		}
		buf.Write(line)
	}
	flush()
	req, ok1 := sections["request"]
	resp, ok2 := sections["response"]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%s: want a request and a response section", path)
	}
	c := &Cassette{}
	first, hdr, body := splitMessage(req)
	if f := strings.Fields(first); len(f) == 2 {
		c.Method, c.Path = f[0], f[1]
	} else {
		return nil, fmt.Errorf("%s: request line %q: want METHOD PATH", path, first)
	}
	c.ReqHeader, c.ReqBody = hdr, bytes.TrimSpace(body)
	first, hdr, body = splitMessage(resp)
	if c.Status, err = strconv.Atoi(strings.TrimSpace(first)); err != nil {
		return nil, fmt.Errorf("%s: status line %q: %w", path, first, err)
	}
	c.RespHeader, c.RespBody = hdr, body
	return c, nil
}

// splitMessage splits a section into its first line, headers and body
// (after the first blank line; verbatim).
func splitMessage(b []byte) (first string, h http.Header, body []byte) {
	h = http.Header{}
	r := bufio.NewReader(bytes.NewReader(b))
	for first == "" {
		line, err := r.ReadString('\n')
		first = strings.TrimSpace(line)
		if err != nil {
			return first, h, nil
		}
	}
	for {
		line, err := r.ReadString('\n')
		t := strings.TrimRight(line, "\r\n")
		if t == "" {
			break
		}
		if k, v, ok := strings.Cut(t, ":"); ok {
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		if err != nil {
			return first, h, nil
		}
	}
	rest := make([]byte, r.Buffered())
	r.Read(rest)
	return first, h, rest
}

// Replay starts a server that answers every request with the cassette's
// response after checking it against the cassette's request. Hits counts
// the requests served.
func Replay(t testing.TB, c *Cassette) (srv *httptest.Server, hits *atomic.Int32) {
	t.Helper()
	hits = new(atomic.Int32)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if msg := c.check(r); msg != "" {
			t.Errorf("upstream request does not match the cassette: %s", msg)
			http.Error(w, msg, http.StatusTeapot)
			return
		}
		for k, vs := range c.RespHeader {
			w.Header()[k] = vs
		}
		w.WriteHeader(c.Status)
		WriteFlushed(w, c.RespBody)
	}))
	t.Cleanup(srv.Close)
	return srv, hits
}

// WriteFlushed writes b line by line, flushing after each line.
func WriteFlushed(w http.ResponseWriter, b []byte) {
	f, _ := w.(http.Flusher)
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if _, err := w.Write(line); err != nil {
			return
		}
		if f != nil {
			f.Flush()
		}
	}
}

func (c *Cassette) check(r *http.Request) string {
	if r.Method != c.Method || r.URL.Path != c.Path {
		return fmt.Sprintf("got %s %s, want %s %s", r.Method, r.URL.Path, c.Method, c.Path)
	}
	for k := range c.ReqHeader {
		if got, want := r.Header.Get(k), c.ReqHeader.Get(k); got != want {
			return fmt.Sprintf("header %s = %q, want %q", k, got, want)
		}
	}
	if len(c.ReqBody) == 0 {
		return ""
	}
	var body bytes.Buffer
	body.ReadFrom(r.Body)
	var got, want any
	if err := json.Unmarshal(body.Bytes(), &got); err != nil {
		return fmt.Sprintf("request body is not JSON: %v", err)
	}
	if err := json.Unmarshal(c.ReqBody, &want); err != nil {
		return fmt.Sprintf("cassette request body is not JSON: %v", err)
	}
	if d := cmp.Diff(want, got); d != "" {
		return "body (-cassette +adapter):\n" + d
	}
	return ""
}

// Case is one conformance check of an adapter against a cassette.
type Case struct {
	// Name names the cassette, <Dir>/<Name>.txt, and the subtest.
	Name string

	Req    *provider.Request // for Converse / ConverseStream
	Stream bool
	Want   *provider.Response // Converse's answer
	// WantEvents are ConverseStream's events.
	WantEvents []provider.Event

	Embed     *provider.EmbedRequest
	WantEmbed *provider.EmbedResponse

	// WantErr, when set, is the fault kind the call must fail with.
	WantErr *fault.Kind
}

// Kind returns a pointer to k, for Case.WantErr.
func Kind(k fault.Kind) *fault.Kind { return &k }

// Suite runs cases against adapters built for each replay server.
type Suite struct {
	// New builds the adapter under test pointed at baseURL.
	New func(t *testing.T, baseURL string) provider.Adapter
	// Dir holds the cassettes (default testdata/cassettes).
	Dir string
	// Secret is the API key New configures; no error may contain it.
	Secret string
	Cases  []Case
}

// Run runs every case as a subtest.
func (s Suite) Run(t *testing.T) {
	dir := s.Dir
	if dir == "" {
		dir = filepath.Join("testdata", "cassettes")
	}
	for _, tc := range s.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			c, err := LoadCassette(filepath.Join(dir, tc.Name+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			srv, hits := Replay(t, c)
			a := s.New(t, srv.URL)
			ctx := context.Background()
			var gotErr error
			switch {
			case tc.Embed != nil:
				e, ok := a.(provider.Embedder)
				if !ok {
					t.Fatal("adapter is not an Embedder")
				}
				got, err := e.Embed(ctx, tc.Embed)
				gotErr = err
				if err == nil {
					if d := cmp.Diff(tc.WantEmbed, got); d != "" {
						t.Errorf("Embed (-want +got):\n%s", d)
					}
				}
			case tc.Stream:
				var evs []provider.Event
				gotErr = a.ConverseStream(ctx, tc.Req, func(ev provider.Event) error {
					evs = append(evs, ev)
					return nil
				})
				if gotErr == nil {
					if err := CheckEvents(evs); err != nil {
						t.Errorf("event order: %v", err)
					}
					// More depends on how the upstream's bytes were
					// split into reads, not on the exchange.
					if d := cmp.Diff(tc.WantEvents, evs, cmpopts.IgnoreFields(provider.Event{}, "More")); d != "" {
						t.Errorf("ConverseStream events (-want +got):\n%s", d)
					}
				}
			default:
				got, err := a.Converse(ctx, tc.Req)
				gotErr = err
				if err == nil {
					if d := cmp.Diff(tc.Want, got); d != "" {
						t.Errorf("Converse (-want +got):\n%s", d)
					}
				}
			}
			if hits.Load() == 0 {
				t.Error("the adapter never called the upstream")
			}
			checkErr(t, gotErr, tc.WantErr, s.Secret)
		})
	}
}

func checkErr(t *testing.T, err error, want *fault.Kind, secret string) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != nil && err == nil:
		t.Fatalf("no error, want %v", *want)
	case want != nil && fault.KindOf(err) != *want:
		t.Errorf("error kind %v (%v), want %v", fault.KindOf(err), err, *want)
	}
	if err != nil && secret != "" {
		if strings.Contains(err.Error(), secret) || strings.Contains(fault.Message(err), secret) {
			t.Errorf("error leaks the API key: %v", err)
		}
	}
}

// CheckEvents verifies that a stream's events come in Converse order:
// one MessageStart first; content blocks whose deltas fall between their
// (tool-use) BlockStart and their BlockStop; then MessageStop and
// Metadata last.
func CheckEvents(evs []provider.Event) error {
	if len(evs) < 3 {
		return fmt.Errorf("%d events; want at least MessageStart, MessageStop, Metadata", len(evs))
	}
	if evs[0].Type != provider.MessageStartEvent {
		return fmt.Errorf("first event is %v, not MessageStart", evs[0].Type)
	}
	n := len(evs)
	if evs[n-1].Type != provider.MetadataEvent || evs[n-2].Type != provider.MessageStopEvent {
		return fmt.Errorf("stream does not end with MessageStop, Metadata")
	}
	const (
		unseen = iota
		open
		stopped
	)
	state := map[int]int{}
	tool := map[int]bool{}
	for i, ev := range evs[1 : n-2] {
		i++
		switch ev.Type {
		case provider.BlockStartEvent:
			if state[ev.Index] != unseen {
				return fmt.Errorf("event %d: BlockStart of block %d that already began", i, ev.Index)
			}
			if ev.ToolUse == nil || ev.ToolUse.Name == "" {
				return fmt.Errorf("event %d: BlockStart without a tool name", i)
			}
			state[ev.Index], tool[ev.Index] = open, true
		case provider.TextDeltaEvent, provider.ReasoningDeltaEvent:
			if state[ev.Index] == stopped || tool[ev.Index] {
				return fmt.Errorf("event %d: text delta for block %d that is stopped or a tool", i, ev.Index)
			}
			state[ev.Index] = open
		case provider.ToolInputDeltaEvent:
			if !tool[ev.Index] || state[ev.Index] != open {
				return fmt.Errorf("event %d: tool input for block %d that is not an open tool block", i, ev.Index)
			}
		case provider.BlockStopEvent:
			if state[ev.Index] != open {
				return fmt.Errorf("event %d: BlockStop of block %d that is not open", i, ev.Index)
			}
			state[ev.Index] = stopped
		default:
			return fmt.Errorf("event %d: %v inside the message", i, ev.Type)
		}
	}
	for idx, st := range state {
		if st == open {
			return fmt.Errorf("block %d never stopped", idx)
		}
	}
	return nil
}
