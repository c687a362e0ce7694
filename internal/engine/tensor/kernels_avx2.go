//go:build goexperiment.simd && amd64

package tensor

import "simd/archsimd"

// The AVX2 kernels keep scalar float arithmetic out of their vector loops:
// Go compiles scalar float code to legacy SSE instructions, and mixing those
// with 256-bit AVX state costs a large penalty per transition on many CPUs
// (measured here: 20-50x slower kernels). So every kernel computes its
// per-block scalars in a plain-Go pass first, then runs a vector-only loop,
// and clears the upper AVX state (VZEROUPPER) before returning to scalar code.

// bestKernels returns the fastest kernel set the CPU supports: AVX2 with
// AVX-512 VNNI, AVX2, or the portable set.
func bestKernels() *kernelSet {
	k := avx2Kernels()
	if k == nil {
		return portableKernels()
	}
	if archsimd.X86.AVX512() && archsimd.X86.AVX512VNNI() {
		k.name = "avx2+vnni"
		k.direct4[Q4_1] = rows4(dotQ4_1x4VNNI)
		k.direct4[Q8_0] = rows4(dotQ8_0x4VNNI)
		k.mm4 = mmQ4(mmQ4x2x4VNNI)
	}
	return k
}

// avx2Kernels returns the AVX2 kernel set, or nil if the CPU lacks AVX2 or
// FMA.
func avx2Kernels() *kernelSet {
	if !archsimd.X86.AVX2() || !archsimd.X86.FMA() {
		return nil
	}
	k := portableKernels()
	k.name = "avx2"
	k.dotF32 = dotF32AVX2
	k.dotUnpacked = dotUnpackedAVX2
	k.direct[Q4_0] = dotQ4_0AVX2
	k.direct[Q4_1] = dotQ4_1AVX2
	k.direct[Q8_0] = dotQ8_0AVX2
	// The assembly kernels also use F16C, which every AVX2 CPU has.
	k.direct4[Q4_0] = rows4(dotQ4_0x4)
	k.direct4[Q4_1] = rows4(dotQ4_1x4)
	k.direct4[Q8_0] = rows4(dotQ8_0x4)
	k.mm4 = mmQ4(mmQ4x2x4)
	k.quantizeAct = quantizeActAsm
	k.roundHalf = roundHalfAsm
	k.toHalf = toHalfAsm
	k.scoresF16 = scoresF16Asm
	k.weightedSumF16 = weightedSumF16Asm
	k.dotUnpacked4 = dotUnpacked4AVX2
	k.unpack[Q4_0] = unpackQ4_0AVX2
	k.unpack[Q4_1] = unpackQ4_1AVX2
	for t, un := range k.unpack {
		if un != nil {
			k.unpack[t] = withLanes(un)
		}
	}
	return k
}

// withLanes wraps an unpacker so it also fills u.lane, the per-int32-lane
// weight scales the AVX2 unpacked dot kernels load as vectors.
func withLanes(un unpackFunc) unpackFunc {
	return func(row []byte, u *unpacked, n int) {
		un(row, u, n)
		lane := u.lane[:n/4]
		for g, s := range u.sc[:n/16] {
			l := lane[4*g : 4*g+4]
			l[0], l[1], l[2], l[3] = s, s, s, s
		}
	}
}

// chunkBlocks is how many 32-element blocks a kernel handles per scalar
// pre-pass; the per-block scales live in a stack array of this size.
const chunkBlocks = 64

func dotF32AVX2(w, x []float32) float32 {
	var a0, a1 archsimd.Float32x8
	i := 0
	x = x[:len(w)]
	for ; i+16 <= len(w); i += 16 {
		a0 = archsimd.LoadFloat32x8Slice(w[i:]).MulAdd(archsimd.LoadFloat32x8Slice(x[i:]), a0)
		a1 = archsimd.LoadFloat32x8Slice(w[i+8:]).MulAdd(archsimd.LoadFloat32x8Slice(x[i+8:]), a1)
	}
	for ; i+8 <= len(w); i += 8 {
		a0 = archsimd.LoadFloat32x8Slice(w[i:]).MulAdd(archsimd.LoadFloat32x8Slice(x[i:]), a0)
	}
	s := hsum(a0.Add(a1))
	for ; i < len(w); i++ {
		s += w[i] * x[i]
	}
	return s
}

