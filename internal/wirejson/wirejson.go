// Package wirejson encodes and decodes the JSON bodies on a request's hot
// path (a dialect request, the upstream request and answer, the dialect's
// answer) with github.com/goccy/go-json, which decodes and encodes the
// same values as encoding/json without its reflection cost: about 10-15 µs
// less CPU per OpenAI-dialect request (docs/performance.md). Everything
// else in the project uses encoding/json.
//
// The functions follow encoding/json's contract; a type error comes back
// as an *encoding/json.UnmarshalTypeError, so callers inspect errors as
// they would encoding/json's. FuzzSame in this package and the fuzz tests
// of the wire types check that both libraries agree.
package wirejson

import (
	"encoding/json"
	"errors"
	"io"

	gojson "github.com/goccy/go-json"
)

// Unmarshal decodes data into v like json.Unmarshal.
func Unmarshal(data []byte, v any) error {
	return stdError(gojson.Unmarshal(data, v))
}

// Marshal encodes v like json.Marshal.
func Marshal(v any) ([]byte, error) {
	return gojson.Marshal(v)
}

// Encoder writes JSON values to a stream like json.Encoder.
type Encoder = gojson.Encoder

// NewEncoder returns an encoder writing to w, escaping HTML like
// json.NewEncoder.
func NewEncoder(w io.Writer) *Encoder { return gojson.NewEncoder(w) }

// stdError turns the library's type error into encoding/json's.
func stdError(err error) error {
	if err == nil {
		return nil
	}
	var te *gojson.UnmarshalTypeError
	if errors.As(err, &te) {
		return &json.UnmarshalTypeError{Value: te.Value, Type: te.Type, Offset: te.Offset, Struct: te.Struct, Field: te.Field}
	}
	return err
}
