package openaicompat

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

func readAll(t testing.TB, r io.Reader) ([]SSEEvent, error) {
	s := NewSSEReader(r)
	var out []SSEEvent
	for {
		ev, err := s.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
}

func TestSSEReader(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []SSEEvent
	}{
		{"data lines", "data: a\n\ndata: b\n\n", []SSEEvent{{Data: "a"}, {Data: "b"}}},
		{"crlf and event names", "event: ping\r\ndata: {}\r\n\r\n", []SSEEvent{{Event: "ping", Data: "{}"}}},
		{"multi-line data", "data: one\ndata: two\n\n", []SSEEvent{{Data: "one\ntwo"}}},
		{"no space after colon", "data:x\n\n", []SSEEvent{{Data: "x"}}},
		{"only one space stripped", "data:  x\n\n", []SSEEvent{{Data: " x"}}},
		{"comments and unknown fields", ": keep-alive\nretry: 10\nfoo: bar\ndata: y\nid: 7\n\n", []SSEEvent{{Data: "y", ID: "7"}}},
		{"event without data is dropped", "event: x\n\ndata: z\n\n", []SSEEvent{{Data: "z"}}},
		{"last event without blank line", "data: [DONE]", []SSEEvent{{Data: "[DONE]"}}},
		{"empty data field", "data\n\n", []SSEEvent{{Data: ""}}},
		{"empty", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(t, iotest.OneByteReader(strings.NewReader(tc.in)))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestSSELineTooLong(t *testing.T) {
	big := "data: " + strings.Repeat("x", MaxLineBytes+1) + "\n\n"
	if _, err := readAll(t, strings.NewReader(big)); err != ErrLineTooLong {
		t.Errorf("err = %v, want ErrLineTooLong", err)
	}
}

// encode writes events in the SSE format, one data line per line of Data.
func encode(evs []SSEEvent) []byte {
	var b bytes.Buffer
	for _, ev := range evs {
		if ev.Event != "" {
			b.WriteString("event: " + ev.Event + "\n")
		}
		if ev.ID != "" {
			b.WriteString("id: " + ev.ID + "\n")
		}
		for _, l := range strings.Split(ev.Data, "\n") {
			b.WriteString("data: " + l + "\n")
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}

// FuzzSSE checks that the reader never panics on arbitrary input and that
// events survive an encode/decode round trip.
func FuzzSSE(f *testing.F) {
	f.Add([]byte("event: message_start\ndata: {\"a\":1}\n\n"), "x", "y\nz")
	f.Add([]byte("data: [DONE]\r\n\r\n:comment\n"), "", "")
	f.Add([]byte("data:\ndata\n\nid: \x00\n"), "e", "")
	f.Fuzz(func(t *testing.T, raw []byte, name, data string) {
		readAll(t, bytes.NewReader(raw)) // must not panic
		clean := func(s string) string {
			return strings.Map(func(r rune) rune {
				if r == '\r' || r == '\n' || r == 0 {
					return -1
				}
				return r
			}, s)
		}
		ev := SSEEvent{Event: strings.TrimLeft(clean(name), " "), Data: strings.ReplaceAll(data, "\r", "")}
		if strings.HasPrefix(ev.Data, " ") || strings.Contains(ev.Data, "\n ") {
			return // a leading space is part of the field syntax
		}
		got, err := readAll(t, bytes.NewReader(encode([]SSEEvent{ev, ev})))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]SSEEvent{ev, ev}, got); d != "" {
			t.Fatalf("round trip (-want +got):\n%s", d)
		}
	})
}

// FuzzChatStream feeds arbitrary bytes to the Chat Completions stream
// decoder: it must never panic, and a stream it accepts is in Converse
// order.
func FuzzChatStream(f *testing.F) {
	f.Add([]byte(`data: {"choices":[{"index":0,"delta":{"content":"a"}}]}` + "\n\n" + `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\ndata: [DONE]\n\n"))
	f.Add([]byte(`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{"}}]}}]}` + "\n\n" +
		`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"}"}}]}}]}` + "\n\n" +
		`data: {"choices":[{"index":0,"delta":{"content":"x","reasoning_content":"r"},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":1}}` + "\n\ndata: [DONE]\n\n"))
	f.Add([]byte(`data: {"error":{"message":"m","type":"server_error"}}` + "\n\n"))
	f.Add([]byte(`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"x"}}]}}]}` + "\n\n"))
	c := testClient("http://unused", 0, &sleeper{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		var evs []provider.Event
		err := c.readStream(bytes.NewReader(raw), &provider.Request{StopSequences: []string{"x"}}, func(e provider.Event) error { evs = append(evs, e); return nil })
		if err == nil {
			if cerr := providertest.CheckEvents(evs); cerr != nil {
				t.Fatalf("events out of order: %v\n%+v", cerr, evs)
			}
		}
	})
}
