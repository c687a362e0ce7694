//go:build goexperiment.simd && amd64

#include "textflag.h"

// Four-row quantized dot kernels for matrix-vector products (AVX2, FMA,
// F16C). Each call dots four consecutive encoded weight rows (stride bytes
// apart) with one quantized activation: aq holds 32 signed bytes per block,
// ad the block scales, as the block sums d·Σq. The loops are vector-only
// (VEX-encoded, scalar steps included), so no legacy-SSE transition
// penalty applies, and the four rows share each activation block load.
//
// Register use: Y15 nibble mask, Y14 int16 ones, Y13 activation block,
// Y12 broadcast activation scale, Y11 the nibble shift counts, Y0-Y3
// per-row accumulators, X4-X7 per-row min/offset terms (lane 0), Y8-Y10
// temporaries.

DATA nibmask<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA nibmask<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA nibmask<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA nibmask<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL nibmask<>(SB), RODATA|NOPTR, $32

// nibshift shifts the upper 128-bit lane's dwords right by 4 and leaves the
// lower lane's alone: with the 16 nibble bytes in both lanes, that puts the
// high nibbles (elements 16-31) in the upper lane after masking.
DATA nibshift<>+0(SB)/8, $0
DATA nibshift<>+8(SB)/8, $0
DATA nibshift<>+16(SB)/8, $0x0000000400000004
DATA nibshift<>+24(SB)/8, $0x0000000400000004
GLOBL nibshift<>(SB), RODATA|NOPTR, $32

DATA ones16<>+0(SB)/8, $0x0001000100010001
DATA ones16<>+8(SB)/8, $0x0001000100010001
DATA ones16<>+16(SB)/8, $0x0001000100010001
DATA ones16<>+24(SB)/8, $0x0001000100010001
GLOBL ones16<>(SB), RODATA|NOPTR, $32

// IDOT sets t to the eight int32 sums of four products of unsigned bytes w
// and signed bytes a each: with AVX2 through 16-bit pairs (VPMADDUBSW, then
// VPMADDWD with ones, which cannot saturate for 4-bit or sign-adjusted
// 8-bit weights), with AVX-512 VNNI in one instruction (VPDPBUSD, EVEX on
// 256-bit registers). The sums are the same integers either way.
#define IDOT_AVX2(w, a, t) \
	VPMADDUBSW a, w, t; \
	VPMADDWD Y14, t, t

#define IDOT_VNNI(w, a, t) \
	VPXOR t, t, t; \
	VPDPBUSD a, w, t

// Q4ROW dots the 16 nibble bytes at qoff(ptr) with Y13, scales by the F16
// weight scale at 0(ptr) times Y12 and accumulates into acc; then adds the
// F16 value at moff(ptr) times the activation block sum (R9) into macc.
#define Q4ROW(IDOT, ptr, qoff, moff, acc, macc) \
	VBROADCASTI128 qoff(ptr), Y8; \
	VPSRLVD Y11, Y8, Y8; \
	VPAND Y15, Y8, Y8; \
	IDOT(Y8, Y13, Y10); \
	VCVTDQ2PS Y10, Y10; \
	VPBROADCASTW 0(ptr), X9; \
	VCVTPH2PS X9, Y9; \
	VMULPS Y12, Y9, Y9; \
	VFMADD231PS Y9, Y10, acc; \
	VPBROADCASTW moff(ptr), X10; \
	VCVTPH2PS X10, X10; \
	VFMADD231SS (R9), X10, macc

// HSUM4 reduces acc (8 lanes) plus lane 0 of macc into lane 0 of xacc (the
// X half of acc) and stores it at off(DI).
//
// The additions run in the same order as mmQ4x2x4's final sums, so that a
// row times an input gives the same bits through either kernel, whatever
// the batch it was part of.
#define HSUM4(acc, xacc, macc, off) \
	VHADDPS acc, acc, acc; \
	VHADDPS acc, acc, acc; \
	VEXTRACTF128 $1, acc, X8; \
	VADDSS X8, xacc, xacc; \
	VADDSS macc, xacc, xacc; \
	VMOVSS xacc, off(DI)

