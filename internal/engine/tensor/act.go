package tensor

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// act is an activation vector prepared for dot products: the float values
// for float weight types, or 8-bit integers with one scale per 32 elements
// for quantized weight types (like ggml's Q8_0/Q8_1).
type act struct {
	x []float32 // float input, for float weight types
	q []int8    // quantized values
	d []float32 // scale of each block of 32
	s []float32 // d * sum(q) of each block of 32 (for types with a min)
}

// resize makes a's buffers hold n elements, reusing capacity.
func (a *act) resize(n int) {
	a.q = grow(a.q, n)
	a.d = grow(a.d, n/qk)
	a.s = grow(a.s, n/qk)
}

func grow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}

// quantizeActGo is the portable activation quantizer. len(x) must be a
// multiple of 32 and a sized by resize.
func quantizeActGo(x []float32, a *act) {
	for b := 0; b < len(x)/qk; b++ {
		xb := x[b*qk : b*qk+qk]
		var amax float32
		for _, v := range xb {
			amax = max(amax, abs32(v))
		}
		d := amax / 127
		id := inv(d)
		qb := a.q[b*qk : b*qk+qk]
		var sum int32
		for j, v := range xb {
			q := int8(math.Round(float64(v * id)))
			qb[j] = q
			sum += int32(q)
		}
		a.d[b] = d
		a.s[b] = d * float32(sum)
	}
}

// unpacked is one weight row of a quantized type expanded to one signed byte
// per element, with a float scale per 16 elements and, for types with a
// minimum, a float coefficient per 32 elements that multiplies the
// activation block sum:
//
//	row·x ≈ Σ_g sc[g]·d8(g)·Σ_{i∈g} q[i]·q8[i] + Σ_b mn[b]·s8[b]
//
// MatMul unpacks each weight row once and reuses it for every input row.
type unpacked struct {
	q      []int8
	sc     []float32 // per 16 elements
	mn     []float32 // per 32 elements, valid if hasMin
	hasMin bool
	f      []float32 // float row, for float types
	// lane repeats each sc entry four times (one per int32 lane of an
	// AVX2 block sum); only the AVX2 kernels fill and read it.
	lane []float32
}

func (u *unpacked) resize(n int) {
	u.q = grow(u.q, n)
	u.sc = grow(u.sc, n/16)
	u.mn = grow(u.mn, n/qk)
	u.lane = grow(u.lane, n/4)
}

// unpackFunc expands one encoded row of n elements into u (already resized).
type unpackFunc func(row []byte, u *unpacked, n int)

func unpackerGo(t Type) unpackFunc {
	switch t {
	case Q4_0:
		return unpackQ4_0
	case Q4_1:
		return unpackQ4_1
	case Q5_0, Q5_1:
		return unpackQ5
	case Q8_0:
		return unpackQ8_0
	case Q8_1:
		return unpackQ8_1
	case Q4_K, Q5_K:
		return unpackQ45K
	case Q6_K:
		return unpackQ6_K
	case Q8_K:
		return unpackQ8_K
	}
	return nil
}

func unpackQ4_0(row []byte, u *unpacked, n int) {
	u.hasMin = false
	for b := 0; b < n/qk; b++ {
		blk := row[b*18:]
		d := f16at(blk)
		u.sc[2*b], u.sc[2*b+1] = d, d
		q := u.q[b*qk:]
		for j := 0; j < 16; j++ {
			q[j] = int8(blk[2+j]&0xf) - 8
			q[j+16] = int8(blk[2+j]>>4) - 8
		}
	}
}

func unpackQ4_1(row []byte, u *unpacked, n int) {
	u.hasMin = true
	for b := 0; b < n/qk; b++ {
		blk := row[b*20:]
		d := f16at(blk)
		u.sc[2*b], u.sc[2*b+1] = d, d
		u.mn[b] = f16at(blk[2:])
		q := u.q[b*qk:]
		for j := 0; j < 16; j++ {
			q[j] = int8(blk[4+j] & 0xf)
			q[j+16] = int8(blk[4+j] >> 4)
		}
	}
}

// unpackQ5 handles Q5_0 (symmetric, offset 16) and Q5_1 (with a min); the
// row length tells them apart (22 vs 24 bytes per block).
func unpackQ5(row []byte, u *unpacked, n int) {
	nb := n / qk
	bb := len(row) / max(nb, 1)
	withMin := bb == 24
	u.hasMin = withMin
	var off int8 = 16
	hq := 2
	if withMin {
		off, hq = 0, 4
	}
	for b := 0; b < nb; b++ {
		blk := row[b*bb:]
		d := f16at(blk)
		u.sc[2*b], u.sc[2*b+1] = d, d
		if withMin {
			u.mn[b] = f16at(blk[2:])
		}
		qh := binary.LittleEndian.Uint32(blk[hq:])
		qs := blk[hq+4:]
		q := u.q[b*qk:]
		for j := 0; j < 16; j++ {
			h0 := byte(qh>>uint(j)) & 1
			h1 := byte(qh>>uint(j+16)) & 1
			q[j] = int8(qs[j]&0xf|h0<<4) - off
			q[j+16] = int8(qs[j]>>4|h1<<4) - off
		}
	}
}

