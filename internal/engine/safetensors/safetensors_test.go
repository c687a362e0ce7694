package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/outcrop/outcrop/internal/engine/weightstest"
)

func writeBytes(t testing.TB, tensors []Tensor, meta map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, tensors, meta); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	f16 := Tensor{Name: "h", DType: "F16", Shape: []int{4}, Data: []byte{
		0x00, 0x3c, // 1
		0x00, 0xc0, // -2
		0x01, 0x00, // smallest subnormal 2^-24
		0x00, 0x7c, // +Inf
	}}
	bf16 := Tensor{Name: "b", DType: "BF16", Shape: []int{2}, Data: []byte{0x80, 0x3f, 0x40, 0xc0}} // 1, -3
	tensors := []Tensor{
		F32Tensor("w", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6.5}),
		f16, bf16,
		{Name: "i", DType: "I32", Shape: []int{1}, Data: []byte{1, 0, 0, 0}},
		F32Tensor("empty", []int{0, 5}, nil),
		F32Tensor("scalar", []int{}, []float32{7}),
	}
	data := writeBytes(t, tensors, map[string]string{"format": "pt"})
	if got := binary.LittleEndian.Uint64(data) % 8; got != 0 {
		t.Errorf("header length %% 8 = %d, want 0", got)
	}
	f, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if diff := cmp.Diff(map[string]string{"format": "pt"}, f.Metadata); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b", "empty", "h", "i", "scalar", "w"}, f.Names()); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
	tests := []struct {
		name  string
		shape []int
		want  []float32
	}{
		{"w", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6.5}},
		{"h", []int{4}, []float32{1, -2, float32(math.Ldexp(1, -24)), float32(math.Inf(1))}},
		{"b", []int{2}, []float32{1, -3}},
		{"empty", []int{0, 5}, []float32{}},
		{"scalar", []int{}, []float32{7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn, ok := f.Tensor(tc.name)
			if !ok {
				t.Fatalf("Tensor(%q) missing", tc.name)
			}
			if diff := cmp.Diff(tc.shape, tn.Shape); diff != "" {
				t.Errorf("shape (-want +got):\n%s", diff)
			}
			got, err := tn.Float32s()
			if err != nil {
				t.Fatalf("Float32s: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Float32s (-want +got):\n%s", diff)
			}
		})
	}
	tn, _ := f.Tensor("i")
	if _, err := tn.Float32s(); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Float32s(I32) error = %v, want ErrUnsupported", err)
	}
	if _, ok := f.Tensor("nope"); ok {
		t.Errorf("Tensor(nope) found")
	}
}

func TestHalfToFloat(t *testing.T) {
	// Every finite half converts exactly: check against a float64 formula.
	for h := range 1 << 16 {
		exp := (h >> 10) & 0x1f
		if exp == 0x1f {
			continue
		}
		mant := float64(h & 0x3ff)
		var want float64
		if exp == 0 {
			want = math.Ldexp(mant, -24)
		} else {
			want = math.Ldexp(1+mant/1024, exp-15)
		}
		if h>>15 != 0 {
			want = -want
		}
		if got := halfToFloat(uint16(h)); float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
			t.Fatalf("halfToFloat(%#04x) = %v, want %v", h, got, want)
		}
	}
	if got := halfToFloat(0x7e00); !math.IsNaN(float64(got)) {
		t.Errorf("halfToFloat(NaN) = %v", got)
	}
}

// rawFile builds a file from a literal JSON header and a data section.
func rawFile(header string, data int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, data)...)
}

func TestParseErrors(t *testing.T) {
	huge := binary.LittleEndian.AppendUint64(nil, math.MaxUint64)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "shorter than"},
		{"header past end", rawFile("{}", 0)[:9], "exceeds file size"},
		{"huge header length", huge, "exceeds file size"},
		{"bad json", rawFile("{", 0), "header"},
		{"not object", rawFile("[]", 0), "header"},
		{"bad entry", rawFile(`{"a":5}`, 0), `tensor "a"`},
		{"unknown dtype", rawFile(`{"a":{"dtype":"X","shape":[1],"data_offsets":[0,4]}}`, 4), "unknown dtype"},
		{"offsets count", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`, 4), "data_offsets"},
		{"offsets reversed", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, 4), "outside"},
		{"offsets past end", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4), "outside"},
		{"negative offset", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-1,3]}}`, 4), `tensor "a"`},
		{"shape mismatch", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4), "needs 8 bytes"},
		{"negative dim", rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4), "bad dimension"},
		{"overflowing shape", rawFile(`{"a":{"dtype":"F32","shape":[2147483647,2147483647,2147483647,4],"data_offsets":[0,4]}}`, 4), "too large"},
		{"bad metadata", rawFile(`{"__metadata__":{"a":1}}`, 0), "__metadata__"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse error = %v, want containing %q", err, tc.want)
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name    string
		tensors []Tensor
	}{
		{"bad size", []Tensor{{Name: "a", DType: "F32", Shape: []int{2}, Data: make([]byte, 4)}}},
		{"unknown dtype", []Tensor{{Name: "a", DType: "Q4", Shape: []int{1}, Data: make([]byte, 1)}}},
		{"duplicate", []Tensor{F32Tensor("a", []int{1}, []float32{1}), F32Tensor("a", []int{1}, []float32{1})}},
		{"reserved", []Tensor{F32Tensor("__metadata__", []int{1}, []float32{1})}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := Write(&bytes.Buffer{}, tc.tensors, nil); err == nil {
				t.Errorf("Write succeeded, want error")
			}
		})
	}
}

func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	data := writeBytes(t, []Tensor{F32Tensor("x", []int{3}, []float32{1, 2, 3})}, nil)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	x, _ := f.Tensor("x")
	got, err := x.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]float32{1, 2, 3}, got); diff != "" {
		t.Errorf("x (-want +got):\n%s", diff)
	}
	if err := f.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Errorf("Open(missing) succeeded")
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(empty); err == nil {
		t.Errorf("Open(empty) succeeded")
	}
}

// TestOpenMiniLM reads the real default embedding model when it is present.
func TestOpenMiniLM(t *testing.T) {
	path := weightstest.Path(t, "all-MiniLM-L6-v2/model.safetensors")
	f, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer f.Close()
	emb, ok := f.Tensor("embeddings.word_embeddings.weight")
	if !ok {
		t.Fatalf("word embeddings missing; names: %v", f.Names())
	}
	if diff := cmp.Diff([]int{30522, 384}, emb.Shape); diff != "" {
		t.Errorf("word embeddings shape (-want +got):\n%s", diff)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(writeBytes(f, []Tensor{F32Tensor("w", []int{2, 2}, []float32{1, 2, 3, 4})}, map[string]string{"k": "v"}))
	f.Add(writeBytes(f, []Tensor{{Name: "h", DType: "F16", Shape: []int{1}, Data: []byte{0, 0x3c}}}, nil))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[2147483647,2147483647],"data_offsets":[0,4]}}`, 4))
	f.Add(rawFile(`{"a":{"dtype":"BF16","shape":[0],"data_offsets":[0,0]}}`, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := Parse(data)
		if err != nil {
			return
		}
		for _, name := range sf.Names() {
			tn, _ := sf.Tensor(name)
			if v, err := tn.Float32s(); err == nil && len(v) != tn.Elements() {
				t.Fatalf("tensor %q: %d values, want %d", name, len(v), tn.Elements())
			}
		}
	})
}
