package tensor

import (
	"encoding/binary"
	"math"
)

// halfToFloat converts an IEEE 754 binary16 value to float32.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal half: value = mant * 2^-24, exactly representable.
	f := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		return -f
	}
	return f
}

// floatToHalf converts a float32 to binary16, rounding to nearest even.
func floatToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff { // Inf or NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00 // overflow to Inf
	}
	if e <= 0 {
		if e < -10 {
			return sign // underflow to zero
		}
		// Subnormal: shift the mantissa with its implicit bit.
		mant |= 0x800000
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		r := mant >> shift
		rem := mant & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, which is the correct rounding
	}
	return sign | uint16(r)
}

// halfToFloatFast converts a finite binary16 value to float32 without
// branches, so it inlines into the kernels: shifting the exponent and
// mantissa into place and multiplying by 2^112 rebiases normal and
// subnormal values exactly. Inf and NaN come out as large finite values,
// which only matters for corrupt weights.
func halfToFloatFast(h uint16) float32 {
	f := math.Float32frombits(uint32(h&0x7fff)<<13) * 0x1p112
	return math.Float32frombits(math.Float32bits(f) | uint32(h&0x8000)<<16)
}

// bf16ToFloat converts a bfloat16 value to float32.
func bf16ToFloat(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// floatToBF16 converts a float32 to bfloat16, rounding to nearest even.
func floatToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN: keep it quiet
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }

func f16at(b []byte) float32 { return halfToFloat(binary.LittleEndian.Uint16(b)) }

func putF16(b []byte, f float32) { binary.LittleEndian.PutUint16(b, floatToHalf(f)) }

// RoundToHalf rounds every element of x to the nearest float16 value (kept
// as float32), as storing and reloading it in half precision would.
func RoundToHalf(x []float32) { fastKernels.roundHalf(x) }

// fastKernels is the kernel set for this build and CPU, chosen once.
var fastKernels = bestKernels()

func roundHalfGo(x []float32) {
	for i, v := range x {
		x[i] = halfToFloat(floatToHalf(v))
	}
}
