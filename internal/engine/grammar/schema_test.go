package grammar

import (
	"encoding/json"
	"strings"
	"testing"
)

const eventSchema = `{
  "type": "object",
  "properties": {
    "name": {"type": "string"},
    "day": {"enum": ["Monday", "Friday", 7, null]},
    "guests": {"type": "array", "items": {"type": "integer"}},
    "paid": {"type": ["boolean", "null"]},
    "venue": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "extra": {"type": "object"},
    "price": {"anyOf": [{"type": "number"}, {"type": "null"}]}
  },
  "required": ["name", "day"],
  "additionalProperties": false
}`

func runSchema(t *testing.T, schema, in string) (int, bool) {
	t.Helper()
	sc, err := CompileSchema([]byte(schema))
	if err != nil {
		t.Fatal(err)
	}
	st := NewState(sc, true)
	for i := 0; i < len(in); i++ {
		if !st.Step(in[i]) {
			return i, false
		}
	}
	return len(in), st.Complete()
}

func TestSchema(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		took     int // bytes accepted; -1: all
		complete bool
	}{
		{"all fields", `{"name": "Fair", "day": "Friday", "guests": [1, 20], "paid": true, "venue": {"city": "Oslo"}, "extra": {"any": [1, {"x": null}]}, "price": 12.5}`, -1, true},
		{"required only, any order", `{"day": 7, "name": "x"}`, -1, true},
		{"enum null", `{"name": "x", "day": null}`, -1, true},
		{"nullable", `{"name": "x", "day": "Monday", "paid": null, "price": null}`, -1, true},
		{"unknown key", `{"nam`, -1, false},
		{"unknown key refused at its first wrong byte", `{"names"`, 6, false},
		{"key not declared", `{"colour": 1}`, 2, false},
		{"repeated key", `{"name": "a", "name"`, 15, false},
		{"missing required", `{"name": "x"}`, 12, false},
		{"wrong type", `{"name": 5}`, 9, false},
		{"integer items", `{"guests": [1.5]}`, 13, false},
		{"integer exponent", `{"guests": [1e3]}`, 13, false},
		{"enum string mismatch", `{"day": "Sunday"}`, 9, false},
		{"enum prefix is not a value", `{"day": "Mon", `, 12, false},
		{"enum number must end exactly", `{"day": 70}`, 9, false},
		{"nested required", `{"name": "x", "day": 7, "venue": {}}`, 34, false},
		{"nested key", `{"venue": {"town"`, 12, false},
		{"boolean not string", `{"paid": "yes"}`, 9, false},
		{"no comma once every key is written", `{"venue": {"city": "a",`, 22, false},
		{"whitespace in keys and values", "{\n  \"name\" : \"a\" ,\n  \"day\" : 7\n}", -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.took
			if want < 0 {
				want = len(tc.in)
			}
			took, complete := runSchema(t, eventSchema, tc.in)
			if took != want || complete != tc.complete {
				t.Errorf("run(%q) = %d bytes, complete %v; want %d, %v", tc.in, took, complete, want, tc.complete)
			}
			if complete && !json.Valid([]byte(tc.in)) {
				t.Errorf("complete but not valid JSON: %q", tc.in)
			}
		})
	}
}

// mathSchema is what Pydantic writes for a model with a list of nested
// models (the openai SDK's parse helpers send it as is).
const mathSchema = `{"$defs":{"Step":{"properties":{"explanation":{"title":"Explanation","type":"string"},"output":{"title":"Output","type":"string"}},
"required":["explanation","output"],"title":"Step","type":"object","additionalProperties":false}},
"properties":{"steps":{"items":{"$ref":"#/$defs/Step"},"title":"Steps","type":"array"},"final_answer":{"title":"Final Answer","type":"string"},
"best":{"allOf":[{"$ref":"#/$defs/Step"}],"description":"the best step"},"self":{"$ref":"#"},"loop":{"$ref":"#/$defs/Loop"},"missing":{"$ref":"#/$defs/Nope"},
"slash":{"$ref":"#/$defs/a~1b"}},
"required":["steps","final_answer"],"title":"MathResponse","type":"object","additionalProperties":false}`

// TestSchemaRefs checks that local references are followed: a nested
// model's keys and types are enforced through "$ref" and a one-element
// allOf, a reference to the root recurses (up to the depth bound), and one
// that leads nowhere is a free value.
func TestSchemaRefs(t *testing.T) {
	schema := strings.Replace(mathSchema, `"$defs":{`, `"$defs":{"Loop":{"$ref":"#/$defs/Loop"},"a/b":{"type":"integer"},`, 1)
	for _, tc := range []struct {
		name, in string
		took     int // bytes accepted; -1: all
		complete bool
	}{
		{"nested models", `{"steps": [{"explanation": "e", "output": "o"}], "final_answer": "x = -29/8"}`, -1, true},
		{"a string where a Step goes", `{"steps": ["#`, 11, false},
		{"a Step's undeclared key", `{"steps": [{"ex": 1`, 15, false},
		{"a Step's required key", `{"steps": [{"output": "o"}]`, 25, false},
		{"allOf", `{"best": {"explanation": "e", "output": 1`, 40, false},
		{"root reference", `{"steps": [], "final_answer": "a", "self": {"steps": [], "final_answer": "b"}}`, -1, true},
		{"root reference is the root", `{"self": {"x"`, 11, false},
		{"reference loop is free", `{"steps": [], "final_answer": "a", "loop": [1, {"z": null}]}`, -1, true},
		{"missing target is free", `{"steps": [], "final_answer": "a", "missing": "anything"}`, -1, true},
		{"escaped pointer", `{"slash": "x"`, 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.took
			if want < 0 {
				want = len(tc.in)
			}
			took, complete := runSchema(t, schema, tc.in)
			if took != want || complete != tc.complete {
				t.Errorf("run(%q) = %d bytes, complete %v; want %d, %v", tc.in, took, complete, want, tc.complete)
			}
		})
	}
}

