package grammar

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// Schema is a JSON schema compiled for constrained decoding. It enforces
// the part of JSON Schema that structured-output APIs use: type (one or
// several, "null" for nullable), enum and const, object properties (keys
// limited to the declared ones, each at most once, the object closable
// only once every required key is present), array items, anyOf/oneOf
// alternatives that differ only in type, and local references ("$ref":
// "#/$defs/Step", as Pydantic and Zod write nested models; a one-element
// allOf too). Anything else (remote references, patterns, lengths,
// numeric ranges, alternatives with structure) leaves that part of the
// value free JSON: the output stays valid JSON, and the schema is still
// given to the model as an instruction.
type Schema struct {
	nodes []snode
	// While compiling: the document $ref points into, the node each
	// reference target was compiled to (so that a definition used many
	// times, or by itself, is one node, and references make a graph), and
	// the enum bytes kept so far.
	root      map[string]any
	refs      map[string]int16
	enumBytes int
}

// JSON types, as bits.
const (
	tObject = 1 << iota
	tArray
	tString
	tNumber
	tInteger
	tBoolean
	tNull
)

// maxProps and maxEnum bound the properties of a constrained object and
// the values of a constrained enum (they are tracked as bit sets).
const (
	maxProps      = 32
	maxEnum       = 64
	maxSchemaNode = 1 << 14
	// maxEnumBytes bounds the JSON of all enum values a schema keeps;
	// past it, further enums leave their values free (types still hold).
	maxEnumBytes = 1 << 20
)

type snode struct {
	types    uint8 // allowed types; 0: any
	props    []sprop
	required uint32
	open     bool     // keys are not constrained (values of other keys are free)
	items    int16    // array items' node; -1: free
	enum     [][]byte // compact JSON encodings of the allowed values; nil: none
}

type sprop struct {
	name string
	node int16
}

// CompileSchema compiles a JSON schema. An empty schema, or one that is
// not an object, is an error.
func CompileSchema(raw []byte) (*Schema, error) {
	var root any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	m, ok := root.(map[string]any)
	if !ok {
		return nil, errors.New("schema: not a JSON object")
	}
	s := &Schema{root: m, refs: map[string]int16{}}
	s.compile(m, 0)
	s.root, s.refs = nil, nil
	// Property order: json.Decoder into map[string]any loses it; the
	// order of keys in the output is the model's choice anyway.
	return s, nil
}

// compile adds the node for m and returns its index (-1: free).
func (s *Schema) compile(m map[string]any, depth int) int16 {
	if depth > maxDepth || len(s.nodes) >= maxSchemaNode {
		return -1
	}
	if ref, ok := pureRef(m); ok {
		ref, t := s.follow(ref)
		if t == nil {
			return -1
		}
		if i, seen := s.refs[ref]; seen {
			return i
		}
		if _, chained := pureRef(t); chained || depth+1 > maxDepth {
			return -1 // a chain of references too long to follow
		}
		// compile(t) adds its node at this index first, so a reference
		// back to ref from inside t points at it.
		s.refs[ref] = int16(len(s.nodes))
		i := s.compile(t, depth+1)
		s.refs[ref] = i
		return i
	}
	m = s.resolve(m)
	i := int16(len(s.nodes))
	s.nodes = append(s.nodes, snode{items: -1})
	n := snode{items: -1}
	n.types = typesOf(m)
	if alts, ok := firstOf(m, "anyOf", "oneOf"); ok {
		// Alternatives that are plain types (string or null, ...) merge;
		// any with more structure leaves the value free.
		var t uint8
		for _, a := range alts {
			am, ok := a.(map[string]any)
			if !ok || len(am) != 1 || typesOf(am) == 0 {
				t = 0
				break
			}
			t |= typesOf(am)
		}
		if t == 0 {
			return -1
		}
		n.types |= t
	}
	if c, ok := m["const"]; ok {
		m = map[string]any{"enum": []any{c}}
	}
	if e, ok := m["enum"].([]any); ok && len(e) > 0 && len(e) <= maxEnum {
		size := 0
		for _, v := range e {
			b, err := json.Marshal(v)
			if err != nil {
				n.enum = nil
				break
			}
			n.enum = append(n.enum, b)
			size += len(b)
		}
		if s.enumBytes += size; s.enumBytes > maxEnumBytes {
			n.enum = nil
		}
	}
	if props, ok := m["properties"].(map[string]any); ok && (n.types == 0 || n.types&tObject != 0) {
		n.types |= tObject
		names := make([]string, 0, len(props))
		for k := range props {
			names = append(names, k)
		}
		if len(names) > maxProps || !plainKeys(names) {
			n.open = true
		} else {
			for _, name := range names {
				pm, _ := props[name].(map[string]any)
				child := int16(-1)
				if pm != nil {
					child = s.compile(pm, depth+1)
				}
				n.props = append(n.props, sprop{name: name, node: child})
			}
			if req, ok := m["required"].([]any); ok {
				for _, r := range req {
					for j, p := range n.props {
						if p.name == r {
							n.required |= 1 << j
						}
					}
				}
			}
		}
	} else if n.types&tObject != 0 {
		n.open = true // an object with no declared properties
	}
	if it, ok := m["items"].(map[string]any); ok {
		n.items = s.compile(it, depth+1)
	}
	if n.types == 0 && n.enum == nil {
		return -1 // nothing this compiler models: a free value
	}
	s.nodes[i] = n
	return i
}

