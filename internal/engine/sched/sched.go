// Package sched owns the engine's loaded models: it loads a model on first
// use (concurrent first requests share one load), runs a bounded number of
// sequences per model at once, each on its own session that is reused by
// later requests, queues a bounded number of further requests, unloads a
// model after it has been idle for a while, and refuses to load a model
// whose weights and sessions would not fit in memory.
//
// A Scheduler is generic over the model type M and the per-sequence state S
// (for chat models *llm.Model and *llm.Session; for embedders *bert.Model
// and an empty session type); a Loader supplies the model-specific parts.
//
// Lifetimes: a model stays loaded while any Lease or Use holds it, and
// while requests wait for it. Close stops the keep-alive goroutine and any
// load in progress, fails waiting requests, unloads idle models at once and
// models still in use when their last lease is released.
package sched

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/outcrop/outcrop/internal/fault"
)

// Defaults of Options.
const (
	DefaultSessions   = 2
	DefaultQueueDepth = 16
	DefaultKeepAlive  = 5 * time.Minute
	// DefaultMargin is the memory left free when the budget comes from
	// MemAvailable, so that loading a model never pushes the host into
	// swap or the OOM killer.
	DefaultMargin = 256 << 20
)

// Plan is what loading a model costs, estimated before loading it.
type Plan struct {
	WeightBytes  int64 // the model file (mapped) and other per-model memory
	SessionBytes int64 // one session: KV cache and scratch buffers
}

// Loader supplies the model-specific operations. Its methods are called
// without the scheduler's lock held, Plan and Load from a goroutine the
// scheduler owns.
type Loader[M, S any] interface {
	// Plan estimates the memory name needs, without loading it. Its error
	// (for example fault.ModelNotReady for missing weights) reaches the
	// callers waiting for the model as is.
	Plan(name string) (Plan, error)
	// Load loads name.
	Load(name string) (M, error)
	// NewSession returns fresh per-sequence state for m.
	NewSession(m M) (S, error)
	// Unload releases m. Its sessions are not used afterwards.
	Unload(m M) error
}

// Options configures a Scheduler. Zero values mean the defaults.
type Options struct {
	// Sessions is how many sequences of one model run at once, each on
	// its own session (DefaultSessions).
	Sessions int
	// QueueDepth is how many further requests for one model may wait;
	// beyond it Acquire fails with fault.Throttled (DefaultQueueDepth).
	// Negative means no queue.
	QueueDepth int
	// KeepAlive is how long an unused model stays loaded
	// (DefaultKeepAlive). Negative keeps models until Close.
	KeepAlive time.Duration
	// MemoryBudget, if positive, bounds the memory of all loaded models
	// (the sum of their Plans). Otherwise each load must fit in
	// MemAvailable minus Margin at the time it starts.
	MemoryBudget int64
	// Margin is the memory left free in the MemAvailable mode
	// (DefaultMargin).
	Margin int64
	// MemAvailable reports the host's available memory; nil reads
	// /proc/meminfo.
	MemAvailable func() (int64, error)
	// Logger receives lifecycle events (load, unload, refusals).
	Logger *slog.Logger
	// Now is the clock for idle times (time.Now).
	Now func() time.Time
}

// Scheduler holds loaded models and hands out sessions. It is safe for
// concurrent use.
type Scheduler[M, S any] struct {
	l    Loader[M, S]
	o    Options
	log  *slog.Logger
	wake chan struct{} // nudges the keep-alive goroutine
	done chan struct{} // closed by Close
	wg   sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	models   map[string]*entry[M, S]
	reserved int64 // sum of the Plans of loaded and loading models
}

type entry[M, S any] struct {
	name  string
	ready chan struct{} // closed when the load ends; then err or model is set
	err   error
	model M
	bytes int64

	loaded   bool
	idle     []S // free sessions, most recently used last
	active   int // leases out
	pending  int // Acquire callers without a slot (waiting for the load or in the queue)
	pins     int // Use callers
	queue    []*waiter[S]
	lastUsed time.Time
}

type waiter[S any] struct{ ch chan grant[S] }

// grant hands a slot (and maybe a session) to a queued caller, or an error.
type grant[S any] struct {
	s   S
	has bool
	err error
}