// Q4X4SETUP loads what stays fixed over all groups of four rows: the
// constants and R12, the prefetch distance (four groups ahead). The current
// group's rows (wb), output (outp) and the groups left live in the frame.
#define Q4X4SETUP \
	MOVQ stride+8(FP), R12; \
	SHLQ $4, R12; \
	VMOVDQU nibmask<>(SB), Y15; \
	VMOVDQU ones16<>(SB), Y14; \
	VMOVDQU nibshift<>(SB), Y11; \
	MOVQ w+0(FP), SI; \
	MOVQ SI, wb-8(SP); \
	MOVQ out+56(FP), SI; \
	MOVQ SI, outp-16(SP); \
	MOVQ groups+24(FP), SI; \
	MOVQ SI, left-24(SP)

// Q4X4GROUP starts a group: its four row pointers, the activation, cleared
// accumulators.
#define Q4X4GROUP \
	MOVQ wb-8(SP), SI; \
	MOVQ stride+8(FP), DX; \
	MOVQ nb+16(FP), CX; \
	MOVQ aq+32(FP), BX; \
	MOVQ ad+40(FP), R8; \
	MOVQ as+48(FP), R9; \
	LEAQ (SI)(DX*2), R10; \
	LEAQ (R10)(DX*1), R11; \
	LEAQ (SI)(DX*1), DX; \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3; \
	VXORPS Y4, Y4, Y4; \
	VXORPS Y5, Y5, Y5; \
	VXORPS Y6, Y6, Y6; \
	VXORPS Y7, Y7, Y7

// Q4X4NEXT stores nothing; it advances to the next group and loops to
// label while groups are left.
#define Q4X4NEXT(label) \
	ADDQ $16, DI; \
	MOVQ DI, outp-16(SP); \
	MOVQ wb-8(SP), SI; \
	MOVQ stride+8(FP), DX; \
	LEAQ (SI)(DX*4), SI; \
	MOVQ SI, wb-8(SP); \
	DECQ left-24(SP); \
	JNE label

// Q4X4STEP runs one block of four rows: prefetch, load the activation
// block and its scale, four Q4ROWs, advance by bb bytes.
#define Q4X4STEP(IDOT, qoff, moff, bb) \
	PREFETCHT0 (SI)(R12*1); \
	PREFETCHT0 (DX)(R12*1); \
	PREFETCHT0 (R10)(R12*1); \
	PREFETCHT0 (R11)(R12*1); \
	VMOVDQU (BX), Y13; \
	VBROADCASTSS (R8), Y12; \
	Q4ROW(IDOT, SI, qoff, moff, Y0, X4); \
	Q4ROW(IDOT, DX, qoff, moff, Y1, X5); \
	Q4ROW(IDOT, R10, qoff, moff, Y2, X6); \
	Q4ROW(IDOT, R11, qoff, moff, Y3, X7); \
	ADDQ $bb, SI; \
	ADDQ $bb, DX; \
	ADDQ $bb, R10; \
	ADDQ $bb, R11; \
	ADDQ $32, BX; \
	ADDQ $4, R8; \
	ADDQ $4, R9

// X4EPI stores the group's four sums at outp (DI).
#define X4EPI \
	MOVQ outp-16(SP), DI; \
	HSUM4(Y0, X0, X4, 0); \
	HSUM4(Y1, X1, X5, 4); \
	HSUM4(Y2, X2, X6, 8); \
	HSUM4(Y3, X3, X7, 12)

// Q8ROW dots the 32 signed bytes at 2(ptr) with Y13 (|w| unsigned times
// sign-adjusted activation), scales by the F16 scale at 0(ptr) times Y12
// and accumulates into acc.
#define Q8ROW(IDOT, ptr, acc) \
	VMOVDQU 2(ptr), Y8; \
	VPABSB Y8, Y9; \
	VPSIGNB Y8, Y13, Y10; \
	IDOT(Y9, Y10, Y8); \
	VCVTDQ2PS Y8, Y8; \
	VPBROADCASTW 0(ptr), X10; \
	VCVTPH2PS X10, Y10; \
	VMULPS Y12, Y10, Y10; \
	VFMADD231PS Y10, Y8, acc