// maxRefs bounds the references followed for one node: a chain of them,
// or one that leads back to itself, ends as a free value.
const maxRefs = 8

// resolve returns m with a local "$ref" replaced by the schema it points
// to (m's other keys, such as a description, kept where the target has
// none), and a one-element allOf merged the same way. A reference that
// cannot be followed leaves m as it is, which compiles to a free value.
func (s *Schema) resolve(m map[string]any) map[string]any {
	for range maxRefs {
		var target map[string]any
		if ref, ok := m["$ref"].(string); ok {
			target = s.pointer(ref)
		} else if all, ok := m["allOf"].([]any); ok && len(all) == 1 {
			target, _ = all[0].(map[string]any)
		} else {
			return m
		}
		if target == nil {
			return m
		}
		merged := make(map[string]any, len(m)+len(target))
		for k, v := range m {
			if k != "$ref" && k != "allOf" {
				merged[k] = v
			}
		}
		for k, v := range target {
			merged[k] = v
		}
		m = merged
	}
	return map[string]any{} // too many references: free
}

// annotations are the keywords that describe a schema without constraining
// it: a reference with only these beside it stands for its target alone.
var annotations = map[string]bool{"title": true, "description": true, "default": true, "examples": true, "$comment": true,
	"deprecated": true, "readOnly": true, "writeOnly": true}

// pureRef returns m's "$ref" when nothing beside it constrains the value.
func pureRef(m map[string]any) (string, bool) {
	ref, ok := m["$ref"].(string)
	if !ok {
		return "", false
	}
	for k := range m {
		if k != "$ref" && !annotations[k] {
			return "", false
		}
	}
	return ref, true
}

// follow resolves ref, and references its target is nothing but, up to
// maxRefs of them; it returns the last reference and its target (nil
// when one cannot be followed; a target still a pure reference when the
// chain is longer).
func (s *Schema) follow(ref string) (string, map[string]any) {
	t := s.pointer(ref)
	for range maxRefs {
		next, ok := pureRef(t)
		if !ok {
			break
		}
		ref, t = next, s.pointer(next)
	}
	return ref, t
}

// pointer follows a local JSON pointer ("#/$defs/Step") in the document
// being compiled; nil when it does not lead to a schema object.
func (s *Schema) pointer(ref string) map[string]any {
	rest, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil // remote references are not fetched
	}
	var cur any = s.root
	if rest != "" {
		rest, ok = strings.CutPrefix(rest, "/")
		if !ok {
			return nil
		}
		for tok := range strings.SplitSeq(rest, "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			switch c := cur.(type) {
			case map[string]any:
				cur = c[tok]
			case []any:
				i, err := strconv.Atoi(tok)
				if err != nil || i < 0 || i >= len(c) {
					return nil
				}
				cur = c[i]
			default:
				return nil
			}
		}
	}
	m, _ := cur.(map[string]any)
	return m
}

func firstOf(m map[string]any, keys ...string) ([]any, bool) {
	for _, k := range keys {
		if v, ok := m[k].([]any); ok && len(v) > 0 {
			return v, true
		}
	}
	return nil, false
}

