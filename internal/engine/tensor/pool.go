package tensor

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Kernels names the kernel set [NewPool] selects: "avx2" (or "avx2+vnni" on
// CPUs with AVX-512 VNNI) when the
// simd/archsimd fast path is compiled in (GOEXPERIMENT=simd on amd64) and the
// CPU has AVX2 and FMA, else "portable".
func Kernels() string { return bestKernels().name }

// Pool is a persistent set of worker goroutines that runs data-parallel
// loops and the matrix kernels, and allocates nothing per call once its
// scratch buffers have grown to the largest shape seen.
//
// A forward pass dispatches a few hundred short jobs per token, some only
// microseconds long, so waking a parked goroutine for each (a futex round
// trip) would cost more than the work. Between jobs the workers therefore
// spin on the job counter for a bounded time (spinLimit) and only then park
// on a channel; the caller likewise spins briefly for the workers to finish
// before parking. A decode step keeps every worker busy; an idle pool costs
// no CPU after the spin expires.
//
// Calls on one Pool are serialized by a mutex, so a Pool may be shared, but
// the function passed to Parallel must not call back into the same Pool.
type Pool struct {
	mu      sync.Mutex
	threads int
	kern    *kernelSet
	workers []poolWorker // threads-1 extra workers
	exited  sync.WaitGroup
	closed  atomic.Bool

	// Job hand-off. The caller publishes a job by writing its fields and
	// then incrementing seq; each worker runs every job once and
	// decrements pending when it is done with it.
	seq     atomic.Uint64
	pending atomic.Int32
	waiting atomic.Bool   // the caller is parked on done
	done    chan struct{} // buffered; the last worker signals a parked caller

	// The current job, valid while pending > 0.
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
	actTab  []float32       // actScales of each group of four acts, for mm4
	scratch []workerScratch // indexed by worker
	mvFn    func(w, lo, hi int)
	mmFn    func(w, lo, hi int)
	userFn  func(lo, hi int)
	parFn   func(w, lo, hi int)
}

type poolWorker struct {
	sleeping atomic.Bool
	wake     chan struct{} // buffered; a token wakes the parked worker
}

// spinLimit is how many polls of the job counter a worker (or the waiting
// caller) makes before it parks: tens of microseconds, longer than the gap
// between the jobs of one forward pass, far shorter than a scheduling
// quantum.
const spinLimit = 1 << 15

type workerScratch struct {
	u    unpacked
	f    []float32
	out  [4]float32
	grp  [4]*act   // the inputs of the current mm4 call
	ps   []float32 // mm4 scratch: per-block scale products
	outN []float32 // mm4 results, 8 per row pair
}

// NewPool starts a pool that uses threads goroutines (the caller's plus
// threads-1 workers). threads < 1 is treated as 1.
func NewPool(threads int) *Pool {
	threads = max(threads, 1)
	p := &Pool{threads: threads, kern: bestKernels(), done: make(chan struct{}, 1)}
	p.scratch = make([]workerScratch, threads)
	p.mvFn = p.matVecRange
	p.mmFn = p.matMulRange
	p.parFn = func(_, lo, hi int) { p.userFn(lo, hi) }
	p.workers = make([]poolWorker, threads-1)
	for i := range p.workers {
		p.workers[i].wake = make(chan struct{}, 1)
		p.exited.Add(1)
		go p.worker(i + 1)
	}
	return p
}

func (p *Pool) worker(w int) {
	defer p.exited.Done()
	me := &p.workers[w-1]
	var seen uint64
	for {
		// Wait for a job newer than the last one run.
		for spins := 0; p.seq.Load() == seen; spins++ {
			if p.closed.Load() {
				return
			}
			if spins < spinLimit {
				continue
			}
			// Announce the nap, then look again: a caller that published
			// a job before seeing the flag is caught by the second look,
			// one that sees it sends a token.
			me.sleeping.Store(true)
			if p.seq.Load() == seen && !p.closed.Load() {
				<-me.wake
			}
			me.sleeping.Store(false)
			spins = 0
		}
		seen = p.seq.Load()
		if p.closed.Load() {
			return
		}
		p.work(w)
		if p.pending.Add(-1) == 0 && p.waiting.Load() {
			select {
			case p.done <- struct{}{}:
			default:
			}
		}
	}
}

// Close stops the workers and waits for them to exit. Calls made after Close
// run on the calling goroutine only.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Swap(true) {
		return
	}
	for i := range p.workers {
		select {
		case p.workers[i].wake <- struct{}{}:
		default:
		}
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
	if p.closed.Load() || len(p.workers) == 0 || n <= minChunk {
		fn(0, 0, n)
		return
	}
	// About four chunks per thread balances load when another process
	// holds one of the cores, without much dispatch overhead.
	chunk := max(minChunk, (n+4*p.threads-1)/(4*p.threads))
	if minChunk >= 4 {
		chunk = (chunk + 3) &^ 3 // whole groups for the four-row kernels
	}
	p.fn, p.n, p.chunk = fn, n, chunk
	p.next.Store(0)
	p.pending.Store(int32(len(p.workers)))
	p.seq.Add(1)
	for i := range p.workers {
		if wk := &p.workers[i]; wk.sleeping.Load() {
			select {
			case wk.wake <- struct{}{}:
			default:
			}
		}
	}
	p.work(0)
	p.wait()
	p.fn = nil
}