#define Q8X4STEP(IDOT) \
	PREFETCHT0 (SI)(R12*1); \
	PREFETCHT0 (DX)(R12*1); \
	PREFETCHT0 (R10)(R12*1); \
	PREFETCHT0 (R11)(R12*1); \
	VMOVDQU (BX), Y13; \
	VBROADCASTSS (R8), Y12; \
	Q8ROW(IDOT, SI, Y0); \
	Q8ROW(IDOT, DX, Y1); \
	Q8ROW(IDOT, R10, Y2); \
	Q8ROW(IDOT, R11, Y3); \
	ADDQ $34, SI; \
	ADDQ $34, DX; \
	ADDQ $34, R10; \
	ADDQ $34, R11; \
	ADDQ $32, BX; \
	ADDQ $4, R8

// MMPROD accumulates decoded row w times the activation block a, scaled
// by the product at off(AX), into acc.
#define MMPROD(IDOT, w, a, off, acc) \
	IDOT(w, a, Y10); \
	VCVTDQ2PS Y10, Y10; \
	VBROADCASTSS off(AX), Y13; \
	VFMADD231PS Y13, Y10, acc

// func mmQ4x2x4(w *byte, stride, bb, moff, nb, pairs int, a0, a1, a2, a3 *int8, as, ps, out *float32)
//
// The batched (prefill) kernel: pairs pairs of Q4_0/Q4_1 weight rows (w
// points at the first block of row 0, rows stride bytes apart, blocks bb bytes apart with
// the F16 scale first and the 16 nibble bytes last) times four quantized
// activations. Each weight block is decoded once for the four inputs, each
// activation block loaded once per row. The activation scales come from a
// table of 16 floats per block, built by the caller:
//
//	as[b] = e0 e1 e2 e3 e0 e1 e2 e3  s0 s1 s2 s3 s0 s1 s2 s3   (inputs 0-3)
//
// The kernel builds the matching weight vectors d0×4 d1×4 and m0×4 m1×4
// from the F16 scale and the F16 value at moff (Q4_1's minimum; for Q4_0
// the caller passes moff 0 and s scaled by −8), so one vector multiply
// gives the block's eight d·e products and one FMA accumulates its eight
// m·s terms. out[8p+4i+j] is row 2p+i times input j. Y0-Y7 accumulate row i,
// input j in Y(4i+j); Y8, Y9 hold the decoded rows; Y12 the m·s terms.
//
// A first pass (MMSCALE) writes every block's eight products to ps (8
// floats per block) and accumulates the m·s terms; the second (MMSTEP)
// decodes the weights and broadcasts each product from ps. Broadcasting
// from a vector just stored would wait on store forwarding every block.
// MMSETUP loads what stays fixed over all row pairs; the current pair's
// rows (wb), output (outp) and the pairs left live in the frame.
#define MMSETUP \
	MOVQ bb+16(FP), DX; \
	MOVQ moff+24(FP), R12; \
	MOVQ DX, R13; \
	SUBQ $16, R13; \
	VMOVDQU nibmask<>(SB), Y15; \
	VMOVDQU ones16<>(SB), Y14; \
	MOVQ w+0(FP), SI; \
	MOVQ SI, wb-8(SP); \
	MOVQ out+96(FP), SI; \
	MOVQ SI, outp-16(SP); \
	MOVQ pairs+40(FP), SI; \
	MOVQ SI, left-24(SP)

// MMPAIR starts a row pair: its rows, the tables, cleared accumulators.
#define MMPAIR \
	MOVQ wb-8(SP), SI; \
	MOVQ stride+8(FP), DI; \
	ADDQ SI, DI; \
	MOVQ nb+32(FP), CX; \
	MOVQ as+80(FP), BX; \
	MOVQ ps+88(FP), AX; \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3; \
	VXORPS Y4, Y4, Y4; \
	VXORPS Y5, Y5, Y5; \
	VXORPS Y6, Y6, Y6; \
	VXORPS Y7, Y7, Y7; \
	VXORPS Y12, Y12, Y12