// typesOf reads "type" as a string or a list of strings.
func typesOf(m map[string]any) uint8 {
	var names []any
	switch t := m["type"].(type) {
	case string:
		names = []any{t}
	case []any:
		names = t
	}
	var out uint8
	for _, n := range names {
		switch n {
		case "object":
			out |= tObject
		case "array":
			out |= tArray
		case "string":
			out |= tString
		case "number":
			out |= tNumber | tInteger
		case "integer":
			out |= tInteger
		case "boolean":
			out |= tBoolean
		case "null":
			out |= tNull
		}
	}
	return out
}

// plainKeys reports whether every name can be written between quotes as
// it is (no quote, backslash or control byte).
func plainKeys(names []string) bool {
	for _, n := range names {
		if n == "" || !isPlain(n) {
			return false
		}
	}
	return true
}

// maxSchemaDepth bounds the containers a schema state tracks; values
// nested deeper are free.
const maxSchemaDepth = 12

// State is a JSON recognizer that also follows a Schema (or plain JSON
// when it has none). Like JSON it is a plain value: copying forks it.
type State struct {
	j  JSON
	sc *Schema

	node [maxSchemaDepth]int16  // schema node of each open container (-1: free)
	used [maxSchemaDepth]uint32 // properties written, per open object

	next     int16 // schema node of the value about to start
	numInt   bool  // the current number must be an integer
	inKey    bool  // reading a constrained key
	keyCand  uint32
	keyPos   uint8
	inEnum   bool
	enumCand uint64
	enumPos  uint16
	enumAt   uint8 // depth the enum value started at
}

// NewState returns the state before any byte: plain JSON (an object with
// objectOnly) when sc is nil, else a value of sc's root, which must be an
// object when objectOnly.
func NewState(sc *Schema, objectOnly bool) State {
	st := State{j: NewJSON(objectOnly), sc: sc}
	if sc != nil && len(sc.nodes) > 0 {
		st.next = 0
	} else {
		st.sc = nil
	}
	return st
}

// Complete reports whether the bytes so far form a whole JSON text that
// the schema accepts.
func (s *State) Complete() bool { return s.j.Complete() }

// plainString reports whether the recognizer is inside a string whose
// content is free, where any plain token keeps it inside.
func (s *State) plainString() bool {
	return s.j.mode == mString && !s.inKey && !s.inEnum
}

func isNumberByte(b byte) bool {
	return isDigit(b) || b == '.' || b == 'e' || b == 'E' || b == '+' || b == '-'
}

// cur returns the schema node of the innermost open container (-1 when
// free or untracked).
func (s *State) cur() int16 {
	d := int(s.j.depth)
	if d == 0 || d > maxSchemaDepth {
		return -1
	}
	return s.node[d-1]
}

// Step advances by one byte and reports whether the bytes so far are
// still a prefix of a JSON text the schema accepts.
func (s *State) Step(b byte) bool {
	if s.sc == nil {
		return s.j.Step(b)
	}
	mode := s.j.mode
	if mode == mNumber && !isNumberByte(b) {
		// b ends the number, if the number can end here; then b is
		// read after it.
		switch s.j.sub {
		case nZero, nInt, nFrac, nExpDigit:
		default:
			return false
		}
		if s.inEnum && !s.enumEnd() {
			return false
		}
		s.j.endValue(false)
		mode = s.j.mode
	}
	if s.inEnum {
		if !s.enumStep(b) || !s.j.Step(b) {
			return false
		}
		if (s.j.mode == mAfter || s.j.mode == mDone) && s.j.depth == s.enumAt {
			return s.enumEnd()
		}
		return true
	}
	switch {
	case s.inKey:
		if b == '"' {
			return s.endKey() && s.j.Step(b)
		}
		if b == '\\' || b < 0x20 {
			return false
		}
		n := &s.sc.nodes[s.cur()]
		cand := s.keyCand
		for c := cand; c != 0; c &= c - 1 {
			i := bits.TrailingZeros32(c)
			if name := n.props[i].name; int(s.keyPos) >= len(name) || name[s.keyPos] != b {
				cand &^= 1 << i
			}
		}
		if cand == 0 {
			return false
		}
		s.keyCand, s.keyPos = cand, s.keyPos+1
		return s.j.Step(b)
	case mode == mNumber:
		if s.numInt && (b == '.' || b == 'e' || b == 'E') {
			return false
		}
	case (mode == mKeyOrEnd || mode == mKey) && b == '"':
		s.next = -1
		if c := s.cur(); c >= 0 && !s.sc.nodes[c].open {
			n := &s.sc.nodes[c]
			all := uint32(1)<<len(n.props) - 1
			s.keyCand = all &^ s.used[s.j.depth-1]
			if s.keyCand == 0 {
				return false
			}
			s.inKey, s.keyPos = true, 0
		}
	case (mode == mKeyOrEnd || mode == mAfter) && b == '}':
		if c := s.cur(); c >= 0 && !s.sc.nodes[c].open {
			if req := s.sc.nodes[c].required; s.used[s.j.depth-1]&req != req {
				return false
			}
		}
	case mode == mAfter && b == ',':
		c := s.cur()
		if s.j.stack[s.j.depth-1] == '[' {
			s.next = -1
			if c >= 0 {
				s.next = s.sc.nodes[c].items
			}
		} else if c >= 0 && !s.sc.nodes[c].open {
			// A comma needs a key left to write after it.
			if n := &s.sc.nodes[c]; s.used[s.j.depth-1] == uint32(1)<<len(n.props)-1 {
				return false
			}
		}
	case (mode == mValue || mode == mValueOrEnd) && !isSpace(b) && !(mode == mValueOrEnd && b == ']'):
		return s.startValue(b)
	}
	return s.j.Step(b)
}

