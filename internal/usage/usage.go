// Package usage accounts for model invocations: tokens, images and their
// cost from a per-model price table, by model, principal, access key and
// day, and budgets per principal or key that warn or block once spent.
//
// Recording is off the request path: Record adds to in-memory counters
// and a writer goroutine adds them to the store in batches.
package usage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/utcday"
)

// Price is a model's on-demand price in US dollars.
type Price struct {
	InputPer1K  float64 // per 1,000 input tokens
	OutputPer1K float64 // per 1,000 output tokens
	PerImage    float64 // per generated image
}

// Row is the usage of one model by one principal with one key on one day.
type Row struct {
	Day          string `json:"day"` // YYYY-MM-DD, UTC
	Model        string `json:"model"`
	Principal    string `json:"principal"`
	Key          string `json:"key"`
	Requests     int64  `json:"requests"`
	InputTokens  int64  `json:"inputTokens"`
	OutputTokens int64  `json:"outputTokens"`
	Images       int64  `json:"images"`
	// Cost is in millionths of a dollar, so that sums are exact.
	CostMicros int64 `json:"costMicros"`
}

// Cost is the row's cost in dollars.
func (r Row) Cost() float64 { return float64(r.CostMicros) / 1e6 }

// Filter selects rows; empty fields match everything. Days are inclusive.
type Filter struct {
	From, To  string // YYYY-MM-DD
	Model     string
	Principal string
	Key       string
}

// Store persists usage rows.
type Store interface {
	// AddUsage adds each row's counters to the stored row with the same
	// day, model, principal and key (creating it).
	AddUsage(ctx context.Context, rows []Row) error
	// Usage returns the stored rows matching f.
	Usage(ctx context.Context, f Filter) ([]Row, error)
}

// Budget limits the spend of one principal or key per day or month.
type Budget struct {
	Scope  string  // "principal" or "key"
	Name   string  // principal name or key ID; "*" for each one not named
	Limit  float64 // US dollars
	Period string  // "day" or "month" (UTC)
	Block  bool    // refuse invocations once spent; otherwise warn
}

// Options configures a Meter.
type Options struct {
	Store      Store
	Prices     map[string]Price // by model ID
	Budgets    []Budget
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: no metrics
	// FlushEvery is how often counters go to the store (default 2s).
	FlushEvery time.Duration
}

// Meter records usage and enforces budgets.
type Meter struct {
	opts Options

	mu      sync.Mutex
	day     utcday.Namer // the last day recorded, by name
	pending map[rowKey]*Row
	spent   map[spendKey]int64 // micros per budget subject and period
	loaded  map[spendKey]bool
	warned  map[spendKey]bool

	cost     *prometheus.CounterVec
	exceeded *prometheus.CounterVec

	flush chan chan error
	done  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

type rowKey struct{ day, model, principal, key string }

type spendKey struct{ scope, name, period string }

// New returns a Meter and starts its writer.
func New(opts Options) *Meter {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = 2 * time.Second
	}
	m := &Meter{opts: opts, pending: map[rowKey]*Row{}, spent: map[spendKey]int64{}, loaded: map[spendKey]bool{}, warned: map[spendKey]bool{},
		flush: make(chan chan error), done: make(chan struct{})}
	if r := opts.Registerer; r != nil {
		m.cost = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outcrop_model_cost_dollars_total", Help: "Cost of model invocations from the configured price table, in US dollars.",
		}, []string{"model_id"})
		m.exceeded = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outcrop_budget_exceeded_total", Help: "Invocations made (warn) or refused (block) past a budget.",
		}, []string{"scope", "name", "action"})
		r.MustRegister(m.cost, m.exceeded)
	}
	m.wg.Add(1)
	go m.run()
	return m
}

// Price returns the cost in micro-dollars of one invocation of model.
func (m *Meter) price(model string, in, out, images int) int64 {
	p, ok := m.opts.Prices[model]
	if !ok {
		return 0
	}
	return int64(p.InputPer1K*float64(in)*1e3 + p.OutputPer1K*float64(out)*1e3 + p.PerImage*float64(images)*1e6 + 0.5)
}

