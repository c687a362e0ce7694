package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Request is what is being authorized.
type Request struct {
	Action   string  // e.g. "bedrock:InvokeModel"; matched case-insensitively
	Resource string  // the resource ARN; matched case-sensitively
	Context  Context // condition keys and policy-variable values
}

// Outcome is the result of an evaluation, named as the IAM policy
// simulator names its EvalDecision values.
type Outcome uint8

// Outcomes. The zero value is the default: implicitly denied.
const (
	ImplicitDeny Outcome = iota // no statement allowed the request
	Allowed                     // a statement allowed it and none denied it
	ExplicitDeny                // a statement denied it
)

// String returns "implicitDeny", "allowed" or "explicitDeny".
func (o Outcome) String() string {
	switch o {
	case ImplicitDeny:
		return "implicitDeny"
	case Allowed:
		return "allowed"
	case ExplicitDeny:
		return "explicitDeny"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// Decision is an evaluation's outcome and the statement that decided it:
// the first matching Deny for ExplicitDeny, the first matching Allow for
// Allowed. An ImplicitDeny has no deciding statement (Statement is -1).
type Decision struct {
	Outcome   Outcome
	Policy    string // the deciding policy's Name
	Sid       string // the deciding statement's Sid, if it has one
	Statement int    // the deciding statement's index in its policy, or -1
}

// Allowed reports whether the request may proceed.
func (d Decision) Allowed() bool { return d.Outcome == Allowed }

// String describes the decision for people, e.g.
// `explicitDeny by policy "deny-prod" statement "DenyProd"`.
func (d Decision) String() string {
	if d.Statement < 0 {
		return d.Outcome.String() + ": no statement allows the request"
	}
	return fmt.Sprintf("%s by policy %q statement %s", d.Outcome, d.Policy, label(d.Sid, d.Statement))
}

func decided(o Outcome, p *Policy, s *Statement) Decision {
	return Decision{Outcome: o, Policy: p.Name, Sid: s.Sid, Statement: s.Index}
}

// Evaluate decides req against the identity-based policies of one
// principal, with the documented logic for a single account
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
// every request starts implicitly denied; an explicit Deny in any statement
// that applies overrides any Allow; otherwise an Allow that applies allows.
// Policies are read in order; the order changes only which statement is
// reported, never the outcome. Nil policies are skipped. Evaluate does not
// modify req or the policies and may run concurrently on shared ones.
func Evaluate(req *Request, policies ...*Policy) Decision {
	d := Decision{Statement: -1}
	res := splitARN(req.Resource)
	for _, p := range policies {
		if p == nil {
			continue
		}
		for i := range p.Statements {
			s := &p.Statements[i]
			if s.Effect == Allow && d.Outcome == Allowed {
				continue // already allowed; only a Deny can change that
			}
			if !s.applies(req, &res) {
				continue
			}
			if s.Effect == Deny {
				return decided(ExplicitDeny, p, s)
			}
			d = decided(Allowed, p, s)
		}
	}
	return d
}

// Applies reports whether the statement matches the request's action and
// resource and all its conditions hold. A NotAction statement applies to
// every action it does not list, and NotResource likewise (with Allow that
// grants everything else; with Deny it denies everything else).
func (s *Statement) Applies(req *Request) bool {
	res := splitARN(req.Resource)
	return s.applies(req, &res)
}

// applies is Applies with the request's resource already split.
func (s *Statement) applies(req *Request, res *splitResource) bool {
	return s.matchesAction(req.Action) && s.matchesResource(res, &req.Context) && s.conditionsHold(&req.Context)
}

func (s *Statement) matchesAction(action string) bool {
	in := false
	for i := range s.actions {
		if s.actions[i].match(action, nil) {
			in = true
			break
		}
	}
	return in == (s.NotAction == nil)
}

func (s *Statement) matchesResource(res *splitResource, ctx *Context) bool {
	in := false
	for i := range s.resources {
		if s.resources[i].matchSplit(res, ctx) {
			in = true
			break
		}
	}
	return in == (s.NotResource == nil)
}

// conditionsHold ANDs every operator/key pair of the Condition block.
func (s *Statement) conditionsHold(ctx *Context) bool {
	for i := range s.conditions {
		if !s.conditions[i].eval(ctx) {
			return false
		}
	}
	return true
}

// Match is a statement that applied to a simulated request.
type Match struct {
	Policy    string
	Sid       string
	Statement int
	Effect    Effect
}

// Simulation is what the policy simulator reports: the decision, every
// statement that applied, and the condition keys that statements matching
// the action and resource read but the request context lacks (like the
// IAM simulator's MissingContextValues).
type Simulation struct {
	Decision
	Matched     []Match
	MissingKeys []string
}

// Simulate evaluates req as Evaluate does and explains the result. It
// allocates and is meant for the simulator command, not the request path.
func Simulate(req *Request, policies ...*Policy) Simulation {
	sim := Simulation{Decision: Evaluate(req, policies...)}
	res := splitARN(req.Resource)
	for _, p := range policies {
		if p == nil {
			continue
		}
		for i := range p.Statements {
			s := &p.Statements[i]
			if !s.matchesAction(req.Action) || !s.matchesResource(&res, &req.Context) {
				continue
			}
			for k := range s.conditions {
				c := &s.conditions[k]
				if len(req.Context.lookup(c.key)) == 0 && !slices.Contains(sim.MissingKeys, c.keyName) {
					sim.MissingKeys = append(sim.MissingKeys, c.keyName)
				}
			}
			if s.conditionsHold(&req.Context) {
				sim.Matched = append(sim.Matched, Match{Policy: p.Name, Sid: s.Sid, Statement: s.Index, Effect: s.Effect})
			}
		}
	}
	slices.Sort(sim.MissingKeys)
	return sim
}

// Report renders the simulation for people, as the simulator command
// prints it: the decision, the deciding statement, every statement that
// applied and the context keys that were missing.
func (s Simulation) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "decision: %s\n", s.Outcome)
	if s.Statement >= 0 {
		fmt.Fprintf(&b, "decided by: policy %q, statement %s\n", s.Policy, label(s.Sid, s.Statement))
	}
	if len(s.Matched) > 0 {
		b.WriteString("matched statements:\n")
		for _, m := range s.Matched {
			fmt.Fprintf(&b, "  %-5s policy %q, statement %s\n", m.Effect, m.Policy, label(m.Sid, m.Statement))
		}
	}
	if len(s.MissingKeys) > 0 {
		fmt.Fprintf(&b, "missing context keys: %s\n", strings.Join(s.MissingKeys, ", "))
	}
	return b.String()
}

func label(sid string, index int) string {
	if sid != "" {
		return strconv.Quote(sid)
	}
	return fmt.Sprintf("Statement[%d]", index)
}
