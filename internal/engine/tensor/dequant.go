package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Dequantize decodes len(dst) elements of type t from src into dst. src must
// hold exactly the bytes of those elements. This is the scalar reference
// decoder; it is also what [Matrix.Row] uses.
func Dequantize(t Type, src []byte, dst []float32) error {
	n := len(dst)
	rb, err := t.RowBytes(n)
	if err != nil {
		return fmt.Errorf("dequantize: %w", err)
	}
	if len(src) != rb {
		return fmt.Errorf("dequantize %v: %d elements need %d bytes, got %d", t, n, rb, len(src))
	}
	bs, bb := t.BlockSize(), t.BlockBytes()
	switch t {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
		return nil
	case F16:
		for i := range dst {
			dst[i] = f16at(src[2*i:])
		}
		return nil
	case BF16:
		for i := range dst {
			dst[i] = bf16ToFloat(le16(src[2*i:]))
		}
		return nil
	}
	dec := blockDecoder(t)
	for b := 0; b < n/bs; b++ {
		dec(src[b*bb:(b+1)*bb], dst[b*bs:(b+1)*bs])
	}
	return nil
}

// blockDecoder returns the function that dequantizes one block of t.
func blockDecoder(t Type) func(blk []byte, y []float32) {
	switch t {
	case Q4_0:
		return decodeQ4_0
	case Q4_1:
		return decodeQ4_1
	case Q5_0:
		return decodeQ5_0
	case Q5_1:
		return decodeQ5_1
	case Q8_0:
		return decodeQ8_0
	case Q8_1:
		return decodeQ8_1
	case Q4_K:
		return decodeQ4_K
	case Q5_K:
		return decodeQ5_K
	case Q6_K:
		return decodeQ6_K
	case Q8_K:
		return decodeQ8_K
	}
	return nil
}

// Q4_0: f16 d, 16 bytes of nibbles; byte j holds element j (low) and j+16 (high).
func decodeQ4_0(blk []byte, y []float32) {
	d := f16at(blk)
	qs := blk[2:18]
	for j := 0; j < 16; j++ {
		y[j] = float32(int(qs[j]&0xf)-8) * d
		y[j+16] = float32(int(qs[j]>>4)-8) * d
	}
}

// Q4_1: f16 d, f16 m, 16 bytes of nibbles; value = q*d + m.
func decodeQ4_1(blk []byte, y []float32) {
	d, m := f16at(blk), f16at(blk[2:])
	qs := blk[4:20]
	for j := 0; j < 16; j++ {
		y[j] = float32(qs[j]&0xf)*d + m
		y[j+16] = float32(qs[j]>>4)*d + m
	}
}

// Q5_0: f16 d, 32 high bits (u32), 16 bytes of low nibbles; value = (q-16)*d.
func decodeQ5_0(blk []byte, y []float32) {
	d := f16at(blk)
	qh := binary.LittleEndian.Uint32(blk[2:])
	qs := blk[6:22]
	for j := 0; j < 16; j++ {
		h0 := byte(qh>>uint(j)) & 1
		h1 := byte(qh>>uint(j+16)) & 1
		y[j] = float32(int(qs[j]&0xf|h0<<4)-16) * d
		y[j+16] = float32(int(qs[j]>>4|h1<<4)-16) * d
	}
}

// Q5_1: f16 d, f16 m, u32 high bits, 16 bytes of low nibbles; value = q*d + m.
func decodeQ5_1(blk []byte, y []float32) {
	d, m := f16at(blk), f16at(blk[2:])
	qh := binary.LittleEndian.Uint32(blk[4:])
	qs := blk[8:24]
	for j := 0; j < 16; j++ {
		h0 := byte(qh>>uint(j)) & 1
		h1 := byte(qh>>uint(j+16)) & 1
		y[j] = float32(qs[j]&0xf|h0<<4)*d + m
		y[j+16] = float32(qs[j]>>4|h1<<4)*d + m
	}
}

// Q8_0: f16 d, 32 signed bytes.
func decodeQ8_0(blk []byte, y []float32) {
	d := f16at(blk)
	for j := 0; j < 32; j++ {
		y[j] = float32(int8(blk[2+j])) * d
	}
}

