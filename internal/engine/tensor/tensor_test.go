package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// allTypes lists every implemented type.
var allTypes = []Type{F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q4_K, Q5_K, Q6_K, Q8_K}

// quantizable lists the types Quantize supports.
var quantizable = []Type{F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, Q8_K}

func TestTypeGeometry(t *testing.T) {
	type geom struct {
		Name       string
		BlockSize  int
		BlockBytes int
	}
	tests := map[Type]geom{
		F32:  {"F32", 1, 4},
		F16:  {"F16", 1, 2},
		BF16: {"BF16", 1, 2},
		Q4_0: {"Q4_0", 32, 18},
		Q4_1: {"Q4_1", 32, 20},
		Q5_0: {"Q5_0", 32, 22},
		Q5_1: {"Q5_1", 32, 24},
		Q8_0: {"Q8_0", 32, 34},
		Q8_1: {"Q8_1", 32, 36},
		Q4_K: {"Q4_K", 256, 144},
		Q5_K: {"Q5_K", 256, 176},
		Q6_K: {"Q6_K", 256, 210},
		Q8_K: {"Q8_K", 256, 292},
		4:    {"type(4)", 0, 0},
		99:   {"type(99)", 0, 0},
	}
	for typ, want := range tests {
		got := geom{typ.String(), typ.BlockSize(), typ.BlockBytes()}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("type %d geometry mismatch (-want +got):\n%s", uint32(typ), diff)
		}
		if typ.Known() != (want.BlockSize != 0) {
			t.Errorf("%v.Known() = %v", typ, typ.Known())
		}
	}
}

