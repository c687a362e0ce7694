package tensor

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Kernels names the kernel set [NewPool] selects: "avx2" when the
// simd/archsimd fast path is compiled in (GOEXPERIMENT=simd on amd64) and the
// CPU has AVX2 and FMA, else "portable".
func Kernels() string { return bestKernels().name }

// Pool is a persistent set of worker goroutines that runs data-parallel
// loops and the matrix kernels. Workers block on channels between calls (no
// spinning, which collapses on shared CPUs), and a call allocates nothing
// once the pool's scratch buffers have grown to the largest shape seen.
//
// Calls on one Pool are serialized by a mutex, so a Pool may be shared, but
// the function passed to Parallel must not call back into the same Pool.
type Pool struct {
	mu      sync.Mutex
	threads int
	kern    *kernelSet
	wake    []chan struct{} // one per extra worker
	running sync.WaitGroup  // workers still inside the current job
	exited  sync.WaitGroup  // workers that have not returned yet
	closed  bool

	// The current job; written by the calling goroutine before waking the
	// workers, read by them until running.Done.
	fn    func(w, lo, hi int)
	n     int
	chunk int
	next  atomic.Int64

	// Per-call state for the matrix kernels, reused between calls.
	m       Matrix
	rb      int
	dst     []float32
	x       []float32
	nIn     int
	acts    []act
	scratch []workerScratch // indexed by worker
	mvFn    func(w, lo, hi int)
	mmFn    func(w, lo, hi int)
	userFn  func(lo, hi int)
	parFn   func(w, lo, hi int)
}

type workerScratch struct {
	u   unpacked
	f   []float32
	out [4]float32
}

// NewPool starts a pool that uses threads goroutines (the caller's plus
// threads-1 workers). threads < 1 is treated as 1.
func NewPool(threads int) *Pool {
	threads = max(threads, 1)
	p := &Pool{threads: threads, kern: bestKernels()}
	p.scratch = make([]workerScratch, threads)
	p.mvFn = p.matVecRange
	p.mmFn = p.matMulRange
	p.parFn = func(_, lo, hi int) { p.userFn(lo, hi) }
	p.wake = make([]chan struct{}, threads-1)
	for i := range p.wake {
		p.wake[i] = make(chan struct{})
		p.exited.Add(1)
		go p.worker(i+1, p.wake[i])
	}
	return p
}

func (p *Pool) worker(w int, wake <-chan struct{}) {
	defer p.exited.Done()
	for range wake {
		p.work(w)
		p.running.Done()
	}
}

// Close stops the workers and waits for them to exit. Calls made after Close
// run on the calling goroutine only.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	for _, c := range p.wake {
		close(c)
	}
	p.exited.Wait()
}

// Threads returns the number of goroutines the pool runs work on.
func (p *Pool) Threads() int { return p.threads }

// Parallel splits [0,n) into chunks, runs fn on them across the workers and
// the calling goroutine, and returns when all are done. fn must be safe to
// call concurrently on disjoint ranges.
func (p *Pool) Parallel(n int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.userFn = fn
	p.run(n, 1, p.parFn)
	p.userFn = nil
}

// run executes fn over [0,n) in chunks of at least minChunk. p.mu is held.
func (p *Pool) run(n, minChunk int, fn func(w, lo, hi int)) {
	workers := len(p.wake)
	if p.closed || workers == 0 || n <= minChunk {
		fn(0, 0, n)
		return
	}
	// About four chunks per thread balances load when another process
	// holds one of the cores, without much dispatch overhead.
	chunk := max(minChunk, (n+4*p.threads-1)/(4*p.threads))
	useful := min(workers, (n+chunk-1)/chunk-1)
	p.fn, p.n, p.chunk = fn, n, chunk
	p.next.Store(0)
	p.running.Add(useful)
	for i := 0; i < useful; i++ {
		p.wake[i] <- struct{}{}
	}
	p.work(0)
	p.running.Wait()
	p.fn = nil
}

func (p *Pool) work(w int) {
	for {
		lo := int(p.next.Add(int64(p.chunk))) - p.chunk
		if lo >= p.n {
			return
		}
		p.fn(w, lo, min(lo+p.chunk, p.n))
	}
}

// MatVec computes dst[r] = Σ_c W[r][c]·x[c] for every row r of m. len(x)
// must be m.Cols and len(dst) at least m.Rows; m must be valid (see
// [Matrix.Validate]). Mismatched shapes are programming errors and panic.
func (p *Pool) MatVec(dst []float32, m Matrix, x []float32) {
	p.MatMul(dst, m, x, 1)
}

