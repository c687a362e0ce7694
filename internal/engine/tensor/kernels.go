package tensor

import "encoding/binary"

// kernelSet is one implementation of the hot loops. The portable set is
// plain Go; the AVX2 set (kernels_avx2.go) replaces some entries.
type kernelSet struct {
	name string
	// quantizeAct quantizes x (len a multiple of 32) into a, already resized.
	quantizeAct func(x []float32, a *act)
	// dotF32 returns Σ w[i]*x[i]; len(w) == len(x).
	dotF32 func(w, x []float32) float32
	// dotUnpacked returns the dot of an unpacked weight row with a
	// quantized activation.
	dotUnpacked func(u *unpacked, a *act) float32
	// dotUnpacked4, if set, dots one unpacked row with four activations
	// at once (MatMul), sharing the weight loads.
	dotUnpacked4 func(u *unpacked, a0, a1, a2, a3 *act, out *[4]float32)
	// direct maps a quantized type to a kernel that dots an encoded row
	// with a quantized activation without unpacking; nil entries use
	// unpack + dotUnpacked.
	direct [Q8_K + 1]func(row []byte, a *act) float32
	// direct4, if set for a type, dots 4·groups consecutive encoded rows
	// (stride bytes apart) with one activation, four rows at a time,
	// writing out[r] for row r.
	direct4 [Q8_K + 1]func(rows []byte, stride, groups int, a *act, out []float32)
	// mm4, if set, computes pairs pairs of Q4_0/Q4_1 rows (rows holds
	// 2·pairs rows, stride bytes apart) times four activations at once:
	// out[8p+4i+j] = row 2p+i · a[j]. as is the inputs' per-block scale
	// table (actScales), ps scratch for 8 floats per block.
	mm4 func(rows []byte, stride, pairs int, t Type, a *[4]*act, as, ps, out []float32)
	// roundHalf rounds floats to float16 precision in place.
	roundHalf func(x []float32)
	// The F16 attention kernels (attn.go).
	toHalf         func(dst []uint16, src []float32)
	scoresF16      func(sc, q []float32, k []uint16, stride int, scale float32)
	weightedSumF16 func(out, p []float32, v []uint16, stride int)
	// unpack maps a quantized type to its row unpacker.
	unpack [Q8_K + 1]unpackFunc
}

func portableKernels() *kernelSet {
	k := &kernelSet{
		name:        "portable",
		quantizeAct: quantizeActGo,
		dotF32:      dotF32Go,
		dotUnpacked: dotUnpackedGo,
		roundHalf:   roundHalfGo,

		toHalf:         toHalfGo,
		scoresF16:      scoresF16Go,
		weightedSumF16: weightedSumF16Go,
	}
	k.direct[Q4_0] = dotQ4_0Go
	k.direct[Q4_1] = dotQ4_1Go
	k.direct[Q8_0] = dotQ8_0Go
	for t := range k.unpack {
		k.unpack[t] = unpackerGo(Type(t))
	}
	return k
}

// isQuant reports whether t is a block-quantized type (dotted against a
// quantized activation).
func isQuant(t Type) bool {
	return t.Known() && t.BlockSize() > 1
}

func dotF32Go(w, x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(w); i += 4 {
		s0 += w[i] * x[i]
		s1 += w[i+1] * x[i+1]
		s2 += w[i+2] * x[i+2]
		s3 += w[i+3] * x[i+3]
	}
	for ; i < len(w); i++ {
		s0 += w[i] * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func dotUnpackedGo(u *unpacked, a *act) float32 {
	var acc float32
	for b := range a.d {
		q := u.q[b*qk : b*qk+qk]
		x := a.q[b*qk : b*qk+qk]
		var s0, s1 int32
		for j := 0; j < 16; j++ {
			s0 += int32(q[j]) * int32(x[j])
			s1 += int32(q[j+16]) * int32(x[j+16])
		}
		acc += a.d[b] * (u.sc[2*b]*float32(s0) + u.sc[2*b+1]*float32(s1))
	}
	if u.hasMin {
		for b, s := range a.s {
			acc += u.mn[b] * s
		}
	}
	return acc
}

func dotQ4_0Go(row []byte, a *act) float32 {
	var acc float32
	for b := range a.d {
		blk := row[b*18 : b*18+18]
		x := a.q[b*qk : b*qk+qk]
		var s int32
		for j := 0; j < 16; j++ {
			v := blk[2+j]
			s += int32(int8(v&0xf)-8)*int32(x[j]) + int32(int8(v>>4)-8)*int32(x[j+16])
		}
		acc += f16at(blk) * a.d[b] * float32(s)
	}
	return acc
}

func dotQ4_1Go(row []byte, a *act) float32 {
	var acc float32
	for b := range a.d {
		blk := row[b*20 : b*20+20]
		x := a.q[b*qk : b*qk+qk]
		var s int32
		for j := 0; j < 16; j++ {
			v := blk[4+j]
			s += int32(v&0xf)*int32(x[j]) + int32(v>>4)*int32(x[j+16])
		}
		acc += f16at(blk)*a.d[b]*float32(s) + f16at(blk[2:])*a.s[b]
	}
	return acc
}

func dotQ8_0Go(row []byte, a *act) float32 {
	var acc float32
	for b := range a.d {
		blk := row[b*34 : b*34+34]
		x := a.q[b*qk : b*qk+qk]
		var s int32
		for j := 0; j < 32; j++ {
			s += int32(int8(blk[2+j])) * int32(x[j])
		}
		acc += f16at(blk) * a.d[b] * float32(s)
	}
	return acc
}

// floatRowTo decodes an F16/BF16/F32 row into dst (len n) and returns it; F32
// rows are returned in place when possible.
func floatRowTo(t Type, row []byte, dst []float32) []float32 {
	switch t {
	case F32:
		return floatRow(row, dst)
	case F16:
		for i := range dst {
			dst[i] = halfToFloat(binary.LittleEndian.Uint16(row[2*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = bf16ToFloat(binary.LittleEndian.Uint16(row[2*i:]))
		}
	}
	return dst
}

// actScales fills as (16 floats per block) for four activations:
// e0 e1 e2 e3 twice, then s0 s1 s2 s3 twice, each s times sMul (−8 for
// Q4_0, whose nibbles hold q+8, so that its offset term is d·(−8s)).
func actScales(as []float32, a *[4]*act, sMul float32) {
	for b := range a[0].d {
		v := as[b*16 : b*16+16]
		for j, x := range a {
			v[j], v[4+j] = x.d[b], x.d[b]
			v[8+j], v[12+j] = x.s[b]*sMul, x.s[b]*sMul
		}
	}
}
