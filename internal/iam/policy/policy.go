// Package policy is the IAM policy language: it parses identity-based JSON
// policy documents as AWS accepts them, compiles them (wildcard patterns,
// ARNs, CIDR blocks, dates and numbers are read once, at parse time) and
// evaluates requests against them with AWS's logic for identity-based
// policies in one account: an explicit Deny wins, otherwise an Allow
// allows, otherwise the request is implicitly denied.
//
// The package knows nothing of HTTP or of where policies are stored. The
// caller builds a Request (action, resource ARN and the request context of
// condition keys) and passes the principal's policies to Evaluate, or to
// Simulate to learn every statement that applied. A compiled Policy is
// immutable and safe for concurrent use.
//
// The supported language is described in docs/iam.md.
package policy

import (
	"fmt"
	"strings"

	"github.com/outcrop/outcrop/internal/fault"
)

// The policy language versions AWS accepts. Only 2012-10-17 has policy
// variables; in a 2008-10-17 policy (or one with no Version) "${aws:username}"
// is literal text.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Effect is a statement's effect.
type Effect uint8

// Effects.
const (
	Allow Effect = iota + 1
	Deny
)

// String returns "Allow" or "Deny".
func (e Effect) String() string {
	switch e {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return fmt.Sprintf("Effect(%d)", uint8(e))
}

// Policy is a parsed and compiled policy document.
type Policy struct {
	Name       string // the name it was parsed under; reported in Decisions
	Version    string // "" when the document has none
	ID         string // the optional top-level Id
	Statements []Statement
	// Warnings lists condition values that AWS accepts but that can never
	// match, such as a malformed date or CIDR block.
	Warnings []string
}

// Statement is one compiled statement. The exported fields are the
// statement as written; exactly one of Action and NotAction, and of
// Resource and NotResource, is non-nil.
type Statement struct {
	Sid         string
	Index       int // position in the policy's Statement list, from 0
	Effect      Effect
	Action      []string
	NotAction   []string
	Resource    []string
	NotResource []string

	actions    []pattern
	resources  []arnPattern
	conditions []condition
}

// Label names the statement for people: its Sid, or its index when it has
// none, as "Statement[3]".
func (s *Statement) Label() string {
	if s.Sid != "" {
		return s.Sid
	}
	return fmt.Sprintf("Statement[%d]", s.Index)
}

// ConditionKeys returns the condition keys the statement reads, as written.
func (s *Statement) ConditionKeys() []string {
	keys := make([]string, 0, len(s.conditions))
	for i := range s.conditions {
		keys = append(keys, s.conditions[i].keyName)
	}
	return keys
}

// Parse parses and compiles a policy document. name identifies the policy in
// decisions. Errors are fault.Invalid with a message that names the
// offending statement and element; the wire layer reports them as
// MalformedPolicyDocument.
func Parse(name string, doc []byte) (*Policy, error) {
	root, err := decodeJSON(doc)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "Syntax errors in policy: the document is not valid JSON.")
	}
	if root.kind != jsonObject {
		return nil, invalid("The policy document must be a JSON object.")
	}
	p := &Policy{Name: name}
	var stmts *jsonValue
	seen := map[string]bool{}
	for i := range root.obj {
		m := &root.obj[i]
		if seen[m.name] {
			return nil, invalid("Syntax errors in policy: duplicate element %q.", m.name)
		}
		seen[m.name] = true
		switch m.name {
		case "Version":
			if m.val.kind != jsonString || (m.val.str != Version2012 && m.val.str != Version2008) {
				return nil, invalid("The policy must contain a valid version string: Version must be %q or %q.", Version2012, Version2008)
			}
			p.Version = m.val.str
		case "Id":
			if m.val.kind != jsonString {
				return nil, invalid("Syntax errors in policy: Id must be a string, not %s.", m.val.kind)
			}
			p.ID = m.val.str
		case "Statement":
			stmts = &m.val
		default:
			return nil, invalid("Syntax errors in policy: unknown element %q at the top level (expected Version, Id and Statement).", m.name)
		}
	}
	if stmts == nil {
		return nil, invalid("Syntax errors in policy: missing required element Statement.")
	}
	var list []jsonValue
	switch stmts.kind {
	case jsonObject:
		list = []jsonValue{*stmts}
	case jsonArray:
		list = stmts.arr
	default:
		return nil, invalid("Syntax errors in policy: Statement must be an object or an array of objects, not %s.", stmts.kind)
	}
	if len(list) == 0 {
		return nil, invalid("Syntax errors in policy: Statement must contain at least one statement.")
	}
	v2012 := p.Version == Version2012
	sids := map[string]int{}
	for i := range list {
		st, warns, err := parseStatement(&list[i], i, v2012)
		if err != nil {
			return nil, err
		}
		if st.Sid != "" {
			if j, dup := sids[st.Sid]; dup {
				return nil, invalid("Statement IDs (SID) in a single policy must be unique: statements %d and %d both have Sid %q.", j, i, st.Sid)
			}
			sids[st.Sid] = i
		}
		p.Statements = append(p.Statements, st)
		p.Warnings = append(p.Warnings, warns...)
	}
	return p, nil
}