// New returns a scheduler. It starts the keep-alive goroutine, which Close
// stops.
func New[M, S any](l Loader[M, S], o Options) *Scheduler[M, S] {
	if o.Sessions <= 0 {
		o.Sessions = DefaultSessions
	}
	if o.QueueDepth == 0 {
		o.QueueDepth = DefaultQueueDepth
	} else if o.QueueDepth < 0 {
		o.QueueDepth = 0
	}
	if o.KeepAlive == 0 {
		o.KeepAlive = DefaultKeepAlive
	}
	if o.Margin <= 0 {
		o.Margin = DefaultMargin
	}
	if o.MemAvailable == nil {
		o.MemAvailable = MemAvailable
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Scheduler[M, S]{
		l: l, o: o, log: log,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		models: map[string]*entry[M, S]{},
	}
	if o.KeepAlive > 0 {
		s.wg.Add(1)
		go s.keepAlive()
	}
	return s
}

// Lease is the right to run one sequence on a model. Release it when the
// sequence ends; the session then serves later requests.
type Lease[M, S any] struct {
	Model   M
	Session S

	s    *Scheduler[M, S]
	e    *entry[M, S]
	once sync.Once
}

// Release returns the lease's slot and session. It may be called more than
// once.
func (l *Lease[M, S]) Release() {
	l.once.Do(func() { l.s.release(l.e, l.Session, true) })
}

// Acquire waits until name is loaded and a slot is free, and returns a
// lease on it. pick, if not nil, chooses among the model's idle sessions
// (an index into idle) — for example the one whose cache shares the
// longest prefix with the prompt; it runs under the scheduler's lock and
// must be quick. Without pick the most recently used session is taken.
//
// Acquire fails with fault.Throttled when the model's queue is full, with
// the load's error when loading fails, and with ctx's error when ctx ends
// first (the caller then leaves the queue).
func (s *Scheduler[M, S]) Acquire(ctx context.Context, name string, pick func(idle []S) int) (*Lease[M, S], error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errClosed
	}
	e := s.entryLocked(name)
	if e.active+e.pending >= s.o.Sessions+s.o.QueueDepth {
		s.mu.Unlock()
		return nil, fault.Newf(fault.Throttled, "Too many requests for model %s; try again later.", name)
	}
	e.pending++
	s.mu.Unlock()

	select {
	case <-e.ready:
	case <-ctx.Done():
		s.mu.Lock()
		e.pending--
		v := s.settleLocked(e)
		s.mu.Unlock()
		s.unloadClosed(v)
		return nil, ctx.Err()
	}
	if e.err != nil {
		s.mu.Lock()
		e.pending--
		s.mu.Unlock()
		return nil, e.err
	}

	s.mu.Lock()
	if s.closed {
		e.pending--
		v := s.settleLocked(e)
		s.mu.Unlock()
		s.unloadClosed(v)
		return nil, errClosed
	}
	var g grant[S]
	if e.active < s.o.Sessions {
		e.pending--
		e.active++
		g.s, g.has = takeIdle(e, pick)
		s.mu.Unlock()
	} else {
		w := &waiter[S]{ch: make(chan grant[S], 1)}
		e.queue = append(e.queue, w)
		s.mu.Unlock()
		select {
		case g = <-w.ch:
		case <-ctx.Done():
			s.mu.Lock()
			if removeWaiter(e, w) {
				e.pending--
				v := s.settleLocked(e)
				s.mu.Unlock()
				s.unloadClosed(v)
				return nil, ctx.Err()
			}
			s.mu.Unlock()
			// A slot was granted while ctx ended: give it back.
			if g = <-w.ch; g.err == nil {
				s.release(e, g.s, g.has)
			}
			return nil, ctx.Err()
		}
		if g.err != nil {
			return nil, g.err
		}
	}
	if !g.has {
		sess, err := s.l.NewSession(e.model)
		if err != nil {
			s.release(e, sess, false)
			return nil, fmt.Errorf("new session for %s: %w", name, err)
		}
		g.s = sess
	}
	return &Lease[M, S]{Model: e.model, Session: g.s, s: s, e: e}, nil
}

// Use waits until name is loaded and calls fn with the model, which stays
// loaded until fn returns. It takes no slot and does not queue: use it for
// work besides sequences, such as counting tokens.
func (s *Scheduler[M, S]) Use(ctx context.Context, name string, fn func(M) error) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
	}
	e := s.entryLocked(name)
	e.pins++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		e.pins--
		e.lastUsed = s.o.Now()
		v := s.settleLocked(e)
		s.mu.Unlock()
		s.unloadClosed(v)
	}()
	select {
	case <-e.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	if e.err != nil {
		return e.err
	}
	return fn(e.model)
}

var errClosed = fault.New(fault.Unavailable, "The local engine is shutting down.")

// entryLocked returns name's entry, starting its load if there is none.
func (s *Scheduler[M, S]) entryLocked(name string) *entry[M, S] {
	if e, ok := s.models[name]; ok {
		return e
	}
	e := &entry[M, S]{name: name, ready: make(chan struct{})}
	s.models[name] = e
	s.wg.Add(1)
	go s.load(e)
	return e
}

