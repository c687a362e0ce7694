package openaicompat

import (
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

func chunk(delta string) string {
	return `data: {"choices":[{"index":0,"delta":` + delta + `}]}` + "\n\n"
}

func TestChatStreamShapes(t *testing.T) {
	stop := `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop","stop_reason":"END"}]}` + "\n\n"
	for _, tc := range []struct {
		name    string
		in      string
		want    []provider.Event
		wantErr fault.Kind
	}{
		{
			name: "reasoning then text, vLLM stop string",
			in:   chunk(`{"reasoning_content":"think"}`) + chunk(`{"content":"a"}`) + stop + "data: [DONE]\n\n",
			want: []provider.Event{
				{Type: provider.MessageStartEvent},
				{Type: provider.ReasoningDeltaEvent, Text: "think"},
				{Type: provider.BlockStopEvent},
				{Type: provider.TextDeltaEvent, Index: 1, Text: "a"},
				{Type: provider.BlockStopEvent, Index: 1},
				{Type: provider.MessageStopEvent, StopReason: provider.StopSequence, StopSequence: "END"},
				{Type: provider.MetadataEvent},
			},
		},
		{
			name: "interleaved parallel tool calls, id generated, stop after tools",
			in: chunk(`{"content":"Let me check."}`) +
				chunk(`{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"a","arguments":""}}]}`) +
				chunk(`{"tool_calls":[{"index":1,"type":"function","function":{"name":"b","arguments":"{}"}}]}`) +
				chunk(`{"tool_calls":[{"index":0,"function":{"arguments":"{\"x\":1}"}}]}`) +
				stop,
			want: []provider.Event{
				{Type: provider.MessageStartEvent},
				{Type: provider.TextDeltaEvent, Text: "Let me check."},
				{Type: provider.BlockStopEvent},
				{Type: provider.BlockStartEvent, Index: 1, ToolUse: &provider.ToolUse{ID: "call_1", Name: "a"}},
				{Type: provider.BlockStartEvent, Index: 2, ToolUse: &provider.ToolUse{ID: "GENERATED", Name: "b"}},
				{Type: provider.ToolInputDeltaEvent, Index: 2, Text: "{}"},
				{Type: provider.ToolInputDeltaEvent, Index: 1, Text: `{"x":1}`},
				{Type: provider.BlockStopEvent, Index: 1},
				{Type: provider.BlockStopEvent, Index: 2},
				{Type: provider.MessageStopEvent, StopReason: provider.ToolUseStop},
				{Type: provider.MetadataEvent},
			},
		},
		{name: "ends before finish", in: chunk(`{"content":"a"}`), wantErr: fault.ModelFailed},
		{name: "done before finish", in: chunk(`{"content":"a"}`) + "data: [DONE]\n\n", wantErr: fault.ModelFailed},
		{name: "not JSON", in: "data: {oops\n\n", wantErr: fault.ModelFailed},
		{name: "tool input before its name", in: chunk(`{"tool_calls":[{"index":0,"function":{"arguments":"{"}}]}`), wantErr: fault.ModelFailed},
		{name: "rate limit in stream", in: chunk(`{"content":"a"}`) + `data: {"error":{"message":"slow","type":"rate_limit_exceeded"}}` + "\n\n", wantErr: fault.Throttled},
		{name: "error event", in: "event: error\ndata: boom\n\n", wantErr: fault.ModelFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testClient("http://unused", 0, &sleeper{})
			var got []provider.Event
			err := c.readStream(strings.NewReader(tc.in), &provider.Request{StopSequences: []string{"END"}}, func(e provider.Event) error {
				if e.ToolUse != nil && strings.HasPrefix(e.ToolUse.ID, "tooluse_") {
					e.ToolUse.ID = "GENERATED"
				}
				got = append(got, e)
				return nil
			})
			if tc.wantErr != 0 {
				if fault.KindOf(err) != tc.wantErr {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := providertest.CheckEvents(got); err != nil {
				t.Error(err)
			}
			if d := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(provider.Event{}, "More")); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// pieces is a reader that returns one piece per Read, as a network
// connection returns what has arrived.
type pieces []string

func (p *pieces) Read(b []byte) (int, error) {
	if len(*p) == 0 {
		return 0, io.EOF
	}
	n := copy(b, (*p)[0])
	if n == len((*p)[0]) {
		*p = (*p)[1:]
	} else {
		(*p)[0] = (*p)[0][n:]
	}
	return n, nil
}

// TestStreamMore checks provider.Event.More: set on the events of a chunk
// when the next chunk has already arrived whole, so writers can flush a
// burst once; never set when the next chunk is only partly there or not
// at all, so no event waits on the network.
func TestStreamMore(t *testing.T) {
	stop := `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n"
	a, b := chunk(`{"content":"a"}`), chunk(`{"content":"b"}`)
	for _, tc := range []struct {
		name string
		in   pieces
		want []bool // More of MessageStart, delta a, delta b, BlockStop, MessageStop, Metadata
	}{
		{"one burst", pieces{a + b + stop + "data: [DONE]\n\n"}, []bool{true, true, true, true, true, false}},
		{"chunk by chunk", pieces{a, b, stop, "data: [DONE]\n\n"}, []bool{false, false, false, false, false, false}},
		{"next chunk cut", pieces{a + b[:10], b[10:], stop + "data: [DONE]\n\n"}, []bool{false, false, false, true, true, false}},
		{"CRLF burst", pieces{strings.ReplaceAll(a+b, "\n", "\r\n"), stop, "data: [DONE]\n\n"}, []bool{true, true, false, false, false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testClient("http://unused", 0, &sleeper{})
			var got []bool
			in := tc.in
			err := c.readStream(&in, &provider.Request{}, func(e provider.Event) error {
				got = append(got, e.More)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("More by event (-want +got):\n%s", d)
			}
		})
	}
}

func TestBuildRequestErrors(t *testing.T) {
	c := testClient("http://unused", 0, &sleeper{})
	user := func(bs ...provider.Block) []provider.Message {
		return []provider.Message{{Role: provider.User, Content: bs}}
	}
	for name, req := range map[string]*provider.Request{
		"raw":          {Raw: true, Prompt: "x"},
		"document":     {Messages: user(provider.Block{Type: provider.DocumentBlock, Document: &provider.Document{Format: "pdf", Data: []byte("x")}})},
		"image uri":    {Messages: user(provider.Block{Type: provider.ImageBlock, Image: &provider.Image{Format: "png", URI: "s3://b/k"}})},
		"image format": {Messages: user(provider.Block{Type: provider.ImageBlock, Image: &provider.Image{Format: "tiff", Data: []byte("x")}})},
		"tool result image": {Messages: user(provider.Block{Type: provider.ToolResultBlock, ToolResult: &provider.ToolResult{ToolUseID: "t",
			Content: []provider.Block{{Type: provider.ImageBlock, Image: &provider.Image{Format: "png", Data: []byte("x")}}}}})},
		"extra not an object": {Messages: user(provider.Block{Type: provider.TextBlock, Text: "x"}), Extra: []byte(`"x"`)},
	} {
		if _, err := c.buildRequest(req, false); fault.KindOf(err) != fault.Invalid {
			t.Errorf("%s: err = %v, want Invalid", name, err)
		}
	}
	c.Quirks = Quirks{MaxTokensField: "max_completion_tokens", NoStreamUsage: true, TopK: true}
	k := 5
	b, err := c.buildRequest(&provider.Request{Model: "m", MaxTokens: 9, TopK: &k, Messages: user(provider.Block{Type: provider.TextBlock, Text: "x"}),
		Extra: []byte(`{"repetition_penalty":1.1,"model":"ignored"}`)}, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"max_completion_tokens":9`, `"top_k":5`, `"repetition_penalty":1.1`, `"model":"m"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("body %s lacks %s", b, want)
		}
	}
	if strings.Contains(string(b), "stream_options") {
		t.Errorf("body %s has stream_options", b)
	}
}

func TestReasoningFieldSpellings(t *testing.T) {
	c := testClient("http://unused", 0, &sleeper{})
	in := chunk(`{"reasoning":"a"}`) + chunk(`{"reasoning_content":"b"}`) + `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n"
	var got strings.Builder
	err := c.readStream(strings.NewReader(in), &provider.Request{}, func(e provider.Event) error {
		if e.Type == provider.ReasoningDeltaEvent {
			got.WriteString(e.Text)
		}
		return nil
	})
	if err != nil || got.String() != "ab" {
		t.Errorf("reasoning %q, err %v", got.String(), err)
	}
}
