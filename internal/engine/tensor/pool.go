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
	segs   []segment // the matrices of the call
	one    [1]Product
	typ    Type // of every matrix of the call
	cols   int
	x      []float32
	nIn    int
	acts   []act
	actTab []float32 // actScales of each group of four acts, for mm4
	// Activation quantization job: the block scales and sums of the
	// legacy quantized types (Q4_0 … Q8_0) are rounded to float16, as
	// ggml's Q8_0/Q8_1 activation blocks store them, so those types
	// compute what llama.cpp computes for the same model.
	qx      []float32
	qCols   int
	qHalf   bool
	qFn     func(w, lo, hi int)
	scratch []workerScratch // indexed by worker
	mvFn    func(w, lo, hi int)
	mmFn    func(w, lo, hi int)
	mvSeg   func(g *segment, w, lo, hi int)
	mmSeg   func(g *segment, w, lo, hi int)
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
	p.mvFn = func(w, lo, hi int) { p.eachSegment(w, lo, hi, p.mvSeg) }
	p.mmFn = func(w, lo, hi int) { p.eachSegment(w, lo, hi, p.mmSeg) }
	p.mvSeg, p.mmSeg = p.matVecSeg, p.matMulSeg
	p.qFn = p.quantizeRange
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

// ParallelW is Parallel for a function that also receives the index of the
// worker running it, in [0, Threads()), so that it can use per-worker
// scratch.
func (p *Pool) ParallelW(n int, fn func(w, lo, hi int)) {
	if n <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.run(n, 1, fn)
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
	p.mu.Lock()
	defer p.mu.Unlock()
	p.one[0] = Product{Dst: dst, M: m}
	p.matMul(x, n, p.one[:])
	p.one[0] = Product{}
}

// Product is one matrix of [Pool.MatMulMulti] and where its results go.
type Product struct {
	Dst []float32
	M   Matrix
}

// MatMulMulti computes several MatMuls of the same n inputs, such as a
// layer's query, key and value projections, as one job: the inputs are
// quantized once and the rows of all the matrices are shared out among
// the threads together, which saves a round of hand-out and wait per
// matrix. Matrices of different types or widths run one after another.
func (p *Pool) MatMulMulti(x []float32, n int, prods []Product) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(prods) > 0 {
		k := 1
		for k < len(prods) && prods[k].M.Type == prods[0].M.Type && prods[k].M.Cols == prods[0].M.Cols {
			k++
		}
		p.matMul(x, n, prods[:k])
		prods = prods[k:]
	}
}

// segment is one matrix of the current call, owning rows [start,
// start+m.Rows) of the call's combined row range.
type segment struct {
	m     Matrix
	rb    int
	dst   []float32
	start int
}

// matMul runs prods (same type and width) over the n inputs. p.mu is held.
func (p *Pool) matMul(x []float32, n int, prods []Product) {
	m0 := prods[0].M
	if n < 0 || len(x) != n*m0.Cols {
		panic(fmt.Sprintf("tensor: MatMul %dx%d by %d inputs: len(x)=%d", m0.Rows, m0.Cols, n, len(x)))
	}
	p.segs = p.segs[:0]
	total := 0
	for _, pr := range prods {
		m := pr.M
		if len(pr.Dst) < n*m.Rows {
			panic(fmt.Sprintf("tensor: MatMul %dx%d by %d inputs: len(dst)=%d", m.Rows, m.Cols, n, len(pr.Dst)))
		}
		if err := m.Validate(); err != nil {
			panic("tensor: MatMul: " + err.Error())
		}
		p.segs = append(p.segs, segment{m: m, rb: m.rowBytes(), dst: pr.Dst, start: total})
		total += m.Rows
	}
	if n == 0 || total == 0 {
		p.segs = p.segs[:0]
		return
	}
	p.typ, p.cols, p.x, p.nIn = m0.Type, m0.Cols, x, n
	if isQuant(p.typ) {
		p.prepareActs(x, n, p.cols, p.typ.BlockSize() == qk)
	}
	for i := range p.scratch {
		s := &p.scratch[i]
		s.u.resize(p.cols)
		s.f = grow(s.f, p.cols)
		if p.useMM4() {
			s.ps = grow(s.ps, p.cols/qk*8)
		}
	}
	// Chunks of at least 16 rows keep per-chunk overhead small.
	if n == 1 {
		p.run(total, 16, p.mvFn)
	} else {
		p.run(total, 4, p.mmFn)
	}
	clear(p.segs)
	p.segs, p.x = p.segs[:0], nil
}

// eachSegment calls fn for the part of every segment that rows [lo,hi) of
// the combined range cover, with rows relative to the segment.
func (p *Pool) eachSegment(w, lo, hi int, fn func(g *segment, w, lo, hi int)) {
	for i := range p.segs {
		g := &p.segs[i]
		a, b := max(lo, g.start), min(hi, g.start+g.m.Rows)
		if a < b {
			fn(g, w, a-g.start, b-g.start)
		}
	}
}

