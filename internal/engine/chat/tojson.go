package chat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// maxDepth bounds nesting when converting or printing values.
const maxDepth = 64

// jsonValue decodes raw into template values that keep object key order
// (*exec.Dict), with integers as int and other numbers as float64, as
// Python's json.loads would. Empty input is None; invalid JSON stays a
// string.
func jsonValue(raw json.RawMessage) any {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil || dec.More() {
		return string(raw)
	}
	return v
}

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("json nested over %d levels", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		switch tok {
		case '{':
			d := &exec.Dict{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				addPair(d, k, v)
			}
			_, err := dec.Token()
			return d, err
		case '[':
			list := []any{}
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			_, err := dec.Token()
			return list, err
		}
		return nil, fmt.Errorf("unexpected %v", tok)
	case json.Number:
		if i, err := strconv.ParseInt(string(tok), 10, 64); err == nil && int64(int(i)) == i {
			return int(i), nil
		}
		f, err := tok.Float64()
		if err != nil {
			return nil, err
		}
		return f, nil
	default:
		return tok, nil // string, bool or nil
	}
}

// jsonOptions are the json.dumps arguments templates pass to tojson.
type jsonOptions struct {
	indent      string // "" with hasIndent false means compact
	hasIndent   bool
	itemSep     string
	keySep      string
	sortKeys    bool
	ensureASCII bool
}

// filterToJSON is transformers' tojson: json.dumps(x, ensure_ascii=False,
// indent=None, separators=None, sort_keys=False) with the same keyword
// arguments, keeping dict insertion order.
func filterToJSON(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	o := jsonOptions{itemSep: ", ", keySep: ": "}
	for k, v := range params.KwArgs {
		switch k {
		case "indent":
			if v.IsNil() {
				continue
			}
			o.hasIndent = true
			o.itemSep = ","
			if v.IsInteger() {
				o.indent = strings.Repeat(" ", max(0, min(v.Integer(), 64)))
			} else {
				o.indent = v.String()
			}
		case "sort_keys":
			o.sortKeys = v.IsTrue()
		case "ensure_ascii":
			o.ensureASCII = v.IsTrue()
		case "separators":
			if v.IsList() && v.Len() == 2 {
				o.itemSep, o.keySep = v.Index(0).String(), v.Index(1).String()
			}
		}
	}
	if len(params.Args) > 0 && !params.Args[0].IsNil() { // tojson(4) means indent=4
		o.hasIndent, o.itemSep = true, ","
		o.indent = strings.Repeat(" ", max(0, min(params.Args[0].Integer(), 64)))
	}
	var b strings.Builder
	if err := writeJSON(&b, in.Interface(), &o, 0); err != nil {
		return exec.AsValue(fmt.Errorf("tojson: %w", err))
	}
	return exec.AsSafeValue(b.String())
}

func writeJSON(b *strings.Builder, v any, o *jsonOptions, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("value nested over %d levels", maxDepth)
	}
	if b.Len() > maxOutput {
		return fmt.Errorf("output over %d bytes", maxOutput)
	}
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
		return nil
	case *exec.Value:
		if v == nil {
			b.WriteString("null")
			return nil
		}
		return writeJSON(b, v.Interface(), o, depth)
	case *exec.Dict:
		keys := make([]string, len(v.Pairs))
		vals := make([]any, len(v.Pairs))
		for i, p := range v.Pairs {
			keys[i], vals[i] = jsonKey(p.Key), p.Value
		}
		return writeObject(b, keys, vals, o, depth)
	case exec.Dict:
		return writeJSON(b, &v, o, depth)
	case *exec.Pair:
		return writeJSON(b, []any{v.Key, v.Value}, o, depth)
	case string:
		writeString(b, v, o.ensureASCII)
		return nil
	case bool:
		b.WriteString(strconv.FormatBool(v))
		return nil
	case float64:
		b.WriteString(pyFloat(v))
		return nil
	case float32:
		b.WriteString(pyFloat(float64(v)))
		return nil
	case error:
		return v
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			b.WriteString("null")
			return nil
		}
		return writeJSON(b, rv.Elem().Interface(), o, depth)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b.WriteString(strconv.FormatInt(rv.Int(), 10))
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		b.WriteString(strconv.FormatUint(rv.Uint(), 10))
		return nil
	case reflect.Slice, reflect.Array:
		n := rv.Len()
		if n == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString(o.itemSep)
			}
			newline(b, o, depth+1)
			if err := writeJSON(b, rv.Index(i).Interface(), o, depth+1); err != nil {
				return err
			}
		}
		newline(b, o, depth)
		b.WriteByte(']')
		return nil
	case reflect.Map:
		keys := make([]string, 0, rv.Len())
		byKey := make(map[string]any, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			k := jsonKey(iter.Key().Interface())
			keys = append(keys, k)
			byKey[k] = iter.Value().Interface()
		}
		sort.Strings(keys) // Go maps have no insertion order to keep
		vals := make([]any, len(keys))
		for i, k := range keys {
			vals[i] = byKey[k]
		}
		return writeObject(b, keys, vals, o, depth)
	}
	return fmt.Errorf("cannot serialise %T", v)
}

