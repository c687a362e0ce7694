package tensor

import (
	"fmt"
	"math"
)

// Matrix is a row-major 2-D weight: Rows rows of Cols elements, each row
// RowBytes(Cols) bytes of Data. A Matrix does not own Data; it usually points
// into a memory-mapped model file and must not be written through.
type Matrix struct {
	Type       Type
	Rows, Cols int
	Data       []byte
}

// Validate checks that the type is known, the shape is non-negative, Cols is
// a multiple of the block size and Data has exactly Rows*RowBytes(Cols) bytes.
func (m Matrix) Validate() error {
	if m.Rows < 0 || m.Cols < 0 {
		return fmt.Errorf("matrix %dx%d: negative shape", m.Rows, m.Cols)
	}
	rb, err := m.Type.RowBytes(m.Cols)
	if err != nil {
		return fmt.Errorf("matrix %dx%d: %w", m.Rows, m.Cols, err)
	}
	if rb != 0 && m.Rows > maxInt/rb {
		return fmt.Errorf("matrix %dx%d %v: size overflows", m.Rows, m.Cols, m.Type)
	}
	if want := m.Rows * rb; len(m.Data) != want {
		return fmt.Errorf("matrix %dx%d %v: need %d bytes, have %d", m.Rows, m.Cols, m.Type, want, len(m.Data))
	}
	return nil
}

// rowBytes is RowBytes for a matrix that has been validated.
func (m Matrix) rowBytes() int {
	rb, _ := m.Type.RowBytes(m.Cols)
	return rb
}

// RowData returns the encoded bytes of row i.
func (m Matrix) RowData(i int) []byte {
	rb := m.rowBytes()
	return m.Data[i*rb : (i+1)*rb]
}

// Row dequantizes row i into dst[:Cols] (used for token-embedding lookups).
// The matrix must be valid and dst at least Cols long; it panics otherwise,
// like an out-of-range slice index.
func (m Matrix) Row(i int, dst []float32) {
	if i < 0 || i >= m.Rows || len(dst) < m.Cols {
		panic(fmt.Sprintf("tensor: Row(%d) of %dx%d matrix into %d floats", i, m.Rows, m.Cols, len(dst)))
	}
	if err := Dequantize(m.Type, m.RowData(i), dst[:m.Cols]); err != nil {
		panic("tensor: Row: " + err.Error())
	}
}

// ReferenceDot returns the dot product of one encoded row of type t with x,
// computed by dequantizing the row and accumulating in float64. It is the
// slow, exact oracle the kernels are tested against.
func ReferenceDot(t Type, row []byte, x []float32) (float64, error) {
	w := make([]float32, len(x))
	if err := Dequantize(t, row, w); err != nil {
		return 0, err
	}
	var s float64
	for i, v := range w {
		s += float64(v) * float64(x[i])
	}
	return s, nil
}

// ReferenceMatVec computes dst[r] = ReferenceDot(row r, x) for every row of m.
func ReferenceMatVec(m Matrix, x []float32) ([]float64, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if len(x) != m.Cols {
		return nil, fmt.Errorf("reference matvec: x has %d elements, matrix has %d columns", len(x), m.Cols)
	}
	out := make([]float64, m.Rows)
	for r := range out {
		v, err := ReferenceDot(m.Type, m.RowData(r), x)
		if err != nil {
			return nil, err
		}
		out[r] = v
	}
	return out, nil
}

// isFinite32 reports whether v is neither NaN nor infinite.
func isFinite32(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }
