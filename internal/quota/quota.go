// Package quota enforces requests-per-minute and tokens-per-minute limits
// on model invocations per model, per principal and per key, with token
// buckets held in process or, so that the limits hold across replicas, in
// Redis (see [NewRedisStore]): each bucket holds up to one minute's allowance
// and refills continuously, so a burst of a whole minute's allowance
// passes and the rate after it is the configured one. Tokens are charged
// up front with an estimate of the request's input tokens and reconciled
// with the real input and output tokens when the invocation ends; a
// reconciliation may leave a bucket in debt, which later requests wait
// out, as Bedrock's token quotas do.
package quota

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/outcrop/outcrop/internal/fault"
)

// Limit is one set of limits; zero means unlimited.
type Limit struct {
	RequestsPerMinute int `yaml:"requestsPerMinute"`
	TokensPerMinute   int `yaml:"tokensPerMinute"`
}

// Options configures a Limiter. In each map, the key "*" is the default
// for every model, principal or key not named, each counted separately.
type Options struct {
	Models     map[string]Limit // by model ID; counts every caller's use of the model
	Principals map[string]Limit // by principal: "root", a user name, "role/<name>" or an ARN
	Keys       map[string]Limit // by access key ID or API key ID
	Now        func() time.Time
	// Store keeps the buckets; nil keeps them in this process.
	Store Store
	// Logger receives a warning when the store fails; the request is then
	// admitted (limits fail open rather than refuse every call).
	Logger *slog.Logger
}

// Messages of Bedrock's ThrottlingException for request and token quotas.
const (
	MsgRequests = "Too many requests, please wait before trying again."
	MsgTokens   = "Too many tokens, please wait before trying again."
)

// Limiter decides admissions. It is safe for concurrent use.
type Limiter struct {
	opts Options
}

// Bucket is one bucket of an admission or a settlement: its name (scope,
// name and kind, unique per limit), its capacity (a minute's allowance)
// and refill rate per second, the level it needs to admit, and what the
// admission charges.
type Bucket struct {
	Key          string
	Burst, Rate  float64
	Need, Charge float64
	Tokens       bool // a token bucket, else a request bucket
}

// Store holds bucket levels. Implementations refill each bucket to now at
// its rate, up to its burst, before looking at it; a bucket not seen
// before is full.
type Store interface {
	// Take admits when every bucket has at least Need, and then subtracts
	// Charge from each, atomically; it returns the index of the first
	// bucket that lacks room, or -1 when admitted.
	Take(ctx context.Context, now time.Time, bs []Bucket) (int, error)
	// Adjust subtracts diff (which may be negative, a refund) from each
	// bucket, keeping levels at most Burst; levels may go below zero.
	Adjust(ctx context.Context, now time.Time, bs []Bucket, diff float64) error
}