// MatMul computes n matrix-vector products at once: for each input row i
// (x[i*Cols:(i+1)*Cols]) it writes dst[i*Rows+r] = Σ_c W[r][c]·x[i*Cols+c].
// Each weight row is decoded once and reused for all n inputs, which is
// what makes batched prompt prefill cheaper per token than n MatVecs.
func (p *Pool) MatMul(dst []float32, m Matrix, x []float32, n int) {
	if n < 0 || len(x) != n*m.Cols || len(dst) < n*m.Rows {
		panic(fmt.Sprintf("tensor: MatMul %dx%d by %d inputs: len(x)=%d, len(dst)=%d", m.Rows, m.Cols, n, len(x), len(dst)))
	}
	if err := m.Validate(); err != nil {
		panic("tensor: MatMul: " + err.Error())
	}
	if n == 0 || m.Rows == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m, p.rb, p.dst, p.x, p.nIn = m, m.rowBytes(), dst, x, n
	if isQuant(m.Type) {
		p.prepareActs(x, n, m.Cols)
	}
	for i := range p.scratch {
		s := &p.scratch[i]
		s.u.resize(m.Cols)
		s.f = grow(s.f, m.Cols)
	}
	// Chunks of at least 16 rows keep per-chunk overhead small.
	if n == 1 {
		p.run(m.Rows, 16, p.mvFn)
	} else {
		p.run(m.Rows, 4, p.mmFn)
	}
	p.dst, p.x, p.m.Data = nil, nil, nil
}

// prepareActs quantizes the n input rows of x once for the whole call.
func (p *Pool) prepareActs(x []float32, n, cols int) {
	if cap(p.acts) < n {
		p.acts = append(p.acts[:cap(p.acts)], make([]act, n-cap(p.acts))...)
	}
	p.acts = p.acts[:n]
	for i := range p.acts {
		a := &p.acts[i]
		a.resize(cols)
		p.kern.quantizeAct(x[i*cols:(i+1)*cols], a)
	}
}

// matVecRange computes rows [lo,hi) of a single-input product.
func (p *Pool) matVecRange(w, lo, hi int) {
	m, k, s := p.m, p.kern, &p.scratch[w]
	if !isQuant(m.Type) {
		for r := lo; r < hi; r++ {
			row := floatRowTo(m.Type, m.Data[r*p.rb:(r+1)*p.rb], s.f)
			p.dst[r] = k.dotF32(row, p.x)
		}
		return
	}
	a := &p.acts[0]
	if dot := k.direct[m.Type]; dot != nil {
		r := lo
		if dot4 := k.direct4[m.Type]; dot4 != nil {
			out := &s.out
			for ; r+4 <= hi; r += 4 {
				dot4(m.Data[r*p.rb:(r+4)*p.rb], p.rb, a, out)
				p.dst[r], p.dst[r+1], p.dst[r+2], p.dst[r+3] = out[0], out[1], out[2], out[3]
			}
		}
		for ; r < hi; r++ {
			p.dst[r] = dot(m.Data[r*p.rb:(r+1)*p.rb], a)
		}
		return
	}
	unpack := k.unpack[m.Type]
	for r := lo; r < hi; r++ {
		unpack(m.Data[r*p.rb:(r+1)*p.rb], &s.u, m.Cols)
		p.dst[r] = k.dotUnpacked(&s.u, a)
	}
}

// matMulRange computes rows [lo,hi) for every input: each weight row is
// decoded once into the worker's scratch and dotted with all inputs.
func (p *Pool) matMulRange(w, lo, hi int) {
	m, k, s := p.m, p.kern, &p.scratch[w]
	rows, cols := m.Rows, m.Cols
	if !isQuant(m.Type) {
		for r := lo; r < hi; r++ {
			row := floatRowTo(m.Type, m.Data[r*p.rb:(r+1)*p.rb], s.f)
			for i := 0; i < p.nIn; i++ {
				p.dst[i*rows+r] = k.dotF32(row, p.x[i*cols:(i+1)*cols])
			}
		}
		return
	}
	unpack := k.unpack[m.Type]
	acts := p.acts
	out := &s.out
	for r := lo; r < hi; r++ {
		unpack(m.Data[r*p.rb:(r+1)*p.rb], &s.u, cols)
		i := 0
		if k.dotUnpacked4 != nil {
			for ; i+4 <= len(acts); i += 4 {
				k.dotUnpacked4(&s.u, &acts[i], &acts[i+1], &acts[i+2], &acts[i+3], out)
				p.dst[i*rows+r] = out[0]
				p.dst[(i+1)*rows+r] = out[1]
				p.dst[(i+2)*rows+r] = out[2]
				p.dst[(i+3)*rows+r] = out[3]
			}
		}
		for ; i < len(acts); i++ {
			p.dst[i*rows+r] = k.dotUnpacked(&s.u, &acts[i])
		}
	}
}