#define MMSCALE \
	VPBROADCASTW (SI), X11; \
	VPBROADCASTW (DI), X13; \
	VPUNPCKLQDQ X13, X11, X11; \
	VCVTPH2PS X11, Y11; \
	VMULPS (BX), Y11, Y11; \
	VMOVUPS Y11, (AX); \
	VPBROADCASTW (SI)(R12*1), X11; \
	VPBROADCASTW (DI)(R12*1), X13; \
	VPUNPCKLQDQ X13, X11, X11; \
	VCVTPH2PS X11, Y11; \
	VFMADD231PS 32(BX), Y11, Y12; \
	ADDQ DX, SI; \
	ADDQ DX, DI; \
	ADDQ $64, BX; \
	ADDQ $32, AX

// MMRESET rewinds the row, product and count registers for the second pass.
#define MMRESET \
	MOVQ wb-8(SP), SI; \
	MOVQ stride+8(FP), DI; \
	ADDQ SI, DI; \
	MOVQ nb+32(FP), CX; \
	MOVQ ps+88(FP), AX; \
	MOVQ a0+48(FP), R8; \
	MOVQ a1+56(FP), R9; \
	MOVQ a2+64(FP), R10; \
	MOVQ a3+72(FP), R11

#define MMSTEP(IDOT) \
	VBROADCASTI128 (SI)(R13*1), Y8; \
	VPSRLVD nibshift<>(SB), Y8, Y8; \
	VPAND Y15, Y8, Y8; \
	VBROADCASTI128 (DI)(R13*1), Y9; \
	VPSRLVD nibshift<>(SB), Y9, Y9; \
	VPAND Y15, Y9, Y9; \
	MMPROD(IDOT, Y8, (R8), 0, Y0); \
	MMPROD(IDOT, Y8, (R9), 4, Y1); \
	MMPROD(IDOT, Y8, (R10), 8, Y2); \
	MMPROD(IDOT, Y8, (R11), 12, Y3); \
	MMPROD(IDOT, Y9, (R8), 16, Y4); \
	MMPROD(IDOT, Y9, (R9), 20, Y5); \
	MMPROD(IDOT, Y9, (R10), 24, Y6); \
	MMPROD(IDOT, Y9, (R11), 28, Y7); \
	ADDQ DX, SI; \
	ADDQ DX, DI; \
	ADDQ $32, R8; \
	ADDQ $32, R9; \
	ADDQ $32, R10; \
	ADDQ $32, R11; \
	ADDQ $32, AX

#define MMEPI \
	VHADDPS Y1, Y0, Y0; \
	VHADDPS Y3, Y2, Y2; \
	VHADDPS Y2, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X13; \
	VADDPS X13, X0, X0; \
	VHADDPS Y5, Y4, Y4; \
	VHADDPS Y7, Y6, Y6; \
	VHADDPS Y6, Y4, Y4; \
	VEXTRACTF128 $1, Y4, X13; \
	VADDPS X13, X4, X4; \
	VINSERTF128 $1, X4, Y0, Y0; \
	VADDPS Y12, Y0, Y0; \
	MOVQ outp-16(SP), DI; \
	VMOVUPS Y0, (DI)

// func dotQ4_1x4(w *byte, stride, nb, groups int, aq *int8, ad, as, out *float32)
TEXT ·dotQ4_1x4(SB), NOSPLIT, $24-64
	Q4X4SETUP
	CMPQ SI, $0
	JEQ done
group:
	Q4X4GROUP
	TESTQ CX, CX
	JEQ store
loop:
	Q4X4STEP(IDOT_AVX2, 4, 2, 20)
	DECQ CX
	JNE loop
store:
	X4EPI
	Q4X4NEXT(group)
done:
	VZEROUPPER
	RET

// func dotQ4_1x4VNNI(w *byte, stride, nb, groups int, aq *int8, ad, as, out *float32)
TEXT ·dotQ4_1x4VNNI(SB), NOSPLIT, $24-64
	Q4X4SETUP
	CMPQ SI, $0
	JEQ done
group:
	Q4X4GROUP
	TESTQ CX, CX
	JEQ store
loop:
	Q4X4STEP(IDOT_VNNI, 4, 2, 20)
	DECQ CX
	JNE loop
