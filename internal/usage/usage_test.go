package usage_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/store/sqlite"
	"github.com/outcrop/outcrop/internal/usage"
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

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "outcrop.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var prices = map[string]usage.Price{
	"anthropic.claude-3-haiku-20240307-v1:0": {InputPer1K: 0.00025, OutputPer1K: 0.00125},
	"amazon.titan-image-generator-v1":        {PerImage: 0.01},
}

func TestRecordAndReport(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clk := &clock{t: time.Date(2026, 3, 31, 23, 0, 0, 0, time.UTC)}
	m := usage.New(usage.Options{Store: st, Prices: prices, Now: clk.Now, FlushEvery: time.Hour})
	defer m.Close()

	haiku := "anthropic.claude-3-haiku-20240307-v1:0"
	m.Record(ctx, haiku, "alice", "AKIA1", 1000, 2000, 0) // 0.00025 + 0.0025 = $0.00275
	m.Record(ctx, haiku, "alice", "AKIA1", 1000, 2000, 0)
	m.Record(ctx, "outcrop.echo-v1:0", "bob", "AKIA2", 50, 50, 0) // free
	m.Record(ctx, "amazon.titan-image-generator-v1", "bob", "AKIA2", 10, 0, 3)
	clk.Add(2 * time.Hour)                             // the next day
	m.Record(ctx, haiku, "alice", "AKIA3", 4000, 0, 0) // $0.001
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// A second flush adds to the stored rows rather than replacing them.
	m.Record(ctx, haiku, "alice", "AKIA3", 4000, 0, 0)
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	rows, err := st.Usage(ctx, usage.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("rows = %+v", rows)
	}
	want := []usage.Row{
		{Day: "2026-03-31", Model: "amazon.titan-image-generator-v1", Principal: "bob", Key: "AKIA2", Requests: 1, InputTokens: 10, Images: 3, CostMicros: 30000},
		{Day: "2026-03-31", Model: haiku, Principal: "alice", Key: "AKIA1", Requests: 2, InputTokens: 2000, OutputTokens: 4000, CostMicros: 5500},
		{Day: "2026-03-31", Model: "outcrop.echo-v1:0", Principal: "bob", Key: "AKIA2", Requests: 1, InputTokens: 50, OutputTokens: 50},
		{Day: "2026-04-01", Model: haiku, Principal: "alice", Key: "AKIA3", Requests: 2, InputTokens: 8000, CostMicros: 2000},
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, rows[i], want[i])
		}
	}
	byPrincipal, err := usage.GroupBy(rows, "principal")
	if err != nil {
		t.Fatal(err)
	}
	if len(byPrincipal) != 2 || byPrincipal[0].Principal != "alice" || byPrincipal[0].CostMicros != 7500 || byPrincipal[1].CostMicros != 30000 {
		t.Errorf("by principal = %+v", byPrincipal)
	}
	day, _ := st.Usage(ctx, usage.Filter{From: "2026-04-01", To: "2026-04-01", Key: "AKIA3"})
	if len(day) != 1 || day[0].Requests != 2 {
		t.Errorf("filtered = %+v", day)
	}
}

func TestBudgets(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clk := &clock{t: time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)}
	haiku := "anthropic.claude-3-haiku-20240307-v1:0"
	opts := usage.Options{Store: st, Prices: prices, Now: clk.Now, FlushEvery: time.Hour, Budgets: []usage.Budget{
		{Scope: "key", Name: "AKIA1", Limit: 0.01, Period: "day", Block: true},
		{Scope: "principal", Name: "*", Limit: 0.02, Period: "month", Block: true},
		{Scope: "principal", Name: "carol", Limit: 0.001, Period: "day"}, // warn only
	}}
	m := usage.New(opts)
	if err := m.Admit(ctx, "alice", "AKIA1"); err != nil {
		t.Fatal(err)
	}
	m.Record(ctx, haiku, "alice", "AKIA1", 0, 8000, 0) // $0.01: the key's day is spent
	err := m.Admit(ctx, "alice", "AKIA1")
	if fault.KindOf(err) != fault.Throttled || !strings.Contains(fault.Message(err), "key AKIA1 has spent $0.01 of its daily budget of $0.01") {
		t.Fatalf("after the key's budget: %v", err)
	}
	if err := m.Admit(ctx, "alice", "AKIA9"); err != nil {
		t.Fatalf("another key of alice: %v", err)
	}
	// The next day the key may spend again.
	clk.Add(24 * time.Hour)
	if err := m.Admit(ctx, "alice", "AKIA1"); err != nil {
		t.Fatalf("next day: %v", err)
	}
	// The month's principal budget ("*": each principal separately)
	// survives a restart: spend is reloaded from the store.
	m.Record(ctx, haiku, "alice", "AKIA9", 0, 8000, 0) // alice: $0.02 this month
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = usage.New(opts)
	defer m.Close()
	err = m.Admit(ctx, "alice", "AKIA9")
	if fault.KindOf(err) != fault.Throttled || !strings.Contains(fault.Message(err), "principal alice has spent $0.02 of its monthly budget") {
		t.Fatalf("month budget after restart: %v", err)
	}
	if err := m.Admit(ctx, "bob", "AKIA2"); err != nil {
		t.Fatalf("bob: %v", err)
	}
	// A warn budget never blocks.
	m.Record(ctx, haiku, "carol", "AKIA4", 0, 8000, 0)
	if err := m.Admit(ctx, "carol", "AKIA4"); err != nil {
		t.Fatalf("warn budget blocked: %v", err)
	}
	// A new month starts afresh.
	clk.t = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	if err := m.Admit(ctx, "alice", "AKIA9"); err != nil {
		t.Fatalf("new month: %v", err)
	}
}
