// Package schema validates native InvokeModel request bodies against a small
// subset of JSON Schema and reports violations the way Bedrock words them.
//
// Bedrock checks each model family's body with a JSON Schema validator
// (everit) before the model sees it, and returns every violation in one
// ValidationException:
//
//	Malformed input request: #: required key [max_tokens] not found, please reformat your input and try again.
//	Malformed input request: #/temperature: expected type: Number, found: Null#/maxTokens: expected type: Integer, found: Null, please reformat your input and try again.
//
// Family codecs describe their bodies with a Schema, call Validate, and only
// then decode into typed structs, so a decoder never sees a body of the
// wrong shape.
package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/outcrop/outcrop/internal/fault"
)

// Type is a set of JSON types; zero means any type.
type Type uint8

// JSON types. Integer is a Number without a fraction or exponent.
const (
	String Type = 1 << iota
	Number
	Integer
	Boolean
	Object
	Array
	Null
)

// Prop is one named property of an object schema.
type Prop struct {
	Name   string
	Schema *Schema
}

// Schema describes one JSON value. The zero Schema accepts anything.
type Schema struct {
	Type Type

	// Object constraints. Unless Open is set, keys not in Props are
	// "extraneous" and rejected, as Bedrock's schemas do.
	Props    []Prop
	Required []string
	Open     bool
	// NotRequired lists keys whose presence makes the object invalid as
	// a whole (JSON Schema `not: {required: [...]}`), the way Bedrock tells a
	// Messages body apart from a Text Completions one.
	NotRequired []string

	// Array constraints. MaxItems 0 means no limit.
	Items              *Schema
	MinItems, MaxItems int

	// String constraints. MaxLength 0 means no limit.
	MinLength, MaxLength int
	Pattern              *regexp.Regexp

	// Number bounds (inclusive).
	Min, Max *float64

	// Enum lists the allowed values as JSON literal text for numbers and
	// as plain text for strings.
	Enum []string
}

// Bound returns a pointer to v, for Schema.Min and Schema.Max.
func Bound(v float64) *float64 { return &v }

// Obj returns a closed object schema with the given properties.
func Obj(required []string, props ...Prop) *Schema {
	return &Schema{Type: Object, Props: props, Required: required}
}

// P returns a property.
func P(name string, s *Schema) Prop { return Prop{Name: name, Schema: s} }

// Str returns a string schema.
func Str() *Schema { return &Schema{Type: String} }

// Bool returns a boolean schema.
func Bool() *Schema { return &Schema{Type: Boolean} }

// Num returns a number schema bounded by [lo, hi]; NoLimit leaves a side open.
func Num(lo, hi float64) *Schema { return bounded(Number, lo, hi) }

// Int returns an integer schema bounded by [lo, hi]; NoLimit leaves a side open.
func Int(lo, hi float64) *Schema { return bounded(Integer, lo, hi) }

func bounded(t Type, lo, hi float64) *Schema {
	s := &Schema{Type: t}
	if lo != NoLimit {
		s.Min = Bound(lo)
	}
	if hi != NoLimit {
		s.Max = Bound(hi)
	}
	return s
}

// NoLimit leaves one side of Num and Int unbounded.
const NoLimit = math.MaxFloat64

// Arr returns an array schema of items.
func Arr(items *Schema) *Schema { return &Schema{Type: Array, Items: items} }

// Enum returns a string schema limited to values.
func Enum(values ...string) *Schema { return &Schema{Type: String, Enum: values} }

// Any accepts every value.
func Any() *Schema { return &Schema{} }

// Malformed is the message for a body that is not JSON at all.
const Malformed = "Malformed input request, please reformat your input and try again."

// Validate parses body and checks it against s. An empty body is treated as
// {}. It returns a fault.Invalid error with Bedrock's message, or nil.
func Validate(body []byte, s *Schema) error {
	v, err := Parse(body)
	if err != nil {
		return err
	}
	var out []string
	check(s, v, "#", &out)
	if len(out) == 0 {
		return nil
	}
	return Violation(strings.Join(out, ""))
}

// Violation returns the fault.Invalid error for a schema-style message such
// as "#: required key [x] not found".
func Violation(msg string) error {
	return fault.Newf(fault.Invalid, "Malformed input request: %s, please reformat your input and try again.", msg)
}

// Parse decodes body into generic JSON values (numbers as json.Number). An
// empty body is {}. Syntax errors are fault.Invalid with Bedrock's message.
func Parse(body []byte) (any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return map[string]any{}, nil
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fault.Wrap(fault.Invalid, err, Malformed)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, fault.New(fault.Invalid, Malformed)
	}
	return v, nil
}

// Unmarshal validates body against s and then decodes it into v: Validate
// followed by Decode, so v never sees a body of the wrong shape.
func Unmarshal(body []byte, s *Schema, v any) error {
	if err := Validate(body, s); err != nil {
		return err
	}
	return Decode(body, v)
}

// Decode unmarshals an already validated body into v. A failure here means
// a value the schema allows does not fit v (an integer beyond int64, say),
// which Bedrock would also reject as malformed.
func Decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fault.Wrap(fault.Invalid, err, Malformed)
	}
	return nil
}

