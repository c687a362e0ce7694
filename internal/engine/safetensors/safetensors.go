// Package safetensors reads and writes the safetensors tensor file format:
// an 8-byte little-endian header length, a JSON header describing each
// tensor (dtype, shape, data_offsets) plus optional string metadata under
// "__metadata__", then the raw little-endian tensor bytes.
//
// Every length, offset and shape in a file is validated against the file size
// with overflow-checked arithmetic, so a corrupt or hostile file yields an
// error, never a panic or an out-of-range slice.
package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"slices"
)

// maxHeaderLen bounds the JSON header; real files have headers of a few
// hundred kilobytes at most.
const maxHeaderLen = 100 << 20

// ErrUnsupported reports a dtype that the reader recognises but cannot
// convert to float32.
var ErrUnsupported = errors.New("unsupported dtype")

// elemSize returns the size in bytes of one element of every dtype the
// format defines, and false for unknown names.
func elemSize(dtype string) (int, bool) {
	switch dtype {
	case "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3":
		return 1, true
	case "I16", "U16", "F16", "BF16":
		return 2, true
	case "I32", "U32", "F32":
		return 4, true
	case "I64", "U64", "F64":
		return 8, true
	}
	return 0, false
}

// Tensor is one named tensor. Data holds the raw little-endian bytes; for a
// tensor from a File it aliases the file mapping and is valid only until
// File.Close.
type Tensor struct {
	Name  string
	DType string
	Shape []int
	Data  []byte
}

// Elements returns the number of elements, the product of Shape.
func (t Tensor) Elements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is a parsed safetensors file. Its methods are safe for concurrent use
// until Close.
type File struct {
	// Metadata holds the optional "__metadata__" string map.
	Metadata map[string]string

	tensors map[string]Tensor
	names   []string
	unmap   func() error
}

// Open maps the file at path into memory and parses it. The caller must call
// Close when done with the file and every Tensor.Data taken from it.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	data, unmap, err := mapFile(f)
	if err != nil {
		return nil, fmt.Errorf("safetensors: map %s: %w", path, err)
	}
	sf, err := Parse(data)
	if err != nil {
		_ = unmap()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sf.unmap = unmap
	return sf, nil
}

type headerEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int64  `json:"shape"`
	DataOffsets []uint64 `json:"data_offsets"`
}

// Parse parses a safetensors file held in data. The returned tensors alias
// data.
func Parse(data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("safetensors: file of %d bytes is shorter than the 8-byte header length", len(data))
	}
	hlen := binary.LittleEndian.Uint64(data)
	if hlen > maxHeaderLen || hlen > uint64(len(data)-8) {
		return nil, fmt.Errorf("safetensors: header length %d exceeds file size %d", hlen, len(data))
	}
	header := data[8 : 8+hlen]
	body := data[8+hlen:]

	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, fmt.Errorf("safetensors: header: %w", err)
	}
	f := &File{tensors: make(map[string]Tensor, len(raw))}
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, fmt.Errorf("safetensors: __metadata__: %w", err)
			}
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
		t, err := e.tensor(name, body)
		if err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
		f.tensors[name] = t
		f.names = append(f.names, name)
	}
	slices.Sort(f.names)
	return f, nil
}

func (e headerEntry) tensor(name string, body []byte) (Tensor, error) {
	size, ok := elemSize(e.DType)
	if !ok {
		return Tensor{}, fmt.Errorf("unknown dtype %q", e.DType)
	}
	if len(e.DataOffsets) != 2 {
		return Tensor{}, fmt.Errorf("data_offsets has %d values, want 2", len(e.DataOffsets))
	}
	begin, end := e.DataOffsets[0], e.DataOffsets[1]
	if begin > end || end > uint64(len(body)) {
		return Tensor{}, fmt.Errorf("data_offsets [%d, %d] outside data of %d bytes", begin, end, len(body))
	}
	shape := make([]int, len(e.Shape))
	n := uint64(1)
	for i, d := range e.Shape {
		if d < 0 || d > math.MaxInt32 {
			return Tensor{}, fmt.Errorf("bad dimension %d", d)
		}
		shape[i] = int(d)
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > uint64(len(body)) {
			// More elements than the data could hold (an element is at
			// least one byte), unless the tensor is empty.
			if !slices.Contains(e.Shape, 0) {
				return Tensor{}, fmt.Errorf("shape %v too large for data of %d bytes", e.Shape, len(body))
			}
			lo = 0
		}
		n = lo
	}
	hi, nbytes := bits.Mul64(n, uint64(size))
	if hi != 0 || nbytes != end-begin {
		return Tensor{}, fmt.Errorf("shape %v of %s needs %d bytes, data_offsets give %d", e.Shape, e.DType, nbytes, end-begin)
	}
	return Tensor{Name: name, DType: e.DType, Shape: shape, Data: body[begin:end:end]}, nil
}

// Close releases the file mapping. Tensor data taken from f must not be used
// afterwards.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap = nil
	f.tensors = nil
	return err
}

// Tensor returns the tensor called name.
func (f *File) Tensor(name string) (Tensor, bool) {
	t, ok := f.tensors[name]
	return t, ok
}

// Names returns the tensor names in sorted order.
func (f *File) Names() []string {
	return slices.Clone(f.names)
}

// Float32s converts the tensor to a new []float32. F32, F16 and BF16 are
// supported; other dtypes return an error wrapping ErrUnsupported.
func (t Tensor) Float32s() ([]float32, error) {
	size, ok := elemSize(t.DType)
	if !ok || (t.DType != "F32" && t.DType != "F16" && t.DType != "BF16") {
		return nil, fmt.Errorf("tensor %q: %w %q", t.Name, ErrUnsupported, t.DType)
	}
	if len(t.Data)%size != 0 {
		return nil, fmt.Errorf("tensor %q: %d bytes is not a multiple of %d", t.Name, len(t.Data), size)
	}
	out := make([]float32, len(t.Data)/size)
	d := t.Data
	switch t.DType {
	case "F32":
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(d[4*i:]))
		}
	case "F16":
		for i := range out {
			out[i] = halfToFloat(binary.LittleEndian.Uint16(d[2*i:]))
		}
	case "BF16":
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(d[2*i:])) << 16)
		}
	}
	return out, nil
}

// halfToFloat converts an IEEE 754 binary16 value to float32 exactly.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0: // signed zero
		return math.Float32frombits(sign)
	default: // subnormal: value is mant * 2^-24
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
}