func takeIdle[M, S any](e *entry[M, S], pick func([]S) int) (S, bool) {
	var zero S
	n := len(e.idle)
	if n == 0 {
		return zero, false
	}
	i := n - 1
	if pick != nil {
		if j := pick(e.idle); j >= 0 && j < n {
			i = j
		}
	}
	sess := e.idle[i]
	e.idle = append(e.idle[:i], e.idle[i+1:]...)
	return sess, true
}

func removeWaiter[M, S any](e *entry[M, S], w *waiter[S]) bool {
	for i, q := range e.queue {
		if q == w {
			e.queue = append(e.queue[:i], e.queue[i+1:]...)
			return true
		}
	}
	return false
}

// release returns a slot: to the first queued caller if there is one,
// else to the pool (with the session, if has).
func (s *Scheduler[M, S]) release(e *entry[M, S], sess S, has bool) {
	s.mu.Lock()
	if len(e.queue) > 0 && !s.closed {
		w := e.queue[0]
		e.queue = e.queue[1:]
		e.pending--
		w.ch <- grant[S]{s: sess, has: has}
		s.mu.Unlock()
		return
	}
	e.active--
	if has {
		e.idle = append(e.idle, sess)
	}
	e.lastUsed = s.o.Now()
	v := s.settleLocked(e)
	s.mu.Unlock()
	s.unloadClosed(v)
}

