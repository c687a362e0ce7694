package server

import (
	"testing"
	"time"
)

func TestSettleBarrier(t *testing.T) {
	var b settleBarrier
	b.wait() // nothing held: returns at once

	first := b.hold()
	waited := make(chan struct{})
	go func() {
		b.wait()
		close(waited)
	}()
	// A hold taken while a reader waits neither blocks nor is waited for.
	for {
		b.mu.Lock()
		started := b.gen != first
		b.mu.Unlock()
		if started {
			break
		}
		time.Sleep(time.Millisecond)
	}
	later := b.hold()
	select {
	case <-waited:
		t.Fatal("wait returned while an earlier hold was open")
	case <-time.After(50 * time.Millisecond):
	}
	b.release(first)
	<-waited // the later hold is still open
	b.release(later)
	b.wait()
	if len(b.open) != 0 {
		t.Errorf("open holds after every release: %v", b.open)
	}
	// A holder that never finishes (its client does not read its answer)
	// delays a reader by maxSettle at most.
	b.hold()
	b.wait()
}
