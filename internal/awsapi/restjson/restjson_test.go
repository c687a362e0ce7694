package restjson

import (
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/awsapi"
	"github.com/outcrop/outcrop/internal/fault"
)

var update = flag.Bool("update", false, "rewrite golden files")

// dump renders status, headers and body as one string.
func dump(rec *httptest.ResponseRecorder) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", rec.Code)
	keys := make([]string, 0, len(rec.Header()))
	for k := range rec.Header() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(rec.Header()[k], ","))
	}
	b.WriteString("\n")
	b.WriteString(rec.Body.String())
	return b.String()
}

func TestWriteErrorGolden(t *testing.T) {
	cases := map[string]struct {
		svc awsapi.Service
		err error
	}{
		"validation_runtime":  {awsapi.Runtime, fault.New(fault.Invalid, "The provided model identifier is invalid.")},
		"conflict_agent":      {awsapi.Agent, fault.New(fault.Conflict, "already exists")},
		"internal_hides_text": {awsapi.Runtime, fmt.Errorf("database on fire")},
		"signature":           {awsapi.Bedrock, fault.New(fault.BadSignature, "The request signature we calculated does not match the signature you provided.")},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteError(rec, c.svc, c.err)
			got := dump(rec)
			golden := "testdata/" + name + ".golden"
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"a":1}`))
	f.Add([]byte(`{"a":"x"} trailing`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var v struct {
			A int               `json:"a"`
			B []string          `json:"b"`
			C map[string]string `json:"c"`
		}
		if err := Decode(b, &v); err != nil && fault.KindOf(err) != fault.Invalid {
			t.Fatalf("Decode error kind %v: %v", fault.KindOf(err), err)
		}
	})
}