// settleLocked is called whenever e may have become unused. After Close
// it forgets e and returns it, and the caller unloads it once it has
// released the lock; otherwise it wakes the keep-alive goroutine and
// returns nil.
func (s *Scheduler[M, S]) settleLocked(e *entry[M, S]) *entry[M, S] {
	if !e.loaded || e.active+e.pending+e.pins > 0 {
		return nil
	}
	if s.closed {
		s.dropLocked(e)
		return e
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// unloadClosed unloads an entry settleLocked returned, if any.
func (s *Scheduler[M, S]) unloadClosed(e *entry[M, S]) {
	if e != nil {
		s.unload(e, "closed")
	}
}

// dropLocked forgets a loaded, unused entry; the caller unloads it.
func (s *Scheduler[M, S]) dropLocked(e *entry[M, S]) {
	if s.models[e.name] == e {
		delete(s.models, e.name)
	}
	e.loaded = false
	e.idle = nil
}

func (s *Scheduler[M, S]) unload(e *entry[M, S], why string) {
	if err := s.l.Unload(e.model); err != nil {
		s.log.Warn("model unload failed", "model", e.name, "err", err)
	}
	s.mu.Lock()
	s.reserved -= e.bytes
	s.mu.Unlock()
	s.log.Info("model unloaded", "model", e.name, "reason", why)
}

// load runs in its own goroutine: plan, check memory, load, and publish.
func (s *Scheduler[M, S]) load(e *entry[M, S]) {
	defer s.wg.Done()
	start := time.Now()
	var m M
	plan, err := s.l.Plan(e.name)
	if err == nil {
		err = s.reserve(e, plan)
	}
	if err == nil {
		if m, err = s.l.Load(e.name); err != nil {
			err = fmt.Errorf("load %s: %w", e.name, err)
			s.mu.Lock()
			s.reserved -= e.bytes
			s.mu.Unlock()
		}
	}
	s.mu.Lock()
	if err != nil {
		delete(s.models, e.name)
		e.err = err
		s.mu.Unlock()
		close(e.ready)
		s.log.Warn("model load failed", "model", e.name, "err", err)
		return
	}
	e.model, e.loaded, e.lastUsed = m, true, s.o.Now()
	close(e.ready)
	s.log.Info("model loaded", "model", e.name, "load_seconds", time.Since(start).Seconds(),
		"weight_bytes", plan.WeightBytes, "session_bytes", plan.SessionBytes, "sessions", s.o.Sessions)
	v := s.settleLocked(e)
	s.mu.Unlock()
	s.unloadClosed(v)
}

// reserve books plan's memory for e, unloading idle models (least
// recently used first) when that makes it fit.
func (s *Scheduler[M, S]) reserve(e *entry[M, S], p Plan) error {
	need := p.WeightBytes + int64(s.o.Sessions)*p.SessionBytes
	for {
		s.mu.Lock()
		free, err := s.freeLocked()
		if err != nil {
			s.mu.Unlock()
			return fault.Wrap(fault.ModelNotReady, err, "Cannot determine the memory available to load model "+e.name+".")
		}
		if need <= free {
			e.bytes = need
			s.reserved += need
			s.mu.Unlock()
			return nil
		}
		victim := s.lruIdleLocked()
		if victim == nil {
			s.mu.Unlock()
			s.log.Warn("model load refused", "model", e.name, "need_bytes", need, "free_bytes", free)
			return fault.Newf(fault.QuotaExceeded, "Not enough memory to load model %s: it needs %s (weights %s + %d sessions × %s of KV cache and buffers), but %s. Lower sessionsPerModel or contextTokens, or free memory.",
				e.name, Bytes(need), Bytes(p.WeightBytes), s.o.Sessions, Bytes(p.SessionBytes), s.freeText(free))
		}
		s.dropLocked(victim)
		s.mu.Unlock()
		s.unload(victim, "memory")
		debug.FreeOSMemory()
	}
}

func (s *Scheduler[M, S]) freeLocked() (int64, error) {
	if s.o.MemoryBudget > 0 {
		return s.o.MemoryBudget - s.reserved, nil
	}
	avail, err := s.o.MemAvailable()
	if err != nil {
		return 0, err
	}
	return avail - s.o.Margin, nil
}

func (s *Scheduler[M, S]) freeText(free int64) string {
	if s.o.MemoryBudget > 0 {
		return fmt.Sprintf("only %s of the %s memory budget is free", Bytes(max(free, 0)), Bytes(s.o.MemoryBudget))
	}
	return fmt.Sprintf("only %s is available (MemAvailable less a %s safety margin)", Bytes(max(free, 0)), Bytes(s.o.Margin))
}

func (s *Scheduler[M, S]) lruIdleLocked() *entry[M, S] {
	var v *entry[M, S]
	for _, e := range s.models {
		if e.loaded && e.active+e.pending+e.pins == 0 && (v == nil || e.lastUsed.Before(v.lastUsed)) {
			v = e
		}
	}
	return v
}

// keepAlive unloads models that have been unused for KeepAlive. It runs
// until Close.
func (s *Scheduler[M, S]) keepAlive() {
	defer s.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		next := s.expire(s.o.Now())
		if next < 0 {
			next = time.Hour
		}
		t.Reset(next)
		select {
		case <-s.done:
			return
		case <-s.wake:
		case <-t.C:
		}
	}
}

// expire unloads the models idle since before now-KeepAlive and returns
// how long until the next one expires, or -1 if none is idle.
func (s *Scheduler[M, S]) expire(now time.Time) time.Duration {
	var victims []*entry[M, S]
	next := time.Duration(-1)
	s.mu.Lock()
	for _, e := range s.models {
		if !e.loaded || e.active+e.pending+e.pins > 0 {
			continue
		}
		left := e.lastUsed.Add(s.o.KeepAlive).Sub(now)
		if left <= 0 {
			s.dropLocked(e)
			victims = append(victims, e)
		} else if next < 0 || left < next {
			next = left
		}
	}
	s.mu.Unlock()
	for _, e := range victims {
		s.unload(e, "idle")
	}
	return next
}

// Close stops the scheduler: new requests fail with fault.Unavailable,
// queued ones are failed, idle models are unloaded, and models in use are
// unloaded when their last lease is released. It waits for the keep-alive
// goroutine and for loads in progress.
func (s *Scheduler[M, S]) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var victims []*entry[M, S]
	for _, e := range s.models {
		for _, w := range e.queue {
			e.pending--
			w.ch <- grant[S]{err: errClosed}
		}
		e.queue = nil
		if v := s.settleLocked(e); v != nil {
			victims = append(victims, v)
		}
	}
	s.mu.Unlock()
	close(s.done)
	for _, e := range victims {
		s.unload(e, "closed")
	}
	s.wg.Wait()
	return nil
}

// Status describes one loaded (or loading) model.
type Status struct {
	Name    string
	Loaded  bool  // false while loading
	Bytes   int64 // memory booked for it
	Active  int   // sequences running
	Waiting int   // requests waiting for the load or a slot
	Idle    time.Duration
}

// Models lists the models the scheduler holds, in no particular order.
func (s *Scheduler[M, S]) Models() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.o.Now()
	out := make([]Status, 0, len(s.models))
	for _, e := range s.models {
		st := Status{Name: e.name, Loaded: e.loaded, Bytes: e.bytes, Active: e.active, Waiting: e.pending}
		if e.loaded && e.active+e.pending+e.pins == 0 {
			st.Idle = now.Sub(e.lastUsed)
		}
		out = append(out, st)
	}
	return out
}

// ErrNoMemInfo is returned by MemAvailable where /proc/meminfo has no
// MemAvailable line.
var ErrNoMemInfo = errors.New("MemAvailable not found in /proc/meminfo")
