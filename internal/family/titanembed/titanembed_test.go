package titanembed

import (
	"flag"
	"testing"

	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/familytest"
	"github.com/outcrop/outcrop/internal/provider"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestDecodeEmbed(t *testing.T) {
	familytest.Decode(t, []familytest.DecodeCase{
		{Name: "g1", Codec: G1{}, Body: `{"inputText":"hello"}`, Want: &provider.EmbedRequest{Texts: []string{"hello"}}},
		{Name: "v2 defaults", Codec: V2{}, Body: `{"inputText":"hello"}`,
			Want: &provider.EmbedRequest{Texts: []string{"hello"}, Normalize: true, Types: []string{"float"}}},
		{Name: "v2 options", Codec: V2{}, Body: `{"inputText":"hello","dimensions":256,"normalize":false,"embeddingTypes":["binary","float"]}`,
			Want: &provider.EmbedRequest{Texts: []string{"hello"}, Dimensions: 256, Types: []string{"binary", "float"}}},
	})
}

func TestDecodeErrors(t *testing.T) {
	familytest.DecodeErrors(t, []familytest.ErrorCase{
		{Name: "g1 v2 options", Codec: G1{}, Body: `{"inputText":"x","dimensions":256}`,
			Want: "Malformed input request: #: extraneous key [dimensions] is not permitted, please reformat your input and try again."},
		{Name: "g1 missing text", Codec: G1{}, Body: `{}`,
			Want: "Malformed input request: #: required key [inputText] not found, please reformat your input and try again."},
		{Name: "v2 cohere body", Codec: V2{}, Body: `{"texts":["a"],"input_type":"search_query"}`,
			Want: "Malformed input request: #: required key [inputText] not found#: extraneous key [input_type] is not permitted#: extraneous key [texts] is not permitted, please reformat your input and try again."},
		{Name: "v2 bad dimensions", Codec: V2{}, Body: `{"inputText":"x","dimensions":300}`,
			Want: "Malformed input request: #/dimensions: 300 is not a valid enum value, please reformat your input and try again."},
		{Name: "v2 bad type", Codec: V2{}, Body: `{"inputText":"x","embeddingTypes":["int8"]}`,
			Want: "Malformed input request: #/embeddingTypes/0: int8 is not a valid enum value, please reformat your input and try again."},
		{Name: "v2 normalize string", Codec: V2{}, Body: `{"inputText":"x","normalize":"yes"}`,
			Want: "Malformed input request: #/normalize: expected type: Boolean, found: String, please reformat your input and try again."},
		{Name: "v2 not JSON", Codec: V2{}, Body: `inputText`, Want: "Malformed input request, please reformat your input and try again."},
	})
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
