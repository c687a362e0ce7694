package server

import (
	"sync"
	"time"
)

// settleBarrier lets readers of the calls' bookkeeping (the audit trail,
// the usage report, the metrics) wait for the bookkeeping of every call
// whose answer has gone out. A call holds it from just before its
// answer's last bytes are written until its bookkeeping is done; wait
// waits for the calls holding it when wait began, never for later ones,
// and never blocks a call. A holder still writing after maxSettle is a
// client that has not taken its answer, so it is not waited for longer.
type settleBarrier struct {
	mu   sync.Mutex
	gen  uint64         // the generation new holds join
	open map[uint64]int // holds not yet released, per generation
	done chan struct{}  // closed (and replaced) when a generation empties
}

// maxSettle bounds a reader's wait for one slow holder.
const maxSettle = time.Second

// hold marks a call's answer as going out; release(g) with the returned
// generation marks its bookkeeping done.
func (b *settleBarrier) hold() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open == nil {
		b.open, b.done = map[uint64]int{}, make(chan struct{})
	}
	b.open[b.gen]++
	return b.gen
}

func (b *settleBarrier) release(g uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open[g]--; b.open[g] == 0 {
		delete(b.open, g)
		close(b.done)
		b.done = make(chan struct{})
	}
}

// wait returns once every hold taken before it is released, or after
// maxSettle.
func (b *settleBarrier) wait() {
	timeout := time.NewTimer(maxSettle)
	defer timeout.Stop()
	b.mu.Lock()
	last := b.gen
	b.gen++
	for {
		pending := false
		for g := range b.open {
			pending = pending || g <= last
		}
		if !pending {
			b.mu.Unlock()
			return
		}
		done := b.done
		b.mu.Unlock()
		select {
		case <-done:
		case <-timeout.C:
			return
		}
		b.mu.Lock()
	}
}