func invalid(format string, args ...any) error {
	return fault.Newf(fault.Invalid, format, args...)
}

// parseStatement validates and compiles statement i.
func parseStatement(v *jsonValue, i int, v2012 bool) (Statement, []string, error) {
	st := Statement{Index: i}
	where := fmt.Sprintf("Statement[%d]", i)
	if v.kind != jsonObject {
		return st, nil, invalid("%s: a statement must be an object, not %s.", where, v.kind)
	}
	// Read Sid first so that later errors can name it.
	for _, m := range v.obj {
		if m.name == "Sid" {
			if m.val.kind != jsonString {
				return st, nil, invalid("%s: Sid must be a string, not %s.", where, m.val.kind)
			}
			if !isAlnum(m.val.str) {
				return st, nil, invalid("%s: Statement IDs (SID) must be alpha-numeric; %q is not.", where, m.val.str)
			}
			st.Sid = m.val.str
			where = fmt.Sprintf("Statement[%d] (Sid %q)", i, st.Sid)
		}
	}
	seen := map[string]bool{}
	var cond *jsonValue
	for k := range v.obj {
		m := &v.obj[k]
		if seen[m.name] {
			return st, nil, invalid("%s: duplicate element %q.", where, m.name)
		}
		seen[m.name] = true
		var err error
		switch m.name {
		case "Sid":
		case "Effect":
			if m.val.kind != jsonString {
				return st, nil, invalid("%s: Effect must be a string, not %s.", where, m.val.kind)
			}
			switch m.val.str {
			case "Allow":
				st.Effect = Allow
			case "Deny":
				st.Effect = Deny
			default:
				return st, nil, invalid("%s: Invalid effect: %s (Effect must be Allow or Deny, case-sensitive).", where, m.val.str)
			}
		case "Action":
			st.Action, err = stringList(m.val, where, "Action")
		case "NotAction":
			st.NotAction, err = stringList(m.val, where, "NotAction")
		case "Resource":
			st.Resource, err = stringList(m.val, where, "Resource")
		case "NotResource":
			st.NotResource, err = stringList(m.val, where, "NotResource")
		case "Condition":
			cond = &m.val
		case "Principal", "NotPrincipal":
			return st, nil, invalid("%s: Policy document should not specify a principal (%s is for resource-based policies).", where, m.name)
		default:
			return st, nil, invalid("%s: Syntax errors in policy: unknown element %q.", where, m.name)
		}
		if err != nil {
			return st, nil, err
		}
	}
	if st.Effect == 0 {
		return st, nil, invalid("%s: missing required element Effect.", where)
	}
	switch {
	case seen["Action"] && seen["NotAction"]:
		return st, nil, invalid("%s: a statement cannot have both Action and NotAction.", where)
	case !seen["Action"] && !seen["NotAction"]:
		return st, nil, invalid("%s: Policy statement must contain actions (Action or NotAction).", where)
	case seen["Resource"] && seen["NotResource"]:
		return st, nil, invalid("%s: a statement cannot have both Resource and NotResource.", where)
	case !seen["Resource"] && !seen["NotResource"]:
		return st, nil, invalid("%s: Policy statement must contain resources (Resource or NotResource).", where)
	}
	actions, field := st.Action, "Action"
	if actions == nil {
		actions, field = st.NotAction, "NotAction"
	}
	for _, a := range actions {
		if msg := checkAction(a); msg != "" {
			return st, nil, invalid("%s: %s %q: %s", where, field, a, msg)
		}
		// Action names never hold policy variables and match
		// case-insensitively.
		st.actions = append(st.actions, compilePattern(a, compileOpts{wild: true, fold: true}))
	}
	resources, field := st.Resource, "Resource"
	if resources == nil {
		resources, field = st.NotResource, "NotResource"
	}
	for _, r := range resources {
		ap, ok := compileARN(r, compileOpts{wild: true, vars: v2012})
		if !ok || (r != "*" && !strings.HasPrefix(r, "arn:")) {
			return st, nil, invalid("%s: %s %s must be in ARN format or \"*\".", where, field, r)
		}
		st.resources = append(st.resources, ap)
	}
	var warns []string
	if cond != nil {
		var err error
		st.conditions, warns, err = parseConditions(cond, where, v2012)
		if err != nil {
			return st, nil, err
		}
	}
	for k := range warns {
		warns[k] = where + ": " + warns[k]
	}
	return st, warns, nil
}

