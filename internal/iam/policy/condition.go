package policy

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// category is the family of a condition operator: it decides how policy
// values are compiled and compared.
type category uint8

const (
	catString category = iota
	catStringIgnoreCase
	catStringLike
	catNumeric
	catDate
	catBool
	catBinary
	catIP
	catARN
	catNull
)

// comparison is the relation a Numeric or Date operator tests.
type comparison uint8

const (
	cmpEq comparison = iota
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

// setQual is a condition set operator prefix.
type setQual uint8

const (
	setNone setQual = iota
	setForAllValues
	setForAnyValue
)

// operatorSpec describes a base operator (without prefix or IfExists).
type operatorSpec struct {
	cat  category
	cmp  comparison
	neg  bool // a "not" operator: true when the key is absent
	vars bool // accepts policy variables in its values
}

// operators lists every base condition operator AWS documents, in
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html.
// Policy variables are documented as supported for the string, Boolean and
// ARN operators and not for numeric, date, binary, IP address or Null.
var operators = map[string]operatorSpec{
	"StringEquals":              {cat: catString, vars: true},
	"StringNotEquals":           {cat: catString, neg: true, vars: true},
	"StringEqualsIgnoreCase":    {cat: catStringIgnoreCase, vars: true},
	"StringNotEqualsIgnoreCase": {cat: catStringIgnoreCase, neg: true, vars: true},
	"StringLike":                {cat: catStringLike, vars: true},
	"StringNotLike":             {cat: catStringLike, neg: true, vars: true},
	"NumericEquals":             {cat: catNumeric, cmp: cmpEq},
	"NumericNotEquals":          {cat: catNumeric, cmp: cmpEq, neg: true},
	"NumericLessThan":           {cat: catNumeric, cmp: cmpLt},
	"NumericLessThanEquals":     {cat: catNumeric, cmp: cmpLe},
	"NumericGreaterThan":        {cat: catNumeric, cmp: cmpGt},
	"NumericGreaterThanEquals":  {cat: catNumeric, cmp: cmpGe},
	"DateEquals":                {cat: catDate, cmp: cmpEq},
	"DateNotEquals":             {cat: catDate, cmp: cmpEq, neg: true},
	"DateLessThan":              {cat: catDate, cmp: cmpLt},
	"DateLessThanEquals":        {cat: catDate, cmp: cmpLe},
	"DateGreaterThan":           {cat: catDate, cmp: cmpGt},
	"DateGreaterThanEquals":     {cat: catDate, cmp: cmpGe},
	"Bool":                      {cat: catBool, vars: true},
	"BinaryEquals":              {cat: catBinary},
	"IpAddress":                 {cat: catIP},
	"NotIpAddress":              {cat: catIP, neg: true},
	"ArnEquals":                 {cat: catARN, vars: true},
	"ArnLike":                   {cat: catARN, vars: true},
	"ArnNotEquals":              {cat: catARN, neg: true, vars: true},
	"ArnNotLike":                {cat: catARN, neg: true, vars: true},
	"Null":                      {cat: catNull},
}

// parseOperator splits "ForAnyValue:StringLikeIfExists" into its parts.
// Operator names are case-sensitive, as in AWS.
func parseOperator(name string) (spec operatorSpec, set setQual, ifExists bool, ok bool) {
	base := name
	if rest, found := strings.CutPrefix(base, "ForAllValues:"); found {
		base, set = rest, setForAllValues
	} else if rest, found := strings.CutPrefix(base, "ForAnyValue:"); found {
		base, set = rest, setForAnyValue
	}
	if rest, found := strings.CutSuffix(base, "IfExists"); found {
		base, ifExists = rest, true
	}
	spec, ok = operators[base]
	if ok && spec.cat == catNull && ifExists {
		// Null already tests existence; AWS documents no NullIfExists.
		ok = false
	}
	return spec, set, ifExists, ok
}

// condition is one (operator, key) pair of a Condition block with its
// compiled values. Values are ORed; conditions are ANDed.
type condition struct {
	op       string // as written, e.g. "ForAnyValue:StringLike"
	keyName  string // as written, e.g. "aws:PrincipalTag/team"
	key      string // lower-cased
	spec     operatorSpec
	set      setQual
	ifExists bool
	vals     []condValue
}

// condValue is one compiled policy value. Which fields are set depends on
// the operator's category; valid is false for a value that could not be
// read (a malformed number, date, address or base64), which never matches,
// as AWS accepts such policies but they grant nothing.
type condValue struct {
	raw   string
	valid bool
	pat   pattern    // string, string-like, bool
	arn   arnPattern // ARN
	num   float64    // numeric
	t     time.Time  // date
	pfx   netip.Prefix
	bin   []byte
	null  bool // Null: "true" means the key must be absent
}

// compileCondition compiles the values of one operator/key pair. v2012
// says whether policy variables are recognised (policy Version 2012-10-17).
// It returns warnings for values that can never match.
func compileCondition(op, key string, raw []string, v2012 bool) (condition, []string) {
	spec, set, ifExists, _ := parseOperator(op)
	c := condition{op: op, keyName: key, key: strings.ToLower(key), spec: spec, set: set, ifExists: ifExists}
	var warns []string
	vars := v2012 && spec.vars
	for _, r := range raw {
		v := condValue{raw: r, valid: true}
		switch spec.cat {
		case catString:
			v.pat = compilePattern(r, compileOpts{vars: vars})
		case catStringIgnoreCase, catBool:
			v.pat = compilePattern(r, compileOpts{vars: vars, fold: true})
			if spec.cat == catBool && v.pat.isLit && !strings.EqualFold(r, "true") && !strings.EqualFold(r, "false") {
				warns = append(warns, fmt.Sprintf("%s value %q for %s is not true or false", op, r, key))
			}
		case catStringLike:
			v.pat = compilePattern(r, compileOpts{wild: true, vars: vars})
		case catARN:
			var ok bool
			v.arn, ok = compileARN(r, compileOpts{wild: true, vars: vars})
			if !ok {
				v.valid = false
				warns = append(warns, fmt.Sprintf("%s value %q for %s is not an ARN", op, r, key))
			}
		case catNumeric:
			n, err := strconv.ParseFloat(r, 64)
			if err != nil {
				v.valid = false
				warns = append(warns, fmt.Sprintf("%s value %q for %s is not a number", op, r, key))
			}
			v.num = n
		case catDate:
			t, ok := parseDate(r)
			if !ok {
				v.valid = false
				warns = append(warns, fmt.Sprintf("%s value %q for %s is not an ISO 8601 date or epoch time", op, r, key))
			}
			v.t = t
		case catBinary:
			b, err := base64.StdEncoding.DecodeString(r)
			if err != nil {
				v.valid = false
				warns = append(warns, fmt.Sprintf("%s value %q for %s is not base64", op, r, key))
			}
			v.bin = b
		case catIP:
			p, ok := parseCIDR(r)
			if !ok {
				v.valid = false
				warns = append(warns, fmt.Sprintf("%s value %q for %s is not an IP address or CIDR block", op, r, key))
			}
			v.pfx = p
		case catNull:
			switch {
			case strings.EqualFold(r, "true"):
				v.null = true
			case strings.EqualFold(r, "false"):
			default:
				v.valid = false
				warns = append(warns, fmt.Sprintf("Null value %q for %s is not true or false", r, key))
			}
		}
		c.vals = append(c.vals, v)
	}
	return c, warns
}

// eval reports whether the condition holds in ctx. The rules, from the
// condition operators reference:
//   - A key absent from the request makes a condition false, except that a
//     negated operator (StringNotEquals, ArnNotLike, NotIpAddress…) is then
//     true ("If the key that you specify in a policy condition is not
//     present in the request context, the values do not match and the
//     condition is false. If the policy condition requires that the key is
//     not matched … and the right key is not present, the condition is
//     true.").
//   - …IfExists: an absent key makes the condition true; a present one is
//     tested by the base operator.
//   - Null tests only presence: "true" holds when the key is absent.
//   - ForAllValues holds when every request value matches at least one
//     policy value, and also when the key is absent or has no values;
//     ForAnyValue holds when at least one request value matches, so never
//     for an absent key or an empty set (multivalued context keys page).
//   - Several policy values for one key are ORed, and for a negated
//     operator NORed ("If a single negated matching condition operator
//     includes multiple values for a context key, those values are
//     evaluated using a logical NOR", condition element reference): a
//     request value "matches" StringNotEquals when it equals none of them.
//     Without a set operator the whole condition is the negation of the
//     positive operator over all request values.
func (c *condition) eval(ctx *Context) bool {
	vals := ctx.lookup(c.key)
	if c.spec.cat == catNull {
		absent := len(vals) == 0
		for i := range c.vals {
			if c.vals[i].valid && c.vals[i].null == absent {
				return true
			}
		}
		return false
	}
	if c.set != setNone && len(vals) == 1 && vals[0] == "" {
		// "…or if the context key value resolves to a null dataset, such
		// as an empty string" (ForAllValues): a lone empty string is an
		// empty set to the set operators.
		vals = nil
	}
	if len(vals) == 0 {
		switch {
		case c.ifExists:
			return true
		case c.set == setForAllValues:
			return true
		case c.set == setForAnyValue:
			return false
		}
		return c.spec.neg
	}
	switch c.set {
	case setForAllValues:
		for _, v := range vals {
			if c.matchAny(v, ctx) == c.spec.neg {
				return false
			}
		}
		return true
	case setForAnyValue:
		for _, v := range vals {
			if c.matchAny(v, ctx) != c.spec.neg {
				return true
			}
		}
		return false
	}
	for _, v := range vals {
		if c.matchAny(v, ctx) {
			return !c.spec.neg
		}
	}
	return c.spec.neg
}

// matchAny reports whether request value v matches any policy value under
// the positive form of the operator.
func (c *condition) matchAny(v string, ctx *Context) bool {
	switch c.spec.cat {
	case catString, catStringIgnoreCase, catStringLike, catBool:
		for i := range c.vals {
			if c.vals[i].pat.match(v, ctx) {
				return true
			}
		}
	case catARN:
		for i := range c.vals {
			if c.vals[i].valid && c.vals[i].arn.match(v, ctx) {
				return true
			}
		}
	case catNumeric:
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return false
		}
		for i := range c.vals {
			if c.vals[i].valid && compare(c.spec.cmp, cmpFloat(n, c.vals[i].num)) {
				return true
			}
		}
	case catDate:
		t, ok := parseDate(v)
		if !ok {
			return false
		}
		for i := range c.vals {
			if c.vals[i].valid && compare(c.spec.cmp, t.Compare(c.vals[i].t)) {
				return true
			}
		}
	case catIP:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return false
		}
		a = a.Unmap().WithZone("")
		for i := range c.vals {
			if c.vals[i].valid && c.vals[i].pfx.Contains(a) {
				return true
			}
		}
	case catBinary:
		var buf [512]byte
		var b []byte
		if base64.StdEncoding.DecodedLen(len(v)) <= len(buf) {
			n, err := base64.StdEncoding.Decode(buf[:], []byte(v))
			if err != nil {
				return false
			}
			b = buf[:n]
		} else {
			var err error
			if b, err = base64.StdEncoding.DecodeString(v); err != nil {
				return false
			}
		}
		for i := range c.vals {
			if c.vals[i].valid && string(c.vals[i].bin) == string(b) {
				return true
			}
		}
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case a == b:
		return 0
	}
	return 2 // NaN: no relation holds
}

