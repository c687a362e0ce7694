// Package tensor implements GGML's tensor element types (float and
// block-quantized formats), their scalar reference (de)quantization, and the
// matrix-vector kernels the inference engine spends its time in.
//
// A row of n elements of a block type is n/BlockSize consecutive blocks of
// BlockBytes bytes each, little-endian, with the same layouts as ggml's
// ggml-common.h. Matrices are row-major: row r of a Rows×Cols matrix starts at
// byte r*RowBytes(Cols).
//
// Quantized dot products follow ggml's approach: the activation vector is
// quantized once per call to 8-bit integers with one float scale per 32
// elements, and each weight block is multiplied with integer arithmetic.
// The scalar reference ([ReferenceDot]) dequantizes the weights and
// accumulates in float64; tests check the fast kernels against it.
//
// Two kernel sets exist: a portable one in plain Go, and an AVX2 one written
// with simd/archsimd that is compiled only with GOEXPERIMENT=simd on amd64 and
// used when the CPU supports AVX2 and FMA. [Kernels] reports which one runs.
package tensor

import (
	"errors"
	"fmt"
)

// Type is a GGML tensor element type. The numeric values are GGML's
// (ggml_type) and appear verbatim in GGUF tensor tables.
type Type uint32

// Element types with GGML's ids.
const (
	F32  Type = 0
	F16  Type = 1
	Q4_0 Type = 2
	Q4_1 Type = 3
	Q5_0 Type = 6
	Q5_1 Type = 7
	Q8_0 Type = 8
	Q8_1 Type = 9
	Q4_K Type = 12
	Q5_K Type = 13
	Q6_K Type = 14
	Q8_K Type = 15
	BF16 Type = 30
)

// Block geometry constants.
const (
	qk   = 32  // elements per block of the legacy quant types
	qkK  = 256 // elements per K-quant super-block
	kScl = 12  // bytes of packed 6-bit scales and mins in Q4_K/Q5_K
)

type typeInfo struct {
	name       string
	blockSize  int
	blockBytes int
}

// typeInfos is indexed by Type; zero entries are unknown types.
var typeInfos = [...]typeInfo{
	F32:  {"F32", 1, 4},
	F16:  {"F16", 1, 2},
	Q4_0: {"Q4_0", qk, 2 + qk/2},
	Q4_1: {"Q4_1", qk, 4 + qk/2},
	Q5_0: {"Q5_0", qk, 2 + 4 + qk/2},
	Q5_1: {"Q5_1", qk, 4 + 4 + qk/2},
	Q8_0: {"Q8_0", qk, 2 + qk},
	Q8_1: {"Q8_1", qk, 4 + qk},
	Q4_K: {"Q4_K", qkK, 4 + kScl + qkK/2},
	Q5_K: {"Q5_K", qkK, 4 + kScl + qkK/8 + qkK/2},
	Q6_K: {"Q6_K", qkK, qkK/2 + qkK/4 + qkK/16 + 2},
	Q8_K: {"Q8_K", qkK, 4 + qkK + qkK/16*2},
	BF16: {"BF16", 1, 2},
}

func (t Type) info() typeInfo {
	if int(t) < len(typeInfos) {
		return typeInfos[t]
	}
	return typeInfo{}
}

// Known reports whether t is one of the types this package implements.
func (t Type) Known() bool { return t.info().blockSize != 0 }

// String returns GGML's name for the type, or "type(N)" for unknown ids.
func (t Type) String() string {
	if in := t.info(); in.blockSize != 0 {
		return in.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockSize returns the number of elements in one block (1 for float types),
// or 0 for an unknown type.
func (t Type) BlockSize() int { return t.info().blockSize }

// BlockBytes returns the size in bytes of one block, or 0 for an unknown type.
func (t Type) BlockBytes() int { return t.info().blockBytes }

// ErrUnknownType is returned (wrapped) for types this package does not implement.
var ErrUnknownType = errors.New("unknown tensor type")

// RowBytes returns the number of bytes a row of n elements takes. It fails if
// the type is unknown, n is negative or not a multiple of the block size, or
// the size overflows int.
func (t Type) RowBytes(n int) (int, error) {
	in := t.info()
	if in.blockSize == 0 {
		return 0, fmt.Errorf("%v: %w", t, ErrUnknownType)
	}
	if n < 0 || n%in.blockSize != 0 {
		return 0, fmt.Errorf("%v: row of %d elements is not a multiple of the block size %d", t, n, in.blockSize)
	}
	blocks := n / in.blockSize
	if blocks > maxInt/in.blockBytes {
		return 0, fmt.Errorf("%v: row of %d elements overflows", t, n)
	}
	return blocks * in.blockBytes, nil
}

const maxInt = int(^uint(0) >> 1)
