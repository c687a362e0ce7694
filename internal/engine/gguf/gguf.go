// Package gguf reads and writes GGUF, the single-file model format of
// ggml/llama.cpp (versions 2 and 3).
//
// # Format
//
// All integers are little-endian. A file is
//
//	magic "GGUF" | version u32 | tensor count u64 | metadata count u64
//	metadata: count × (key string | value type u32 | value)
//	tensor infos: count × (name string | n_dims u32 | dims u64[n_dims] | type u32 | offset u64)
//	padding to the alignment
//	data section: tensor bytes, each at its offset (relative to the start of
//	the data section), each offset a multiple of the alignment
//
// A string is a u64 byte length followed by the bytes (UTF-8, not
// terminated). Value types are u8, i8, u16, i16, u32, i32, f32, bool (one
// byte, 0 or 1), string, array, u64, i64 and f64 ([ValueType]); an array is
// an element type u32, a u64 count and the elements, which may themselves be
// arrays. The alignment is 32 unless the metadata key general.alignment (a
// u32 power of two) says otherwise. Dims are in GGML order: Dims[0] is the
// length of the contiguous rows, and must be a multiple of the type's block
// size.
//
// # Validation
//
// The file is untrusted input. [Parse] (and [Open], which maps the file and
// calls it) checks every count, length, offset and size against the bytes
// that remain, with overflow-checked arithmetic, before allocating or
// slicing: a count never preallocates more than the remaining bytes could
// hold, arrays nest at most 8 deep, keys and tensor names must be unique,
// tensor types must be known, dimension products must not overflow, and
// every tensor must lie inside the data section, aligned, without
// overlapping another. Corrupt or truncated input yields an error, never a
// panic or an out-of-bounds access.
//
// Tensor data is not copied: [TensorInfo.Data] aliases the mapping and is
// valid until [File.Close]. Metadata strings are copied and stay valid.
package gguf

import (
	"errors"
	"fmt"
	"math"

	"github.com/outcrop/outcrop/internal/engine/tensor"
)

// Magic is the 4-byte signature at the start of every GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the data alignment used when general.alignment is absent.
const DefaultAlignment = 32

// KeyAlignment is the metadata key that overrides the data alignment.
const KeyAlignment = "general.alignment"

// maxDims is GGML_MAX_DIMS.
const maxDims = 4

// maxDepth bounds how deeply arrays of arrays may nest.
const maxDepth = 8

// ErrFormat is wrapped by every error about malformed input.
var ErrFormat = errors.New("malformed gguf")

// ValueType is the type tag of a metadata value.
type ValueType uint32

// Metadata value types, with GGUF's numeric tags.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"}

// String returns the type's name, or "type(N)" for unknown tags.
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// size returns the encoded size of a fixed-size value type, or 0 for
// strings, arrays and unknown types.
func (t ValueType) size() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// File is a parsed GGUF file.
type File struct {
	Version   uint32
	Alignment uint64
	KV        []KV         // metadata in file order
	Tensors   []TensorInfo // in file order

	// DataOffset is the file offset of the data section.
	DataOffset uint64

	byName map[string]int
	kvIdx  map[string]int
	unmap  func() error
}

// KV is one metadata entry.
type KV struct {
	Key   string
	Value Value
}

// Value is a typed metadata value. V holds uint8, int8, uint16, int16,
// uint32, int32, uint64, int64, float32, float64, bool or string; for arrays
// (Type == TypeArray) it holds a typed slice ([]uint8 … []int64, []float32,
// []float64, []bool, []string), or []any for an array of arrays, whose
// elements are again such slices.
type Value struct {
	Type ValueType
	V    any
}

// TensorInfo describes one tensor and gives access to its bytes.
type TensorInfo struct {
	Name   string
	Dims   []uint64 // GGML order: Dims[0] is the contiguous row length
	Type   tensor.Type
	Offset uint64 // relative to the start of the data section
	Data   []byte // the tensor's bytes (a slice of the mapping)
}

// Elements returns the number of elements (the product of Dims).
func (t *TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d // cannot overflow for a parsed tensor
	}
	return n
}

