package chat

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
)

// rootName names the one template a sourceLoader serves.
const rootName = "chat_template"

// maxRange bounds range() so a template cannot allocate without limit.
const maxRange = 100000

// sourceLoader serves the template source under rootName and refuses
// everything else, so {% include %}, {% import %} and {% extends %} cannot
// reach the file system.
type sourceLoader string

func (l sourceLoader) Read(path string) (io.Reader, error) {
	if path != rootName {
		return nil, fmt.Errorf("template %q: loading other templates is not allowed", path)
	}
	return bytes.NewReader([]byte(l)), nil
}

func (l sourceLoader) Resolve(path string) (string, error) {
	if path != rootName {
		return "", fmt.Errorf("template %q: loading other templates is not allowed", path)
	}
	return path, nil
}

func (l sourceLoader) Inherit(string) (loaders.Loader, error) { return l, nil }

// newConfig matches transformers' Jinja environment: trim_blocks and
// lstrip_blocks on, a single trailing newline dropped.
func newConfig() *config.Config {
	c := config.New()
	c.TrimBlocks = true
	c.LeftStripBlocks = true
	return c
}

// newEnvironment builds gonja's builtins plus transformers' extras
// (raise_exception, strftime_now, a json.dumps-compatible tojson) and
// order-preserving dict methods. Every template gets its own sets, so
// nothing global is mutated.
func newEnvironment(now func() time.Time) *exec.Environment {
	filters := exec.NewFilterSet(map[string]exec.FilterFunction{}).Update(builtins.Filters)
	_ = filters.Replace("tojson", filterToJSON)

	ctx := exec.EmptyContext().Update(builtins.GlobalFunctions).Update(builtins.GlobalVariables)
	ctx.Set("raise_exception", raiseException)
	ctx.Set("strftime_now", func(_ *exec.Evaluator, params *exec.VarArgs) (*exec.Value, error) {
		if len(params.Args) != 1 || !params.Args[0].IsString() {
			return nil, errors.New("strftime_now expects one format string")
		}
		return exec.AsValue(strftime(params.Args[0].String(), now())), nil
	})
	ctx.Set("range", rangeList)

	return &exec.Environment{
		Context:           ctx,
		Filters:           filters,
		Tests:             builtins.Tests,
		ControlStructures: builtins.ControlStructures,
		Methods: exec.Methods{
			Bool:  builtins.Methods.Bool,
			Int:   builtins.Methods.Int,
			Float: builtins.Methods.Float,
			Str:   builtins.Methods.Str,
			Dict:  dictMethods(),
			List:  builtins.Methods.List,
		},
	}
}

// raiseException is transformers' raise_exception(message).
func raiseException(_ *exec.Evaluator, params *exec.VarArgs) (*exec.Value, error) {
	msg := "raise_exception called"
	if len(params.Args) > 0 {
		msg = params.Args[0].String()
	}
	return nil, errors.New(msg)
}

// rangeList is range([start,] stop[, step]) returning a list, bounded by
// maxRange elements. (gonja's own range feeds a channel from a goroutine
// that leaks when a loop stops early.)
func rangeList(_ *exec.Evaluator, params *exec.VarArgs) (*exec.Value, error) {
	start, stop, step := 0, 0, 1
	args := params.Args
	for _, a := range args {
		if !a.IsInteger() {
			return nil, errors.New("range expects integer arguments")
		}
	}
	switch len(args) {
	case 1:
		stop = args[0].Integer()
	case 2:
		start, stop = args[0].Integer(), args[1].Integer()
	case 3:
		start, stop, step = args[0].Integer(), args[1].Integer(), args[2].Integer()
	default:
		return nil, errors.New("range expects 1 to 3 arguments")
	}
	if step == 0 {
		return nil, errors.New("range step must not be zero")
	}
	var out []int
	for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
		if len(out) >= maxRange {
			return nil, fmt.Errorf("range over %d elements", maxRange)
		}
		out = append(out, i)
	}
	return exec.AsValue(out), nil
}

// dictMethods is gonja's dict method set with keys, values and items kept
// in insertion order for the ordered dicts this package passes in.
func dictMethods() *exec.MethodSet[map[string]any] {
	m := map[string]exec.Method[map[string]any]{}
	for _, name := range []string{"keys", "values", "items", "get", "pop", "setdefault", "update", "copy", "clear"} {
		if fn, ok := builtins.Methods.Dict.Get(name); ok {
			m[name] = fn
		}
	}
	wrap := func(name string, ordered func(d *exec.Dict) any) {
		builtin := m[name]
		m[name] = func(self map[string]any, selfValue *exec.Value, args *exec.VarArgs) (any, error) {
			if d, ok := selfValue.Interface().(*exec.Dict); ok && len(args.Args) == 0 && len(args.KwArgs) == 0 {
				return ordered(d), nil
			}
			if builtin == nil {
				return nil, fmt.Errorf("unknown dict method %q", name)
			}
			return builtin(self, selfValue, args)
		}
	}
	wrap("keys", func(d *exec.Dict) any {
		out := make([]any, len(d.Pairs))
		for i, p := range d.Pairs {
			out[i] = p.Key
		}
		return out
	})
	wrap("values", func(d *exec.Dict) any {
		out := make([]any, len(d.Pairs))
		for i, p := range d.Pairs {
			out[i] = p.Value
		}
		return out
	})
	wrap("items", func(d *exec.Dict) any {
		out := make([]any, len(d.Pairs))
		for i, p := range d.Pairs {
			out[i] = []any{p.Key, p.Value}
		}
		return out
	})
	return exec.NewMethodSet(m)
}
