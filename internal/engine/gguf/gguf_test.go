package gguf

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/outcrop/outcrop/internal/engine/tensor"
)

// sampleKV has one entry of every value type, including nested arrays.
func sampleKV() []KV {
	return []KV{
		{"general.architecture", Value{TypeString, "llama"}},
		{"u8", Value{TypeUint8, uint8(200)}},
		{"i8", Value{TypeInt8, int8(-5)}},
		{"u16", Value{TypeUint16, uint16(60000)}},
		{"i16", Value{TypeInt16, int16(-30000)}},
		{"u32", Value{TypeUint32, uint32(4000000000)}},
		{"i32", Value{TypeInt32, int32(-2000000000)}},
		{"u64", Value{TypeUint64, uint64(1) << 63}},
		{"i64", Value{TypeInt64, int64(-1) << 62}},
		{"f32", Value{TypeFloat32, float32(1e-5)}},
		{"f64", Value{TypeFloat64, math.Pi}},
		{"bool", Value{TypeBool, true}},
		{"empty", Value{TypeString, ""}},
		{"a.u8", Value{TypeArray, []uint8{1, 2, 255}}},
		{"a.i8", Value{TypeArray, []int8{-1, 0, 1}}},
		{"a.u16", Value{TypeArray, []uint16{1, 65535}}},
		{"a.i16", Value{TypeArray, []int16{-32768, 7}}},
		{"a.u32", Value{TypeArray, []uint32{3, 1 << 31}}},
		{"a.i32", Value{TypeArray, []int32{-1, 2, 3}}},
		{"a.u64", Value{TypeArray, []uint64{5, 1 << 40}}},
		{"a.i64", Value{TypeArray, []int64{-7, 1 << 40}}},
		{"a.f32", Value{TypeArray, []float32{0.5, -2}}},
		{"a.f64", Value{TypeArray, []float64{1e300}}},
		{"a.bool", Value{TypeArray, []bool{true, false}}},
		{"a.str", Value{TypeArray, []string{"<s>", "", "héllo"}}},
		{"a.empty", Value{TypeArray, []int32{}}},
		{"a.nested", Value{TypeArray, []any{[]string{"x"}, []int32{1, 2}, []any{[]bool{true}}}}},
	}
}

func sampleTensors(t testing.TB) []WriteTensor {
	t.Helper()
	x := make([]float32, 64*3)
	for i := range x {
		x[i] = float32(i%17) - 8
	}
	q, err := tensor.Quantize(tensor.Q4_1, x)
	if err != nil {
		t.Fatal(err)
	}
	norm, err := tensor.Quantize(tensor.F32, x[:64])
	if err != nil {
		t.Fatal(err)
	}
	return []WriteTensor{
		{Name: "blk.0.attn_q.weight", Dims: []uint64{64, 3}, Type: tensor.Q4_1, Data: q},
		{Name: "output_norm.weight", Dims: []uint64{64}, Type: tensor.F32, Data: norm},
		{Name: "empty", Dims: []uint64{0, 4}, Type: tensor.F16, Data: []byte{}},
	}
}

func writeSample(t testing.TB, kv []KV, ts []WriteTensor) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, kv, ts); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	kv := sampleKV()
	ts := sampleTensors(t)
	for _, align := range []uint32{0, 64} {
		kv := kv
		want := uint64(DefaultAlignment)
		if align != 0 {
			kv = append([]KV{{KeyAlignment, Value{TypeUint32, align}}}, kv...)
			want = uint64(align)
		}
		data := writeSample(t, kv, ts)
		f, err := Parse(data)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if f.Version != 3 || f.Alignment != want {
			t.Errorf("version %d alignment %d, want 3 and %d", f.Version, f.Alignment, want)
		}
		if diff := cmp.Diff(kv, f.KV, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("metadata mismatch (-want +got):\n%s", diff)
		}
		if len(f.Tensors) != len(ts) {
			t.Fatalf("%d tensors, want %d", len(f.Tensors), len(ts))
		}
		for i, w := range ts {
			g := f.Tensors[i]
			if g.Name != w.Name || g.Type != w.Type || !cmp.Equal(g.Dims, w.Dims) || !bytes.Equal(g.Data, w.Data) {
				t.Errorf("tensor %d = %q %v %v (%d bytes), want %q %v %v (%d bytes)", i, g.Name, g.Type, g.Dims, len(g.Data), w.Name, w.Type, w.Dims, len(w.Data))
			}
			if g.Offset%want != 0 || (f.DataOffset+g.Offset)%want != 0 {
				t.Errorf("tensor %q at data offset %d, file offset %d: not %d-aligned", g.Name, g.Offset, f.DataOffset+g.Offset, want)
			}
		}
	}
}

