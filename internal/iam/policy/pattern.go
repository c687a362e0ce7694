package policy

import (
	"strings"
	"unicode/utf8"
)

// A pattern is a compiled policy string: an Action, a Resource segment or a
// condition value. It is a sequence of chunks separated by multi-character
// wildcards (*); each chunk is a fixed-length run of literals,
// single-character wildcards (?) and policy variables.
//
// Matching never backtracks: after the first chunk (anchored at the start)
// every middle chunk is placed at its leftmost match, which is optimal for
// fixed-length chunks, and the last chunk is anchored at the end. That keeps
// a match O(len(pattern)·len(value)) whatever the pattern, so a hostile
// policy cannot make evaluation exponential.
type pattern struct {
	lit    string  // the whole pattern when it is a plain literal
	isLit  bool    // no wildcards and no variables
	chunks []chunk // len ≥ 1 unless isLit; chunks[0] and chunks[len-1] may be empty
	nvars  int     // number of distinct variable slots
	vars   []varRef
	fold   bool // ASCII case-insensitive literals (actions, *IgnoreCase)
}

type chunk []elem

type elemKind uint8

const (
	elemLit  elemKind = iota
	elemAny1          // ?: exactly one character
	elemVar           // ${key}: replaced by the key's single value
)

type elem struct {
	kind elemKind
	lit  string
	slot int // elemVar: index into the resolved variables
}

// varRef is a policy variable: a context key (lower-cased) and an optional
// default used when the key has no single value.
type varRef struct {
	key    string
	def    string
	hasDef bool
}

// maxVars bounds the variables in one pattern so resolution fits in a
// stack array; a pattern with more is compiled with the rest as literals.
const maxVars = 8

// compileOpts says how to read a policy string.
type compileOpts struct {
	wild bool // * and ? are wildcards (Action, Resource, StringLike, ArnLike)
	vars bool // ${...} is a policy variable (policy Version 2012-10-17)
	fold bool // literals compare case-insensitively
}