func unpackQ8_0(row []byte, u *unpacked, n int) {
	u.hasMin = false
	for b := 0; b < n/qk; b++ {
		blk := row[b*34:]
		d := f16at(blk)
		u.sc[2*b], u.sc[2*b+1] = d, d
		copy(u.q[b*qk:b*qk+qk], bytesAsInt8(blk[2:34]))
	}
}

func unpackQ8_1(row []byte, u *unpacked, n int) {
	u.hasMin = false
	for b := 0; b < n/qk; b++ {
		blk := row[b*36:]
		d := f16at(blk)
		u.sc[2*b], u.sc[2*b+1] = d, d
		copy(u.q[b*qk:b*qk+qk], bytesAsInt8(blk[4:36]))
	}
}

// unpackQ45K handles Q4_K (144-byte blocks) and Q5_K (176-byte blocks).
func unpackQ45K(row []byte, u *unpacked, n int) {
	u.hasMin = true
	nb := n / qkK
	bb := len(row) / max(nb, 1)
	five := bb == 176
	for b := 0; b < nb; b++ {
		blk := row[b*bb:]
		d, dmin := f16at(blk), f16at(blk[2:])
		scales := blk[4:16]
		var qh, ql []byte
		if five {
			qh, ql = blk[16:48], blk[48:176]
		} else {
			ql = blk[16:144]
		}
		q := u.q[b*qkK:]
		for c := 0; c < 4; c++ {
			for h := 0; h < 2; h++ {
				s := 2*c + h
				sc, m := scaleMinK4(s, scales)
				g := b*16 + 2*s
				u.sc[g] = d * float32(sc)
				u.sc[g+1] = u.sc[g]
				u.mn[b*8+s] = -dmin * float32(m)
			}
			qc := ql[32*c:]
			for l := 0; l < 32; l++ {
				lo, hi := qc[l]&0xf, qc[l]>>4
				if five {
					lo |= ((qh[l] >> uint(2*c)) & 1) << 4
					hi |= ((qh[l] >> uint(2*c+1)) & 1) << 4
				}
				q[64*c+l] = int8(lo)
				q[64*c+32+l] = int8(hi)
			}
		}
	}
}

func unpackQ6_K(row []byte, u *unpacked, n int) {
	u.hasMin = false
	for b := 0; b < n/qkK; b++ {
		blk := row[b*210:]
		d := f16at(blk[208:])
		for s := 0; s < 16; s++ {
			u.sc[b*16+s] = d * float32(int8(blk[192+s]))
		}
		q := u.q[b*qkK:]
		for h := 0; h < 2; h++ {
			ql := blk[64*h:]
			qh := blk[128+32*h:]
			qq := q[128*h:]
			for l := 0; l < 32; l++ {
				qq[l] = int8(ql[l]&0xf|(qh[l]&3)<<4) - 32
				qq[l+32] = int8(ql[l+32]&0xf|((qh[l]>>2)&3)<<4) - 32
				qq[l+64] = int8(ql[l]>>4|((qh[l]>>4)&3)<<4) - 32
				qq[l+96] = int8(ql[l+32]>>4|((qh[l]>>6)&3)<<4) - 32
			}
		}
	}
}

func unpackQ8_K(row []byte, u *unpacked, n int) {
	u.hasMin = false
	for b := 0; b < n/qkK; b++ {
		blk := row[b*292:]
		d := math.Float32frombits(binary.LittleEndian.Uint32(blk))
		for s := 0; s < 16; s++ {
			u.sc[b*16+s] = d
		}
		copy(u.q[b*qkK:b*qkK+qkK], bytesAsInt8(blk[4:260]))
	}
}

func bytesAsInt8(b []byte) []int8 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*int8)(unsafe.Pointer(&b[0])), len(b))
}

// littleEndian reports whether the machine stores integers little-endian,
// which lets F32 rows be read in place.
func littleEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}

// floatRow returns the F32 row as a []float32, in place when possible.
func floatRow(row []byte, scratch []float32) []float32 {
	n := len(row) / 4
	if n > 0 && littleEndian() && uintptr(unsafe.Pointer(&row[0]))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&row[0])), n)
	}
	for i := 0; i < n; i++ {
		scratch[i] = math.Float32frombits(binary.LittleEndian.Uint32(row[4*i:]))
	}
	return scratch[:n]
}