func TestAccessors(t *testing.T) {
	f, err := Parse(writeSample(t, sampleKV(), sampleTensors(t)))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := f.String("general.architecture"); !ok || s != "llama" {
		t.Errorf("String = %q, %v", s, ok)
	}
	if _, ok := f.String("u8"); ok {
		t.Errorf("String(u8) succeeded")
	}
	uints := map[string]uint64{"u8": 200, "u16": 60000, "u32": 4000000000, "u64": 1 << 63}
	for k, want := range uints {
		if got, ok := f.Uint(k); !ok || got != want {
			t.Errorf("Uint(%q) = %d, %v, want %d", k, got, ok, want)
		}
	}
	for _, k := range []string{"i8", "i64", "f32", "missing"} {
		if got, ok := f.Uint(k); ok {
			t.Errorf("Uint(%q) = %d, want failure", k, got)
		}
	}
	ints := map[string]int64{"i8": -5, "i16": -30000, "i32": -2000000000, "i64": -1 << 62, "u32": 4000000000}
	for k, want := range ints {
		if got, ok := f.Int(k); !ok || got != want {
			t.Errorf("Int(%q) = %d, %v, want %d", k, got, ok, want)
		}
	}
	if _, ok := f.Int("u64"); ok {
		t.Errorf("Int(u64 = 2^63) succeeded")
	}
	if got, ok := f.Float("f32"); !ok || got != float64(float32(1e-5)) {
		t.Errorf("Float(f32) = %v, %v", got, ok)
	}
	if got, ok := f.Float("f64"); !ok || got != math.Pi {
		t.Errorf("Float(f64) = %v, %v", got, ok)
	}
	if got, ok := f.Bool("bool"); !ok || !got {
		t.Errorf("Bool = %v, %v", got, ok)
	}
	if got, ok := f.Strings("a.str"); !ok || !cmp.Equal(got, []string{"<s>", "", "héllo"}) {
		t.Errorf("Strings = %q, %v", got, ok)
	}
	if got, ok := f.Float32s("a.f32"); !ok || !cmp.Equal(got, []float32{0.5, -2}) {
		t.Errorf("Float32s = %v, %v", got, ok)
	}
	int32s := map[string][]int32{
		"a.i32": {-1, 2, 3}, "a.u8": {1, 2, 255}, "a.i8": {-1, 0, 1}, "a.i16": {-32768, 7}, "a.u16": {1, 65535},
	}
	for k, want := range int32s {
		if got, ok := f.Int32s(k); !ok || !cmp.Equal(got, want) {
			t.Errorf("Int32s(%q) = %v, %v, want %v", k, got, ok, want)
		}
	}
	for _, k := range []string{"a.u32", "a.u64", "a.i64", "a.str"} {
		if got, ok := f.Int32s(k); ok {
			t.Errorf("Int32s(%q) = %v, want failure (values do not fit)", k, got)
		}
	}
	ti, ok := f.Tensor("blk.0.attn_q.weight")
	if !ok {
		t.Fatal("tensor not found")
	}
	if ti.Elements() != 192 {
		t.Errorf("Elements = %d, want 192", ti.Elements())
	}
	m, err := ti.Matrix()
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 3 || m.Cols != 64 || m.Type != tensor.Q4_1 {
		t.Errorf("Matrix = %v %dx%d", m.Type, m.Rows, m.Cols)
	}
	norm, _ := f.Tensor("output_norm.weight")
	if m, err := norm.Matrix(); err != nil || m.Rows != 1 || m.Cols != 64 {
		t.Errorf("1-D Matrix = %dx%d, %v", m.Rows, m.Cols, err)
	}
	if _, ok := f.Tensor("nope"); ok {
		t.Error("Tensor(nope) found")
	}
}

func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.gguf")
	data := writeSample(t, sampleKV(), sampleTensors(t))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ti, _ := f.Tensor("output_norm.weight")
	if len(ti.Data) != 256 {
		t.Errorf("tensor data %d bytes", len(ti.Data))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.gguf")); err == nil {
		t.Error("Open(missing) succeeded")
	}
	empty := filepath.Join(t.TempDir(), "empty.gguf")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(empty); !errors.Is(err, ErrFormat) {
		t.Errorf("Open(empty) = %v, want ErrFormat", err)
	}
}