func TestRowBytes(t *testing.T) {
	tests := []struct {
		typ     Type
		n       int
		want    int
		wantErr bool
	}{
		{F32, 576, 2304, false},
		{Q4_1, 576, 360, false},
		{Q8_0, 64, 68, false},
		{Q6_K, 512, 420, false},
		{Q4_0, 0, 0, false},
		{Q4_0, 33, 0, true},
		{Q4_K, 576, 0, true},
		{F16, -2, 0, true},
		{Type(5), 32, 0, true},
		{Q8_0, maxInt - 31, 0, true},
	}
	for _, tt := range tests {
		got, err := tt.typ.RowBytes(tt.n)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%v.RowBytes(%d) = %d, %v; want %d, error %v", tt.typ, tt.n, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestHalf(t *testing.T) {
	tests := []struct {
		bits uint16
		f    float32
	}{
		{0x0000, 0},
		{0x3c00, 1},
		{0xc000, -2},
		{0x3800, 0.5},
		{0x7bff, 65504},
		{0x0001, 5.9604645e-08},
		{0x0400, 6.1035156e-05},
		{0x3555, 0.33325195},
		{0x7c00, float32(math.Inf(1))},
		{0xfc00, float32(math.Inf(-1))},
	}
	for _, tt := range tests {
		if got := halfToFloat(tt.bits); got != tt.f {
			t.Errorf("halfToFloat(%#04x) = %v, want %v", tt.bits, got, tt.f)
		}
		if got := floatToHalf(tt.f); got != tt.bits {
			t.Errorf("floatToHalf(%v) = %#04x, want %#04x", tt.f, got, tt.bits)
		}
	}
	// Every finite half survives a round trip through float32.
	for h := 0; h < 1<<16; h++ {
		f := halfToFloat(uint16(h))
		if math.IsNaN(float64(f)) {
			continue
		}
		if got := floatToHalf(f); got != uint16(h) {
			t.Fatalf("floatToHalf(halfToFloat(%#04x)) = %#04x", h, got)
		}
	}
	for h := 0; h < 1<<16; h++ {
		if h&0x7c00 == 0x7c00 {
			continue // Inf and NaN are out of the fast path's domain
		}
		if got, want := halfToFloatFast(uint16(h)), halfToFloat(uint16(h)); got != want {
			t.Fatalf("halfToFloatFast(%#04x) = %v, want %v", h, got, want)
		}
	}
	// Rounding: 1 + 2^-11 is halfway between 1 and the next half; ties go to even.
	if got := floatToHalf(1 + 1.0/2048); got != 0x3c00 {
		t.Errorf("floatToHalf(1+2^-11) = %#04x, want 0x3c00", got)
	}
	if got := floatToHalf(1 + 3.0/2048); got != 0x3c02 {
		t.Errorf("floatToHalf(1+3·2^-11) = %#04x, want 0x3c02", got)
	}
	if got, want := floatToBF16(1.00390625), uint16(0x3f80); got != want { // tie to even
		t.Errorf("floatToBF16(1+2^-8) = %#04x, want %#04x", got, want)
	}
	if got := bf16ToFloat(0xc040); got != -3 {
		t.Errorf("bf16ToFloat(0xc040) = %v, want -3", got)
	}
}

func randVec(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

func TestQuantizeRoundTrip(t *testing.T) {
	// Relative RMS error bounds for N(0,1) data; these are loose versions of
	// what the simple round-to-nearest quantizers achieve.
	bounds := map[Type]float64{
		F32: 0, F16: 1e-3, BF16: 5e-3,
		Q8_0: 0.01, Q8_K: 0.01,
		Q6_K: 0.04, Q5_0: 0.07, Q5_1: 0.06, Q5_K: 0.06,
		Q4_0: 0.13, Q4_1: 0.12, Q4_K: 0.12,
	}
	r := rand.New(rand.NewPCG(1, 2))
	x := randVec(r, 4096)
	for _, typ := range quantizable {
		t.Run(typ.String(), func(t *testing.T) {
			enc, err := Quantize(typ, x)
			if err != nil {
				t.Fatalf("Quantize: %v", err)
			}
			y := make([]float32, len(x))
			if err := Dequantize(typ, enc, y); err != nil {
				t.Fatalf("Dequantize: %v", err)
			}
			var se, sx float64
			for i := range x {
				d := float64(y[i] - x[i])
				se += d * d
				sx += float64(x[i]) * float64(x[i])
			}
			rel := math.Sqrt(se / sx)
			if rel > bounds[typ] {
				t.Errorf("relative RMS error %.4g > %.4g", rel, bounds[typ])
			}
			t.Logf("relative RMS error %.4g", rel)
		})
	}
	// Constant and zero blocks must not produce NaNs.
	for _, typ := range quantizable {
		for _, v := range []float32{0, 3} {
			x := make([]float32, 256)
			for i := range x {
				x[i] = v
			}
			enc, err := Quantize(typ, x)
			if err != nil {
				t.Fatal(err)
			}
			y := make([]float32, 256)
			if err := Dequantize(typ, enc, y); err != nil {
				t.Fatal(err)
			}
			for i := range y {
				if !isFinite32(y[i]) || math.Abs(float64(y[i]-v)) > 0.05 {
					t.Fatalf("%v: constant %v decoded as %v at %d", typ, v, y[i], i)
				}
			}
		}
	}
}

func TestQuantizeErrors(t *testing.T) {
	if _, err := Quantize(Q4_0, make([]float32, 31)); err == nil {
		t.Error("Quantize(Q4_0, 31 elements) succeeded")
	}
	if _, err := Quantize(Q8_1, make([]float32, 32)); err == nil {
		t.Error("Quantize(Q8_1) succeeded")
	}
	if err := Dequantize(Q4_0, make([]byte, 17), make([]float32, 32)); err == nil {
		t.Error("Dequantize with short input succeeded")
	}
	if err := Dequantize(Type(77), nil, nil); err == nil {
		t.Error("Dequantize of unknown type succeeded")
	}
}

func TestMatrixValidate(t *testing.T) {
	tests := []struct {
		name    string
		m       Matrix
		wantErr bool
	}{
		{"ok", Matrix{Q4_1, 2, 64, make([]byte, 80)}, false},
		{"empty", Matrix{F32, 0, 0, nil}, false},
		{"short", Matrix{Q4_1, 2, 64, make([]byte, 79)}, true},
		{"long", Matrix{Q4_1, 2, 64, make([]byte, 81)}, true},
		{"bad cols", Matrix{Q4_0, 1, 48, make([]byte, 36)}, true},
		{"negative", Matrix{F32, -1, 4, nil}, true},
		{"unknown", Matrix{Type(40), 1, 1, make([]byte, 4)}, true},
		{"overflow", Matrix{Q8_0, maxInt / 2, 64, nil}, true},
	}
	for _, tt := range tests {
		if err := tt.m.Validate(); (err != nil) != tt.wantErr {
			t.Errorf("%s: Validate() = %v, want error %v", tt.name, err, tt.wantErr)
		}
	}
}

func TestMatrixRow(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := randVec(r, 3*64)
	data, err := Quantize(Q8_0, x)
	if err != nil {
		t.Fatal(err)
	}
	m := Matrix{Type: Q8_0, Rows: 3, Cols: 64, Data: data}
	all := make([]float32, len(x))
	if err := Dequantize(Q8_0, data, all); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 64)
	for i := 0; i < 3; i++ {
		m.Row(i, got)
		if diff := cmp.Diff(all[i*64:(i+1)*64], got); diff != "" {
			t.Errorf("Row(%d) mismatch (-want +got):\n%s", i, diff)
		}
	}
}

func TestParallel(t *testing.T) {
	for _, threads := range []int{1, 2, 5} {
		p := NewPool(threads)
		for _, n := range []int{0, 1, 2, 7, 100, 1001} {
			hits := make([]atomic.Int32, n)
			p.Parallel(n, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					hits[i].Add(1)
				}
			})
			for i := range hits {
				if c := hits[i].Load(); c != 1 {
					t.Fatalf("threads=%d n=%d: index %d visited %d times", threads, n, i, c)
				}
			}
		}
		if p.Threads() != threads {
			t.Errorf("Threads() = %d, want %d", p.Threads(), threads)
		}
		p.Close()
		p.Close()
		ran := false
		p.Parallel(3, func(lo, hi int) { ran = lo == 0 && hi == 3 })
		if !ran {
			t.Errorf("Parallel after Close did not run inline")
		}
	}
}

