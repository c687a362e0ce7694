package route

import (
	"sync"
	"time"
)

// Defaults of Health.
const (
	DefaultFailures = 5
	DefaultCooldown = 30 * time.Second
)

// state is a circuit breaker's state.
type state int8

const (
	closed   state = iota // calls flow; consecutive failures are counted
	open                  // calls are refused until the cool-down ends
	halfOpen              // one probe call is in flight
)

// outcome is how a call went, for the breaker.
type outcome int8

const (
	success outcome = iota // the backend answered (even with an Invalid)
	failure                // a retryable fault: the backend is unhealthy
	neutral                // the caller went away: says nothing
)

// breaker is one backend's circuit breaker: it opens after Failures
// consecutive failures, lets one probe through after Cooldown (half-open),
// and closes when the probe succeeds.
type breaker struct {
	mu       sync.Mutex
	state    state
	failures int
	opened   time.Time
}

// allow reports whether a call may go to the backend now. A true answer in
// the open state makes this call the half-open probe; its outcome must be
// reported with done.
func (b *breaker) allow(h *Health) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case closed:
		return true
	case open:
		if h.now().Sub(b.opened) >= h.cooldown {
			b.state = halfOpen
			return true
		}
	}
	return false
}

// done records a call's outcome.
func (b *breaker) done(h *Health, o outcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch o {
	case success:
		b.state, b.failures = closed, 0
	case failure:
		b.failures++
		if b.state == halfOpen || (b.state == closed && b.failures >= h.failures) {
			b.state, b.opened = open, h.now()
		}
	case neutral:
		if b.state == halfOpen {
			b.state = open // the next call probes again at once
		}
	}
}

// Health holds the breakers of every backend, shared by all the models
// that route to them. It is safe for concurrent use.
type Health struct {
	failures int
	cooldown time.Duration
	now      func() time.Time

	mu       sync.Mutex
	breakers map[string]*breaker
}

// NewHealth returns breakers that open after failures consecutive
// failures (0: DefaultFailures) and probe again after cooldown (0:
// DefaultCooldown). now is the clock (nil: time.Now).
func NewHealth(failures int, cooldown time.Duration, now func() time.Time) *Health {
	if failures <= 0 {
		failures = DefaultFailures
	}
	if cooldown <= 0 {
		cooldown = DefaultCooldown
	}
	if now == nil {
		now = time.Now
	}
	return &Health{failures: failures, cooldown: cooldown, now: now, breakers: map[string]*breaker{}}
}

func (h *Health) breaker(backend string) *breaker {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.breakers[backend]
	if b == nil {
		b = &breaker{}
		h.breakers[backend] = b
	}
	return b
}

// Open reports whether backend's breaker is refusing calls now.
func (h *Health) Open(backend string) bool {
	b := h.breaker(backend)
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state != closed
}