// stringList reads an element that is a string or an array of strings.
func stringList(v jsonValue, where, field string) ([]string, error) {
	switch v.kind {
	case jsonString:
		return []string{v.str}, nil
	case jsonArray:
		if len(v.arr) == 0 {
			return nil, invalid("%s: %s must not be an empty array.", where, field)
		}
		out := make([]string, 0, len(v.arr))
		for _, e := range v.arr {
			if e.kind != jsonString {
				return nil, invalid("%s: %s must hold only strings, not %s.", where, field, e.kind)
			}
			out = append(out, e.str)
		}
		return out, nil
	}
	return nil, invalid("%s: %s must be a string or an array of strings, not %s.", where, field, v.kind)
}

// checkAction validates an action, "*" or "service:pattern", and returns
// what is wrong with it, or "".
func checkAction(a string) string {
	if a == "*" {
		return ""
	}
	service, name, ok := strings.Cut(a, ":")
	if !ok || service == "" {
		return "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
	}
	if name == "" {
		return fmt.Sprintf("the action name after %q is empty.", service+":")
	}
	for i := 0; i < len(service); i++ {
		c := service[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '*' || c == '?') {
			return fmt.Sprintf("vendor %q is not valid.", service)
		}
	}
	return ""
}

// parseConditions reads a Condition block: operator → key → value(s).
func parseConditions(v *jsonValue, where string, v2012 bool) ([]condition, []string, error) {
	if v.kind != jsonObject {
		return nil, nil, invalid("%s: Condition must be an object, not %s.", where, v.kind)
	}
	var conds []condition
	var warns []string
	seenOps := map[string]bool{}
	for _, op := range v.obj {
		if seenOps[op.name] {
			return nil, nil, invalid("%s: Condition: duplicate operator %q.", where, op.name)
		}
		seenOps[op.name] = true
		if _, _, _, ok := parseOperator(op.name); !ok {
			return nil, nil, invalid("%s: Condition: Invalid Condition type : %s", where, op.name)
		}
		if op.val.kind != jsonObject {
			return nil, nil, invalid("%s: Condition.%s must be an object of condition keys, not %s.", where, op.name, op.val.kind)
		}
		seenKeys := map[string]bool{}
		for _, kv := range op.val.obj {
			at := fmt.Sprintf("%s: Condition.%s[%q]", where, op.name, kv.name)
			lk := strings.ToLower(kv.name)
			if seenKeys[lk] {
				return nil, nil, invalid("%s: duplicate condition key (key names are case-insensitive).", at)
			}
			seenKeys[lk] = true
			svc, rest, ok := strings.Cut(kv.name, ":")
			if !ok || svc == "" || rest == "" {
				return nil, nil, invalid("%s: Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.", at)
			}
			vals, err := conditionValues(kv.val, at)
			if err != nil {
				return nil, nil, err
			}
			c, w := compileCondition(op.name, kv.name, vals, v2012)
			conds = append(conds, c)
			warns = append(warns, w...)
		}
	}
	return conds, warns, nil
}

// conditionValues reads a condition value: a string, number or boolean, or
// an array of them. Numbers and booleans are compared as their text.
func conditionValues(v jsonValue, at string) ([]string, error) {
	scalar := func(e jsonValue) (string, bool) {
		switch e.kind {
		case jsonString, jsonNumber, jsonBool:
			return e.str, true
		}
		return "", false
	}
	if s, ok := scalar(v); ok {
		return []string{s}, nil
	}
	if v.kind != jsonArray {
		return nil, invalid("%s must be a string, number, boolean or an array of them, not %s.", at, v.kind)
	}
	if len(v.arr) == 0 {
		return nil, invalid("%s must not be an empty array.", at)
	}
	out := make([]string, 0, len(v.arr))
	for _, e := range v.arr {
		s, ok := scalar(e)
		if !ok {
			return nil, invalid("%s must hold only strings, numbers or booleans, not %s.", at, e.kind)
		}
		out = append(out, s)
	}
	return out, nil
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
