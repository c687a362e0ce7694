package schema

import (
	"regexp"
	"testing"

	"github.com/outcrop/outcrop/internal/fault"
)

func TestValidate(t *testing.T) {
	s := Obj([]string{"a"},
		P("a", Int(1, 10)),
		P("b", Num(0, 1)),
		P("c", Enum("x", "y")),
		P("d", &Schema{Type: Array, MinItems: 1, MaxItems: 2, Items: &Schema{Type: String, MinLength: 1, MaxLength: 3, Pattern: regexp.MustCompile(`^z`)}}),
		P("e", &Schema{Type: Object, Open: true, NotRequired: []string{"m"}}),
		P("f/g", Bool()),
	)
	const pre, post = "Malformed input request: ", ", please reformat your input and try again."
	tests := []struct{ name, body, want string }{
		{"valid", `{"a":3,"b":0.5,"c":"x","d":["zz"],"e":{"q":1},"f/g":true}`, ""},
		{"empty is object", ``, pre + "#: required key [a] not found" + post},
		{"syntax", `{"a":`, "Malformed input request, please reformat your input and try again."},
		{"trailing data", `{"a":1} {}`, "Malformed input request, please reformat your input and try again."},
		{"types", `{"a":1.5,"b":"1","c":null,"d":{},"e":[],"f/g":1}`,
			pre + "#/a: expected type: Integer, found: BigDecimal#/b: expected type: Number, found: String#/c: expected type: String, found: Null#/d: expected type: JSONArray, found: JSONObject#/e: expected type: JSONObject, found: JSONArray#/f~1g: expected type: Boolean, found: Integer" + post},
		{"bounds", `{"a":11,"b":-1}`, pre + "#/a: 11 is not less or equal to 10#/b: -1 is not greater or equal to 0" + post},
		{"big integer", `{"a":123456789012345678901234567890}`, pre + "#/a: 123456789012345678901234567890 is not less or equal to 10" + post},
		{"long found", `{"a":"x","b":12345678901}`, pre + "#/a: expected type: Integer, found: String#/b: 12345678901 is not less or equal to 1" + post},
		{"items", `{"a":1,"d":["","abcd","z1"]}`,
			pre + "#/d: expected maximum item count: 2, found: 3#/d/0: expected minLength: 1, actual: 0#/d/0: string [] does not match pattern ^z#/d/1: expected maxLength: 3, actual: 4#/d/1: string [abcd] does not match pattern ^z" + post},
		{"min items", `{"a":1,"d":[]}`, pre + "#/d: expected minimum item count: 1, found: 0" + post},
		{"enum and not", `{"a":1,"c":"w","e":{"m":1}}`, pre + "#/c: w is not a valid enum value#/e: subject must not be valid against schema {\"required\":[\"m\"]}" + post},
		{"extraneous sorted", `{"a":1,"zz":1,"aa":2}`, pre + "#: extraneous key [aa] is not permitted#: extraneous key [zz] is not permitted" + post},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate([]byte(tt.body), s)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate(%s) = %v, want nil", tt.body, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%s) = nil, want %q", tt.body, tt.want)
			}
			if fault.KindOf(err) != fault.Invalid {
				t.Errorf("Validate(%s) kind = %v, want Invalid", tt.body, fault.KindOf(err))
			}
			if got := fault.Message(err); got != tt.want {
				t.Errorf("Validate(%s) =\n %q\nwant\n %q", tt.body, got, tt.want)
			}
		})
	}
}

func FuzzValidate(f *testing.F) {
	s := Obj([]string{"a"}, P("a", Int(1, 10)), P("d", Arr(&Schema{Type: String | Object, Open: true})))
	f.Add([]byte(`{"a":3,"d":["x",{"y":1}]}`))
	f.Add([]byte(`{"a":1e999}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if err := Validate(body, s); err != nil && fault.KindOf(err) != fault.Invalid {
			t.Fatalf("Validate(%q) = %v, not Invalid", body, err)
		}
	})
}
