package tensor

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"testing"
)

// TestGoldenDequantize checks Dequantize against vectors produced by
// gguf-py's independent implementation (testdata/gen_golden.py).
func TestGoldenDequantize(t *testing.T) {
	raw, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Type   string
		ID     uint32
		Data   string
		Values []float64
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 11 {
		t.Fatalf("golden.json has %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Type, func(t *testing.T) {
			typ := Type(c.ID)
			if typ.String() != c.Type {
				t.Fatalf("type %d is %v here, %s in the golden file", c.ID, typ, c.Type)
			}
			data, err := hex.DecodeString(c.Data)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, len(c.Values))
			if err := Dequantize(typ, data, got); err != nil {
				t.Fatal(err)
			}
			for i, want := range c.Values {
				if d := math.Abs(float64(got[i]) - want); d > 1e-6*math.Abs(want)+1e-7 {
					t.Fatalf("element %d = %v, want %v", i, got[i], want)
				}
			}
		})
	}
}

// TestGoldenBlocks decodes hand-built blocks whose values follow directly
// from ggml's layout description.
func TestGoldenBlocks(t *testing.T) {
	h := func(f float32) []byte { return binary.LittleEndian.AppendUint16(nil, floatToHalf(f)) }
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	seq := func(n int, f func(i int) byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = f(i)
		}
		return b
	}
	tests := []struct {
		name string
		typ  Type
		blk  []byte
		want func(i int) float32
	}{
		{
			// Byte j: low nibble = element j, high nibble = element j+16.
			name: "Q4_0", typ: Q4_0,
			blk: cat(h(0.5), seq(16, func(j int) byte { return byte(j) | byte(15-j)<<4 })),
			want: func(i int) float32 {
				if i < 16 {
					return float32(i-8) * 0.5
				}
				return float32(15-(i-16)-8) * 0.5
			},
		},
		{
			name: "Q4_1", typ: Q4_1,
			blk:  cat(h(0.25), h(-1), seq(16, func(j int) byte { return 0x3 | 0xc<<4 })),
			want: func(i int) float32 { return map[bool]float32{true: 3*0.25 - 1, false: 12*0.25 - 1}[i < 16] },
		},
		{
			// Bit j of qh is the 5th bit of element j, bit j+16 that of element j+16.
			name: "Q5_0", typ: Q5_0,
			blk: cat(h(1), []byte{0x01, 0x00, 0x01, 0x00}, seq(16, func(int) byte { return 0x00 })),
			want: func(i int) float32 {
				if i == 0 || i == 16 {
					return 0 // (16 - 16)
				}
				return -16
			},
		},
		{
			name: "Q5_1", typ: Q5_1,
			blk:  cat(h(2), h(0.5), []byte{0xff, 0xff, 0xff, 0xff}, seq(16, func(int) byte { return 0xff })),
			want: func(int) float32 { return 31*2 + 0.5 },
		},
		{
			name: "Q8_0", typ: Q8_0,
			blk:  cat(h(2), seq(32, func(j int) byte { return byte(int8(j - 16)) })),
			want: func(i int) float32 { return float32(i-16) * 2 },
		},
		{
			name: "Q8_1", typ: Q8_1,
			blk:  cat(h(0.5), h(123), seq(32, func(j int) byte { return byte(int8(-j)) })),
			want: func(i int) float32 { return float32(-i) * 0.5 },
		},
		{
			// Sub-block s has scale s+1 and min s; sub-block 7 has scale 63,
			// whose top two bits live in byte 3. Every nibble is 2.
			name: "Q4_K", typ: Q4_K,
			blk: cat(h(1), h(0.5),
				[]byte{1, 2, 3, 4 | 3<<6, 0, 1, 2, 3, 5 | 4<<4, 6 | 5<<4, 7 | 6<<4, 15 | 7<<4},
				seq(128, func(int) byte { return 0x22 })),
			want: func(i int) float32 {
				s := i / 32
				sc := float32(s + 1)
				if s == 7 {
					sc = 63
				}
				return sc*2 - 0.5*float32(s)
			},
		},
		{
			// All nibbles 0, all high bits set: q = 16 everywhere.
			name: "Q5_K", typ: Q5_K,
			blk: cat(h(1), h(0),
				[]byte{1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1},
				seq(32, func(int) byte { return 0xff }), seq(128, func(int) byte { return 0 })),
			want: func(int) float32 { return 16 },
		},
		{
			// ql = 0, qh = 0 gives q = -32; scale of group g (16 elements) is g-8.
			name: "Q6_K", typ: Q6_K,
			blk: cat(seq(128, func(int) byte { return 0 }), seq(64, func(int) byte { return 0 }),
				seq(16, func(g int) byte { return byte(int8(g - 8)) }), h(0.25)),
			want: func(i int) float32 {
				// Element i of a 128-element half: l = i%32 picks the group
				// (l/16) + 2*(i/32 within the half), plus 8 for the second half.
				half, j := i/128, i%128
				g := 8*half + 2*(j/32) + (j%32)/16
				return 0.25 * float32(g-8) * -32
			},
		},
		{
			name: "Q8_K", typ: Q8_K,
			blk: cat(binary.LittleEndian.AppendUint32(nil, math.Float32bits(0.125)),
				seq(256, func(j int) byte { return byte(int8(j - 128)) }), make([]byte, 32)),
			want: func(i int) float32 { return float32(i-128) * 0.125 },
		},
		{
			name: "F16", typ: F16, blk: cat(h(1.5), h(-0.25)),
			want: func(i int) float32 { return []float32{1.5, -0.25}[i] },
		},
		{
			name: "BF16", typ: BF16, blk: []byte{0x80, 0x3f, 0x40, 0xc0},
			want: func(i int) float32 { return []float32{1, -3}[i] },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.blk)%tt.typ.BlockBytes() != 0 {
				t.Fatalf("test block is %d bytes, type has %d-byte blocks", len(tt.blk), tt.typ.BlockBytes())
			}
			n := len(tt.blk) / tt.typ.BlockBytes() * tt.typ.BlockSize()
			got := make([]float32, n)
			if err := Dequantize(tt.typ, tt.blk, got); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if want := tt.want(i); got[i] != want {
					t.Errorf("element %d = %v, want %v", i, got[i], want)
				}
			}
		})
	}
}