// kernelSets returns the kernel sets to test: portable always, AVX2 when
// the build and CPU have it, and the best one when it is yet another
// (AVX2 with VNNI).
func kernelSets() []*kernelSet {
	sets := []*kernelSet{portableKernels()}
	if a := avx2Kernels(); a != nil {
		sets = append(sets, a)
	}
	if b := bestKernels(); b.name != sets[len(sets)-1].name {
		sets = append(sets, b)
	}
	return sets
}

// randMatrix builds a rows×cols matrix of type typ from N(0,1) data.
func randMatrix(t testing.TB, r *rand.Rand, typ Type, rows, cols int) Matrix {
	t.Helper()
	w := randVec(r, rows*cols)
	var data []byte
	if typ == Q8_1 { // no encoder: build blocks by hand
		data = make([]byte, rows*cols/32*36)
		for b := 0; b < len(data)/36; b++ {
			putF16(data[b*36:], 0.01)
			for j := 0; j < 32; j++ {
				data[b*36+4+j] = byte(r.IntN(256))
			}
		}
	} else {
		var err error
		if data, err = Quantize(typ, w); err != nil {
			t.Fatal(err)
		}
	}
	return Matrix{Type: typ, Rows: rows, Cols: cols, Data: data}
}

// tolerance bounds |kernel - reference| for one row: the activation is
// quantized to 8 bits per 32-element block (error at most half a step per
// element), plus float32 rounding.
func tolerance(t Type, row []byte, x []float32) float64 {
	w := make([]float32, len(x))
	if err := Dequantize(t, row, w); err != nil {
		panic(err)
	}
	var bound, mag float64
	for b := 0; b < len(x); b += 32 {
		end := min(b+32, len(x))
		var amax float64
		for _, v := range x[b:end] {
			amax = max(amax, math.Abs(float64(v)))
		}
		for i := b; i < end; i++ {
			mag += math.Abs(float64(w[i]) * float64(x[i]))
			if isQuant(t) {
				bound += math.Abs(float64(w[i])) * amax / 254
			}
		}
	}
	return 1.02*bound + 2e-5*mag + 1e-6
}

func TestMatVecMatMul(t *testing.T) {
	shapes := []struct{ rows, cols int }{{1, 256}, {7, 512}, {33, 256}, {65, 768}}
	for _, k := range kernelSets() {
		for _, typ := range allTypes {
			for _, sh := range shapes {
				for _, threads := range []int{1, 3} {
					name := fmt.Sprintf("%s/%v/%dx%d/t%d", k.name, typ, sh.rows, sh.cols, threads)
					t.Run(name, func(t *testing.T) {
						testMatVec(t, k, typ, sh.rows, sh.cols, threads)
					})
				}
			}
		}
	}
}