func check(s *Schema, v any, ptr string, out *[]string) {
	if s == nil {
		return
	}
	if s.Type != 0 && !typeOK(s.Type, v) {
		*out = append(*out, fmt.Sprintf("%s: expected type: %s, found: %s", ptr, typeNames(s.Type), javaType(v)))
		return
	}
	switch x := v.(type) {
	case map[string]any:
		checkObject(s, x, ptr, out)
	case []any:
		if len(x) < s.MinItems {
			*out = append(*out, fmt.Sprintf("%s: expected minimum item count: %d, found: %d", ptr, s.MinItems, len(x)))
		}
		if s.MaxItems > 0 && len(x) > s.MaxItems {
			*out = append(*out, fmt.Sprintf("%s: expected maximum item count: %d, found: %d", ptr, s.MaxItems, len(x)))
		}
		for i, e := range x {
			check(s.Items, e, ptr+"/"+strconv.Itoa(i), out)
		}
	case string:
		n := len([]rune(x))
		if n < s.MinLength {
			*out = append(*out, fmt.Sprintf("%s: expected minLength: %d, actual: %d", ptr, s.MinLength, n))
		}
		if s.MaxLength > 0 && n > s.MaxLength {
			*out = append(*out, fmt.Sprintf("%s: expected maxLength: %d, actual: %d", ptr, s.MaxLength, n))
		}
		if s.Pattern != nil && !s.Pattern.MatchString(x) {
			*out = append(*out, fmt.Sprintf("%s: string [%s] does not match pattern %s", ptr, x, s.Pattern))
		}
		if len(s.Enum) > 0 && !contains(s.Enum, x) {
			*out = append(*out, fmt.Sprintf("%s: %s is not a valid enum value", ptr, x))
		}
	case json.Number:
		f, _ := strconv.ParseFloat(string(x), 64) // ±Inf on overflow compares correctly
		if s.Min != nil && f < *s.Min {
			*out = append(*out, fmt.Sprintf("%s: %s is not greater or equal to %s", ptr, x, num(*s.Min)))
		}
		if s.Max != nil && f > *s.Max {
			*out = append(*out, fmt.Sprintf("%s: %s is not less or equal to %s", ptr, x, num(*s.Max)))
		}
		if len(s.Enum) > 0 && !contains(s.Enum, string(x)) {
			*out = append(*out, fmt.Sprintf("%s: %s is not a valid enum value", ptr, x))
		}
	}
}

func checkObject(s *Schema, x map[string]any, ptr string, out *[]string) {
	for _, k := range s.Required {
		if _, ok := x[k]; !ok {
			*out = append(*out, fmt.Sprintf("%s: required key [%s] not found", ptr, k))
		}
	}
	if len(s.NotRequired) > 0 {
		all := true
		for _, k := range s.NotRequired {
			if _, ok := x[k]; !ok {
				all = false
			}
		}
		if all {
			b, _ := json.Marshal(map[string][]string{"required": s.NotRequired})
			*out = append(*out, fmt.Sprintf("%s: subject must not be valid against schema %s", ptr, b))
		}
	}
	if !s.Open {
		keys := make([]string, 0, len(x))
		for k := range x {
			if s.prop(k) == nil {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			*out = append(*out, fmt.Sprintf("%s: extraneous key [%s] is not permitted", ptr, k))
		}
	}
	for _, p := range s.Props {
		if e, ok := x[p.Name]; ok {
			check(p.Schema, e, ptr+"/"+escape(p.Name), out)
		}
	}
}

func (s *Schema) prop(name string) *Schema {
	for _, p := range s.Props {
		if p.Name == name {
			return p.Schema
		}
	}
	return nil
}

func typeOK(t Type, v any) bool {
	switch x := v.(type) {
	case nil:
		return t&Null != 0
	case bool:
		return t&Boolean != 0
	case string:
		return t&String != 0
	case map[string]any:
		return t&Object != 0
	case []any:
		return t&Array != 0
	case json.Number:
		return t&Number != 0 || t&Integer != 0 && isInteger(x)
	}
	return false
}

func isInteger(n json.Number) bool { return !strings.ContainsAny(string(n), ".eE") }

var names = []struct {
	t    Type
	name string
}{
	{String, "String"}, {Number, "Number"}, {Integer, "Integer"}, {Boolean, "Boolean"},
	{Object, "JSONObject"}, {Array, "JSONArray"}, {Null, "Null"},
}

func typeNames(t Type) string {
	var ns []string
	for _, n := range names {
		if t&n.t != 0 {
			ns = append(ns, n.name)
		}
	}
	if len(ns) == 1 {
		return ns[0]
	}
	return "one of [" + strings.Join(ns, ", ") + "]"
}

// javaType names v's type as the Java validator Bedrock uses does.
func javaType(v any) string {
	switch x := v.(type) {
	case nil:
		return "Null"
	case bool:
		return "Boolean"
	case string:
		return "String"
	case map[string]any:
		return "JSONObject"
	case []any:
		return "JSONArray"
	case json.Number:
		if !isInteger(x) {
			return "BigDecimal"
		}
		if _, err := strconv.ParseInt(string(x), 10, 32); err == nil {
			return "Integer"
		}
		if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return "Long"
		}
		return "BigInteger"
	}
	return fmt.Sprintf("%T", v)
}

func num(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func escape(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