// hsum adds the eight lanes of v and leaves the AVX upper state clean.
func hsum(v archsimd.Float32x8) float32 {
	var b [4]float32
	v.GetLo().Add(v.GetHi()).Store(&b)
	archsimd.ClearAVXUpperBits()
	return (b[0] + b[1]) + (b[2] + b[3])
}

// nibbles expands 16 bytes into 32 unsigned 4-bit values: the low nibbles
// (elements 0..15) then the high nibbles (elements 16..31), ggml's order.
// The bytes are duplicated into both halves and the upper half shifted by 4
// with a per-lane variable shift (VPSRLVD), which, unlike the shift-by-scalar
// forms, needs no legacy-SSE move of the count into a vector register.
func nibbles(qs []byte, shift archsimd.Uint32x8, mask archsimd.Uint8x32) archsimd.Uint8x32 {
	v := archsimd.LoadUint8x16Slice(qs)
	both := archsimd.Uint8x32{}.SetLo(v).SetHi(v)
	return both.AsUint32x8().ShiftRight(shift).AsUint8x32().And(mask)
}

var nibbleShift = [8]uint32{0, 0, 0, 0, 4, 4, 4, 4}

var ones16 = [16]int16{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}

// sumPairsU8 returns the dot of unsigned u and signed y in 8 int32 lanes;
// lane k holds elements 4k..4k+3.
func sumPairsU8(u archsimd.Uint8x32, y archsimd.Int8x32, one archsimd.Int16x16) archsimd.Int32x8 {
	return u.DotProductPairsSaturated(y).DotProductPairs(one)
}

// sumPairsI8 is sumPairsU8 for two signed vectors, using |x| and
// sign(x)·y as ggml does (VPMADDUBSW needs one unsigned operand).
func sumPairsI8(x, y archsimd.Int8x32, one archsimd.Int16x16) archsimd.Int32x8 {
	return x.Abs().AsUint8x32().DotProductPairsSaturated(y.CopySign(x)).DotProductPairs(one)
}

// dotQ4AVX2 handles Q4_0 (bb=18, offset 8, no min) and Q4_1 (bb=20, min):
// Σ d·(q−8)·y is computed as d·Σ q·y − 8·d·Σ y so nibbles stay unsigned.
func dotQ4AVX2(row []byte, a *act, bb int) float32 {
	var total float32
	nb := len(a.d)
	var scale [chunkBlocks]float32
	for c0 := 0; c0 < nb; c0 += chunkBlocks {
		c1 := min(c0+chunkBlocks, nb)
		// Scalar pass: combined scales and the min/offset term.
		for b := c0; b < c1; b++ {
			blk := row[b*bb:]
			d := f16fast(blk)
			scale[b-c0] = d * a.d[b]
			if bb == 20 {
				total += f16fast(blk[2:]) * a.s[b]
			} else {
				total -= 8 * d * a.s[b]
			}
		}
		total += vecQ4(row[c0*bb:c1*bb], a.q[c0*qk:c1*qk], scale[:c1-c0], bb)
	}
	return total
}

// vecQ4 is the vector loop of dotQ4AVX2; it is kept out of line so the
// compiler cannot interleave vector state with the scalar pass.
//
//go:noinline
func vecQ4(row []byte, aq []int8, scale []float32, bb int) float32 {
	one := archsimd.LoadInt16x16(&ones16)
	shift := archsimd.LoadUint32x8(&nibbleShift)
	mask := archsimd.BroadcastUint8x32(0x0f)
	var acc archsimd.Float32x8
	off := bb - 16
	for b := range scale {
		qs := row[b*bb+off : b*bb+bb]
		y := archsimd.LoadInt8x32Slice(aq[b*qk:])
		s := sumPairsU8(nibbles(qs, shift, mask), y, one).ConvertToFloat32()
		acc = s.MulAdd(archsimd.BroadcastFloat32x8(scale[b]), acc)
	}
	return hsum(acc)
}