// startValue checks a value's first byte against its schema node.
func (s *State) startValue(b byte) bool {
	n := s.next
	s.numInt = false
	if n < 0 || int(s.j.depth) >= maxSchemaDepth {
		return s.push(b, -1)
	}
	nd := &s.sc.nodes[n]
	if nd.enum != nil {
		s.inEnum, s.enumCand, s.enumPos, s.enumAt = true, 1<<len(nd.enum)-1, 0, s.j.depth
		if len(nd.enum) == 64 {
			s.enumCand = ^uint64(0)
		}
		if !s.enumStep(b) || !s.j.Step(b) {
			return false
		}
		if (s.j.mode == mAfter || s.j.mode == mDone) && s.j.depth == s.enumAt {
			return s.enumEnd()
		}
		return true
	}
	if t := nd.types; t != 0 {
		var need uint8
		switch {
		case b == '{':
			need = tObject
		case b == '[':
			need = tArray
		case b == '"':
			need = tString
		case b == '-' || isDigit(b):
			need = tNumber | tInteger
		case b == 't' || b == 'f':
			need = tBoolean
		case b == 'n':
			need = tNull
		}
		if t&need == 0 {
			return false
		}
		s.numInt = need == tNumber|tInteger && t&tNumber == 0
	}
	return s.push(b, n)
}

// push reads a value's first byte and, for a container, records its node.
func (s *State) push(b byte, n int16) bool {
	if !s.j.Step(b) {
		return false
	}
	if b == '{' || b == '[' {
		if d := int(s.j.depth); d <= maxSchemaDepth {
			s.node[d-1], s.used[d-1] = n, 0
		}
		s.next = -1
		if b == '[' && n >= 0 {
			s.next = s.sc.nodes[n].items
		}
	}
	return true
}

// endKey picks the property a closing quote completes.
func (s *State) endKey() bool {
	n := &s.sc.nodes[s.cur()]
	for c := s.keyCand; c != 0; c &= c - 1 {
		i := bits.TrailingZeros32(c)
		if len(n.props[i].name) == int(s.keyPos) {
			s.used[s.j.depth-1] |= 1 << i
			s.next = n.props[i].node
			s.inKey = false
			return true
		}
	}
	return false
}

// enumStep keeps the enum values whose encoding continues with b.
func (s *State) enumStep(b byte) bool {
	enc := s.sc.nodes[s.next].enum
	cand := s.enumCand
	for c := cand; c != 0; c &= c - 1 {
		i := bits.TrailingZeros64(c)
		if e := enc[i]; int(s.enumPos) >= len(e) || e[s.enumPos] != b {
			cand &^= 1 << i
		}
	}
	if cand == 0 {
		return false
	}
	s.enumCand, s.enumPos = cand, s.enumPos+1
	return true
}

// enumEnd reports whether the value read is a whole enum value, and
// leaves enum mode.
func (s *State) enumEnd() bool {
	enc := s.sc.nodes[s.next].enum
	s.inEnum = false
	for c := s.enumCand; c != 0; c &= c - 1 {
		if len(enc[bits.TrailingZeros64(c)]) == int(s.enumPos) {
			return true
		}
	}
	return false
}
