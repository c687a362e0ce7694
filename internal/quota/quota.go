// Package quota enforces requests-per-minute and tokens-per-minute limits
// on model invocations per model, per principal and per key, with token
// buckets held in process: each bucket holds up to one minute's allowance
// and refills continuously, so a burst of a whole minute's allowance
// passes and the rate after it is the configured one. Tokens are charged
// up front with an estimate of the request's input tokens and reconciled
// with the real input and output tokens when the invocation ends; a
// reconciliation may leave a bucket in debt, which later requests wait
// out, as Bedrock's token quotas do.
package quota

import (
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
}

// Messages of Bedrock's ThrottlingException for request and token quotas.
const (
	MsgRequests = "Too many requests, please wait before trying again."
	MsgTokens   = "Too many tokens, please wait before trying again."
)

// Limiter holds the buckets. It is safe for concurrent use.
type Limiter struct {
	opts Options
	mu   sync.Mutex
	b    map[bucketKey]*bucket
}

type bucketKey struct {
	scope  byte // 'm', 'p', 'k'
	name   string
	tokens bool // a token bucket, else a request bucket
}

// bucket is a token bucket holding up to burst, refilled at rate per second.
// level may go below zero (debt) after a reconciliation.
type bucket struct {
	level, burst, rate float64
	last               time.Time
}

func (b *bucket) refill(now time.Time) {
	if d := now.Sub(b.last).Seconds(); d > 0 {
		b.level = min(b.burst, b.level+d*b.rate)
	}
	b.last = now
}

// New returns a Limiter, or nil when no limit is configured.
func New(opts Options) *Limiter {
	if len(opts.Models)+len(opts.Principals)+len(opts.Keys) == 0 {
		return nil
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Limiter{opts: opts, b: map[bucketKey]*bucket{}}
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
	charged []*bucket
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
func (l *Limiter) Admit(s Subject, estTokens int) (*Ticket, error) {
	if l == nil {
		return nil, nil
	}
	type need struct {
		k bucketKey
		l Limit
	}
	var needs [3]need
	n := 0
	if lim, name, ok := lookup(l.opts.Models, s.Model); ok {
		needs[n] = need{bucketKey{scope: 'm', name: name}, lim}
		n++
	}
	if lim, name, ok := lookup(l.opts.Principals, s.Principal, s.ARN); ok {
		needs[n] = need{bucketKey{scope: 'p', name: name}, lim}
		n++
	}
	if lim, name, ok := lookup(l.opts.Keys, s.Key); ok && s.Key != "" {
		needs[n] = need{bucketKey{scope: 'k', name: name}, lim}
		n++
	}
	if n == 0 {
		return nil, nil
	}
	now := l.opts.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var reqs, toks [3]*bucket
	for i := range n {
		nd := needs[i]
		if nd.l.RequestsPerMinute > 0 {
			b := l.bucket(nd.k, nd.l.RequestsPerMinute, now)
			if b.level < 1 {
				return nil, fault.New(fault.Throttled, MsgRequests)
			}
			reqs[i] = b
		}
		if nd.l.TokensPerMinute > 0 {
			k := nd.k
			k.tokens = true
			b := l.bucket(k, nd.l.TokensPerMinute, now)
			// A request larger than a whole minute's allowance may pass
			// only into a full bucket, so that it is not refused forever.
			if b.level < float64(min(estTokens, nd.l.TokensPerMinute)) || b.level <= 0 {
				return nil, fault.New(fault.Throttled, MsgTokens)
			}
			toks[i] = b
		}
	}
	t := &Ticket{l: l, tokens: estTokens}
	for i := range n {
		if reqs[i] != nil {
			reqs[i].level--
		}
		if toks[i] != nil {
			toks[i].level -= float64(estTokens)
			t.charged = append(t.charged, toks[i])
		}
	}
	return t, nil
}

func (l *Limiter) bucket(k bucketKey, perMinute int, now time.Time) *bucket {
	b, ok := l.b[k]
	if !ok {
		b = &bucket{level: float64(perMinute), burst: float64(perMinute), rate: float64(perMinute) / 60, last: now}
		l.b[k] = b
	}
	b.refill(now)
	return b
}

// Settle reconciles the up-front charge with the tokens the invocation
// really used (input plus output): the difference is charged, possibly
// into debt, or refunded up to the bucket's capacity. Settle on a nil
// ticket does nothing.
func (t *Ticket) Settle(actualTokens int) {
	if t == nil || len(t.charged) == 0 {
		return
	}
	diff := float64(actualTokens - t.tokens)
	now := t.l.opts.Now()
	t.l.mu.Lock()
	for _, b := range t.charged {
		b.refill(now)
		b.level = min(b.burst, b.level-diff)
	}
	t.l.mu.Unlock()
	t.charged = nil
}
