package server_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection enforces the edges of STYLE.md §1: dependencies
// point inward (cmd → server → api → domain → fault/arn). Each rule says why.
func TestDependencyDirection(t *testing.T) {
	const mod = "github.com/outcrop/outcrop/"
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "github.com/outcrop/outcrop/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], mod) {
			imports[strings.TrimPrefix(f[0], mod)] = f[1:]
		}
	}
	rules := []struct {
		from   string // package path prefix (relative to the module)
		banned string // import path prefix
		why    string
	}{
		{"internal/fault", mod + "internal/", "fault is a leaf: everyone depends on it"},
		{"internal/arn", mod + "internal/api", "arn is a leaf"},
		{"internal/reqctx", mod + "internal/", "reqctx is a leaf"},
		{"internal/provider", mod + "internal/api", "backends never see the wire layer"},
		{"internal/provider", mod + "internal/awsapi", "backends never see AWS wire mechanics"},
		{"internal/family", "net/http", "family codecs translate bytes, they do not serve HTTP"},
		{"internal/catalog", mod + "internal/api", "the catalog is below the API layer"},
		{"internal/family", mod + "internal/awsapi", "codecs speak fault kinds, never AWS error names"},
		{"internal/family", mod + "internal/api", "codecs sit below the API layer"},
		{"internal/catalog", "net/http", "the catalog is data"},
		{"internal/iam", "net/http", "identity is domain code"},
		{"internal/iam", mod + "internal/awsapi", "identity returns fault kinds; AWS names live in awsapi"},
		{"internal/engine", mod + "internal/provider", "the engine is a library; provider/local adapts it"},
		{"internal/engine", mod + "internal/api", "the engine is a library"},
		{"internal/engine", "net/http", "the engine is a library"},
		{"internal/awsapi", mod + "internal/api", "wire mechanics know no services' handlers"},
		{"internal/awsapi", mod + "internal/provider", "wire mechanics know no domain"},
		{"internal/api", mod + "internal/server", "only cmd imports server"},
		{"internal/api", mod + "internal/store", "APIs reach storage through domain interfaces"},
		{"internal/provider/", mod + "internal/provider/local", "adapters never import each other"},
		{"internal/api/dialect", mod + "internal/awsapi", "the OpenAI and Anthropic dialects know no AWS wire mechanics"},
		{"internal/api/openaiapi", mod + "internal/awsapi", "the OpenAI dialect knows no AWS wire mechanics"},
		{"internal/api/anthropicapi", mod + "internal/awsapi", "the Anthropic dialect knows no AWS wire mechanics"},
		{"internal/api/dialect", mod + "internal/provider/", "dialects reach backends through the catalog, never an adapter package"},
		{"internal/api/openaiapi", mod + "internal/provider/", "dialects reach backends through the catalog, never an adapter package"},
		{"internal/api/anthropicapi", mod + "internal/provider/", "dialects reach backends through the catalog, never an adapter package"},
		{"internal/api/openaiapi", mod + "internal/api/anthropicapi", "front doors share code through api/dialect only"},
		{"internal/api/openaiapi", mod + "internal/api/runtimeapi", "front doors share code through api/dialect only"},
		{"internal/api/anthropicapi", mod + "internal/api/openaiapi", "front doors share code through api/dialect only"},
		{"internal/api/anthropicapi", mod + "internal/api/runtimeapi", "front doors share code through api/dialect only"},
		{"internal/api/dialect", mod + "internal/api/openaiapi", "the shared dialect core sits below the front doors"},
		{"internal/api/dialect", mod + "internal/api/anthropicapi", "the shared dialect core sits below the front doors"},
		{"internal/audit", "net/http", "the audit trail is domain code; the server turns requests into calls"},
		{"internal/audit", mod + "internal/awsapi", "audit records carry exception names as data, never the wire tables"},
		{"internal/audit", mod + "internal/store", "the trail owns its append-only file format"},
		{"internal/quota", "net/http", "quotas are domain code"},
		{"internal/quota", mod + "internal/awsapi", "quotas return fault.Throttled; AWS names live in awsapi"},
		{"internal/kb", "net/http", "knowledge bases are domain code"},
		{"internal/kb", mod + "internal/awsapi", "knowledge bases return fault kinds; AWS names live in awsapi"},
		{"internal/kb", mod + "internal/api", "knowledge bases sit below the API layer"},
		{"internal/kb", mod + "internal/store", "knowledge bases declare kb.Store; store/sqlite implements it"},
		{"internal/route", "net/http", "routing is domain code over provider adapters"},
		{"internal/route", mod + "internal/api", "routing sits below the API layer"},
		{"internal/route", mod + "internal/awsapi", "routing speaks fault kinds, never AWS error names"},
		{"internal/adapt", "net/http", "adaptive Converse is domain code; runtimeapi reports adaptations in headers"},
		{"internal/adapt", mod + "internal/awsapi", "adaptations refuse with fault.Invalid; AWS names live in awsapi"},
		{"internal/adapt", mod + "internal/api", "adaptation sits below the front doors, which all call it"},
		{"internal/span", mod + "internal/", "span is a leaf: domain code records through it"},
		{"internal/memtrim", mod + "internal/", "memtrim is a leaf: cmd calls it once after start-up"},
		{"internal/span", "go.opentelemetry.io/", "span is the stdlib-only hook; the server fills it with OpenTelemetry"},
		{"internal/engine", "go.opentelemetry.io/", "the engine imports no tracing library"},
		{"internal/provider", "go.opentelemetry.io/", "adapters record spans through internal/span; the server instruments their HTTP client"},
		{"internal/api", "go.opentelemetry.io/", "handlers record spans through internal/span; the server owns OpenTelemetry"},
	}
	for pkg, deps := range imports {
		for _, r := range rules {
			if !strings.HasPrefix(pkg, r.from) || pkg == "internal/provider/all" || strings.HasSuffix(pkg, "test") {
				continue
			}
			for _, d := range deps {
				if strings.HasPrefix(d, r.banned) && !strings.HasPrefix(d, mod+pkg) && d != mod+r.from {
					if r.from == "internal/provider/" && pkg == "internal/provider/local" {
						continue
					}
					t.Errorf("%s imports %s: %s", pkg, d, r.why)
				}
			}
		}
	}
	for pkg, deps := range imports {
		if strings.HasPrefix(pkg, "cmd/") {
			continue
		}
		for _, d := range deps {
			if d == mod+"internal/server" && !strings.HasPrefix(pkg, "internal/outcroptest") {
				t.Errorf("%s imports internal/server: only cmd (and the test server) may", pkg)
			}
		}
	}
}
