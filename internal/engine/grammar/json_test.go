package grammar

import (
	"encoding/json"
	"strings"
	"testing"
)

// run feeds s to a fresh recognizer and returns how many bytes it took
// before refusing one (len(s) if none) and whether the text is complete.
func run(s string, objectOnly bool) (int, bool) {
	j := NewJSON(objectOnly)
	for i := 0; i < len(s); i++ {
		if !j.Step(s[i]) {
			return i, false
		}
	}
	return len(s), j.Complete()
}

func TestJSON(t *testing.T) {
	for _, tc := range []struct {
		name, in   string
		objectOnly bool
		took       int // bytes accepted; -1 means all
		complete   bool
	}{
		{"object", `{"a": 1, "b": [true, false, null], "c": {"d": "e\n\u00e9\"x"}}`, true, -1, true},
		{"pretty", "{\n  \"list\": [\n    1.5e-3,\n    -0,\n    2E+10\n  ]\n}", true, -1, true},
		{"empty containers", `{"a":{},"b":[]}`, true, -1, true},
		{"prefix", `{"name": "Par`, true, -1, false},
		{"top-level string", `"hi"`, false, -1, true},
		{"top-level array", `[1, [2, [3]]]`, false, -1, true},
		{"object required", `[1]`, true, 0, false},
		{"trailing comma", `{"a": 1,}`, true, 8, false},
		{"key must be a string", `{a: 1}`, true, 1, false},
		{"missing colon", `{"a" 1}`, true, 5, false},
		{"leading zero", `[01]`, false, 2, false},
		{"bad literal", `[tru e]`, false, 4, false},
		{"bad escape", `["\x"]`, false, 3, false},
		{"bad unicode escape", `["\u12g4"]`, false, 6, false},
		{"raw newline in string", "[\"a\nb\"]", false, 3, false},
		{"mismatched close", `{"a": [1}`, true, 8, false},
		{"nothing after the text", `{} {}`, true, 2, false},
		{"digit after dot", `[1.]`, false, 3, false},
		{"utf-8 in strings", `{"città": "東京"}`, true, -1, true},
		{"whitespace run bounded", "{" + strings.Repeat(" ", maxSpaces+1) + "}", true, maxSpaces + 1, false},
		{"one line feed per run", "{\n  \n}", true, 4, false},
		{"depth bounded", strings.Repeat("[", maxDepth+1), false, maxDepth, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.took
			if want < 0 {
				want = len(tc.in)
			}
			took, complete := run(tc.in, tc.objectOnly)
			if took != want || complete != tc.complete {
				t.Errorf("run(%q) = %d bytes, complete %v; want %d, %v", tc.in, took, complete, want, tc.complete)
			}
		})
	}
}

// FuzzJSON checks the recognizer against encoding/json: a text it takes
// whole and calls complete is valid JSON, and valid JSON (within the
// depth and whitespace bounds, not a bare top-level number, which stays
// open for more digits) is taken whole and complete.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e3,"x\u0041"],"b":null}`, `[true,false]`, `"s"`, `{}`, `{"a":}`, `[01]`, "{\n \"k\" : -0.0E-1 }"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		took, complete := run(s, false)
		valid := json.Valid([]byte(s))
		if took == len(s) && complete && !valid {
			t.Fatalf("recognizer completes %q, which encoding/json refuses", s)
		}
		if valid && !complete {
			trim := strings.TrimSpace(s)
			bare := trim != "" && (trim[0] == '-' || (trim[0] >= '0' && trim[0] <= '9'))
			if !bare && !bounded(s) {
				t.Fatalf("recognizer stops at byte %d of valid JSON %q", took, s)
			}
		}
	})
}

// bounded reports whether s exceeds the recognizer's nesting or
// whitespace bounds, or starts or ends with whitespace around the text.
func bounded(s string) bool {
	if strings.TrimSpace(s) != s {
		return true // leading whitespace counts against the run; trailing is refused after the text
	}
	depth, maxD, run, maxRun, nls, maxNL := 0, 0, 0, 0, 0, 0
	inStr, esc := false, false
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case inStr:
			if esc {
				esc = false
			} else if b == '\\' {
				esc = true
			} else if b == '"' {
				inStr = false
			}
			continue
		case b == '"':
			inStr = true
		case b == '{' || b == '[':
			depth++
			maxD = max(maxD, depth)
		case b == '}' || b == ']':
			depth--
		}
		if isSpace(b) {
			run++
			maxRun = max(maxRun, run)
			if b == '\n' {
				nls++
				maxNL = max(maxNL, nls)
			}
		} else {
			run, nls = 0, 0
		}
	}
	return maxD > maxDepth || maxRun > maxSpaces || maxNL > 1
}
