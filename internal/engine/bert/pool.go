package bert

import (
	"sync"
	"sync/atomic"
)

// pool runs the tasks of one parallel step on persistent worker goroutines.
// The caller of run works as worker 0, so a pool of one thread starts no
// goroutines. run must not be called concurrently (Model serialises Embed).
type pool struct {
	threads int
	wake    []chan *job // one per worker 1..threads-1
	done    sync.WaitGroup
	job     job // reused by every run: no per-step allocation
}

// job is one parallel step: tasks [0, n) handed out through next.
type job struct {
	fn   func(worker, task int)
	n    int64
	next atomic.Int64
	wg   sync.WaitGroup
}

func newPool(threads int) *pool {
	p := &pool{threads: threads, wake: make([]chan *job, threads)}
	for w := 1; w < threads; w++ {
		ch := make(chan *job, 1)
		p.wake[w] = ch
		p.done.Add(1)
		go func() {
			defer p.done.Done()
			for j := range ch {
				j.work(w)
				j.wg.Done()
			}
		}()
	}
	return p
}

func (j *job) work(worker int) {
	for {
		t := j.next.Add(1) - 1
		if t >= j.n {
			return
		}
		j.fn(worker, int(t))
	}
}

// run calls fn for every task in [0, n) across the workers and returns when
// all are done.
func (p *pool) run(n int, fn func(worker, task int)) {
	if n <= 0 {
		return
	}
	j := &p.job
	j.fn, j.n = fn, int64(n)
	j.next.Store(0)
	helpers := min(p.threads, n) - 1
	j.wg.Add(helpers)
	for w := 1; w <= helpers; w++ {
		p.wake[w] <- j
	}
	j.work(0)
	j.wg.Wait()
	j.fn = nil
}

// close stops the workers and waits for them to exit.
func (p *pool) close() {
	for w := 1; w < p.threads; w++ {
		close(p.wake[w])
	}
	p.done.Wait()
}