// compare applies a comparison to a three-way result (request vs policy).
func compare(op comparison, r int) bool {
	switch op {
	case cmpEq:
		return r == 0
	case cmpLt:
		return r == -1
	case cmpLe:
		return r == -1 || r == 0
	case cmpGt:
		return r == 1
	case cmpGe:
		return r == 1 || r == 0
	}
	return false
}

// parseDate reads the date forms the Date operators accept: the W3C profile
// of ISO 8601 (YYYY-MM, YYYY-MM-DD, YYYY-MM-DDThh:mmTZD,
// YYYY-MM-DDThh:mm:ss[.s]TZD; no zone means UTC) or epoch seconds (an
// integer or decimal, as aws:EpochTime carries). A bare four-digit year is
// read as epoch seconds, since the two cannot be told apart.
func parseDate(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if isEpoch(s) {
		sec, frac, _ := strings.Cut(s, ".")
		n, err := strconv.ParseInt(sec, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		var ns int64
		if frac != "" {
			if len(frac) > 9 {
				frac = frac[:9]
			}
			f, err := strconv.ParseInt(frac, 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			for i := len(frac); i < 9; i++ {
				f *= 10
			}
			ns = f
			if n < 0 || sec == "-0" {
				ns = -ns
			}
		}
		return time.Unix(n, ns).UTC(), true
	}
	var layouts []string
	switch {
	case len(s) == 7:
		layouts = []string{"2006-01"}
	case len(s) == 10:
		layouts = []string{"2006-01-02"}
	case hasZone(s):
		layouts = []string{time.RFC3339, "2006-01-02T15:04Z07:00"}
	default:
		layouts = []string{"2006-01-02T15:04:05", "2006-01-02T15:04"}
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func isEpoch(s string) bool {
	if s[0] == '-' {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	dot := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && !dot && i > 0:
			dot = true
		default:
			return false
		}
	}
	return true
}

// hasZone reports whether an ISO 8601 date-time ends with a zone
// designator (Z or ±hh:mm).
func hasZone(s string) bool {
	if strings.HasSuffix(s, "Z") || strings.HasSuffix(s, "z") {
		return true
	}
	return len(s) > 6 && (s[len(s)-6] == '+' || s[len(s)-6] == '-') && s[len(s)-3] == ':'
}

// parseCIDR reads an IpAddress value: a CIDR block or a single address.
func parseCIDR(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}
