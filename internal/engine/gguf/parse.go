package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/outcrop/outcrop/internal/engine/tensor"
)

// Parse parses a GGUF file held in memory. The returned File's tensor data
// aliases data.
func Parse(data []byte) (*File, error) {
	r := &reader{b: data}
	f, err := r.file()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return f, nil
}

// reader is a bounds-checked little-endian cursor. After the first error
// every read returns zero values and r.err keeps the first error.
type reader struct {
	b   []byte
	off uint64
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("offset %d: "+format, append([]any{r.off}, args...)...)
	}
}

func (r *reader) remaining() uint64 {
	if r.err != nil {
		return 0
	}
	return uint64(len(r.b)) - r.off
}

// take returns the next n bytes, or nil (and sets r.err) if there are fewer.
func (r *reader) take(n uint64, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > r.remaining() {
		r.fail("%s: need %d bytes, %d left", what, n, r.remaining())
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) u8(what string) uint8 {
	if b := r.take(1, what); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16(what string) uint16 {
	if b := r.take(2, what); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32(what string) uint32 {
	if b := r.take(4, what); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64(what string) uint64 {
	if b := r.take(8, what); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *reader) str(what string) string {
	n := r.u64(what + " length")
	return string(r.take(n, what))
}

// count reads a u64 element count and checks that count elements of at
// least minSize bytes each can fit in the remaining input.
func (r *reader) count(what string, minSize uint64) uint64 {
	n := r.u64(what)
	if r.err != nil {
		return 0
	}
	if hi, lo := bits.Mul64(n, minSize); hi != 0 || lo > r.remaining() {
		r.fail("%s %d: needs at least %d bytes each, only %d left", what, n, minSize, r.remaining())
		return 0
	}
	return n
}

func (r *reader) file() (*File, error) {
	if m := r.take(4, "magic"); r.err == nil && string(m) != Magic {
		return nil, fmt.Errorf("bad magic %q", m)
	}
	f := &File{Version: r.u32("version")}
	if r.err == nil && f.Version != 2 && f.Version != 3 {
		return nil, fmt.Errorf("unsupported version %d", f.Version)
	}
	// A tensor info takes at least 8 (name length) + 4 + 4 + 8 bytes, a
	// metadata entry at least 8 (key length) + 4 + 1.
	nTensors := r.u64("tensor count")
	nKV := r.count("metadata count", 13)
	if r.err != nil {
		return nil, r.err
	}
	f.KV = make([]KV, 0, nKV)
	f.kvIdx = make(map[string]int, nKV)
	for i := uint64(0); i < nKV; i++ {
		key := r.str("metadata key")
		typ := ValueType(r.u32("metadata value type"))
		v := r.value(typ, 0)
		if r.err != nil {
			return nil, fmt.Errorf("metadata %d (%q): %w", i, key, r.err)
		}
		if _, dup := f.kvIdx[key]; dup {
			return nil, fmt.Errorf("duplicate metadata key %q", key)
		}
		f.kvIdx[key] = len(f.KV)
		f.KV = append(f.KV, KV{Key: key, Value: v})
	}
	f.Alignment = DefaultAlignment
	if v, ok := f.Lookup(KeyAlignment); ok {
		a, isU32 := v.V.(uint32)
		if !isU32 || a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("%s must be a power-of-two uint32, got %s %v", KeyAlignment, v.Type, v.V)
		}
		f.Alignment = uint64(a)
	}
	if hi, lo := bits.Mul64(nTensors, 24); hi != 0 || lo > r.remaining() {
		return nil, fmt.Errorf("tensor count %d does not fit in %d remaining bytes", nTensors, r.remaining())
	}
	f.Tensors = make([]TensorInfo, nTensors)
	f.byName = make(map[string]int, nTensors)
	sizes := make([]uint64, nTensors)
	for i := range f.Tensors {
		t := &f.Tensors[i]
		var err error
		if sizes[i], err = r.tensorInfo(t); err != nil {
			return nil, fmt.Errorf("tensor %d (%q): %w", i, t.Name, err)
		}
		if _, dup := f.byName[t.Name]; dup {
			return nil, fmt.Errorf("duplicate tensor name %q", t.Name)
		}
		f.byName[t.Name] = i
	}
	// The data section starts at the next multiple of the alignment.
	start := r.off
	if pad := (f.Alignment - start%f.Alignment) % f.Alignment; pad > 0 {
		start += pad
	}
	if nTensors == 0 {
		f.DataOffset = min(start, uint64(len(r.b)))
		return f, nil
	}
	if start > uint64(len(r.b)) {
		return nil, fmt.Errorf("data section at %d is past the end of the file (%d bytes)", start, len(r.b))
	}
	f.DataOffset = start
	return f, f.placeTensors(r.b[start:], sizes)
}

// tensorInfo reads one tensor-table entry and returns the tensor's size in bytes.
func (r *reader) tensorInfo(t *TensorInfo) (uint64, error) {
	t.Name = r.str("tensor name")
	nd := r.u32("dimension count")
	if r.err != nil {
		return 0, r.err
	}
	if nd == 0 || nd > maxDims {
		return 0, fmt.Errorf("%d dimensions, want 1..%d", nd, maxDims)
	}
	t.Dims = make([]uint64, nd)
	elems := uint64(1)
	for j := range t.Dims {
		t.Dims[j] = r.u64("dimension")
		var hi uint64
		hi, elems = bits.Mul64(elems, t.Dims[j])
		if hi != 0 || elems > math.MaxInt64 {
			return 0, fmt.Errorf("shape %v overflows", t.Dims[:j+1])
		}
	}
	t.Type = tensor.Type(r.u32("tensor type"))
	t.Offset = r.u64("tensor offset")
	if r.err != nil {
		return 0, r.err
	}
	if !t.Type.Known() {
		return 0, fmt.Errorf("unknown tensor type %d", uint32(t.Type))
	}
	bs, bb := uint64(t.Type.BlockSize()), uint64(t.Type.BlockBytes())
	if t.Dims[0]%bs != 0 {
		return 0, fmt.Errorf("row length %d is not a multiple of the %v block size %d", t.Dims[0], t.Type, bs)
	}
	hi, size := bits.Mul64(elems/bs, bb)
	if hi != 0 || size > math.MaxInt64 {
		return 0, fmt.Errorf("size of shape %v overflows", t.Dims)
	}
	return size, nil
}

// placeTensors checks offsets and sizes against the data section and slices
// each tensor's bytes out of it.
func (f *File) placeTensors(data []byte, sizes []uint64) error {
	order := make([]int, len(f.Tensors))
	for i := range order {
		t := &f.Tensors[i]
		order[i] = i
		if t.Offset%f.Alignment != 0 {
			return fmt.Errorf("tensor %q: offset %d is not a multiple of the alignment %d", t.Name, t.Offset, f.Alignment)
		}
		end, carry := bits.Add64(t.Offset, sizes[i], 0)
		if carry != 0 || end > uint64(len(data)) {
			return fmt.Errorf("tensor %q: bytes [%d, %d+%d) extend past the data section (%d bytes)", t.Name, t.Offset, t.Offset, sizes[i], len(data))
		}
		t.Data = data[t.Offset:end:end]
	}
	slices.SortFunc(order, func(a, b int) int {
		ta, tb := f.Tensors[a].Offset, f.Tensors[b].Offset
		if ta != tb {
			if ta < tb {
				return -1
			}
			return 1
		}
		return a - b
	})
	for k := 1; k < len(order); k++ {
		prev, cur := order[k-1], order[k]
		if f.Tensors[prev].Offset+sizes[prev] > f.Tensors[cur].Offset {
			return fmt.Errorf("tensors %q and %q overlap", f.Tensors[prev].Name, f.Tensors[cur].Name)
		}
	}
	return nil
}

// value reads one metadata value of type typ.
func (r *reader) value(typ ValueType, depth int) Value {
	v := Value{Type: typ}
	switch typ {
	case TypeUint8:
		v.V = r.u8("uint8")
	case TypeInt8:
		v.V = int8(r.u8("int8"))
	case TypeUint16:
		v.V = r.u16("uint16")
	case TypeInt16:
		v.V = int16(r.u16("int16"))
	case TypeUint32:
		v.V = r.u32("uint32")
	case TypeInt32:
		v.V = int32(r.u32("int32"))
	case TypeUint64:
		v.V = r.u64("uint64")
	case TypeInt64:
		v.V = int64(r.u64("int64"))
	case TypeFloat32:
		v.V = math.Float32frombits(r.u32("float32"))
	case TypeFloat64:
		v.V = math.Float64frombits(r.u64("float64"))
	case TypeBool:
		v.V = r.boolean()
	case TypeString:
		v.V = r.str("string")
	case TypeArray:
		v.V = r.array(depth)
	default:
		r.fail("unknown value type %d", uint32(typ))
	}
	return v
}

func (r *reader) boolean() bool {
	b := r.u8("bool")
	if b > 1 {
		r.fail("bool value %d", b)
	}
	return b == 1
}

// array reads an array body (element type, count, elements) as a typed slice.
func (r *reader) array(depth int) any {
	if depth >= maxDepth {
		r.fail("arrays nested deeper than %d", maxDepth)
		return nil
	}
	et := ValueType(r.u32("array element type"))
	if r.err != nil {
		return nil
	}
	minSize := uint64(et.size())
	switch et {
	case TypeString:
		minSize = 8
	case TypeArray:
		minSize = 12
	}
	if minSize == 0 {
		r.fail("unknown array element type %d", uint32(et))
		return nil
	}
	n := r.count("array length", minSize)
	if r.err != nil {
		return nil
	}
	switch et {
	case TypeUint8:
		return fixed(r, n, 1, func(b []byte) uint8 { return b[0] })
	case TypeInt8:
		return fixed(r, n, 1, func(b []byte) int8 { return int8(b[0]) })
	case TypeUint16:
		return fixed(r, n, 2, binary.LittleEndian.Uint16)
	case TypeInt16:
		return fixed(r, n, 2, func(b []byte) int16 { return int16(binary.LittleEndian.Uint16(b)) })
	case TypeUint32:
		return fixed(r, n, 4, binary.LittleEndian.Uint32)
	case TypeInt32:
		return fixed(r, n, 4, func(b []byte) int32 { return int32(binary.LittleEndian.Uint32(b)) })
	case TypeUint64:
		return fixed(r, n, 8, binary.LittleEndian.Uint64)
	case TypeInt64:
		return fixed(r, n, 8, func(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) })
	case TypeFloat32:
		return fixed(r, n, 4, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) })
	case TypeFloat64:
		return fixed(r, n, 8, func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) })
	case TypeBool:
		out := make([]bool, n)
		for i := range out {
			out[i] = r.boolean()
		}
		return out
	case TypeString:
		out := make([]string, n)
		for i := range out {
			if out[i] = r.str("string"); r.err != nil {
				return nil
			}
		}
		return out
	default: // TypeArray
		out := make([]any, n)
		for i := range out {
			if out[i] = r.value(TypeArray, depth+1).V; r.err != nil {
				return nil
			}
		}
		return out
	}
}

// fixed decodes n fixed-size elements; count has already checked that
// n*size bytes remain.
func fixed[T any](r *reader, n uint64, size int, dec func([]byte) T) []T {
	b := r.take(n*uint64(size), "array")
	if b == nil {
		return nil
	}
	out := make([]T, n)
	for i := range out {
		out[i] = dec(b[i*size:])
	}
	return out
}
