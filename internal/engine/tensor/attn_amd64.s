//go:build goexperiment.simd && amd64

#include "textflag.h"

// Attention kernels over a half-precision (F16) KV cache (AVX2, FMA,
// F16C). Keys and values of consecutive positions are stride elements
// apart; hd is the head dimension.

// func toHalfAVX2(dst *uint16, src *float32, n int)
//
// Converts n floats (a multiple of 8) to F16, rounding to nearest even.
TEXT ·toHalfAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JEQ thdone
thloop:
	VMOVUPS (SI), Y0
	VCVTPS2PH $0, Y0, X0
	VMOVDQU X0, (DI)
	ADDQ $32, SI
	ADDQ $16, DI
	DECQ CX
	JNE thloop
thdone:
	VZEROUPPER
	RET

// func scoresF16AVX2(sc, q *float32, k *uint16, n, stride, hd int, scale float32)
//
// sc[t] = scale · q·k_t for t < n (n a multiple of 4, hd of 8), four
// positions at a time: Y0-Y3 accumulate positions t..t+3 over the head's
// chunks of eight, then one transpose-add gives the four dot products.
TEXT ·scoresF16AVX2(SB), NOSPLIT, $0-52
	MOVQ sc+0(FP), DI
	MOVQ q+8(FP), SI
	MOVQ k+16(FP), BX
	MOVQ n+24(FP), CX
	MOVQ stride+32(FP), DX
	SHLQ $1, DX // bytes per position
	MOVQ hd+40(FP), R8
	VBROADCASTSS scale+48(FP), X10
	SHRQ $2, CX
	JEQ scdone
	LEAQ (DX)(DX*2), R11 // 3·stride bytes
scloop:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ AX, AX // element offset within the head
	MOVQ BX, R9 // k of position t, chunk AX
scchunk:
	VMOVUPS (SI)(AX*4), Y4
	VCVTPH2PS (R9), Y5
	VFMADD231PS Y5, Y4, Y0
	VCVTPH2PS (R9)(DX*1), Y6
	VFMADD231PS Y6, Y4, Y1
	VCVTPH2PS (R9)(DX*2), Y7
	VFMADD231PS Y7, Y4, Y2
	VCVTPH2PS (R9)(R11*1), Y8
	VFMADD231PS Y8, Y4, Y3
	ADDQ $16, R9
	ADDQ $8, AX
	CMPQ AX, R8
	JLT scchunk
	VHADDPS Y1, Y0, Y0
	VHADDPS Y3, Y2, Y2
	VHADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMULPS X10, X0, X0
	VMOVUPS X0, (DI)
	ADDQ $16, DI
	LEAQ (BX)(DX*4), BX
	DECQ CX
	JNE scloop
scdone:
	VZEROUPPER
	RET

// func weightedSumF16AVX2(out, p *float32, v *uint16, n, stride, hd int)
//
// out = Σ_{t<n} p[t]·v_t, for hd a multiple of 32: Y0-Y3 accumulate 32
// outputs over all positions, then the next 32.
TEXT ·weightedSumF16AVX2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ p+8(FP), SI
	MOVQ v+16(FP), BX
	MOVQ n+24(FP), CX
	MOVQ stride+32(FP), DX
	SHLQ $1, DX
	MOVQ hd+40(FP), R8
	SHRQ $5, R8 // blocks of 32
	JEQ wsdone
wsblock:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ BX, R9
	XORQ AX, AX
	TESTQ CX, CX
	JEQ wsstore
wspos:
	VBROADCASTSS (SI)(AX*4), Y8
	VCVTPH2PS (R9), Y4
	VFMADD231PS Y4, Y8, Y0
	VCVTPH2PS 16(R9), Y5
	VFMADD231PS Y5, Y8, Y1
	VCVTPH2PS 32(R9), Y6
	VFMADD231PS Y6, Y8, Y2
	VCVTPH2PS 48(R9), Y7
	VFMADD231PS Y7, Y8, Y3
	ADDQ DX, R9
	INCQ AX
	CMPQ AX, CX
	JLT wspos
wsstore:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, DI
	ADDQ $64, BX
	DECQ R8
	JNE wsblock
wsdone:
	VZEROUPPER
	RET
