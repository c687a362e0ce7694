package wirejson_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/outcrop/outcrop/internal/wirejson"
	"github.com/outcrop/outcrop/internal/wirejson/wirejsontest"
)

type inner struct {
	A string  `json:"a"`
	B *int    `json:"b,omitempty"`
	C []byte  `json:"c,omitempty"`
	D float64 `json:"d"`
}

type sample struct {
	Name     string            `json:"name"`
	Count    int               `json:"count,omitempty"`
	Ratio    *float64          `json:"ratio"`
	On       bool              `json:"on"`
	Tags     []string          `json:"tags"`
	Meta     map[string]string `json:"meta,omitempty"`
	Raw      json.RawMessage   `json:"raw,omitempty"`
	Any      any               `json:"any"`
	Inner    inner             `json:"inner"`
	Inners   []*inner          `json:"inners,omitempty"`
	Skipped  string            `json:"-"`
	Untagged string
	inner
}

var seeds = []string{
	`{}`, `null`, `[]`, `""`, `{"name":"x","count":3,"ratio":0.5,"on":true,"tags":["a","b"],"meta":{"k":"v"}}`,
	`{"raw":{"a": [1, 2 ,3]},"any":{"x":[1,"2",null,true,{"y":1.5e3}]}}`,
	`{"NAME":"case","Untagged":"u","untagged":"l","a":"embedded","d":1}`,
	`{"name":"\u00e9\ud83d\ude00\u2028<>&","tags":[]}`, "{\"name\":\"bad \xff utf8\"}",
	`{"inner":{"a":"x","b":7,"c":"aGVsbG8=","d":-0.0}}`, `{"inners":[null,{"a":"y"}]}`,
	`{"count":"3"}`, `{"count":1.5}`, `{"count":99999999999999999999}`, `{"tags":"a"}`, `{"on":1}`,
	`{"name":"x",}`, `{"name":"x"} trailing`, `{"name":"x"`, `{"a":1,"a":2}`, `{"ratio":1e400}`,
	`{"inner":{"c":"not base64!"}}`, `{"meta":{"k":1}}`, ` {"name" : "spaces" } `,
}

func FuzzSame(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		wirejsontest.Same[sample](t, data)
		wirejsontest.Same[map[string]any](t, data)
		wirejsontest.Same[any](t, data)
	})
}

// TestTypeError: a type error is encoding/json's, naming the field, so
// the dialects' messages stay the same.
func TestTypeError(t *testing.T) {
	var s sample
	err := wirejson.Unmarshal([]byte(`{"count":"three"}`), &s)
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Field != "count" || te.Value != "string" || te.Type.String() != "int" {
		t.Fatalf("error %#v, want an *encoding/json.UnmarshalTypeError for count", err)
	}
}