// TestSchemaUnsupportedIsFree checks that parts of a schema the compiler
// does not model (remote references, alternatives with structure) leave
// the value free JSON, and that a schema that is not an object is refused.
func TestSchemaUnsupportedIsFree(t *testing.T) {
	schema := `{"type":"object","properties":{"a":{"$ref":"https://example.com/x.json"},"b":{"oneOf":[{"type":"object","properties":{"k":{"type":"string"}}},{"type":"array"}]}},"required":["a"]}`
	if took, complete := runSchema(t, schema, `{"a": {"anything": [1]}, "b": "text"}`); took != 37 || !complete {
		t.Errorf("free values: took %d complete %v", took, complete)
	}
	if _, err := CompileSchema([]byte(`[1]`)); err == nil {
		t.Error("CompileSchema accepted an array")
	}
}

// TestSchemaMaskMatchesBruteForce compares Mask's allowed tokens under a
// schema with trying every token from the same state, along a document.
func TestSchemaMaskMatchesBruteForce(t *testing.T) {
	pieces := []string{"{", "}", "[", "]", ",", ":", "\"", " ", "\"name", "\"day", "\":", "\": \"", "Fri", "day", "\",", "Mon", "7", "70", "null", "nu", "ll",
		"true", "1", ".5", "e3", "\"guests\":", "[1", ", 2]", "\"paid\": ", "\"price\": 1", "2.5}", "}\n", "\"ven", "ue\": {\"city\": \"Oslo\"}", "<eot>"}
	text := make([]bool, len(pieces))
	for i := range text {
		text[i] = pieces[i] != "<eot>"
	}
	v := NewVocab(pieces, text, []int32{int32(len(pieces) - 1)})
	sc, err := CompileSchema([]byte(eventSchema))
	if err != nil {
		t.Fatal(err)
	}
	c := v.Schema(sc, true, func(id int32) string { return pieces[id] })
	doc := `{"name": "Fri", "guests": [1, 2], "day": 7, "paid": true, "venue": {"city": "Oslo"}, "price": 12.5}`
	checkMaskAlong(t, c, pieces, text, len(pieces)-1, doc)
	if !c.Complete() {
		t.Error("document not complete")
	}

}

// FuzzSchema checks that whatever the schema recognizer takes whole and
// calls complete is valid JSON.
func FuzzSchema(f *testing.F) {
	for _, s := range []string{`{"name": "a", "day": 7}`, `{"day": null, "name": "x", "guests": [1]}`, `{"name":"x","day":"Monday","venue":{"city":"a"}}`} {
		f.Add(s)
	}
	sc, err := CompileSchema([]byte(eventSchema))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		st := NewState(sc, true)
		for i := 0; i < len(in); i++ {
			if !st.Step(in[i]) {
				return
			}
		}
		if st.Complete() && !json.Valid([]byte(in)) {
			t.Fatalf("complete but not valid JSON: %q", in)
		}
	})
}

// TestSchemaRefsShareNodes: a definition used many times, or by itself,
// compiles to one node that every reference points to, so a small schema
// whose references fan out cannot compile into thousands of copies of a
// large enum (it made 16,384 nodes and a gigabyte from a 200 KB schema);
// the recursive definition still constrains every level.
func TestSchemaRefsShareNodes(t *testing.T) {
	big := strings.Repeat("x", 200_000)
	schema := `{"$defs":{"E":{"enum":["` + big + `"]},"L":{"type":"object","properties":{"a":{"$ref":"#/$defs/L"},"b":{"$ref":"#/$defs/L","description":"again"},"e":{"$ref":"#/$defs/E"}}}},"$ref":"#/$defs/L"}`
	sc, err := CompileSchema([]byte(schema))
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.nodes) > 3 {
		t.Errorf("%d nodes, want one for L and one for E", len(sc.nodes))
	}
	for _, tc := range []struct {
		in       string
		took     int
		complete bool
	}{
		{`{"a": {"b": {"a": {}}}, "b": {}}`, -1, true},
		{`{"a": {"b": {"z"`, 14, false},
		{`{"e": "xxy`, 9, false}, // not the one value the enum allows
	} {
		want := tc.took
		if want < 0 {
			want = len(tc.in)
		}
		if took, complete := runSchema(t, schema, tc.in); took != want || complete != tc.complete {
			t.Errorf("run(%q) = %d bytes, complete %v; want %d, %v", tc.in, took, complete, want, tc.complete)
		}
	}
}