store:
	X4EPI
	Q4X4NEXT(group)
done:
	VZEROUPPER
	RET

// func dotQ4_0x4(w *byte, stride, nb, groups int, aq *int8, ad, as, out *float32)
//
// Q4_0 stores q+8 in each nibble: Σ d·(q−8)·y = d·Σ q·y − 8·d·s, so the
// offset term reuses the Q4_1 min path with the scale itself (at offset 0)
// and is multiplied by −8 before the final sum.
TEXT ·dotQ4_0x4(SB), NOSPLIT, $24-64
	Q4X4SETUP
	CMPQ SI, $0
	JEQ done
group:
	Q4X4GROUP
	TESTQ CX, CX
	JEQ store
loop:
	Q4X4STEP(IDOT_AVX2, 2, 0, 18)
	DECQ CX
	JNE loop
store:
	MOVL $0xc1000000, AX // -8.0
	VMOVD AX, X9
	VMULSS X9, X4, X4
	VMULSS X9, X5, X5
	VMULSS X9, X6, X6
	VMULSS X9, X7, X7
	X4EPI
	Q4X4NEXT(group)
done:
	VZEROUPPER
	RET

// func dotQ8_0x4(w *byte, stride, nb, groups int, aq *int8, ad, as, out *float32)
TEXT ·dotQ8_0x4(SB), NOSPLIT, $24-64
	Q4X4SETUP
	CMPQ SI, $0
	JEQ done
group:
	Q4X4GROUP
	TESTQ CX, CX
	JEQ store
loop:
	Q8X4STEP(IDOT_AVX2)
	DECQ CX
	JNE loop
store:
	X4EPI
	Q4X4NEXT(group)
done:
	VZEROUPPER
	RET

// func dotQ8_0x4VNNI(w *byte, stride, nb, groups int, aq *int8, ad, as, out *float32)
TEXT ·dotQ8_0x4VNNI(SB), NOSPLIT, $24-64
	Q4X4SETUP
	CMPQ SI, $0
	JEQ done
group:
	Q4X4GROUP
	TESTQ CX, CX
	JEQ store
loop:
	Q8X4STEP(IDOT_VNNI)
	DECQ CX
	JNE loop
store:
	X4EPI
	Q4X4NEXT(group)
done:
	VZEROUPPER
	RET

TEXT ·mmQ4x2x4(SB), NOSPLIT, $24-104
	MMSETUP
	CMPQ SI, $0
	JEQ done
pair:
	MMPAIR
	TESTQ CX, CX
	JEQ store
scales:
	MMSCALE
	DECQ CX
	JNE scales
	MMRESET
loop:
	MMSTEP(IDOT_AVX2)
	DECQ CX
	JNE loop
store:
	MMEPI
	ADDQ $32, DI
	MOVQ DI, outp-16(SP)
	MOVQ wb-8(SP), SI
	MOVQ stride+8(FP), DI
	LEAQ (SI)(DI*2), SI
	MOVQ SI, wb-8(SP)
	DECQ left-24(SP)
	JNE pair
done:
	VZEROUPPER
	RET

// func mmQ4x2x4VNNI(w *byte, stride, bb, moff, nb, pairs int, a0, a1, a2, a3 *int8, as, ps, out *float32)
TEXT ·mmQ4x2x4VNNI(SB), NOSPLIT, $24-104
	MMSETUP
	CMPQ SI, $0
	JEQ done
pair:
	MMPAIR
	TESTQ CX, CX
	JEQ store
scales:
	MMSCALE
	DECQ CX
	JNE scales
	MMRESET
loop:
	MMSTEP(IDOT_VNNI)
	DECQ CX
	JNE loop
store:
	MMEPI
	ADDQ $32, DI
	MOVQ DI, outp-16(SP)
	MOVQ wb-8(SP), SI
	MOVQ stride+8(FP), DI
	LEAQ (SI)(DI*2), SI
	MOVQ SI, wb-8(SP)
	DECQ left-24(SP)
	JNE pair
done:
	VZEROUPPER
	RET