// Q8_1: f16 d, f16 s (= d*sum(q), unused here), 32 signed bytes.
func decodeQ8_1(blk []byte, y []float32) {
	d := f16at(blk)
	for j := 0; j < 32; j++ {
		y[j] = float32(int8(blk[4+j])) * d
	}
}

// scaleMinK4 unpacks the j-th 6-bit scale and min of a Q4_K/Q5_K block.
func scaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xf | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// Q4_K: f16 d, f16 dmin, 12 bytes of scales/mins, 128 bytes of nibbles in four
// 64-element chunks (low nibbles: sub-block 2c, high: 2c+1).
func decodeQ4_K(blk []byte, y []float32) {
	d, dmin := f16at(blk), f16at(blk[2:])
	scales := blk[4:16]
	q := blk[16:144]
	for c := 0; c < 4; c++ {
		sc0, m0 := scaleMinK4(2*c, scales)
		sc1, m1 := scaleMinK4(2*c+1, scales)
		d0, dm0 := d*float32(sc0), dmin*float32(m0)
		d1, dm1 := d*float32(sc1), dmin*float32(m1)
		qc := q[32*c : 32*c+32]
		yc := y[64*c:]
		for l := 0; l < 32; l++ {
			yc[l] = d0*float32(qc[l]&0xf) - dm0
			yc[l+32] = d1*float32(qc[l]>>4) - dm1
		}
	}
}

// Q5_K: like Q4_K plus 32 bytes of high bits (bit 2c and 2c+1 of qh[l] belong
// to chunk c), before the 128 bytes of nibbles.
func decodeQ5_K(blk []byte, y []float32) {
	d, dmin := f16at(blk), f16at(blk[2:])
	scales := blk[4:16]
	qh := blk[16:48]
	ql := blk[48:176]
	for c := 0; c < 4; c++ {
		sc0, m0 := scaleMinK4(2*c, scales)
		sc1, m1 := scaleMinK4(2*c+1, scales)
		d0, dm0 := d*float32(sc0), dmin*float32(m0)
		d1, dm1 := d*float32(sc1), dmin*float32(m1)
		qc := ql[32*c : 32*c+32]
		yc := y[64*c:]
		for l := 0; l < 32; l++ {
			h0 := (qh[l] >> uint(2*c)) & 1
			h1 := (qh[l] >> uint(2*c+1)) & 1
			yc[l] = d0*float32(qc[l]&0xf|h0<<4) - dm0
			yc[l+32] = d1*float32(qc[l]>>4|h1<<4) - dm1
		}
	}
}

// Q6_K: 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits), 16 int8 scales
// (one per 16 elements), f16 d; value = d*scale*(q-32).
func decodeQ6_K(blk []byte, y []float32) {
	d := f16at(blk[208:])
	for h := 0; h < 2; h++ {
		ql := blk[64*h : 64*h+64]
		qh := blk[128+32*h : 128+32*h+32]
		sc := blk[192+8*h : 192+8*h+8]
		yh := y[128*h:]
		for l := 0; l < 32; l++ {
			is := l / 16
			q1 := int(ql[l]&0xf|(qh[l]&3)<<4) - 32
			q2 := int(ql[l+32]&0xf|((qh[l]>>2)&3)<<4) - 32
			q3 := int(ql[l]>>4|((qh[l]>>4)&3)<<4) - 32
			q4 := int(ql[l+32]>>4|((qh[l]>>6)&3)<<4) - 32
			yh[l] = d * float32(int8(sc[is])) * float32(q1)
			yh[l+32] = d * float32(int8(sc[is+2])) * float32(q2)
			yh[l+64] = d * float32(int8(sc[is+4])) * float32(q3)
			yh[l+96] = d * float32(int8(sc[is+6])) * float32(q4)
		}
	}
}

// Q8_K: f32 d, 256 signed bytes, 16 int16 block sums (ignored when decoding).
func decodeQ8_K(blk []byte, y []float32) {
	d := math.Float32frombits(binary.LittleEndian.Uint32(blk))
	for j := 0; j < 256; j++ {
		y[j] = float32(int8(blk[4+j])) * d
	}
}
