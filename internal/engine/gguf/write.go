package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/outcrop/outcrop/internal/engine/tensor"
)

// WriteTensor is a tensor to be written by [Write].
type WriteTensor struct {
	Name string
	Dims []uint64 // GGML order: Dims[0] is the row length
	Type tensor.Type
	Data []byte // exactly the tensor's encoded size
}

// Write writes a GGUF version 3 file with the given metadata and tensors,
// in order. The data alignment is 32 unless kv contains general.alignment
// (a uint32 power of two). Values must use the Go types listed on [Value];
// Value.Type is checked against them. Write is meant for tests and tools
// that build synthetic models.
func Write(w io.Writer, kv []KV, tensors []WriteTensor) error {
	align := uint64(DefaultAlignment)
	seen := make(map[string]bool, len(kv))
	for _, e := range kv {
		if seen[e.Key] {
			return fmt.Errorf("write gguf: duplicate key %q", e.Key)
		}
		seen[e.Key] = true
		if e.Key == KeyAlignment {
			a, ok := e.Value.V.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return fmt.Errorf("write gguf: %s must be a power-of-two uint32", KeyAlignment)
			}
			align = uint64(a)
		}
	}
	bw := bufio.NewWriter(w)
	e := &encoder{w: bw}
	e.raw([]byte(Magic))
	e.u32(3)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kv)))
	for _, m := range kv {
		e.str(m.Key)
		e.u32(uint32(m.Value.Type))
		if err := e.value(m.Value.Type, m.Value.V); err != nil {
			return fmt.Errorf("write gguf: key %q: %w", m.Key, err)
		}
	}
	names := make(map[string]bool, len(tensors))
	offsets := make([]uint64, len(tensors))
	var off uint64
	for i, t := range tensors {
		if names[t.Name] {
			return fmt.Errorf("write gguf: duplicate tensor %q", t.Name)
		}
		names[t.Name] = true
		if len(t.Dims) == 0 || len(t.Dims) > maxDims {
			return fmt.Errorf("write gguf: tensor %q has %d dimensions", t.Name, len(t.Dims))
		}
		size, err := tensorSize(t.Type, t.Dims)
		if err != nil {
			return fmt.Errorf("write gguf: tensor %q: %w", t.Name, err)
		}
		if uint64(len(t.Data)) != size {
			return fmt.Errorf("write gguf: tensor %q: %d bytes of data, shape %v of %v needs %d", t.Name, len(t.Data), t.Dims, t.Type, size)
		}
		offsets[i] = off
		off = alignUp(off+size, align)
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(offsets[i])
	}
	e.pad(align)
	start := e.n
	for i, t := range tensors {
		e.pad0(start + offsets[i])
		e.raw(t.Data)
	}
	if len(tensors) > 0 {
		e.pad(align)
	}
	if e.err != nil {
		return fmt.Errorf("write gguf: %w", e.err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write gguf: %w", err)
	}
	return nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

// tensorSize returns the encoded size of a tensor of type t and shape dims.
func tensorSize(t tensor.Type, dims []uint64) (uint64, error) {
	if !t.Known() {
		return 0, fmt.Errorf("unknown type %v", t)
	}
	n := uint64(1)
	for _, d := range dims {
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("shape %v overflows", dims)
		}
		n *= d
	}
	bs := uint64(t.BlockSize())
	if dims[0]%bs != 0 {
		return 0, fmt.Errorf("row length %d is not a multiple of the %v block size %d", dims[0], t, bs)
	}
	return n / bs * uint64(t.BlockBytes()), nil
}

// encoder writes little-endian values and remembers the first error.
type encoder struct {
	w   *bufio.Writer
	n   uint64
	err error
	buf [8]byte
}

func (e *encoder) raw(b []byte) {
	if e.err != nil {
		return
	}
	var k int
	k, e.err = e.w.Write(b)
	e.n += uint64(k)
}

func (e *encoder) u8(v uint8) { e.raw([]byte{v}) }
func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.buf[:], v)
	e.raw(e.buf[:2])
}
func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:], v)
	e.raw(e.buf[:4])
}
func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:], v)
	e.raw(e.buf[:8])
}
func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.raw([]byte(s))
}