// Matrix returns the tensor as a row-major matrix: Cols = Dims[0] and Rows =
// the product of the other dimensions (1 for a 1-D tensor).
func (t *TensorInfo) Matrix() (tensor.Matrix, error) {
	if len(t.Dims) == 0 {
		return tensor.Matrix{}, fmt.Errorf("tensor %q has no dimensions", t.Name)
	}
	rows := uint64(1)
	for _, d := range t.Dims[1:] {
		rows *= d
	}
	if t.Dims[0] > math.MaxInt32*64 || rows > math.MaxInt32*64 {
		return tensor.Matrix{}, fmt.Errorf("tensor %q: shape %v too large", t.Name, t.Dims)
	}
	m := tensor.Matrix{Type: t.Type, Rows: int(rows), Cols: int(t.Dims[0]), Data: t.Data}
	if err := m.Validate(); err != nil {
		return tensor.Matrix{}, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	return m, nil
}

// Close releases the mapping. Tensor data must not be used afterwards.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	u := f.unmap
	f.unmap = nil
	for i := range f.Tensors {
		f.Tensors[i].Data = nil
	}
	return u()
}

// Lookup returns the value of a metadata key.
func (f *File) Lookup(key string) (Value, bool) {
	i, ok := f.kvIdx[key]
	if !ok {
		return Value{}, false
	}
	return f.KV[i].Value, true
}

// Tensor returns the tensor with the given name.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.byName[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// String returns a string value.
func (f *File) String(key string) (string, bool) {
	v, ok := f.Lookup(key)
	s, isStr := v.V.(string)
	return s, ok && isStr
}

// Uint returns an integer value of any integer type if it is non-negative.
func (f *File) Uint(key string) (uint64, bool) {
	v, ok := f.Lookup(key)
	if !ok {
		return 0, false
	}
	if u, ok := v.V.(uint64); ok {
		return u, true
	}
	i, ok := asInt64(v.V)
	if !ok || i < 0 {
		return 0, false
	}
	return uint64(i), true
}

// Int returns an integer value of any integer type if it fits in int64.
func (f *File) Int(key string) (int64, bool) {
	v, ok := f.Lookup(key)
	if !ok {
		return 0, false
	}
	return asInt64(v.V)
}

func asInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case uint8:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case int16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

// Float returns a float32 or float64 value (integers are converted too).
func (f *File) Float(key string) (float64, bool) {
	v, ok := f.Lookup(key)
	if !ok {
		return 0, false
	}
	switch x := v.V.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	if i, ok := asInt64(v.V); ok {
		return float64(i), true
	}
	if u, ok := v.V.(uint64); ok {
		return float64(u), true
	}
	return 0, false
}

// Bool returns a bool value.
func (f *File) Bool(key string) (bool, bool) {
	v, ok := f.Lookup(key)
	b, isBool := v.V.(bool)
	return b, ok && isBool
}

// Strings returns an array of strings.
func (f *File) Strings(key string) ([]string, bool) {
	v, ok := f.Lookup(key)
	s, isStrs := v.V.([]string)
	return s, ok && isStrs
}

// Float32s returns an array of float32 (a float64 array is converted).
func (f *File) Float32s(key string) ([]float32, bool) {
	v, ok := f.Lookup(key)
	if !ok {
		return nil, false
	}
	switch x := v.V.(type) {
	case []float32:
		return x, true
	case []float64:
		out := make([]float32, len(x))
		for i, e := range x {
			out[i] = float32(e)
		}
		return out, true
	}
	return nil, false
}

// Int32s returns an array of int32; other integer array types are converted
// when every element fits.
func (f *File) Int32s(key string) ([]int32, bool) {
	v, ok := f.Lookup(key)
	if !ok {
		return nil, false
	}
	switch x := v.V.(type) {
	case []int32:
		return x, true
	case []uint8:
		return convertInts(x)
	case []int8:
		return convertInts(x)
	case []uint16:
		return convertInts(x)
	case []int16:
		return convertInts(x)
	case []uint32:
		return convertInts(x)
	case []uint64:
		return convertInts(x)
	case []int64:
		return convertInts(x)
	}
	return nil, false
}

func convertInts[T uint8 | int8 | uint16 | int16 | uint32 | uint64 | int64](x []T) ([]int32, bool) {
	out := make([]int32, len(x))
	for i, e := range x {
		if int64(e) < math.MinInt32 || int64(e) > math.MaxInt32 || (e > 0 && uint64(e) > math.MaxInt32) {
			return nil, false
		}
		out[i] = int32(e)
	}
	return out, true
}