func dotQ4_0AVX2(row []byte, a *act) float32 { return dotQ4AVX2(row, a, 18) }
func dotQ4_1AVX2(row []byte, a *act) float32 { return dotQ4AVX2(row, a, 20) }

func dotQ8_0AVX2(row []byte, a *act) float32 {
	var total float32
	nb := len(a.d)
	var scale [chunkBlocks]float32
	for c0 := 0; c0 < nb; c0 += chunkBlocks {
		c1 := min(c0+chunkBlocks, nb)
		for b := c0; b < c1; b++ {
			scale[b-c0] = f16fast(row[b*34:]) * a.d[b]
		}
		total += vecQ8(row[c0*34:c1*34], a.q[c0*qk:c1*qk], scale[:c1-c0])
	}
	return total
}

//go:noinline
func vecQ8(row []byte, aq []int8, scale []float32) float32 {
	one := archsimd.LoadInt16x16(&ones16)
	var acc archsimd.Float32x8
	for b := range scale {
		x := archsimd.LoadUint8x32Slice(row[b*34+2 : b*34+34]).AsInt8x32()
		y := archsimd.LoadInt8x32Slice(aq[b*qk:])
		s := sumPairsI8(x, y, one).ConvertToFloat32()
		acc = s.MulAdd(archsimd.BroadcastFloat32x8(scale[b]), acc)
	}
	return hsum(acc)
}

// dotUnpackedAVX2 uses per-lane weight scales: lanes 0-3 of a block's
// int32 sums cover elements 0-15 (scale sc[2b]) and lanes 4-7 elements
// 16-31 (sc[2b+1]); u.lane holds them pre-expanded.
func dotUnpackedAVX2(u *unpacked, a *act) float32 {
	nb := len(a.d)
	total := vecUnpacked(u.q[:nb*qk], u.lane[:nb*8], a.q[:nb*qk], a.d[:nb])
	if u.hasMin {
		total += dotF32AVX2(u.mn[:nb], a.s[:nb])
	}
	return total
}

//go:noinline
func vecUnpacked(uq []int8, lane []float32, aq []int8, d []float32) float32 {
	one := archsimd.LoadInt16x16(&ones16)
	var acc archsimd.Float32x8
	for b := range d {
		x := archsimd.LoadInt8x32Slice(uq[b*qk:])
		y := archsimd.LoadInt8x32Slice(aq[b*qk:])
		s := sumPairsI8(x, y, one).ConvertToFloat32()
		w := archsimd.LoadFloat32x8Slice(lane[b*8:]).Mul(archsimd.BroadcastFloat32x8(d[b]))
		acc = s.MulAdd(w, acc)
	}
	return hsum(acc)
}

// dotUnpacked4AVX2 dots one unpacked weight row with four activations,
// loading each weight block and its |x| once for all four.
func dotUnpacked4AVX2(u *unpacked, a0, a1, a2, a3 *act, out *[4]float32) {
	nb := len(a0.d)
	vecUnpacked4(u.q[:nb*qk], u.lane[:nb*8], a0, a1, a2, a3, out)
	if u.hasMin {
		out[0] += dotF32AVX2(u.mn[:nb], a0.s[:nb])
		out[1] += dotF32AVX2(u.mn[:nb], a1.s[:nb])
		out[2] += dotF32AVX2(u.mn[:nb], a2.s[:nb])
		out[3] += dotF32AVX2(u.mn[:nb], a3.s[:nb])
	}
}