func periodOf(b Budget, t time.Time) string {
	t = t.UTC()
	if b.Period == "month" {
		return t.Format("2006-01")
	}
	return t.Format("2006-01-02")
}

// budgetsFor returns the budgets that apply to a subject, with the name
// they count under.
func (m *Meter) budgetsFor(scope, name string) []Budget {
	if name == "" {
		return nil
	}
	var named, star []Budget
	for _, b := range m.opts.Budgets {
		if b.Scope != scope {
			continue
		}
		switch b.Name {
		case name:
			named = append(named, b)
		case "*":
			b.Name = name
			star = append(star, b)
		}
	}
	if len(named) > 0 {
		return named
	}
	return star
}

// spentLocked returns the micro-dollars spent in b's current period,
// loading what earlier runs stored on first use. m.mu is held.
func (m *Meter) spentLocked(ctx context.Context, b Budget, now time.Time) (spendKey, int64, error) {
	k := spendKey{b.Scope, b.Name, periodOf(b, now)}
	if !m.loaded[k] {
		f := Filter{}
		if b.Period == "month" {
			f.From, f.To = k.period+"-01", k.period+"-31"
		} else {
			f.From, f.To = k.period, k.period
		}
		if b.Scope == "key" {
			f.Key = b.Name
		} else {
			f.Principal = b.Name
		}
		rows, err := m.opts.Store.Usage(ctx, f)
		if err != nil {
			return k, 0, err
		}
		for _, r := range rows {
			m.spent[k] += r.CostMicros
		}
		m.loaded[k] = true
	}
	return k, m.spent[k], nil
}

// Admit refuses an invocation by principal with key when a blocking
// budget of either is spent, with fault.Throttled and a message naming the
// budget.
func (m *Meter) Admit(ctx context.Context, principal, key string) error {
	if m == nil || len(m.opts.Budgets) == 0 {
		return nil
	}
	now := m.opts.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range [...]struct{ scope, name string }{{"principal", principal}, {"key", key}} {
		for _, b := range m.budgetsFor(s.scope, s.name) {
			if !b.Block {
				continue
			}
			_, spent, err := m.spentLocked(ctx, b, now)
			if err != nil {
				return fmt.Errorf("budget: %w", err)
			}
			if float64(spent)/1e6 >= b.Limit {
				if m.exceeded != nil {
					m.exceeded.WithLabelValues(b.Scope, b.Name, "block").Inc()
				}
				return fault.Newf(fault.Throttled, "Budget exceeded: %s %s has spent $%.2f of its %s budget of $%.2f. Invocations are refused until the %s ends.",
					b.Scope, b.Name, float64(spent)/1e6, periodName(b), b.Limit, b.Period)
			}
		}
	}
	return nil
}

func periodName(b Budget) string {
	if b.Period == "month" {
		return "monthly"
	}
	return "daily"
}

// Record adds one finished invocation.
func (m *Meter) Record(ctx context.Context, model, principal, key string, in, out, images int) {
	if m == nil {
		return
	}
	now := m.opts.Now()
	cost := m.price(model, in, out, images)
	m.mu.Lock()
	defer m.mu.Unlock()
	rk := rowKey{m.day.Of(now), model, principal, key}
	r := m.pending[rk]
	if r == nil {
		r = &Row{Day: rk.day, Model: model, Principal: principal, Key: key}
		m.pending[rk] = r
	}
	r.Requests++
	r.InputTokens += int64(in)
	r.OutputTokens += int64(out)
	r.Images += int64(images)
	r.CostMicros += cost
	if m.cost != nil && cost > 0 {
		m.cost.WithLabelValues(model).Add(float64(cost) / 1e6)
	}
	for _, s := range [...]struct{ scope, name string }{{"principal", principal}, {"key", key}} {
		for _, b := range m.budgetsFor(s.scope, s.name) {
			k, spent, err := m.spentLocked(ctx, b, now)
			if err != nil {
				m.opts.Logger.Error("budget", "err", err)
				continue
			}
			spent += cost
			m.spent[k] = spent
			if !b.Block && float64(spent)/1e6 >= b.Limit {
				if m.exceeded != nil {
					m.exceeded.WithLabelValues(b.Scope, b.Name, "warn").Inc()
				}
				if !m.warned[k] {
					m.warned[k] = true
					m.opts.Logger.Warn("budget exceeded", "scope", b.Scope, "name", b.Name, "period", k.period,
						"spent_dollars", float64(spent)/1e6, "limit_dollars", b.Limit)
				}
			}
		}
	}
}