// prepareActs quantizes the n input rows of x once for the whole call.
func (p *Pool) prepareActs(x []float32, n, cols int, halfScales bool) {
	if cap(p.acts) < n {
		p.acts = append(p.acts[:cap(p.acts)], make([]act, n-cap(p.acts))...)
	}
	p.acts = p.acts[:n]
	for i := range p.acts {
		p.acts[i].resize(cols)
	}
	p.qx, p.qCols, p.qHalf = x, cols, halfScales
	if n >= 4 {
		// Prompt batches: the rows are quantized in parallel.
		p.run(n, 1, p.qFn)
	} else {
		p.quantizeRange(0, 0, n)
	}
	p.qx = nil
	if p.useMM4() {
		nb, groups := cols/qk, (n+3)/4
		p.actTab = grow(p.actTab, groups*nb*16)
		for g := 0; g < groups; g++ {
			s := &p.scratch[0]
			p.group(&s.grp, g)
			sMul := float32(1)
			if p.typ == Q4_0 {
				sMul = -8
			}
			actScales(p.actTab[g*nb*16:(g+1)*nb*16], &s.grp, sMul)
		}
	}
}

// quantizeRange quantizes input rows [lo,hi) of the current call.
func (p *Pool) quantizeRange(_, lo, hi int) {
	for i := lo; i < hi; i++ {
		a := &p.acts[i]
		p.kern.quantizeAct(p.qx[i*p.qCols:(i+1)*p.qCols], a)
		if p.qHalf {
			p.kern.roundHalf(a.d)
			p.kern.roundHalf(a.s)
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
	return p.kern.mm4 != nil && p.nIn >= 2 && (p.typ == Q4_0 || p.typ == Q4_1)
}

// matVecSeg computes rows [lo,hi) of segment g for a single input.
func (p *Pool) matVecSeg(g *segment, w, lo, hi int) {
	m, rb, dst, k, s := g.m, g.rb, g.dst, p.kern, &p.scratch[w]
	if !isQuant(m.Type) {
		for r := lo; r < hi; r++ {
			row := floatRowTo(m.Type, m.Data[r*rb:(r+1)*rb], s.f)
			dst[r] = k.dotF32(row, p.x)
		}
		return
	}
	a := &p.acts[0]
	if dot := k.direct[m.Type]; dot != nil {
		r := lo
		if dot4 := k.direct4[m.Type]; dot4 != nil {
			if n4 := (hi - lo) / 4; n4 > 0 {
				dot4(m.Data[r*rb:(r+4*n4)*rb], rb, n4, a, dst[r:r+4*n4])
				r += 4 * n4
			}
		}
		for ; r < hi; r++ {
			dst[r] = dot(m.Data[r*rb:(r+1)*rb], a)
		}
		return
	}
	unpack := k.unpack[m.Type]
	for r := lo; r < hi; r++ {
		unpack(m.Data[r*rb:(r+1)*rb], &s.u, m.Cols)
		dst[r] = k.dotUnpacked(&s.u, a)
	}
}

// matMulSeg computes rows [lo,hi) of segment g for every input.
func (p *Pool) matMulSeg(g *segment, w, lo, hi int) {
	m, rb, dst, k, s := g.m, g.rb, g.dst, p.kern, &p.scratch[w]
	rows, cols := m.Rows, m.Cols
	if !isQuant(m.Type) {
		for r := lo; r < hi; r++ {
			row := floatRowTo(m.Type, m.Data[r*rb:(r+1)*rb], s.f)
			for i := 0; i < p.nIn; i++ {
				dst[i*rows+r] = k.dotF32(row, p.x[i*cols:(i+1)*cols])
			}
		}
		return
	}
	if !p.useMM4() {
		p.rowsTimesActs(g, s, lo, hi)
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
	rowData := m.Data[lo*rb : even*rb]
	for gi := 0; gi < groups; gi++ {
		p.group(&s.grp, gi)
		k.mm4(rowData, rb, pairs, m.Type, &s.grp, p.actTab[gi*nb*16:(gi+1)*nb*16], s.ps, s.outN)
		for j := 0; j < min(4, n-4*gi); j++ {
			d := dst[(4*gi+j)*rows:]
			for q := 0; q < pairs; q++ {
				r := lo + 2*q
				d[r], d[r+1] = s.outN[8*q+j], s.outN[8*q+4+j]
			}
		}
	}
	p.rowsTimesActs(g, s, even, hi)
}

// rowsTimesActs computes rows [lo,hi) of segment g for every input, one
// input at a time: the four-row kernel runs each input over the whole
// range in one call, and the rows left over are unpacked and dotted with up
// to four inputs at once.
func (p *Pool) rowsTimesActs(g *segment, s *workerScratch, lo, hi int) {
	m, rb, dst, k := g.m, g.rb, g.dst, p.kern
	rows, cols := m.Rows, m.Cols
	acts := p.acts
	if len(acts) == 0 || lo >= hi {
		return
	}
	out := &s.out
	r := lo
	if dot4 := k.direct4[m.Type]; dot4 != nil {
		if n4 := (hi - lo) / 4; n4 > 0 {
			for i := range acts {
				d := dst[i*rows+r : i*rows+r+4*n4]
				dot4(m.Data[r*rb:(r+4*n4)*rb], rb, n4, &acts[i], d)
			}
			r += 4 * n4
		}
	}
	unpack := k.unpack[m.Type]
	for ; r < hi; r++ {
		unpack(m.Data[r*rb:(r+1)*rb], &s.u, cols)
		i := 0
		if k.dotUnpacked4 != nil {
			for ; i+4 <= len(acts); i += 4 {
				k.dotUnpacked4(&s.u, &acts[i], &acts[i+1], &acts[i+2], &acts[i+3], out)
				dst[i*rows+r] = out[0]
				dst[(i+1)*rows+r] = out[1]
				dst[(i+2)*rows+r] = out[2]
				dst[(i+3)*rows+r] = out[3]
			}
		}
		for ; i < len(acts); i++ {
			dst[i*rows+r] = k.dotUnpacked(&s.u, &acts[i])
		}
	}
}