// pad writes zeros up to the next multiple of a.
func (e *encoder) pad(a uint64) { e.pad0(alignUp(e.n, a)) }

// pad0 writes zeros until e.n == to.
func (e *encoder) pad0(to uint64) {
	var zero [64]byte
	for e.n < to && e.err == nil {
		e.raw(zero[:min(uint64(len(zero)), to-e.n)])
	}
}

func (e *encoder) bool(b bool) {
	if b {
		e.u8(1)
	} else {
		e.u8(0)
	}
}

// value writes a scalar or array value whose tag is typ.
func (e *encoder) value(typ ValueType, v any) error {
	ok := true
	switch typ {
	case TypeUint8:
		var x uint8
		x, ok = v.(uint8)
		e.u8(x)
	case TypeInt8:
		var x int8
		x, ok = v.(int8)
		e.u8(uint8(x))
	case TypeUint16:
		var x uint16
		x, ok = v.(uint16)
		e.u16(x)
	case TypeInt16:
		var x int16
		x, ok = v.(int16)
		e.u16(uint16(x))
	case TypeUint32:
		var x uint32
		x, ok = v.(uint32)
		e.u32(x)
	case TypeInt32:
		var x int32
		x, ok = v.(int32)
		e.u32(uint32(x))
	case TypeUint64:
		var x uint64
		x, ok = v.(uint64)
		e.u64(x)
	case TypeInt64:
		var x int64
		x, ok = v.(int64)
		e.u64(uint64(x))
	case TypeFloat32:
		var x float32
		x, ok = v.(float32)
		e.u32(math.Float32bits(x))
	case TypeFloat64:
		var x float64
		x, ok = v.(float64)
		e.u64(math.Float64bits(x))
	case TypeBool:
		var x bool
		x, ok = v.(bool)
		e.bool(x)
	case TypeString:
		var x string
		x, ok = v.(string)
		e.str(x)
	case TypeArray:
		return e.array(v)
	default:
		return fmt.Errorf("unknown value type %d", uint32(typ))
	}
	if !ok {
		return fmt.Errorf("value of Go type %T does not match %v", v, typ)
	}
	return nil
}

// array writes an array body: element type, count, elements.
func (e *encoder) array(v any) error {
	switch x := v.(type) {
	case []uint8:
		writeArray(e, TypeUint8, x, e.u8)
	case []int8:
		writeArray(e, TypeInt8, x, func(v int8) { e.u8(uint8(v)) })
	case []uint16:
		writeArray(e, TypeUint16, x, e.u16)
	case []int16:
		writeArray(e, TypeInt16, x, func(v int16) { e.u16(uint16(v)) })
	case []uint32:
		writeArray(e, TypeUint32, x, e.u32)
	case []int32:
		writeArray(e, TypeInt32, x, func(v int32) { e.u32(uint32(v)) })
	case []uint64:
		writeArray(e, TypeUint64, x, e.u64)
	case []int64:
		writeArray(e, TypeInt64, x, func(v int64) { e.u64(uint64(v)) })
	case []float32:
		writeArray(e, TypeFloat32, x, func(v float32) { e.u32(math.Float32bits(v)) })
	case []float64:
		writeArray(e, TypeFloat64, x, func(v float64) { e.u64(math.Float64bits(v)) })
	case []bool:
		writeArray(e, TypeBool, x, e.bool)
	case []string:
		writeArray(e, TypeString, x, e.str)
	case []any:
		e.u32(uint32(TypeArray))
		e.u64(uint64(len(x)))
		for _, inner := range x {
			// Each element is an array body with its own element type.
			if err := e.array(inner); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("array value of Go type %T is not supported", v)
	}
	return nil
}

func writeArray[T any](e *encoder, et ValueType, xs []T, put func(T)) {
	e.u32(uint32(et))
	e.u64(uint64(len(xs)))
	for _, x := range xs {
		put(x)
	}
}
