// Package wirejsontest checks that wirejson and encoding/json agree on a
// type: the same inputs accepted, the same values decoded, the same bytes
// encoded. The wire types' fuzz tests call Same.
package wirejsontest

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/wirejson"
)

// all compares unexported fields too.
var all = cmp.Exporter(func(reflect.Type) bool { return true })

// Same decodes data into a T with both libraries and fails t when one
// accepts what the other refuses, when the values differ, or when
// encoding the value gives different bytes.
func Same[T any](t testing.TB, data []byte) {
	t.Helper()
	var std, fast T
	errStd := json.Unmarshal(data, &std)
	errFast := wirejson.Unmarshal(data, &fast)
	if (errStd == nil) != (errFast == nil) {
		t.Fatalf("%T from %q: encoding/json error %v, wirejson error %v", std, data, errStd, errFast)
	}
	if errStd != nil {
		var ts, tf *json.UnmarshalTypeError
		if okS, okF := asType(errStd, &ts), asType(errFast, &tf); okS && okF && ts.Field != tf.Field {
			// The field a type error names reaches clients; the libraries
			// may stop at different errors, so only compare when both
			// report one.
			t.Logf("%T from %q: type error fields %q and %q", std, data, ts.Field, tf.Field)
		}
		return
	}
	if diff := cmp.Diff(std, fast, all); diff != "" {
		t.Fatalf("%T from %q decodes differently (-encoding/json +wirejson):\n%s", std, data, diff)
	}
	SameEncoding(t, std)
}

// SameEncoding fails t when the libraries encode v differently, with
// Marshal or with an Encoder.
func SameEncoding(t testing.TB, v any) {
	t.Helper()
	bs, errS := json.Marshal(v)
	bf, errF := wirejson.Marshal(v)
	if (errS == nil) != (errF == nil) || !bytes.Equal(bs, bf) {
		t.Fatalf("%T encodes differently:\nencoding/json %s (%v)\nwirejson      %s (%v)", v, bs, errS, bf, errF)
	}
	var es, ef bytes.Buffer
	errS = json.NewEncoder(&es).Encode(v)
	errF = wirejson.NewEncoder(&ef).Encode(v)
	if (errS == nil) != (errF == nil) || !bytes.Equal(es.Bytes(), ef.Bytes()) {
		t.Fatalf("%T encodes differently through an Encoder:\nencoding/json %s (%v)\nwirejson      %s (%v)", v, es.Bytes(), errS, ef.Bytes(), errF)
	}
}

func asType(err error, target **json.UnmarshalTypeError) bool {
	te, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*target = te
	}
	return ok
}
