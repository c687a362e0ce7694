// Package grammar constrains generation to JSON: at each step, the tokens
// that may come next are those whose bytes keep the output a prefix of a
// JSON text (RFC 8259), and the end of generation may come only once the
// text is complete. The model's own probabilities choose among the allowed
// tokens, so the output is the model's answer, only never malformed.
package grammar

// maxDepth bounds nesting; deeper input is refused.
const maxDepth = 32

// maxSpaces bounds runs of whitespace between tokens of the JSON text, so
// that a model cannot pad forever: enough for a newline and indentation.
// A run also holds at most one line feed, as pretty-printed JSON does.
const maxSpaces = 24

// Lexer modes.
const (
	mValue      = iota // a value must come (after ':' or ',' in an array, or at the top)
	mValueOrEnd        // after '[': a value or ']'
	mKeyOrEnd          // after '{': a key or '}'
	mKey               // after ',' in an object: a key
	mColon             // after a key
	mAfter             // after a value inside a container: ',' or the closer
	mDone              // the top-level value is complete
	mString            // inside a string
	mEscape            // after a backslash in a string
	mUnicode           // inside \uXXXX
	mNumber            // inside a number
	mLiteral           // inside true, false or null
)

// Number sub-states.
const (
	nSign     = iota // after '-'
	nZero            // after a leading 0
	nInt             // in the integer digits
	nDot             // after '.'
	nFrac            // in the fraction digits
	nExp             // after 'e' or 'E'
	nExpSign         // after the exponent's sign
	nExpDigit        // in the exponent digits
)

var literals = [3]string{"true", "false", "null"}

// JSON is the state of a JSON recognizer after some bytes. It is a plain
// value: copying it forks the recognizer, which is how the masker tries a
// token without losing the current state.
type JSON struct {
	mode   uint8
	sub    uint8 // number sub-state, literal index, or \u digits seen
	pos    uint8 // bytes of the literal matched
	isKey  bool  // the current string is an object key
	spaces uint8 // whitespace bytes in the current run
	nl     bool  // the current whitespace run has a line feed
	object bool  // the top-level value must be an object
	depth  uint8
	stack  [maxDepth]byte // '{' or '[' per open container
}

// NewJSON returns the state before any byte. With objectOnly the text must
// be an object, as OpenAI's json_object response format requires.
func NewJSON(objectOnly bool) JSON { return JSON{mode: mValue, object: objectOnly} }

// Complete reports whether the bytes so far form a whole JSON text. A
// top-level number is complete only once a byte after it ends it; with
// objectOnly that never matters.
func (j *JSON) Complete() bool { return j.mode == mDone }

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func isHex(b byte) bool { return isDigit(b) || (b|0x20 >= 'a' && b|0x20 <= 'f') }

// Step advances by one byte and reports whether the bytes so far are
// still a prefix of a JSON text. After a false return the state is
// unspecified.
func (j *JSON) Step(b byte) bool {
	switch j.mode {
	case mString:
		switch {
		case b == '"':
			j.endValue(j.isKey)
			return true
		case b == '\\':
			j.mode = mEscape
			return true
		default:
			return b >= 0x20
		}
	case mEscape:
		switch b {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			j.mode = mString
			return true
		case 'u':
			j.mode, j.sub = mUnicode, 0
			return true
		}
		return false
	case mUnicode:
		if !isHex(b) {
			return false
		}
		if j.sub++; j.sub == 4 {
			j.mode = mString
		}
		return true
	case mNumber:
		if j.number(b) {
			return true
		}
		// The byte ends the number if the number can end here.
		switch j.sub {
		case nZero, nInt, nFrac, nExpDigit:
			j.endValue(false)
			return j.Step(b)
		}
		return false
	case mLiteral:
		lit := literals[j.sub]
		if b != lit[j.pos] {
			return false
		}
		if j.pos++; int(j.pos) == len(lit) {
			j.endValue(false)
		}
		return true
	}
	// Structural modes: whitespace first.
	if isSpace(b) {
		if j.mode == mDone {
			return false // nothing may follow the text
		}
		if j.spaces++; j.spaces > maxSpaces || (b == '\n' && j.nl) {
			return false
		}
		j.nl = j.nl || b == '\n'
		return true
	}
	j.spaces, j.nl = 0, false
	switch j.mode {
	case mValue, mValueOrEnd:
		if j.mode == mValueOrEnd && b == ']' {
			return j.close('[')
		}
		return j.startValue(b)
	case mKeyOrEnd, mKey:
		if j.mode == mKeyOrEnd && b == '}' {
			return j.close('{')
		}
		if b != '"' {
			return false
		}
		j.mode, j.isKey = mString, true
		return true
	case mColon:
		if b != ':' {
			return false
		}
		j.mode = mValue
		return true
	case mAfter:
		top := j.stack[j.depth-1]
		switch b {
		case ',':
			if top == '{' {
				j.mode = mKey
			} else {
				j.mode = mValue
			}
			return true
		case '}':
			return j.close('{')
		case ']':
			return j.close('[')
		}
		return false
	}
	return false // mDone
}

// startValue begins a value with its first byte.
func (j *JSON) startValue(b byte) bool {
	if j.object && j.depth == 0 && b != '{' {
		return false
	}
	switch {
	case b == '{' || b == '[':
		if j.depth == maxDepth {
			return false
		}
		j.stack[j.depth] = b
		j.depth++
		if b == '{' {
			j.mode = mKeyOrEnd
		} else {
			j.mode = mValueOrEnd
		}
	case b == '"':
		j.mode, j.isKey = mString, false
	case b == '-':
		j.mode, j.sub = mNumber, nSign
	case b == '0':
		j.mode, j.sub = mNumber, nZero
	case isDigit(b):
		j.mode, j.sub = mNumber, nInt
	case b == 't':
		j.mode, j.pos, j.sub = mLiteral, 1, 0
	case b == 'f':
		j.mode, j.pos, j.sub = mLiteral, 1, 1
	case b == 'n':
		j.mode, j.pos, j.sub = mLiteral, 1, 2
	default:
		return false
	}
	return true
}

// number advances inside a number; false means b is not part of it.
func (j *JSON) number(b byte) bool {
	switch j.sub {
	case nSign:
		switch {
		case b == '0':
			j.sub = nZero
		case isDigit(b):
			j.sub = nInt
		default:
			return false
		}
	case nZero, nInt:
		switch {
		case isDigit(b) && j.sub == nInt:
		case b == '.':
			j.sub = nDot
		case b == 'e' || b == 'E':
			j.sub = nExp
		default:
			return false
		}
	case nDot:
		if !isDigit(b) {
			return false
		}
		j.sub = nFrac
	case nFrac:
		switch {
		case isDigit(b):
		case b == 'e' || b == 'E':
			j.sub = nExp
		default:
			return false
		}
	case nExp:
		switch {
		case b == '+' || b == '-':
			j.sub = nExpSign
		case isDigit(b):
			j.sub = nExpDigit
		default:
			return false
		}
	case nExpSign, nExpDigit:
		if !isDigit(b) {
			return false
		}
		j.sub = nExpDigit
	}
	return true
}

// endValue moves past a finished value (or, with key, a finished key).
func (j *JSON) endValue(key bool) {
	j.spaces, j.nl = 0, false
	switch {
	case key:
		j.mode = mColon
	case j.depth == 0:
		j.mode = mDone
	default:
		j.mode = mAfter
	}
}

// close ends the innermost container if it is open.
func (j *JSON) close(open byte) bool {
	if j.depth == 0 || j.stack[j.depth-1] != open {
		return false
	}
	j.depth--
	j.endValue(false)
	return true
}