// TestTruncation parses every prefix of a small file: all must fail cleanly.
func TestTruncation(t *testing.T) {
	data := writeSample(t, sampleKV(), sampleTensors(t))
	for n := 0; n < len(data); n++ {
		// Copy so that reads past the prefix would be caught by the race
		// detector / bounds checks rather than reading the original.
		prefix := bytes.Clone(data[:n])
		if _, err := Parse(prefix); err == nil {
			t.Fatalf("Parse of %d-byte prefix (of %d) succeeded", n, len(data))
		} else if !errors.Is(err, ErrFormat) {
			t.Fatalf("Parse of %d-byte prefix: error %v does not wrap ErrFormat", n, err)
		}
	}
}

// TestCorrupt checks specific malformed inputs.
func TestCorrupt(t *testing.T) {
	good := writeSample(t, []KV{{"k", Value{TypeUint32, uint32(1)}}}, []WriteTensor{
		{Name: "t", Dims: []uint64{32}, Type: tensor.F32, Data: make([]byte, 128)},
	})
	// Layout: magic 0, version 4, nT 8, nKV 16, key len 24, key 32, type 33,
	// value 37, tensor name len 41, name 49, ndims 50, dim 54, type 62, offset 66.
	patch := func(off int, b ...byte) []byte {
		c := bytes.Clone(good)
		copy(c[off:], b)
		return c
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"magic", patch(0, 'G', 'G', 'U', 'X')},
		{"version 1", patch(4, 1)},
		{"version 9", patch(4, 9)},
		{"huge tensor count", patch(8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)},
		{"huge kv count", patch(16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)},
		{"huge key length", patch(24, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)},
		{"unknown value type", patch(33, 99)},
		{"zero dims", patch(50, 0)},
		{"five dims", patch(50, 5)},
		{"unknown tensor type", patch(62, 4)},
		{"bad row length", func() []byte { c := patch(54, 31); c[62] = byte(tensor.Q8_0); return c }()},
		{"too big", patch(54, 0, 0, 0, 0, 1)},
		{"misaligned offset", patch(66, 4)},
		{"offset past end", patch(66, 0, 1)},
		{"offset overflow", patch(66, 0xe0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)},
		{"dims overflow", func() []byte {
			return writeCustom(t, func(e *encoder) {
				e.str("t")
				e.u32(2)
				e.u64(1 << 40)
				e.u64(1 << 40)
				e.u32(0)
				e.u64(0)
			})
		}()},
	}
	if _, err := Parse(good); err != nil {
		t.Fatalf("Parse(good) = %v", err)
	}
	for _, tt := range tests {
		if _, err := Parse(tt.data); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: Parse = %v, want ErrFormat", tt.name, err)
		}
	}
}

// writeCustom builds a file with no metadata and one hand-encoded tensor info.
func writeCustom(t *testing.T, info func(*encoder)) []byte {
	t.Helper()
	var buf bytes.Buffer
	bw := bufioWriter(&buf)
	e := &encoder{w: bw}
	e.raw([]byte(Magic))
	e.u32(3)
	e.u64(1)
	e.u64(0)
	info(e)
	e.pad(32)
	e.raw(make([]byte, 64))
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestParseStructural(t *testing.T) {
	tests := []struct {
		name string
		kv   []KV
		ts   []WriteTensor
		edit func([]byte) []byte
	}{
		{"bad alignment type", []KV{{KeyAlignment, Value{TypeUint64, uint64(32)}}}, nil, nil},
		{"bad bool", []KV{{"b", Value{TypeBool, true}}}, nil, func(b []byte) []byte {
			b[24+8+1+4] = 2 // header, key length, "b", value type
			return b
		}},
		{"duplicate key", []KV{{"a", Value{TypeUint8, uint8(1)}}, {"b", Value{TypeUint8, uint8(2)}}}, nil, func(b []byte) []byte {
			i := bytes.LastIndexByte(b, 'b')
			b[i] = 'a'
			return b
		}},
		{"duplicate tensor", nil, []WriteTensor{
			{Name: "x", Dims: []uint64{8}, Type: tensor.F32, Data: make([]byte, 32)},
			{Name: "y", Dims: []uint64{8}, Type: tensor.F32, Data: make([]byte, 32)},
		}, func(b []byte) []byte {
			i := bytes.IndexByte(b[24:], 'y')
			b[24+i] = 'x'
			return b
		}},
		{"overlap", nil, []WriteTensor{
			{Name: "x", Dims: []uint64{16}, Type: tensor.F32, Data: make([]byte, 64)},
			{Name: "y", Dims: []uint64{8}, Type: tensor.F32, Data: make([]byte, 32)},
		}, func(b []byte) []byte {
			// y's offset (64) is the last 8 bytes of the tensor table,
			// just before the padding; set it to 32.
			i := bytes.IndexByte(b[24:], 'y') + 24
			off := i + 1 + 4 + 8 + 4
			b[off] = 32
			return b
		}},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		if err := Write(&buf, tt.kv, tt.ts); err != nil {
			if tt.edit == nil {
				continue // Write itself refuses, which is also right
			}
			t.Fatalf("%s: Write: %v", tt.name, err)
		}
		data := buf.Bytes()
		if tt.edit != nil {
			if _, err := Parse(data); err != nil {
				t.Fatalf("%s: unedited file does not parse: %v", tt.name, err)
			}
			data = tt.edit(data)
		}
		if _, err := Parse(data); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: Parse = %v, want ErrFormat", tt.name, err)
		}
	}
}

