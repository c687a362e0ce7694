// Package gemm multiplies float32 matrices for the BERT encoder: C = A·B
// (+ bias) where B is packed once into column panels of 16, so the inner
// kernel streams B contiguously and keeps a 4×16 block of C in registers.
//
// With GOEXPERIMENT=simd on amd64 the kernel uses AVX2 FMA through
// simd/archsimd when the CPU has it; otherwise a portable Go kernel runs.
// Functions here do not start goroutines: callers split the work with Mul's
// row and panel ranges.
package gemm

import "fmt"

// Panel is the number of B columns in one packed panel.
const Panel = 16

// rows is the number of C rows the main kernel computes at once. Four rows
// (eight accumulators) beat six with Go 1.26's register allocator, which
// spills when twelve accumulators are live.
const rows = 4

// kc is the depth of one K block: a 16-wide B panel block of kc rows (16
// KiB) stays in L1 while the kernel walks the rows of A.
const kc = 256

// Panels returns the number of panels that n columns occupy.
func Panels(n int) int { return (n + Panel - 1) / Panel }

// PackedLen returns the length of a packed B of k rows and n columns.
func PackedLen(k, n int) int { return Panels(n) * Panel * k }

// PackT packs B = Wᵀ, where W is n rows of k values with row stride ldw (the
// PyTorch Linear weight layout, out×in), into dst, which it grows as needed
// and returns. Columns past n in the last panel are zero.
func PackT(dst, w []float32, n, k, ldw int) []float32 {
	dst = grow(dst, PackedLen(k, n))
	for p := range Panels(n) {
		out := dst[p*Panel*k : (p+1)*Panel*k]
		for j := range Panel {
			col := p*Panel + j
			if col >= n {
				for kk := range k {
					out[kk*Panel+j] = 0
				}
				continue
			}
			row := w[col*ldw : col*ldw+k]
			for kk, v := range row {
				out[kk*Panel+j] = v
			}
		}
	}
	return dst
}

// PackN packs B given as k rows of n values with row stride ldb into dst,
// which it grows as needed and returns.
func PackN(dst, b []float32, k, n, ldb int) []float32 {
	dst = grow(dst, PackedLen(k, n))
	for p := range Panels(n) {
		out := dst[p*Panel*k : (p+1)*Panel*k]
		c0 := p * Panel
		w := min(Panel, n-c0)
		for kk := range k {
			o := out[kk*Panel : kk*Panel+Panel]
			copy(o, b[kk*ldb+c0:kk*ldb+c0+w])
			clear(o[w:])
		}
	}
	return dst
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// Mul computes rows [m0, m1) and column panels [p0, p1) of C = A·B + bias,
// where A has k columns and row stride lda, B (k×n) was packed by PackT or
// PackN, and C has row stride ldc. bias, when not nil, has n values. Distinct
// row or panel ranges may be computed concurrently.
func Mul(c []float32, ldc int, a []float32, lda int, b []float32, k, n int, bias []float32, m0, m1, p0, p1 int) {
	if m0 >= m1 || p0 >= p1 {
		return
	}
	if k <= 0 || m0 < 0 || p0 < 0 || p1 > Panels(n) || len(b) < PackedLen(k, n) ||
		len(a) < (m1-1)*lda+k || len(c) < (m1-1)*ldc+min(n, p1*Panel) || (bias != nil && len(bias) < n) {
		panic(fmt.Sprintf("gemm: Mul bounds: m=[%d,%d) p=[%d,%d) k=%d n=%d len(a)=%d lda=%d len(b)=%d len(c)=%d ldc=%d",
			m0, m1, p0, p1, k, n, len(a), lda, len(b), len(c), ldc))
	}
	var tmp [rows * Panel]float32
	var biasPad [Panel]float32
	for k0 := 0; k0 < k; k0 += kc {
		kb := min(kc, k-k0)
		first := k0 == 0
		for p := p0; p < p1; p++ {
			bp := b[p*Panel*k+k0*Panel : p*Panel*k+(k0+kb)*Panel]
			c0 := p * Panel
			w := min(Panel, n-c0)
			var bb []float32
			if first && bias != nil {
				if w == Panel {
					bb = bias[c0 : c0+Panel]
				} else {
					clear(biasPad[:])
					copy(biasPad[:], bias[c0:c0+w])
					bb = biasPad[:]
				}
			}
			for i := m0; i < m1; i += rows {
				r := min(rows, m1-i)
				ap := a[i*lda+k0:]
				if w == Panel {
					kernel(r, kb, ap, lda, bp, c[i*ldc+c0:], ldc, bb, !first)
					continue
				}
				// Partial panel: compute into tmp, then copy the live columns.
				if !first {
					for rr := range r {
						copy(tmp[rr*Panel:rr*Panel+w], c[(i+rr)*ldc+c0:])
					}
				}
				kernel(r, kb, ap, lda, bp, tmp[:], Panel, bb, !first)
				for rr := range r {
					copy(c[(i+rr)*ldc+c0:(i+rr)*ldc+c0+w], tmp[rr*Panel:])
				}
			}
		}
	}
}

// kernelGo is the portable kernel: C[0:r, 0:16] = (acc ? C : bias or 0) +
// A[0:r, 0:kb]·B, for r <= rows and a packed panel block b of kb×16.
func kernelGo(r, kb int, a []float32, lda int, b []float32, c []float32, ldc int, bias []float32, acc bool) {
	var sum [rows][Panel]float32
	for rr := range r {
		switch {
		case acc:
			copy(sum[rr][:], c[rr*ldc:rr*ldc+Panel])
		case bias != nil:
			copy(sum[rr][:], bias[:Panel])
		}
	}
	for rr := range r {
		arow := a[rr*lda : rr*lda+kb]
		s := &sum[rr]
		for kk, av := range arow {
			bk := b[kk*Panel : kk*Panel+Panel]
			for j := range Panel {
				s[j] += av * bk[j]
			}
		}
	}
	for rr := range r {
		copy(c[rr*ldc:rr*ldc+Panel], sum[rr][:])
	}
}