func writeObject(b *strings.Builder, keys []string, vals []any, o *jsonOptions, depth int) error {
	if len(keys) == 0 {
		b.WriteString("{}")
		return nil
	}
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	if o.sortKeys {
		sort.SliceStable(order, func(i, j int) bool { return keys[order[i]] < keys[order[j]] })
	}
	b.WriteByte('{')
	for n, i := range order {
		if n > 0 {
			b.WriteString(o.itemSep)
		}
		newline(b, o, depth+1)
		writeString(b, keys[i], o.ensureASCII)
		b.WriteString(o.keySep)
		if err := writeJSON(b, vals[i], o, depth+1); err != nil {
			return err
		}
	}
	newline(b, o, depth)
	b.WriteByte('}')
	return nil
}

func newline(b *strings.Builder, o *jsonOptions, depth int) {
	if !o.hasIndent {
		return
	}
	b.WriteByte('\n')
	for range depth {
		b.WriteString(o.indent)
	}
}

// jsonKey converts a dict key the way json.dumps does: strings as they
// are, True/False/None as true/false/null, numbers as their text.
func jsonKey(k any) string {
	if v, ok := k.(*exec.Value); ok {
		k = v.Interface()
	}
	switch k := k.(type) {
	case string:
		return k
	case bool:
		return strconv.FormatBool(k)
	case nil:
		return "null"
	case float64:
		return pyFloat(k)
	}
	return fmt.Sprint(k)
}

// writeString writes s as json.dumps quotes it: only ", \ and control
// characters escaped (\uXXXX in lower-case hex), and with ensureASCII every
// non-ASCII character too, as UTF-16 escapes.
func writeString(b *strings.Builder, s string, ensureASCII bool) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				b.WriteString(`\"`)
			case '\\':
				b.WriteString(`\\`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			default:
				if c < 0x20 {
					b.WriteString(`\u00`)
					b.WriteByte(hex[c>>4])
					b.WriteByte(hex[c&0xf])
				} else {
					b.WriteByte(c)
				}
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if !ensureASCII {
			b.WriteString(s[i : i+w])
		} else {
			writeU := func(u rune) {
				b.WriteString(`\u`)
				for sh := 12; sh >= 0; sh -= 4 {
					b.WriteByte(hex[(u>>sh)&0xf])
				}
			}
			if r >= 0x10000 {
				r -= 0x10000
				writeU(0xD800 + (r >> 10))
				writeU(0xDC00 + (r & 0x3ff))
			} else {
				writeU(r)
			}
		}
		i += w
	}
	b.WriteByte('"')
}

// pyFloat formats f like Python's repr(float): shortest round-trip digits,
// fixed notation with at least one decimal when 1e-4 <= |f| < 1e16, else
// exponent notation such as 1e-07 or 1.5e+16.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, expS, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expS)
	digits := strings.Replace(mant, ".", "", 1)
	decpt := exp + 1
	var out string
	if f == 0 || (-4 < decpt && decpt <= 16) {
		switch {
		case decpt <= 0:
			out = "0." + strings.Repeat("0", -decpt) + digits
		case decpt >= len(digits):
			out = digits + strings.Repeat("0", decpt-len(digits)) + ".0"
		default:
			out = digits[:decpt] + "." + digits[decpt:]
		}
	} else {
		m := digits[:1]
		if len(digits) > 1 {
			m += "." + digits[1:]
		}
		sign := "+"
		if exp < 0 {
			sign, exp = "-", -exp
		}
		out = fmt.Sprintf("%se%s%02d", m, sign, exp)
	}
	if neg {
		out = "-" + out
	}
	return out
}
