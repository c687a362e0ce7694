package titanembed

import (
	"flag"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/familytest"
	"github.com/outcrop/outcrop/internal/provider"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestDecodeEmbed(t *testing.T) {
	tests := []struct {
		name  string
		codec family.EmbedCodec
		body  string
		want  *provider.EmbedRequest
	}{
		{"g1", G1{}, `{"inputText":"hello"}`, &provider.EmbedRequest{Texts: []string{"hello"}}},
		{"v2 defaults", V2{}, `{"inputText":"hello"}`,
			&provider.EmbedRequest{Texts: []string{"hello"}, Dimensions: 1024, Normalize: true, Types: []string{"float"}}},
		{"v2 options", V2{}, `{"inputText":"hello","dimensions":256,"normalize":false,"embeddingTypes":["binary","float"]}`,
			&provider.EmbedRequest{Texts: []string{"hello"}, Dimensions: 256, Types: []string{"binary", "float"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.codec.DecodeEmbed([]byte(tt.body))
			if err != nil {
				t.Fatalf("DecodeEmbed(%s): %v", tt.body, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeEmbed(%s) mismatch (-want +got):\n%s", tt.body, diff)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name  string
		codec family.EmbedCodec
		body  string
		want  string
	}{
		{"g1 v2 options", G1{}, `{"inputText":"x","dimensions":256}`,
			"Malformed input request: #: extraneous key [dimensions] is not permitted, please reformat your input and try again."},
		{"g1 missing text", G1{}, `{}`,
			"Malformed input request: #: required key [inputText] not found, please reformat your input and try again."},
		{"v2 cohere body", V2{}, `{"texts":["a"],"input_type":"search_query"}`,
			"Malformed input request: #: required key [inputText] not found#: extraneous key [input_type] is not permitted#: extraneous key [texts] is not permitted, please reformat your input and try again."},
		{"v2 bad dimensions", V2{}, `{"inputText":"x","dimensions":300}`,
			"Malformed input request: #/dimensions: 300 is not a valid enum value, please reformat your input and try again."},
		{"v2 bad type", V2{}, `{"inputText":"x","embeddingTypes":["int8"]}`,
			"Malformed input request: #/embeddingTypes/0: int8 is not a valid enum value, please reformat your input and try again."},
		{"v2 normalize string", V2{}, `{"inputText":"x","normalize":"yes"}`,
			"Malformed input request: #/normalize: expected type: Boolean, found: String, please reformat your input and try again."},
		{"v2 not JSON", V2{}, `inputText`, "Malformed input request, please reformat your input and try again."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.codec.DecodeEmbed([]byte(tt.body))
			familytest.Invalid(t, err, tt.want)
		})
	}
}

func TestEncodeEmbed(t *testing.T) {
	resp := &provider.EmbedResponse{Vectors: [][]float32{{0.5, -0.25, 0, 0.125}}, InputTokens: 3}
	tests := []struct {
		name  string
		codec family.EmbedCodec
		body  string
	}{
		{"g1", G1{}, `{"inputText":"hello"}`},
		{"v2_float", V2{}, `{"inputText":"hello"}`},
		{"v2_binary_float", V2{}, `{"inputText":"hello","embeddingTypes":["binary","float"]}`},
		{"v2_binary", V2{}, `{"inputText":"hello","embeddingTypes":["binary"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := tt.codec.DecodeEmbed([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			b, err := tt.codec.EncodeEmbed(req, resp)
			if err != nil {
				t.Fatal(err)
			}
			familytest.Golden(t, "testdata/response_"+tt.name+".json", familytest.Indent(t, b), *update)
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"inputText":"hello","dimensions":512,"normalize":true,"embeddingTypes":["float","binary"]}`))
	f.Add([]byte(`{"inputText":"hello"}`))
	f.Add([]byte(`{"inputText":["x"],"dimensions":1e3}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		familytest.FuzzEmbed(t, G1{}, body)
		familytest.FuzzEmbed(t, V2{}, body)
	})
}