//go:noinline
func vecUnpacked4(uq []int8, lane []float32, a0, a1, a2, a3 *act, out *[4]float32) {
	nb := len(lane) / 8
	q0, q1, q2, q3 := a0.q[:nb*qk], a1.q[:nb*qk], a2.q[:nb*qk], a3.q[:nb*qk]
	d0, d1, d2, d3 := a0.d[:nb], a1.d[:nb], a2.d[:nb], a3.d[:nb]
	one := archsimd.LoadInt16x16(&ones16)
	var acc0, acc1, acc2, acc3 archsimd.Float32x8
	for b := 0; b < nb; b++ {
		x := archsimd.LoadInt8x32Slice(uq[b*qk:])
		ax := x.Abs().AsUint8x32()
		w := archsimd.LoadFloat32x8Slice(lane[b*8:])
		s0 := ax.DotProductPairsSaturated(archsimd.LoadInt8x32Slice(q0[b*qk:]).CopySign(x)).DotProductPairs(one).ConvertToFloat32()
		acc0 = s0.MulAdd(w.Mul(archsimd.BroadcastFloat32x8(d0[b])), acc0)
		s1 := ax.DotProductPairsSaturated(archsimd.LoadInt8x32Slice(q1[b*qk:]).CopySign(x)).DotProductPairs(one).ConvertToFloat32()
		acc1 = s1.MulAdd(w.Mul(archsimd.BroadcastFloat32x8(d1[b])), acc1)
		s2 := ax.DotProductPairsSaturated(archsimd.LoadInt8x32Slice(q2[b*qk:]).CopySign(x)).DotProductPairs(one).ConvertToFloat32()
		acc2 = s2.MulAdd(w.Mul(archsimd.BroadcastFloat32x8(d2[b])), acc2)
		s3 := ax.DotProductPairsSaturated(archsimd.LoadInt8x32Slice(q3[b*qk:]).CopySign(x)).DotProductPairs(one).ConvertToFloat32()
		acc3 = s3.MulAdd(w.Mul(archsimd.BroadcastFloat32x8(d3[b])), acc3)
	}
	// Reduce all four to memory before clearing the upper AVX state, which
	// would destroy any accumulator still held in a register.
	var h [16]float32
	acc0.GetLo().Add(acc0.GetHi()).StoreSlice(h[0:])
	acc1.GetLo().Add(acc1.GetHi()).StoreSlice(h[4:])
	acc2.GetLo().Add(acc2.GetHi()).StoreSlice(h[8:])
	acc3.GetLo().Add(acc3.GetHi()).StoreSlice(h[12:])
	archsimd.ClearAVXUpperBits()
	for i := range out {
		out[i] = (h[4*i] + h[4*i+1]) + (h[4*i+2] + h[4*i+3])
	}
}

func unpackQ4_0AVX2(row []byte, u *unpacked, n int) {
	u.hasMin = false
	nb := n / qk
	for b := 0; b < nb; b++ {
		d := f16fast(row[b*18:])
		u.sc[2*b], u.sc[2*b+1] = d, d
	}
	vecUnpackNibbles(row, u.q, nb, 18, 8)
}

// vecUnpackNibbles stores the nibbles of nb blocks of bb bytes (quants in
// the last 16 bytes of each block), minus off, as signed bytes.
//
//go:noinline
func vecUnpackNibbles(row []byte, q []int8, nb, bb int, off int8) {
	shift := archsimd.LoadUint32x8(&nibbleShift)
	mask := archsimd.BroadcastUint8x32(0x0f)
	sub := archsimd.BroadcastInt8x32(off)
	for b := 0; b < nb; b++ {
		nibbles(row[b*bb+bb-16:b*bb+bb], shift, mask).AsInt8x32().Sub(sub).StoreSlice(q[b*qk:])
	}
	archsimd.ClearAVXUpperBits()
}

func unpackQ4_1AVX2(row []byte, u *unpacked, n int) {
	u.hasMin = true
	nb := n / qk
	for b := 0; b < nb; b++ {
		d := f16fast(row[b*20:])
		u.sc[2*b], u.sc[2*b+1] = d, d
		u.mn[b] = f16fast(row[b*20+2:])
	}
	vecUnpackNibbles(row, u.q, nb, 20, 0)
}

func f16fast(b []byte) float32 { return halfToFloatFast(uint16(b[0]) | uint16(b[1])<<8) }