// func roundHalfAVX2(x *float32, n int)
//
// Rounds n floats (n a multiple of 8) to float16 precision in place.
TEXT ·roundHalfAVX2(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	SHRQ $3, CX
	JEQ rhdone
rhloop:
	VMOVUPS (SI), Y0
	VCVTPS2PH $0, Y0, X0
	VCVTPH2PS X0, Y0
	VMOVUPS Y0, (SI)
	ADDQ $32, SI
	DECQ CX
	JNE rhloop
rhdone:
	VZEROUPPER
	RET

DATA absmask<>+0(SB)/8, $0x7fffffff7fffffff
DATA absmask<>+8(SB)/8, $0x7fffffff7fffffff
DATA absmask<>+16(SB)/8, $0x7fffffff7fffffff
DATA absmask<>+24(SB)/8, $0x7fffffff7fffffff
GLOBL absmask<>(SB), RODATA|NOPTR, $32

DATA packperm<>+0(SB)/8, $0x0000000400000000
DATA packperm<>+8(SB)/8, $0x0000000500000001
DATA packperm<>+16(SB)/8, $0x0000000600000002
DATA packperm<>+24(SB)/8, $0x0000000700000003
GLOBL packperm<>(SB), RODATA|NOPTR, $32

// func quantizeActAVX2(x *float32, nb int, q *int8, d, s *float32)
//
// Quantizes nb blocks of 32 floats to signed bytes with one scale per
// block, as ggml's Q8_1: d = max|x|/127, q = round(x/d) (to nearest even,
// where the portable quantizer rounds halves away from zero), s = d·Σq.
TEXT ·quantizeActAVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ q+16(FP), DI
	MOVQ d+24(FP), R8
	MOVQ s+32(FP), R9
	VMOVDQU absmask<>(SB), Y15
	VMOVDQU packperm<>(SB), Y14
	MOVL $0x42fe0000, AX // 127.0
	VMOVD AX, X13
	MOVL $0x3f800000, AX // 1.0
	VMOVD AX, X11
	VXORPS X12, X12, X12
	TESTQ CX, CX
	JEQ qadone

qaloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	// amax over the block, in every lane of X4.
	VANDPS Y15, Y0, Y4
	VANDPS Y15, Y1, Y5
	VMAXPS Y5, Y4, Y4
	VANDPS Y15, Y2, Y5
	VMAXPS Y5, Y4, Y4
	VANDPS Y15, Y3, Y5
	VMAXPS Y5, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VMAXPS X5, X4, X4
	VMOVHLPS X4, X4, X5
	VMAXPS X5, X4, X4
	VMOVSHDUP X4, X5
	VMAXSS X5, X4, X4
	// d = amax/127; id = 1/d, or 0 for an all-zero block.
	VDIVSS X13, X4, X6
	VMOVSS X6, (R8)
	VXORPS X7, X7, X7
	VUCOMISS X12, X4
	JEQ qazero
	VDIVSS X6, X11, X7
qazero:
	VBROADCASTSS X7, Y7
	VMULPS Y7, Y0, Y0
	VMULPS Y7, Y1, Y1
	VMULPS Y7, Y2, Y2
	VMULPS Y7, Y3, Y3
	VCVTPS2DQ Y0, Y0
	VCVTPS2DQ Y1, Y1
	VCVTPS2DQ Y2, Y2
	VCVTPS2DQ Y3, Y3
	// Σq: int32 lanes, then a horizontal sum.
	VPADDD Y1, Y0, Y8
	VPADDD Y3, Y2, Y9
	VPADDD Y9, Y8, Y8
	VEXTRACTI128 $1, Y8, X9
	VPADDD X9, X8, X8
	VPHADDD X8, X8, X8
	VPHADDD X8, X8, X8
	VCVTDQ2PS X8, X8
	VMULSS X6, X8, X8
	VMOVSS X8, (R9)
	// Pack to bytes in element order.
	VPACKSSDW Y1, Y0, Y0
	VPACKSSDW Y3, Y2, Y2
	VPACKSSWB Y2, Y0, Y0
	VPERMD Y0, Y14, Y0
	VMOVDQU Y0, (DI)
	ADDQ $128, SI
	ADDQ $32, DI
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ CX
	JNE qaloop

qadone:
	VZEROUPPER
	RET
