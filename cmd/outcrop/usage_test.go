package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/store/sqlite"
	"github.com/outcrop/outcrop/internal/usage"
)

func TestUsageCommand(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "outcrop.db"))
	if err != nil {
		t.Fatal(err)
	}
	err = st.AddUsage(context.Background(), []usage.Row{
		{Day: "2026-02-01", Model: "m1", Principal: "alice", Key: "K1", Requests: 2, InputTokens: 10, OutputTokens: 20, CostMicros: 1500000},
		{Day: "2026-02-02", Model: "m2", Principal: "alice", Key: "K2", Requests: 1, InputTokens: 5, OutputTokens: 5, CostMicros: 250000},
		{Day: "2026-02-02", Model: "m1", Principal: "bob", Key: "K3", Requests: 4, InputTokens: 1, OutputTokens: 1},
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := run(t, "--data-dir", dir, "usage", "--from", "2026-02-01", "--to", "2026-02-28", "--by", "principal", "--json")
	var got struct {
		Rows []struct {
			Principal string  `json:"principal"`
			Requests  int     `json:"requests"`
			Cost      float64 `json:"cost"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(got.Rows) != 2 || got.Rows[0].Principal != "alice" || got.Rows[0].Requests != 3 || got.Rows[0].Cost != 1.75 || got.Rows[1].Requests != 4 {
		t.Fatalf("by principal: %s", out)
	}
	out = run(t, "--data-dir", dir, "usage", "--from", "2026-02-01", "--by", "day,model", "--model", "m1")
	if !strings.Contains(out, "2026-02-01") || !strings.Contains(out, "1.500000") || strings.Contains(out, "m2") || !strings.Contains(out, "TOTAL") {
		t.Fatalf("table:\n%s", out)
	}
}