func testMatVec(t *testing.T, k *kernelSet, typ Type, rows, cols, threads int) {
	r := rand.New(rand.NewPCG(uint64(typ), uint64(rows*cols)))
	m := randMatrix(t, r, typ, rows, cols)
	p := NewPool(threads)
	defer p.Close()
	p.kern = k
	const n = 5
	x := randVec(r, n*cols)
	x[3] = 40 // an outlier makes activation quantization coarse in one block
	got := make([]float32, n*rows)
	p.MatMul(got, m, x, n)
	for i := 0; i < n; i++ {
		xi := x[i*cols : (i+1)*cols]
		vec := make([]float32, rows)
		p.MatVec(vec, m, xi)
		for row := 0; row < rows; row++ {
			ref, err := ReferenceDot(typ, m.RowData(row), xi)
			if err != nil {
				t.Fatal(err)
			}
			tol := tolerance(typ, m.RowData(row), xi)
			if d := math.Abs(float64(vec[row]) - ref); d > tol || math.IsNaN(d) {
				t.Errorf("MatVec input %d row %d = %v, want %v ± %.3g", i, row, vec[row], ref, tol)
			}
			if d := math.Abs(float64(got[i*rows+row]) - ref); d > tol || math.IsNaN(d) {
				t.Errorf("MatMul input %d row %d = %v, want %v ± %.3g", i, row, got[i*rows+row], ref, tol)
			}
		}
	}
}

func TestMatVecNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	p := NewPool(2)
	defer p.Close()
	for _, typ := range []Type{Q4_1, Q8_0, Q6_K, F32} {
		m := randMatrix(t, r, typ, 64, 256)
		x := randVec(r, 256*4)
		dst := make([]float32, 64*4)
		p.MatMul(dst, m, x, 4) // grow scratch
		allocs := testing.AllocsPerRun(20, func() {
			p.MatVec(dst, m, x[:256])
			p.MatMul(dst, m, x, 4)
		})
		if allocs != 0 {
			t.Errorf("%v: %v allocations per MatVec+MatMul, want 0", typ, allocs)
		}
	}
}

func TestKernelsName(t *testing.T) {
	if k := Kernels(); k != "portable" && k != "avx2" && k != "avx2+vnni" {
		t.Errorf("Kernels() = %q", k)
	}
}

// TestMatMulBitIdentical checks that with the fast kernels a row times an
// input gives the same bits whether it ran alone (MatVec) or in a batch of
// any size: the engine relies on it so that a prompt's logits do not depend
// on how it was split into batches.
func TestMatMulBitIdentical(t *testing.T) {
	sets := kernelSets()[1:]
	if len(sets) == 0 {
		t.Skip("no four-row kernels in this build")
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, typ := range []Type{Q4_0, Q4_1, Q8_0} {
		m := randMatrix(t, r, typ, 64, 256)
		x := randVec(r, 9*256)
		for _, threads := range []int{1, 2} {
			p := NewPool(threads)
			k := sets[threads%len(sets)]
			p.kern = k
			single := make([]float32, 9*64)
			for i := 0; i < 9; i++ {
				p.MatVec(single[i*64:(i+1)*64], m, x[i*256:(i+1)*256])
			}
			for n := 2; n <= 9; n++ {
				got := make([]float32, n*64)
				p.MatMul(got, m, x[:n*256], n)
				if diff := cmp.Diff(single[:n*64], got); diff != "" {
					t.Errorf("%s %v threads=%d: MatMul of %d inputs differs from MatVec (-want +got):\n%s", k.name, typ, threads, n, diff)
				}
			}
			p.Close()
		}
	}
}

// TestMatMulMulti checks that a fused product of several matrices (of the
// same type, and of mixed types that run one after another) gives the bits
// of separate MatMuls, for one input and for a batch, with chunk edges
// inside the matrices. Row counts are multiples of four, as in real models:
// a row left out of a four-row group takes the one-row kernel, whose
// rounding differs in the last bit.
func TestMatMulMulti(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const cols = 256
	mats := []Matrix{
		randMatrix(t, r, Q4_1, 36, cols),
		randMatrix(t, r, Q4_1, 12, cols),
		randMatrix(t, r, Q4_1, 64, cols),
		randMatrix(t, r, Q8_0, 20, cols),
		randMatrix(t, r, F32, 6, cols),
	}
	for _, threads := range []int{1, 2, 3} {
		p := NewPool(threads)
		for _, n := range []int{1, 2, 5, 9} {
			x := randVec(r, n*cols)
			var want, got [][]float32
			prods := make([]Product, len(mats))
			for i, m := range mats {
				w := make([]float32, n*m.Rows)
				p.MatMul(w, m, x, n)
				want = append(want, w)
				got = append(got, make([]float32, n*m.Rows))
				prods[i] = Product{Dst: got[i], M: m}
			}
			p.MatMulMulti(x, n, prods)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("threads=%d n=%d: MatMulMulti differs from MatMul (-want +got):\n%s", threads, n, diff)
			}
		}
		p.Close()
	}
}

