package vector

import (
	"fmt"
	"strings"
)

// Filter is a Bedrock RetrievalFilter: exactly one operator, either a
// comparison of the metadata attribute Key with Value or, for andAll and
// orAll, a list of sub-filters.
type Filter struct {
	Op    string // equals, notEquals, greaterThan, ..., andAll, orAll
	Key   string
	Value any // string, float64, bool or []any, as decoded from JSON
	All   []*Filter
}

// Ops lists the comparison operators Bedrock documents.
var Ops = []string{"equals", "notEquals", "greaterThan", "greaterThanOrEquals", "lessThan",
	"lessThanOrEquals", "in", "notIn", "startsWith", "listContains", "stringContains"}

// Validate checks the filter's shape, as Bedrock does before searching.
func (f *Filter) Validate() error {
	switch f.Op {
	case "andAll", "orAll":
		if len(f.All) < 2 {
			return fmt.Errorf("%s needs at least 2 filters", f.Op)
		}
		for _, c := range f.All {
			if err := c.Validate(); err != nil {
				return err
			}
		}
		return nil
	case "in", "notIn":
		if _, ok := f.Value.([]any); !ok {
			return fmt.Errorf("the value of %s must be a list", f.Op)
		}
	case "greaterThan", "greaterThanOrEquals", "lessThan", "lessThanOrEquals":
		if _, ok := f.Value.(float64); !ok {
			return fmt.Errorf("the value of %s must be a number", f.Op)
		}
	case "startsWith", "stringContains":
		if _, ok := f.Value.(string); !ok {
			return fmt.Errorf("the value of %s must be a string", f.Op)
		}
	case "equals", "notEquals", "listContains":
		switch f.Value.(type) {
		case string, float64, bool:
		default:
			return fmt.Errorf("the value of %s must be a string, number or boolean", f.Op)
		}
	default:
		return fmt.Errorf("unknown filter operator %q", f.Op)
	}
	if f.Key == "" {
		return fmt.Errorf("%s needs a key", f.Op)
	}
	return nil
}

// Match reports whether metadata md satisfies f. A nil filter matches
// everything. Attribute values are string, float64, bool or []string.
// notEquals and notIn match documents that lack the attribute.
func Match(f *Filter, md map[string]any) bool {
	if f == nil {
		return true
	}
	switch f.Op {
	case "andAll":
		for _, c := range f.All {
			if !Match(c, md) {
				return false
			}
		}
		return true
	case "orAll":
		for _, c := range f.All {
			if Match(c, md) {
				return true
			}
		}
		return false
	}
	v, ok := md[f.Key]
	switch f.Op {
	case "equals":
		return ok && equal(v, f.Value)
	case "notEquals":
		return !ok || !equal(v, f.Value)
	case "greaterThan", "greaterThanOrEquals", "lessThan", "lessThanOrEquals":
		a, aok := v.(float64)
		b, bok := f.Value.(float64)
		if !ok || !aok || !bok {
			return false
		}
		switch f.Op {
		case "greaterThan":
			return a > b
		case "greaterThanOrEquals":
			return a >= b
		case "lessThan":
			return a < b
		}
		return a <= b
	case "in", "notIn":
		list, _ := f.Value.([]any)
		found := false
		for _, x := range list {
			if ok && equal(v, x) {
				found = true
				break
			}
		}
		return found == (f.Op == "in")
	case "startsWith":
		s, sok := v.(string)
		p, _ := f.Value.(string)
		return ok && sok && strings.HasPrefix(s, p)
	case "listContains":
		l, lok := v.([]string)
		if !ok || !lok {
			return false
		}
		for _, x := range l {
			if equal(x, f.Value) {
				return true
			}
		}
		return false
	case "stringContains":
		p, _ := f.Value.(string)
		switch x := v.(type) {
		case string:
			return strings.Contains(x, p)
		case []string:
			for _, s := range x {
				if strings.Contains(s, p) {
					return true
				}
			}
		}
		return false
	}
	return false
}

func equal(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return false
}