// wait returns once every worker has finished the current job: it spins
// for a while, then parks until the last worker signals.
func (p *Pool) wait() {
	for spins := 0; spins < spinLimit; spins++ {
		if p.pending.Load() == 0 {
			return
		}
	}
	for p.pending.Load() != 0 {
		p.waiting.Store(true)
		if p.pending.Load() != 0 {
			<-p.done
		}
		p.waiting.Store(false)
	}
	// Drop a token a finishing worker may have sent after the last check.
	select {
	case <-p.done:
	default:
	}
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
		p.prepareActs(x, n, m.Cols, m.Type.BlockSize() == qk)
	}
	for i := range p.scratch {
		s := &p.scratch[i]
		s.u.resize(m.Cols)
		s.f = grow(s.f, m.Cols)
		if p.useMM4() {
			s.ps = grow(s.ps, m.Cols/qk*8)
		}
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
func (p *Pool) prepareActs(x []float32, n, cols int, halfScales bool) {
	if cap(p.acts) < n {
		p.acts = append(p.acts[:cap(p.acts)], make([]act, n-cap(p.acts))...)
	}
	p.acts = p.acts[:n]
	for i := range p.acts {
		a := &p.acts[i]
		a.resize(cols)
		p.kern.quantizeAct(x[i*cols:(i+1)*cols], a)
		if halfScales {
			roundScalesToHalf(a)
		}
	}
	if p.useMM4() {
		nb, groups := cols/qk, (n+3)/4
		p.actTab = grow(p.actTab, groups*nb*16)
		for g := 0; g < groups; g++ {
			s := &p.scratch[0]
			p.group(&s.grp, g)
			sMul := float32(1)
			if p.m.Type == Q4_0 {
				sMul = -8
			}
			actScales(p.actTab[g*nb*16:(g+1)*nb*16], &s.grp, sMul)
		}
	}
}

// group sets grp to the inputs of group g (4g … 4g+3); a last group that
// is short repeats its last input, whose extra results are dropped.
func (p *Pool) group(grp *[4]*act, g int) {
	last := len(p.acts) - 1
	for j := range grp {
		grp[j] = &p.acts[min(4*g+j, last)]
	}
}

// useMM4 reports whether the current MatMul runs the two-row, four-input
// kernel: a Q4_0/Q4_1 matrix, several inputs, and a kernel set that has it.
func (p *Pool) useMM4() bool {
	return p.kern.mm4 != nil && p.nIn >= 2 && (p.m.Type == Q4_0 || p.m.Type == Q4_1)
}

// roundScalesToHalf rounds an activation's block scales and sums to
// float16 precision, as ggml's Q8_0/Q8_1 activation blocks store them, so
// that the legacy quantized types (Q4_0 … Q8_0) compute what llama.cpp
// computes for the same model.
func roundScalesToHalf(a *act) {
	for b := range a.d {
		a.d[b] = halfToFloat(floatToHalf(a.d[b]))
		a.s[b] = halfToFloat(floatToHalf(a.s[b]))
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
			if g := (hi - lo) / 4; g > 0 {
				dot4(m.Data[r*p.rb:(r+4*g)*p.rb], p.rb, g, a, p.dst[r:r+4*g])
				r += 4 * g
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

// matMulRange computes rows [lo,hi) for every input.
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
	if !p.useMM4() {
		p.rowsTimesActs(s, lo, hi, 0)
		return
	}
	// Each kernel call runs one group of four inputs over all the row
	// pairs of the range (each pair's weights decoded once for the four);
	// a short last group is padded (see group), an odd last row takes the
	// one-input kernels.
	n := len(p.acts)
	nb, groups := cols/qk, (n+3)/4
	even := lo + (hi-lo)&^1
	pairs := (even - lo) / 2
	s.outN = grow(s.outN, 8*pairs)
	rowData := m.Data[lo*p.rb : even*p.rb]
	for g := 0; g < groups; g++ {
		p.group(&s.grp, g)
		k.mm4(rowData, p.rb, pairs, m.Type, &s.grp, p.actTab[g*nb*16:(g+1)*nb*16], s.ps, s.outN)
		for j := 0; j < min(4, n-4*g); j++ {
			d := p.dst[(4*g+j)*rows:]
			for q := 0; q < pairs; q++ {
				r := lo + 2*q
				d[r], d[r+1] = s.outN[8*q+j], s.outN[8*q+4+j]
			}
		}
	}
	p.rowsTimesActs(s, even, hi, 0)
}

// rowsTimesActs computes rows [lo,hi) for inputs a0 and later, one input
// at a time: the four-row kernel runs each input over the whole range in
// one call, and the rows left over are unpacked and dotted with up to four
// inputs at once.
func (p *Pool) rowsTimesActs(s *workerScratch, lo, hi, a0 int) {
	m, k := p.m, p.kern
	rows, cols := m.Rows, m.Cols
	acts := p.acts[a0:]
	if len(acts) == 0 || lo >= hi {
		return
	}
	out := &s.out
	r := lo
	if dot4 := k.direct4[m.Type]; dot4 != nil {
		if g := (hi - lo) / 4; g > 0 {
			for i := range acts {
				d := p.dst[(a0+i)*rows+r : (a0+i)*rows+r+4*g]
				dot4(m.Data[r*p.rb:(r+4*g)*p.rb], p.rb, g, &acts[i], d)
			}
			r += 4 * g
		}
	}
	unpack := k.unpack[m.Type]
	for ; r < hi; r++ {
		unpack(m.Data[r*p.rb:(r+1)*p.rb], &s.u, cols)
		i := 0
		if k.dotUnpacked4 != nil {
			for ; i+4 <= len(acts); i += 4 {
				k.dotUnpacked4(&s.u, &acts[i], &acts[i+1], &acts[i+2], &acts[i+3], out)
				p.dst[(a0+i)*rows+r] = out[0]
				p.dst[(a0+i+1)*rows+r] = out[1]
				p.dst[(a0+i+2)*rows+r] = out[2]
				p.dst[(a0+i+3)*rows+r] = out[3]
			}
		}
		for ; i < len(acts); i++ {
			p.dst[(a0+i)*rows+r] = k.dotUnpacked(&s.u, &acts[i])
		}
	}
}
