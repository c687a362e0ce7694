package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Quantize encodes src as type t. len(src) must be a multiple of t's block
// size. The encoders are simple round-to-nearest reference quantizers (no
// importance matrix, no iterative scale search), good enough to build test
// weights and synthetic models; every type except Q8_1 is supported.
func Quantize(t Type, src []float32) ([]byte, error) {
	rb, err := t.RowBytes(len(src))
	if err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	dst := make([]byte, rb)
	switch t {
	case F32:
		for i, v := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
		}
		return dst, nil
	case F16:
		for i, v := range src {
			putF16(dst[2*i:], v)
		}
		return dst, nil
	case BF16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], floatToBF16(v))
		}
		return dst, nil
	}
	var enc func(x []float32, blk []byte)
	switch t {
	case Q4_0:
		enc = encodeQ4_0
	case Q4_1:
		enc = encodeQ4_1
	case Q5_0:
		enc = encodeQ5_0
	case Q5_1:
		enc = encodeQ5_1
	case Q8_0:
		enc = encodeQ8_0
	case Q4_K:
		enc = encodeQ4_K
	case Q5_K:
		enc = encodeQ5_K
	case Q6_K:
		enc = encodeQ6_K
	case Q8_K:
		enc = encodeQ8_K
	default:
		return nil, fmt.Errorf("quantize %v: not supported", t)
	}
	bs, bb := t.BlockSize(), t.BlockBytes()
	for b := 0; b < len(src)/bs; b++ {
		enc(src[b*bs:(b+1)*bs], dst[b*bb:(b+1)*bb])
	}
	return dst, nil
}

// signedMax returns the element with the largest magnitude, keeping its sign.
func signedMax(x []float32) float32 {
	var amax, m float32
	for _, v := range x {
		if a := abs32(v); a > amax {
			amax, m = a, v
		}
	}
	return m
}

