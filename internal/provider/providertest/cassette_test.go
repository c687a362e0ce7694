package providertest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/outcrop/outcrop/internal/provider"
)

func TestLoadCassette(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.txt")
	os.WriteFile(p, []byte("where it comes from\n-- request --\nPOST /v1/x\nX-Key: k\n\n{\"a\": 1}\n-- response --\n429\nRetry-After: 2\n\ndata: a\n\ndata: b\n"), 0o644)
	c, err := LoadCassette(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Method != "POST" || c.Path != "/v1/x" || c.ReqHeader.Get("X-Key") != "k" || string(c.ReqBody) != `{"a": 1}` ||
		c.Status != 429 || c.RespHeader.Get("Retry-After") != "2" || string(c.RespBody) != "data: a\n\ndata: b\n" {
		t.Errorf("cassette = %+v", c)
	}
	os.WriteFile(p, []byte("-- request --\nPOST /v1/x\n"), 0o644)
	if _, err := LoadCassette(p); err == nil {
		t.Error("a cassette without a response loaded")
	}
}

func TestCheckEvents(t *testing.T) {
	start := provider.Event{Type: provider.MessageStartEvent}
	end := []provider.Event{{Type: provider.MessageStopEvent}, {Type: provider.MetadataEvent}}
	tool := provider.Event{Type: provider.BlockStartEvent, Index: 1, ToolUse: &provider.ToolUse{ID: "t", Name: "f"}}
	with := func(evs ...provider.Event) []provider.Event {
		return append(append([]provider.Event{start}, evs...), end...)
	}
	for _, tc := range []struct {
		name string
		evs  []provider.Event
		ok   bool
	}{
		{"empty message", with(), true},
		{"text then tool", with(provider.Event{Type: provider.TextDeltaEvent, Text: "a"}, provider.Event{Type: provider.BlockStopEvent},
			tool, provider.Event{Type: provider.ToolInputDeltaEvent, Index: 1}, provider.Event{Type: provider.BlockStopEvent, Index: 1}), true},
		{"no start", end, false},
		{"metadata before stop", []provider.Event{start, end[1], end[0]}, false},
		{"block never stopped", with(provider.Event{Type: provider.TextDeltaEvent}), false},
		{"delta after stop", with(provider.Event{Type: provider.TextDeltaEvent}, provider.Event{Type: provider.BlockStopEvent}, provider.Event{Type: provider.TextDeltaEvent}), false},
		{"tool input without start", with(provider.Event{Type: provider.ToolInputDeltaEvent}), false},
		{"stop of unopened block", with(provider.Event{Type: provider.BlockStopEvent, Index: 3}), false},
		{"tool start twice", with(tool, tool), false},
		{"second message start", with(start), false},
	} {
		if err := CheckEvents(tc.evs); (err == nil) != tc.ok {
			t.Errorf("%s: CheckEvents = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
