package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// SmolLM2-135M matrix shapes (rows x cols).
var benchShapes = []struct{ rows, cols int }{{576, 576}, {1536, 576}, {576, 1536}, {49152, 576}}

var benchTypes = []Type{Q4_0, Q4_1, Q8_0, Q4_K, Q6_K, F32, F16}

// BenchmarkMatVec measures one matrix-vector product per op on one thread
// (set BENCH_THREADS-like variants with -cpu; the pool uses 1 thread here so
// results are per core). GB/s counts weight bytes read.
func BenchmarkMatVec(b *testing.B) {
	for _, k := range kernelSets() {
		for _, typ := range benchTypes {
			for _, sh := range benchShapes {
				if sh.cols%typ.BlockSize() != 0 {
					continue // K-quants need 256-multiples: 576 is not
				}
				b.Run(fmt.Sprintf("%s/%v/%dx%d", k.name, typ, sh.rows, sh.cols), func(b *testing.B) {
					benchMat(b, k, typ, sh.rows, sh.cols, 1)
				})
			}
		}
	}
}

// BenchmarkMatMul measures a 64-input product (batched prefill); ns/op is
// for all 64 inputs.
func BenchmarkMatMul(b *testing.B) {
	for _, k := range kernelSets() {
		for _, typ := range benchTypes {
			for _, sh := range benchShapes[:3] {
				if sh.cols%typ.BlockSize() != 0 {
					continue
				}
				b.Run(fmt.Sprintf("%s/%v/%dx%dx64", k.name, typ, sh.rows, sh.cols), func(b *testing.B) {
					benchMat(b, k, typ, sh.rows, sh.cols, 64)
				})
			}
		}
	}
}

func benchMat(b *testing.B, k *kernelSet, typ Type, rows, cols, n int) {
	r := rand.New(rand.NewPCG(1, 1))
	m := randMatrix(b, r, typ, rows, cols)
	x := randVec(r, n*cols)
	dst := make([]float32, n*rows)
	p := NewPool(1)
	defer p.Close()
	p.kern = k
	b.SetBytes(int64(len(m.Data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p.MatMul(dst, m, x, n)
	}
}

// BenchmarkDispatch measures the pool's per-job overhead: a job of two
// empty chunks, one per thread.
func BenchmarkDispatch(b *testing.B) {
	p := NewPool(2)
	defer p.Close()
	fn := func(lo, hi int) {}
	for b.Loop() {
		p.Parallel(2, fn)
	}
}

// BenchmarkPrefillKernel times the two-row, four-input Q4_1 kernel alone
// on L1-resident data (one 576-wide row pair, four inputs); ns/block is
// per 32-element block of the pair.
func BenchmarkPrefillKernel(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	m := randMatrix(b, r, Q4_1, 2, 576)
	p := NewPool(1)
	defer p.Close()
	p.MatMul(make([]float32, 8), m, randVec(r, 4*576), 4) // fills p.acts and p.actTab
	var grp [4]*act
	for j := range grp {
		grp[j] = &p.acts[j]
	}
	nb := 576 / qk
	as, ps := p.actTab[:nb*16], make([]float32, nb*8)
	out := make([]float32, 8)
	for _, k := range kernelSets()[1:] {
		if k.mm4 == nil {
			continue
		}
		b.Run(k.name, func(b *testing.B) {
			for b.Loop() {
				k.mm4(m.Data, m.rowBytes(), 1, Q4_1, &grp, as, ps, out)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(nb), "ns/block")
		})
	}
}