func minMax(x []float32) (lo, hi float32) {
	lo, hi = x[0], x[0]
	for _, v := range x[1:] {
		lo = min(lo, v)
		hi = max(hi, v)
	}
	return lo, hi
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

func inv(d float32) float32 {
	if d == 0 {
		return 0
	}
	return 1 / d
}

// clampRound rounds v to the nearest integer and clamps it to [lo, hi].
func clampRound(v float32, lo, hi int) int {
	r := int(math.Round(float64(v)))
	return min(max(r, lo), hi)
}

func encodeQ4_0(x []float32, blk []byte) {
	d := signedMax(x) / -8
	id := inv(d)
	putF16(blk, d)
	for j := 0; j < 16; j++ {
		a := clampRound(x[j]*id+8, 0, 15)
		b := clampRound(x[j+16]*id+8, 0, 15)
		blk[2+j] = byte(a | b<<4)
	}
}

func encodeQ4_1(x []float32, blk []byte) {
	lo, hi := minMax(x)
	d := (hi - lo) / 15
	id := inv(d)
	putF16(blk, d)
	putF16(blk[2:], lo)
	for j := 0; j < 16; j++ {
		a := clampRound((x[j]-lo)*id, 0, 15)
		b := clampRound((x[j+16]-lo)*id, 0, 15)
		blk[4+j] = byte(a | b<<4)
	}
}

func encodeQ5_0(x []float32, blk []byte) {
	d := signedMax(x) / -16
	id := inv(d)
	putF16(blk, d)
	var qh uint32
	for j := 0; j < 16; j++ {
		a := clampRound(x[j]*id+16, 0, 31)
		b := clampRound(x[j+16]*id+16, 0, 31)
		blk[6+j] = byte(a&0xf | (b&0xf)<<4)
		qh |= uint32(a>>4) << uint(j)
		qh |= uint32(b>>4) << uint(j+16)
	}
	binary.LittleEndian.PutUint32(blk[2:], qh)
}

func encodeQ5_1(x []float32, blk []byte) {
	lo, hi := minMax(x)
	d := (hi - lo) / 31
	id := inv(d)
	putF16(blk, d)
	putF16(blk[2:], lo)
	var qh uint32
	for j := 0; j < 16; j++ {
		a := clampRound((x[j]-lo)*id, 0, 31)
		b := clampRound((x[j+16]-lo)*id, 0, 31)
		blk[8+j] = byte(a&0xf | (b&0xf)<<4)
		qh |= uint32(a>>4) << uint(j)
		qh |= uint32(b>>4) << uint(j+16)
	}
	binary.LittleEndian.PutUint32(blk[4:], qh)
}

func encodeQ8_0(x []float32, blk []byte) {
	var amax float32
	for _, v := range x {
		amax = max(amax, abs32(v))
	}
	d := amax / 127
	id := inv(d)
	putF16(blk, d)
	for j, v := range x {
		blk[2+j] = byte(int8(clampRound(v*id, -127, 127)))
	}
}

// packScalesK4 packs eight 6-bit scales and mins into Q4_K's 12-byte layout
// (the inverse of scaleMinK4).
func packScalesK4(sc, m *[8]uint8, out []byte) {
	clear(out[:12])
	for j := 0; j < 8; j++ {
		if j < 4 {
			out[j] |= sc[j] & 63
			out[j+4] |= m[j] & 63
			continue
		}
		out[j+4] |= sc[j]&0xf | (m[j]&0xf)<<4
		out[j-4] |= (sc[j] >> 4) << 6
		out[j] |= (m[j] >> 4) << 6
	}
}

// kScalesMins chooses per-32 scales and mins for an asymmetric K-quant with
// levels 0..maxQ, quantizes them to 6 bits, and returns the effective
// per-sub-block scale and min used to quantize the values.
func kScalesMins(x []float32, maxQ float32, blk []byte) (effD, effM [8]float32) {
	var scale, mins [8]float32
	var maxScale, maxMin float32
	for s := 0; s < 8; s++ {
		lo, hi := minMax(x[32*s : 32*s+32])
		lo = min(lo, 0) // the stored min is subtracted, so it must be <= 0
		scale[s] = (hi - lo) / maxQ
		mins[s] = -lo
		maxScale = max(maxScale, scale[s])
		maxMin = max(maxMin, mins[s])
	}
	d, dmin := maxScale/63, maxMin/63
	putF16(blk, d)
	putF16(blk[2:], dmin)
	d, dmin = f16at(blk), f16at(blk[2:]) // use the values the decoder will see
	var sc, m [8]uint8
	for s := 0; s < 8; s++ {
		sc[s] = uint8(clampRound(scale[s]*inv(d), 0, 63))
		m[s] = uint8(clampRound(mins[s]*inv(dmin), 0, 63))
		effD[s] = d * float32(sc[s])
		effM[s] = dmin * float32(m[s])
	}
	packScalesK4(&sc, &m, blk[4:16])
	return effD, effM
}

func encodeQ4_K(x []float32, blk []byte) {
	effD, effM := kScalesMins(x, 15, blk)
	q := blk[16:144]
	for c := 0; c < 4; c++ {
		for l := 0; l < 32; l++ {
			a := clampRound((x[64*c+l]+effM[2*c])*inv(effD[2*c]), 0, 15)
			b := clampRound((x[64*c+32+l]+effM[2*c+1])*inv(effD[2*c+1]), 0, 15)
			q[32*c+l] = byte(a | b<<4)
		}
	}
}

func encodeQ5_K(x []float32, blk []byte) {
	effD, effM := kScalesMins(x, 31, blk)
	qh := blk[16:48]
	ql := blk[48:176]
	clear(qh)
	for c := 0; c < 4; c++ {
		for l := 0; l < 32; l++ {
			a := clampRound((x[64*c+l]+effM[2*c])*inv(effD[2*c]), 0, 31)
			b := clampRound((x[64*c+32+l]+effM[2*c+1])*inv(effD[2*c+1]), 0, 31)
			ql[32*c+l] = byte(a&0xf | (b&0xf)<<4)
			qh[l] |= byte(a>>4)<<uint(2*c) | byte(b>>4)<<uint(2*c+1)
		}
	}
}

func encodeQ6_K(x []float32, blk []byte) {
	var scale [16]float32
	var maxAbs, maxScale float32
	for s := 0; s < 16; s++ {
		scale[s] = signedMax(x[16*s:16*s+16]) / -32
		if a := abs32(scale[s]); a > maxAbs {
			maxAbs, maxScale = a, scale[s]
		}
	}
	d := maxScale / -128
	putF16(blk[208:], d)
	d = f16at(blk[208:])
	var q [256]int
	for s := 0; s < 16; s++ {
		sc := clampRound(scale[s]*inv(d), -128, 127)
		blk[192+s] = byte(int8(sc))
		eff := d * float32(sc)
		for i := 0; i < 16; i++ {
			q[16*s+i] = clampRound(x[16*s+i]*inv(eff), -32, 31) + 32
		}
	}
	for h := 0; h < 2; h++ {
		ql := blk[64*h : 64*h+64]
		qh := blk[128+32*h : 128+32*h+32]
		qq := q[128*h:]
		for l := 0; l < 32; l++ {
			q1, q2, q3, q4 := qq[l], qq[l+32], qq[l+64], qq[l+96]
			ql[l] = byte(q1&0xf | (q3&0xf)<<4)
			ql[l+32] = byte(q2&0xf | (q4&0xf)<<4)
			qh[l] = byte(q1>>4 | (q2>>4)<<2 | (q3>>4)<<4 | (q4>>4)<<6)
		}
	}
}

func encodeQ8_K(x []float32, blk []byte) {
	m := signedMax(x)
	if m == 0 {
		clear(blk)
		return
	}
	is := -127 / m
	binary.LittleEndian.PutUint32(blk, math.Float32bits(1/is))
	for j := 0; j < 256; j++ {
		blk[4+j] = byte(int8(clampRound(is*x[j], -128, 127)))
	}
	for s := 0; s < 16; s++ {
		var sum int16
		for i := 0; i < 16; i++ {
			sum += int16(int8(blk[4+16*s+i]))
		}
		binary.LittleEndian.PutUint16(blk[260+2*s:], uint16(sum))
	}
}
