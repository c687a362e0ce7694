package audit

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Hidden replaces a field that carries content (messages, prompts,
// outputs), the marker CloudTrail itself writes for sensitive fields.
const Hidden = "HIDDEN_DUE_TO_SECURITY_REASONS"

// maxParams bounds the redacted JSON of one request or response; larger
// parameter sets are replaced by Hidden.
const maxParams = 8 << 10

// contentFields are keys whose whole value is content: replaced by Hidden
// without looking inside, so no name or identifier nested in a prompt
// (a document's name, a tool result's ID) leaks either.
var contentFields = map[string]bool{
	"messages": true, "system": true, "prompt": true, "prompts": true, "inputText": true, "inputTexts": true,
	"text": true, "texts": true, "content": true, "input": true, "body": true, "query": true,
	"retrievalQuery": true, "instruction": true, "output": true, "outputs": true, "outputText": true,
	"completion": true, "generation": true, "results": true, "embedding": true, "embeddings": true,
	"images": true, "modelInput": true, "sessionState": true, "promptVariables": true,
	"additionalModelRequestFields": true, "additionalModelResponseFields": true, "inputSchema": true,
	"guardContent": true, "queryContent": true, "citations": true,
	"blockedInputMessaging": true, "blockedOutputsMessaging": true, "definition": true,
	"examples": true, "description": true, "requestMetadata": true, "toolResult": true, "message": true,
}

// keptIDs are string fields kept although their names have no kept suffix.
var keptIDs = map[string]bool{
	"name": true, "version": true, "status": true, "nextToken": true, "clientRequestToken": true,
	"clientToken": true, "trace": true, "latency": true, "sortBy": true, "sortOrder": true,
	"byProvider": true, "byCustomizationType": true, "byOutputModality": true, "byInferenceType": true,
	"contentType": true, "accept": true, "stopReason": true, "action": true, "key": true,
}

// keptSuffixes are name endings of string fields that hold identifiers.
var keptSuffixes = []string{"Id", "Ids", "Identifier", "Identifiers", "Arn", "Arns", "ARN", "Name", "Names",
	"Version", "Status", "Type", "Mode", "Tier", "Region", "Time", "At"}

// secretWords mark fields dropped whatever their value: credentials and
// signatures never reach the trail.
var secretWords = []string{"secret", "password", "signature", "credential", "authorization", "apikey", "sessiontoken", "bearer"}

func keepString(key []byte) bool {
	if keptIDs[string(key)] {
		return true
	}
	for _, s := range keptSuffixes {
		if bytes.HasSuffix(key, []byte(s)) {
			return true
		}
	}
	return false
}

func secretKey(key []byte) bool {
	for _, c := range key {
		if c >= utf8.RuneSelf {
			// strings.ToLower maps some non-ASCII letters to ASCII ones
			// (the Kelvin sign to k): take the general path.
			k := strings.ToLower(string(key))
			for _, w := range secretWords {
				if strings.Contains(k, w) {
					return true
				}
			}
			return false
		}
	}
	for _, w := range secretWords {
		if containsFold(key, w) {
			return true
		}
	}
	return false
}

// containsFold reports whether the ASCII s contains the lower-case ASCII
// word w, ignoring case.
func containsFold(s []byte, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		j := 0
		for j < len(w) && lower(s[i+j]) == w[j] {
			j++
		}
		if j == len(w) {
			return true
		}
	}
	return false
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// Redact returns the parts of a JSON request or response body that an
// audit record may hold, merged over params (path and header parameters,
// which win): numbers and booleans anywhere, strings only under
// identifier-like names (…Id, …Arn, …Name, version, status, …), content
// fields replaced by Hidden, secrets dropped. A body that is not a JSON
// object contributes nothing. It returns nil when nothing is left.
//
// The output is compact JSON with sorted keys, HTML-escaped strings and
// the last of duplicate keys, byte for byte what json.Marshal writes for
// the body decoded into a map[string]any (with UseNumber) and redacted.
// Redact walks the body once without building it: content fields, which
// are most of a request, are only checked for syntax and skipped.
func Redact(params []Param, body []byte) json.RawMessage {
	r := redactors.Get().(*redactor)
	defer redactors.Put(r)
	r.out, r.members = r.out[:0], r.members[:0]
	if b := bytes.TrimSpace(body); len(b) > 0 && b[0] == '{' {
		r.in, r.pos, r.level, r.err = b, 1, 1, false
		n := r.object(0)
		if r.err {
			r.members, r.out = r.members[:0], r.out[:0] // invalid JSON contributes nothing
		} else {
			r.members = r.members[:n]
		}
	}
	// Parameters come after the body's members, so they win.
	size := 0
	for _, p := range params {
		size += len(p.Name)
	}
	r.names = slices.Grow(r.names[:0], size) // never grows below, so keys stay valid
	for _, p := range params {
		at := len(r.names)
		r.names = append(r.names, p.Name...)
		name := r.names[at:len(r.names):len(r.names)]
		if secretKey(name) {
			continue
		}
		start := len(r.out)
		r.out = appendString(r.out, p.Value)
		r.members = append(r.members, member{key: name, start: start, end: len(r.out)})
	}
	n := r.assemble(len(r.members))
	clear(r.members[:cap(r.members)]) // drop references to the body
	r.in = nil
	if n == 0 {
		return nil
	}
	raw := r.out[len(r.out)-n:]
	if len(raw) > maxParams {
		return json.RawMessage(`{"truncated":"` + Hidden + `"}`)
	}
	return bytes.Clone(raw)
}

var redactors = sync.Pool{New: func() any { return new(redactor) }}

// A redactor parses one body, appending the encoding of what it keeps to
// out. It accepts exactly what encoding/json accepts.
type redactor struct {
	in    []byte
	pos   int
	level int  // nesting of objects and arrays at pos, for json's depth limit
	err   bool // the body is not valid JSON

	out     []byte
	members []member // the members of the objects being parsed, innermost last
	names   []byte   // the parameters' names, which members refer to
}

// member is an object member: its decoded key and the span of out that
// holds its value's encoding; dropped members have start < 0.
type member struct {
	key        []byte
	start, end int
}

// maxNesting is encoding/json's limit on nested objects and arrays.
const maxNesting = 10000

func (r *redactor) ws() {
	for r.pos < len(r.in) {
		switch r.in[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

func (r *redactor) fail() { r.err = true; r.pos = len(r.in) }

// next reads what follows a member or an element: closer ends its
// container (true), a comma announces another (false, at the next
// token); anything else fails the input (true, with r.err set).
func (r *redactor) next(closer byte) bool {
	r.ws()
	if r.pos >= len(r.in) {
		r.fail()
		return true
	}
	c := r.in[r.pos]
	r.pos++
	if c == closer {
		r.level--
		return true
	}
	if c != ',' {
		r.fail()
		return true
	}
	r.ws()
	return false
}

// object parses the members of an object whose '{' was just consumed,
// as found at depth (redactValue's), appends them to r.members and
// returns how many it appended. Members are judged by their own keys.
func (r *redactor) object(depth int) int {
	first := len(r.members)
	r.ws()
	if r.pos < len(r.in) && r.in[r.pos] == '}' {
		r.pos++
		r.level--
		return 0
	}
	for !r.err {
		key, ok := r.key()
		if !ok {
			r.fail()
			break
		}
		r.ws()
		if r.pos >= len(r.in) || r.in[r.pos] != ':' {
			r.fail()
			break
		}
		r.pos++
		r.ws()
		start := len(r.out)
		if r.value(key, depth, true) {
			r.members = append(r.members, member{key: key, start: start, end: len(r.out)})
		} else {
			r.members = append(r.members, member{key: key, start: -1})
		}
		if r.next('}') {
			break
		}
	}
	return len(r.members) - first
}

// assemble encodes the last n members (of one object) as that object:
// keys sorted, the last of duplicate keys, dropped members left out. It
// appends the object to out and returns its length, 0 if no member is
// kept (then nothing is appended). The members are removed.
func (r *redactor) assemble(n int) int {
	ms := r.members[len(r.members)-n:]
	slices.SortStableFunc(ms, func(a, b member) int { return bytes.Compare(a.key, b.key) })
	start := len(r.out)
	for i, m := range ms {
		if m.start < 0 || i+1 < len(ms) && bytes.Equal(ms[i+1].key, m.key) {
			continue
		}
		if len(r.out) == start {
			r.out = append(r.out, '{')
		} else {
			r.out = append(r.out, ',')
		}
		r.out = appendStringBytes(r.out, m.key)
		r.out = append(r.out, ':')
		r.out = append(r.out, r.out[m.start:m.end]...)
	}
	r.members = r.members[:len(r.members)-len(ms)]
	if len(r.out) == start {
		return 0
	}
	r.out = append(r.out, '}')
	return len(r.out) - start
}

// value parses the value at pos found under key at depth and appends what
// may be kept of it to out, reporting whether anything was kept. check is
// false for array elements, whose key was checked with the array.
func (r *redactor) value(key []byte, depth int, check bool) bool {
	if check {
		if secretKey(key) {
			r.skip()
			return false
		}
		if contentFields[string(key)] {
			r.skip()
			r.out = append(r.out, `"`+Hidden+`"`...)
			return !r.err
		}
	}
	if depth > 8 {
		r.skip()
		return false
	}
	if r.pos >= len(r.in) {
		r.fail()
		return false
	}
	switch c := r.in[r.pos]; {
	case c == '{':
		if r.level++; r.level > maxNesting {
			r.fail()
			return false
		}
		r.pos++
		start := len(r.out)
		n := r.assemble(r.object(depth + 1))
		if r.err || n == 0 {
			r.out = r.out[:start]
			return false
		}
		// Move the object down over its members' values.
		r.out = append(r.out[:start], r.out[len(r.out)-n:]...)
		return true
	case c == '[':
		if r.level++; r.level > maxNesting {
			r.fail()
			return false
		}
		r.pos++
		start := len(r.out)
		r.out = append(r.out, '[')
		r.ws()
		if r.pos < len(r.in) && r.in[r.pos] == ']' {
			r.pos++
			r.level--
			r.out = r.out[:start]
			return false
		}
		for !r.err {
			mark := len(r.out)
			if mark > start+1 {
				r.out = append(r.out, ',')
			}
			// Array elements are judged by the array's own name.
			if !r.value(key, depth+1, false) {
				r.out = r.out[:mark]
			}
			if r.next(']') {
				break
			}
		}
		if r.err || len(r.out) == start+1 {
			r.out = r.out[:start]
			return false
		}
		r.out = append(r.out, ']')
		return true
	case c == '"':
		start := r.pos
		if !r.str() {
			return false
		}
		if !keepString(key) {
			return false
		}
		s := r.in[start:r.pos]
		if plain(s[1 : len(s)-1]) {
			if len(s)-2 > 2048 {
				return false
			}
			r.out = append(r.out, s...)
			return true
		}
		var v string
		if json.Unmarshal(s, &v) != nil {
			r.fail()
			return false
		}
		if len(v) > 2048 {
			return false
		}
		r.out = appendString(r.out, v)
		return true
	default:
		start := r.pos
		if !r.scalar() {
			return false
		}
		r.out = append(r.out, r.in[start:r.pos]...)
		return true
	}
}

// key parses an object key and returns it decoded.
func (r *redactor) key() ([]byte, bool) {
	if r.pos >= len(r.in) || r.in[r.pos] != '"' {
		return nil, false
	}
	start := r.pos
	if !r.str() {
		return nil, false
	}
	s := r.in[start:r.pos]
	if plain(s[1 : len(s)-1]) {
		return s[1 : len(s)-1], true
	}
	var k string
	if json.Unmarshal(s, &k) != nil {
		return nil, false
	}
	return []byte(k), true
}

// plain reports whether the body of a JSON string is the same decoded
// and needs no escaping when encoded: printable ASCII without '"', '\\',
// and the HTML characters json.Marshal escapes.
func plain(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendString appends s as json.Marshal encodes a string.
func appendString(dst []byte, s string) []byte {
	if plain([]byte(s)) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	b, _ := json.Marshal(s)
	return append(dst, b...)
}

func appendStringBytes(dst []byte, s []byte) []byte {
	if plain(s) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	b, _ := json.Marshal(string(s))
	return append(dst, b...)
}

// str checks the string at pos (at its opening quote) and moves past it.
func (r *redactor) str() bool {
	r.pos++
	for r.pos < len(r.in) {
		c := r.in[r.pos]
		switch {
		case c == '"':
			r.pos++
			return true
		case c == '\\':
			if r.pos+1 >= len(r.in) {
				r.fail()
				return false
			}
			switch r.in[r.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				r.pos += 2
			case 'u':
				if r.pos+6 > len(r.in) || !isHex(r.in[r.pos+2]) || !isHex(r.in[r.pos+3]) || !isHex(r.in[r.pos+4]) || !isHex(r.in[r.pos+5]) {
					r.fail()
					return false
				}
				r.pos += 6
			default:
				r.fail()
				return false
			}
		case c < 0x20:
			r.fail()
			return false
		default:
			r.pos++
		}
	}
	r.fail()
	return false
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scalar checks the number or literal at pos and moves past it.
func (r *redactor) scalar() bool {
	rest := r.in[r.pos:]
	for _, lit := range []string{"true", "false", "null"} {
		if lit[0] == rest[0] {
			if !bytes.HasPrefix(rest, []byte(lit)) {
				r.fail()
				return false
			}
			r.pos += len(lit)
			return true
		}
	}
	i := 0
	if rest[i] == '-' {
		i++
	}
	switch {
	case i < len(rest) && rest[i] == '0':
		i++
	case i < len(rest) && '1' <= rest[i] && rest[i] <= '9':
		for i < len(rest) && isDigit(rest[i]) {
			i++
		}
	default:
		r.fail()
		return false
	}
	if i < len(rest) && rest[i] == '.' {
		i++
		if i >= len(rest) || !isDigit(rest[i]) {
			r.fail()
			return false
		}
		for i < len(rest) && isDigit(rest[i]) {
			i++
		}
	}
	if i < len(rest) && (rest[i] == 'e' || rest[i] == 'E') {
		i++
		if i < len(rest) && (rest[i] == '+' || rest[i] == '-') {
			i++
		}
		if i >= len(rest) || !isDigit(rest[i]) {
			r.fail()
			return false
		}
		for i < len(rest) && isDigit(rest[i]) {
			i++
		}
	}
	r.pos += i
	return true
}

// skip checks the value at pos and moves past it, keeping nothing.
func (r *redactor) skip() {
	if r.pos >= len(r.in) {
		r.fail()
		return
	}
	switch r.in[r.pos] {
	case '"':
		r.str()
	case '{', '[':
		r.skipContainer()
	default:
		r.scalar()
	}
}

// skipContainer checks the object or array at pos and moves past it,
// without recursion.
func (r *redactor) skipContainer() {
	base := r.level
	// stack holds, per open container, '}' or ']'.
	var stackBuf [32]byte
	stack := stackBuf[:0]
	open := func() bool {
		if r.level++; r.level > maxNesting {
			r.fail()
			return false
		}
		if r.in[r.pos] == '{' {
			stack = append(stack, '}')
		} else {
			stack = append(stack, ']')
		}
		r.pos++
		r.ws()
		if r.pos < len(r.in) && r.in[r.pos] == stack[len(stack)-1] {
			r.pos++
			r.level--
			stack = stack[:len(stack)-1]
			return false // empty: nothing to parse in it
		}
		return true
	}
	opened := open()
	for !r.err && r.level > base {
		if opened {
			opened = false
		} else {
			// After a value: a separator or the end of its container.
			if r.next(stack[len(stack)-1]) {
				if r.err {
					return
				}
				stack = stack[:len(stack)-1]
				continue
			}
		}
		// At the start of a member or element.
		if stack[len(stack)-1] == '}' {
			if r.pos >= len(r.in) || r.in[r.pos] != '"' || !r.str() {
				r.fail()
				return
			}
			r.ws()
			if r.pos >= len(r.in) || r.in[r.pos] != ':' {
				r.fail()
				return
			}
			r.pos++
			r.ws()
		}
		if r.pos >= len(r.in) {
			r.fail()
			return
		}
		switch r.in[r.pos] {
		case '"':
			r.str()
		case '{', '[':
			opened = open()
		default:
			r.scalar()
		}
	}
}