// compilePattern compiles s. It never fails: anything that is not a
// wildcard or a well-formed variable is literal text.
func compilePattern(s string, o compileOpts) pattern {
	p := pattern{fold: o.fold}
	var cur chunk
	var lit strings.Builder
	special := false
	flush := func() {
		if lit.Len() > 0 {
			cur = append(cur, elem{kind: elemLit, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case o.wild && c == '*':
			flush()
			p.chunks = append(p.chunks, cur)
			cur = nil
			special = true
			i++
		case o.wild && c == '?':
			flush()
			cur = append(cur, elem{kind: elemAny1})
			special = true
			i++
		case o.vars && c == '$' && strings.HasPrefix(s[i:], "${"):
			v, n, ok := parseVariable(s[i:])
			if !ok {
				lit.WriteByte(c)
				i++
				continue
			}
			i += n
			switch v.key {
			case "*", "?", "$":
				// ${*}, ${?} and ${$} are the documented escapes for the
				// characters that are otherwise special.
				lit.WriteString(v.key)
				continue
			}
			if len(p.vars) >= maxVars {
				lit.WriteString(s[i-n : i])
				continue
			}
			flush()
			p.vars = append(p.vars, v)
			cur = append(cur, elem{kind: elemVar, slot: len(p.vars) - 1})
			special = true
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	p.chunks = append(p.chunks, cur)
	p.nvars = len(p.vars)
	if !special {
		p.isLit = true
		if len(cur) == 1 {
			p.lit = cur[0].lit
		}
		p.chunks = nil
	}
	return p
}

// parseVariable reads "${key}" or "${key, 'default'}" at the start of s and
// returns the variable and the bytes consumed. Inside a default, a doubled
// single quote stands for one. Key names are case-insensitive; defaults are not.
func parseVariable(s string) (varRef, int, bool) {
	end := -1
	inQuote := false
	for i := 2; i < len(s); i++ {
		switch s[i] {
		case '\'':
			inQuote = !inQuote // '' toggles twice and stays inside
		case '}':
			if !inQuote {
				end = i
			}
		}
		if end >= 0 {
			break
		}
	}
	if end < 0 {
		return varRef{}, 0, false
	}
	body := s[2:end]
	key, def, hasDef := strings.Cut(body, ",")
	key = strings.TrimSpace(key)
	if key == "" {
		return varRef{}, 0, false
	}
	v := varRef{key: strings.ToLower(key)}
	if key == "*" || key == "?" || key == "$" {
		if hasDef {
			return varRef{}, 0, false
		}
		v.key = key
		return v, end + 1, true
	}
	if hasDef {
		def = strings.TrimSpace(def)
		if len(def) < 2 || def[0] != '\'' || def[len(def)-1] != '\'' {
			return varRef{}, 0, false
		}
		inner := def[1 : len(def)-1]
		// A lone quote inside the default is malformed; '' is an escape.
		if strings.Count(strings.ReplaceAll(inner, "''", ""), "'") != 0 {
			return varRef{}, 0, false
		}
		v.def, v.hasDef = strings.ReplaceAll(inner, "''", "'"), true
	}
	return v, end + 1, true
}

// resolve fills out with the value of each of p's variables from ctx. A
// variable resolves when its key has exactly one value (multivalued keys
// cannot be variables) or it has a default. ok is false when one does not
// resolve; the pattern then matches nothing.
func (p *pattern) resolve(ctx *Context, out *[maxVars]string) bool {
	for i, v := range p.vars {
		vals := ctx.lookup(v.key)
		switch {
		case len(vals) == 1:
			out[i] = vals[0]
		case v.hasDef:
			out[i] = v.def
		default:
			return false
		}
	}
	return true
}

// match reports whether s matches p, resolving variables from ctx.
func (p *pattern) match(s string, ctx *Context) bool {
	if p.isLit {
		return p.eq(s, p.lit)
	}
	var buf [maxVars]string
	if p.nvars > 0 && !p.resolve(ctx, &buf) {
		return false
	}
	return p.matchResolved(s, buf[:p.nvars])
}

func (p *pattern) eq(a, b string) bool {
	if p.fold {
		return len(a) == len(b) && strings.EqualFold(a, b)
	}
	return a == b
}

func (p *pattern) matchResolved(s string, vars []string) bool {
	n := len(p.chunks)
	if n == 1 {
		end, ok := p.matchChunk(p.chunks[0], s, vars)
		return ok && end == len(s)
	}
	end, ok := p.matchChunk(p.chunks[0], s, vars)
	if !ok {
		return false
	}
	s = s[end:]
	for _, c := range p.chunks[1 : n-1] {
		found := false
		for j := 0; ; {
			if end, ok := p.matchChunk(c, s[j:], vars); ok {
				s = s[j+end:]
				found = true
				break
			}
			if j >= len(s) {
				break
			}
			_, sz := utf8.DecodeRuneInString(s[j:])
			j += sz
		}
		if !found {
			return false
		}
	}
	last := p.chunks[n-1]
	if len(last) == 0 {
		return true
	}
	for j := 0; ; {
		if end, ok := p.matchChunk(last, s[j:], vars); ok && j+end == len(s) {
			return true
		}
		if j >= len(s) {
			return false
		}
		_, sz := utf8.DecodeRuneInString(s[j:])
		j += sz
	}
}

// matchChunk matches c at the start of s and returns the bytes consumed.
func (p *pattern) matchChunk(c chunk, s string, vars []string) (int, bool) {
	i := 0
	for _, e := range c {
		switch e.kind {
		case elemLit:
			if len(s)-i < len(e.lit) || !p.eq(s[i:i+len(e.lit)], e.lit) {
				return 0, false
			}
			i += len(e.lit)
		case elemVar:
			v := vars[e.slot]
			if len(s)-i < len(v) || !p.eq(s[i:i+len(v)], v) {
				return 0, false
			}
			i += len(v)
		case elemAny1:
			if i >= len(s) {
				return 0, false
			}
			_, sz := utf8.DecodeRuneInString(s[i:])
			i += sz
		}
	}
	return i, true
}

// arnPattern matches ARNs the way IAM does: the six colon-separated
// components (arn, partition, service, region, account, resource) are
// matched separately, so a wildcard never spans a colon except inside the
// resource component, which runs to the end and may itself contain colons
// (as Bedrock model IDs do). "*" alone matches anything.
type arnPattern struct {
	any  bool
	segs [6]pattern
}

// arnSegments splits s into its six ARN components without allocating.
func arnSegments(s string) (segs [6]string, ok bool) {
	for i := 0; i < 5; i++ {
		j := strings.IndexByte(s, ':')
		if j < 0 {
			return segs, false
		}
		segs[i], s = s[:j], s[j+1:]
	}
	segs[5] = s
	return segs, true
}

// arnPatternSegments is arnSegments for a policy string: a colon inside a
// policy variable such as ${aws:PrincipalAccount} does not separate
// components.
func arnPatternSegments(s string, vars bool) (segs [6]string, ok bool) {
	start, n := 0, 0
	for i := 0; i < len(s) && n < 5; {
		if vars && s[i] == '$' && strings.HasPrefix(s[i:], "${") {
			if _, m, ok := parseVariable(s[i:]); ok {
				i += m
				continue
			}
		}
		if s[i] == ':' {
			segs[n] = s[start:i]
			n++
			start = i + 1
		}
		i++
	}
	if n < 5 {
		return segs, false
	}
	segs[5] = s[start:]
	return segs, true
}

// compileARN compiles an ARN pattern. ok is false when s is neither "*" nor
// six colon-separated components.
func compileARN(s string, o compileOpts) (arnPattern, bool) {
	if s == "*" {
		return arnPattern{any: true}, true
	}
	segs, ok := arnPatternSegments(s, o.vars)
	if !ok {
		return arnPattern{}, false
	}
	var a arnPattern
	for i, seg := range segs {
		a.segs[i] = compilePattern(seg, o)
	}
	return a, true
}

func (a *arnPattern) match(s string, ctx *Context) bool {
	if a.any {
		return true
	}
	r := splitARN(s)
	return a.matchSplit(&r, ctx)
}

// splitResource is an ARN split once so that many patterns can test it.
type splitResource struct {
	segs [6]string
	ok   bool // the value has six components
}

func splitARN(s string) splitResource {
	segs, ok := arnSegments(s)
	return splitResource{segs, ok}
}

func (a *arnPattern) matchSplit(r *splitResource, ctx *Context) bool {
	if a.any {
		return true
	}
	if !r.ok {
		return false
	}
	for i := range r.segs {
		if !a.segs[i].match(r.segs[i], ctx) {
			return false
		}
	}
	return true
}