func TestDeepNesting(t *testing.T) {
	v := any([]uint8{1})
	for i := 0; i < maxDepth+2; i++ {
		v = []any{v}
	}
	data := writeSample(t, []KV{{"deep", Value{TypeArray, v}}}, nil)
	if _, err := Parse(data); !errors.Is(err, ErrFormat) {
		t.Errorf("Parse of deeply nested arrays = %v, want ErrFormat", err)
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name string
		kv   []KV
		ts   []WriteTensor
	}{
		{"type mismatch", []KV{{"k", Value{TypeUint32, int32(1)}}}, nil},
		{"unknown value type", []KV{{"k", Value{ValueType(42), 1}}}, nil},
		{"bad array", []KV{{"k", Value{TypeArray, []int{1}}}}, nil},
		{"duplicate key", []KV{{"k", Value{TypeBool, true}}, {"k", Value{TypeBool, true}}}, nil},
		{"bad alignment", []KV{{KeyAlignment, Value{TypeUint32, uint32(3)}}}, nil},
		{"short data", nil, []WriteTensor{{Name: "t", Dims: []uint64{32}, Type: tensor.Q8_0, Data: make([]byte, 33)}}},
		{"bad row", nil, []WriteTensor{{Name: "t", Dims: []uint64{31}, Type: tensor.Q8_0, Data: nil}}},
		{"no dims", nil, []WriteTensor{{Name: "t", Type: tensor.F32}}},
		{"duplicate tensor", nil, []WriteTensor{{Name: "t", Dims: []uint64{1}, Type: tensor.F32, Data: make([]byte, 4)}, {Name: "t", Dims: []uint64{1}, Type: tensor.F32, Data: make([]byte, 4)}}},
	}
	for _, tt := range tests {
		if err := Write(&bytes.Buffer{}, tt.kv, tt.ts); err == nil {
			t.Errorf("%s: Write succeeded", tt.name)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(writeSample(f, sampleKV(), sampleTensors(f)))
	f.Add(writeSample(f, nil, nil))
	f.Add(writeSample(f, []KV{{KeyAlignment, Value{TypeUint32, uint32(8)}}}, sampleTensors(f)))
	f.Add([]byte("GGUF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		for i := range file.Tensors {
			ti := &file.Tensors[i]
			if m, err := ti.Matrix(); err == nil && m.Rows > 0 && m.Cols > 0 {
				row := make([]float32, m.Cols)
				m.Row(0, row)
			}
			_ = ti.Elements()
		}
		// Whatever parses must survive a rewrite and reparse unchanged.
		var ws []WriteTensor
		for _, ti := range file.Tensors {
			ws = append(ws, WriteTensor{Name: ti.Name, Dims: ti.Dims, Type: ti.Type, Data: ti.Data})
		}
		var buf bytes.Buffer
		if err := Write(&buf, file.KV, ws); err != nil {
			t.Fatalf("Write of parsed file: %v", err)
		}
		again, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatalf("reparse: %v", err)
		}
		if diff := cmp.Diff(file.KV, again.KV, cmpopts.EquateEmpty(), cmpopts.EquateNaNs()); diff != "" {
			t.Fatalf("metadata changed on rewrite (-first +second):\n%s", diff)
		}
	})
}