// New returns a Limiter, or nil when no limit is configured.
func New(opts Options) *Limiter {
	if len(opts.Models)+len(opts.Principals)+len(opts.Keys) == 0 {
		return nil
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Store == nil {
		opts.Store = NewMemoryStore()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Limiter{opts: opts}
}

// Close releases the store's connections. Close on nil does nothing.
func (l *Limiter) Close() error {
	if l == nil {
		return nil
	}
	return Close(l.opts.Store)
}

// Subject names who invokes which model.
type Subject struct {
	Model     string
	Principal string // "root", user name or "role/<name>"
	ARN       string // the principal's ARN, also matched against Principals
	Key       string
}

// Ticket is an admitted request's charge, settled when it ends.
type Ticket struct {
	l       *Limiter
	charged []Bucket // the token buckets
	tokens  int
}

func lookup(m map[string]Limit, names ...string) (Limit, string, bool) {
	for _, n := range names {
		if n == "" {
			continue
		}
		if l, ok := m[n]; ok {
			return l, n, true
		}
	}
	if l, ok := m["*"]; ok {
		return l, names[0], true
	}
	return Limit{}, "", false
}

// Admit charges one request and estTokens input tokens to every bucket
// that applies to s. When any bucket lacks room it charges nothing and
// returns a fault.Throttled error with Bedrock's message. The returned
// ticket (nil when no limit applies) must be settled.
func (l *Limiter) Admit(ctx context.Context, s Subject, estTokens int) (*Ticket, error) {
	if l == nil {
		return nil, nil
	}
	var arr [6]Bucket
	bs := arr[:0]
	add := func(scope, name string, lim Limit) {
		if lim.RequestsPerMinute > 0 {
			rpm := float64(lim.RequestsPerMinute)
			bs = append(bs, Bucket{Key: scope + ":r:" + name, Burst: rpm, Rate: rpm / 60, Need: 1, Charge: 1})
		}
		if lim.TokensPerMinute > 0 {
			// A request larger than a whole minute's allowance may pass
			// only into a full bucket, so that it is not refused forever;
			// an empty bucket admits nothing.
			tpm := float64(lim.TokensPerMinute)
			need := max(float64(min(estTokens, lim.TokensPerMinute)), 1e-9)
			bs = append(bs, Bucket{Key: scope + ":t:" + name, Burst: tpm, Rate: tpm / 60, Need: need, Charge: float64(estTokens), Tokens: true})
		}
	}
	if lim, name, ok := lookup(l.opts.Models, s.Model); ok {
		add("m", name, lim)
	}
	if lim, name, ok := lookup(l.opts.Principals, s.Principal, s.ARN); ok {
		add("p", name, lim)
	}
	if lim, name, ok := lookup(l.opts.Keys, s.Key); ok && s.Key != "" {
		add("k", name, lim)
	}
	if len(bs) == 0 {
		return nil, nil
	}
	failed, err := l.opts.Store.Take(ctx, l.opts.Now(), bs)
	if err != nil {
		l.opts.Logger.Warn("quota store failed; request admitted", "err", err)
		return nil, nil
	}
	if failed >= 0 {
		if bs[failed].Tokens {
			return nil, fault.New(fault.Throttled, MsgTokens)
		}
		return nil, fault.New(fault.Throttled, MsgRequests)
	}
	t := &Ticket{l: l, tokens: estTokens}
	for _, b := range bs {
		if b.Tokens {
			t.charged = append(t.charged, b)
		}
	}
	return t, nil
}

// Settle reconciles the up-front charge with the tokens the invocation
// really used (input plus output): the difference is charged, possibly
// into debt, or refunded up to the bucket's capacity. Settle on a nil
// ticket does nothing.
func (t *Ticket) Settle(ctx context.Context, actualTokens int) {
	if t == nil || len(t.charged) == 0 {
		return
	}
	diff := float64(actualTokens - t.tokens)
	if err := t.l.opts.Store.Adjust(ctx, t.l.opts.Now(), t.charged, diff); err != nil {
		t.l.opts.Logger.Warn("quota store failed to settle a request", "err", err)
	}
	t.charged = nil
}

// memoryStore keeps buckets in this process.
type memoryStore struct {
	mu sync.Mutex
	b  map[string]*bucket
}

// NewMemoryStore returns a Store that keeps buckets in this process.
func NewMemoryStore() Store { return &memoryStore{b: map[string]*bucket{}} }

// bucket is a token bucket's state: its level (below zero in debt) when
// last refilled.
type bucket struct {
	level float64
	last  time.Time
}

func (m *memoryStore) get(b Bucket, now time.Time) *bucket {
	st, ok := m.b[b.Key]
	if !ok {
		st = &bucket{level: b.Burst, last: now}
		m.b[b.Key] = st
	}
	if d := now.Sub(st.last).Seconds(); d > 0 {
		st.level = min(b.Burst, st.level+d*b.Rate)
		st.last = now
	}
	return st
}

func (m *memoryStore) Take(_ context.Context, now time.Time, bs []Bucket) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var arr [6]*bucket
	sts := arr[:0]
	for i, b := range bs {
		st := m.get(b, now)
		if st.level < b.Need {
			return i, nil
		}
		sts = append(sts, st)
	}
	for i, st := range sts {
		st.level -= bs[i].Charge
	}
	return -1, nil
}

func (m *memoryStore) Adjust(_ context.Context, now time.Time, bs []Bucket, diff float64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range bs {
		st := m.get(b, now)
		st.level = min(b.Burst, st.level-diff)
	}
	return nil
}