func (m *Meter) run() {
	defer m.wg.Done()
	t := time.NewTicker(m.opts.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := m.write(); err != nil {
				m.opts.Logger.Error("usage write failed", "err", err)
			}
		case ch := <-m.flush:
			ch <- m.write()
		case <-m.done:
			if err := m.write(); err != nil {
				m.opts.Logger.Error("usage write failed", "err", err)
			}
			return
		}
	}
}

// write adds the pending counters to the store; on failure they are
// kept for the next attempt.
func (m *Meter) write() error {
	m.mu.Lock()
	if len(m.pending) == 0 {
		m.mu.Unlock()
		return nil
	}
	batch := m.pending
	m.pending = map[rowKey]*Row{}
	m.mu.Unlock()
	rows := make([]Row, 0, len(batch))
	for _, r := range batch {
		rows = append(rows, *r)
	}
	err := m.opts.Store.AddUsage(context.Background(), rows)
	if err != nil {
		m.mu.Lock()
		for k, r := range batch {
			if p := m.pending[k]; p != nil {
				p.Requests += r.Requests
				p.InputTokens += r.InputTokens
				p.OutputTokens += r.OutputTokens
				p.Images += r.Images
				p.CostMicros += r.CostMicros
			} else {
				m.pending[k] = r
			}
		}
		m.mu.Unlock()
	}
	return err
}

// Flush writes the pending counters now.
func (m *Meter) Flush(ctx context.Context) error {
	if m == nil {
		return nil
	}
	ch := make(chan error, 1)
	select {
	case m.flush <- ch:
	case <-m.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes the pending counters and stops the writer.
func (m *Meter) Close() error {
	if m == nil {
		return nil
	}
	m.once.Do(func() {
		close(m.done)
		m.wg.Wait()
	})
	return nil
}

// GroupBy sums rows by the named dimensions (any of day, model, principal,
// key); the other dimensions are left empty. Rows come out sorted.
func GroupBy(rows []Row, dims ...string) ([]Row, error) {
	want := map[string]bool{}
	for _, d := range dims {
		switch d {
		case "day", "model", "principal", "key":
			want[d] = true
		default:
			return nil, errors.New("group by: want day, model, principal or key, have " + d)
		}
	}
	sums := map[rowKey]*Row{}
	for _, r := range rows {
		var k rowKey
		if want["day"] {
			k.day = r.Day
		}
		if want["model"] {
			k.model = r.Model
		}
		if want["principal"] {
			k.principal = r.Principal
		}
		if want["key"] {
			k.key = r.Key
		}
		s := sums[k]
		if s == nil {
			s = &Row{Day: k.day, Model: k.model, Principal: k.principal, Key: k.key}
			sums[k] = s
		}
		s.Requests += r.Requests
		s.InputTokens += r.InputTokens
		s.OutputTokens += r.OutputTokens
		s.Images += r.Images
		s.CostMicros += r.CostMicros
	}
	out := make([]Row, 0, len(sums))
	for _, s := range sums {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Day != b.Day {
			return a.Day < b.Day
		}
		if a.Model != b.Model {
			return a.Model < b.Model
		}
		if a.Principal != b.Principal {
			return a.Principal < b.Principal
		}
		return a.Key < b.Key
	})
	return out, nil
}