// TestQuantizeActKernels checks each kernel set's activation quantizer
// against the portable one: the same scales and sums, and quantized values
// that differ at most by one step where a value lies on a rounding tie.
func TestQuantizeActKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	x := randVec(r, 32*7)
	for i := 32; i < 64; i++ {
		x[i] = 0 // an all-zero block
	}
	x[70] = 1e6
	var want act
	want.resize(len(x))
	quantizeActGo(x, &want)
	for _, k := range kernelSets() {
		var got act
		got.resize(len(x))
		k.quantizeAct(x, &got)
		if diff := cmp.Diff(want.d, got.d); diff != "" {
			t.Errorf("%s: scales differ (-want +got):\n%s", k.name, diff)
		}
		for i := range want.q {
			if d := int(want.q[i]) - int(got.q[i]); d < -1 || d > 1 {
				t.Errorf("%s: q[%d] = %d, want %d", k.name, i, got.q[i], want.q[i])
			}
		}
		for b := range want.s {
			if d := math.Abs(float64(want.s[b] - got.s[b])); d > 1e-6*math.Abs(float64(want.s[b]))+float64(want.d[b]) {
				t.Errorf("%s: s[%d] = %v, want %v", k.name, b, got.s[b], want.s[b])
			}
		}
	}
}

func TestRoundToHalf(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	x := randVec(r, 101)
	for i := range x {
		x[i] *= float32(math.Pow(10, float64(r.IntN(12)-6)))
	}
	x[0], x[1], x[2], x[3] = 0, 70000, -1e-9, float32(math.Inf(-1))
	want := append([]float32(nil), x...)
	roundHalfGo(want)
	got := append([]float32(nil), x...)
	RoundToHalf(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RoundToHalf differs from the portable rounding (-want +got):\n%s", diff)
	}
}

// TestAttentionF16 checks each kernel set's F16 attention kernels against
// a float64 computation over the same half-precision keys and values.
func TestAttentionF16(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, k := range kernelSets() {
		for _, hd := range []int{8, 16, 64, 96, 128} {
			for _, n := range []int{1, 3, 4, 7, 100} {
				stride := 3 * hd
				kvF := randVec(r, n*stride+hd)
				kv := make([]uint16, len(kvF))
				k.toHalf(kv, kvF)
				for i, h := range kv {
					if want := floatToHalf(kvF[i]); h != want {
						t.Fatalf("%s: toHalf(%v) = %#x, want %#x", k.name, kvF[i], h, want)
					}
				}
				q, p := randVec(r, hd), randVec(r, n)
				sc := make([]float32, n)
				k.scoresF16(sc, q, kv[hd:], stride, 0.5)
				out := make([]float32, hd)
				k.weightedSumF16(out, p, kv[2*hd:], stride)
				for pos := 0; pos < n; pos++ {
					var want float64
					for i := 0; i < hd; i++ {
						want += float64(q[i]) * float64(halfToFloat(kv[hd+pos*stride+i]))
					}
					if d := math.Abs(float64(sc[pos]) - 0.5*want); d > 1e-5*float64(hd) {
						t.Errorf("%s hd=%d n=%d: score %d = %v, want %v", k.name, hd, n, pos, sc[pos], 0.5*want)
					}
				}
				for i := 0; i < hd; i++ {
					var want float64
					for pos := 0; pos < n; pos++ {
						want += float64(p[pos]) * float64(halfToFloat(kv[2*hd+pos*stride+i]))
					}
					if d := math.Abs(float64(out[i]) - want); d > 1e-5*float64(n) {
						t.Errorf("%s hd=%d n=%d: out[%d] = %v, want %v", k.name, hd, n, i, out[i], want)
					}
				}
			}
		}
	}
}

// TestScoresF16FullCache scores every position of a cache whose slice ends
// at the last key, the case where no tail is left after the groups of four.
func TestScoresF16FullCache(t *testing.T) {
	const hd, stride, n = 16, 48, 8
	k := make([]uint16, n*stride-hd) // a head's view: starts at offset hd
	sc := make([]float32, n)
	ScoresF16(sc, make([]float32, hd), k, stride, 1)
}
