package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// Write writes tensors and metadata to w in safetensors format, laying the
// tensors out contiguously in the given order. It is meant for tests and
// tools that build small synthetic models.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	header := make(map[string]any, len(tensors)+1)
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off uint64
	for _, t := range tensors {
		if t.Name == "__metadata__" {
			return fmt.Errorf("safetensors: write: reserved tensor name %q", t.Name)
		}
		if _, dup := header[t.Name]; dup {
			return fmt.Errorf("safetensors: write: duplicate tensor %q", t.Name)
		}
		size, ok := elemSize(t.DType)
		if !ok {
			return fmt.Errorf("safetensors: write %q: unknown dtype %q", t.Name, t.DType)
		}
		if n := t.Elements(); n*size != len(t.Data) {
			return fmt.Errorf("safetensors: write %q: shape %v of %s needs %d bytes, have %d", t.Name, t.Shape, t.DType, n*size, len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = map[string]any{
			"dtype":        t.DType,
			"shape":        shape,
			"data_offsets": []uint64{off, off + uint64(len(t.Data))},
		}
		off += uint64(len(t.Data))
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors: write header: %w", err)
	}
	// Pad the header with spaces so tensor data starts 8-byte aligned.
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	var buf bytes.Buffer
	_ = binary.Write(&buf, binary.LittleEndian, uint64(len(hj)))
	buf.Write(hj)
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	for _, t := range tensors {
		if _, err := w.Write(t.Data); err != nil {
			return fmt.Errorf("safetensors: write %q: %w", t.Name, err)
		}
	}
	return nil
}

// F32Tensor builds an F32 tensor from values, for use with Write.
func F32Tensor(name string, shape []int, values []float32) Tensor {
	data := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
	}
	return Tensor{Name: name, DType: "F32", Shape: shape, Data: data}
}
