package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/outcroptest"
	"github.com/outcrop/outcrop/internal/provider"
)

// throttler is a backend that is always throttled.
type throttler struct{ calls *atomic.Int32 }

func (t throttler) Converse(context.Context, *provider.Request) (*provider.Response, error) {
	t.calls.Add(1)
	return nil, fault.New(fault.Throttled, "busy")
}

func (t throttler) ConverseStream(context.Context, *provider.Request, func(provider.Event) error) error {
	t.calls.Add(1)
	return fault.New(fault.Throttled, "busy")
}

// TestRoutingFallback serves one model from two backends; the first (by
// priority) throttles, so every call is answered by the second.
func TestRoutingFallback(t *testing.T) {
	var calls atomic.Int32
	const model = "outcrop.routed-v1:0"
	srv := outcroptest.NewServer(t, outcroptest.Options{
		Extra: []provider.Spec{{Kind: "throttler", New: func(json.RawMessage, provider.Env) (provider.Adapter, error) {
			return throttler{&calls}, nil
		}}},
		Mutate: func(c *config.Config) { c.Backends["busy"] = config.Backend{Kind: "throttler"} },
		Models: []catalog.Model{{ID: model, Family: "converse", Input: []string{"TEXT"}, Output: []string{"TEXT"},
			Backends: []catalog.Route{{Backend: "busy", BackendModel: "b1", Priority: 0}, {Backend: "echo", BackendModel: "echo", Priority: 1}},
			Caps:     catalog.Capabilities{ContextWindow: 4096, MaxOutputTokens: 1000, System: true, Streaming: true}}},
	})
	c := runtimeClient(srv, srv.Key.ID, srv.Key.Secret)
	out, err := c.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: userText("routed around")})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Output.(*rt.ConverseOutputMemberMessage).Value.Content[0].(*rt.ContentBlockMemberText).Value; got != "routed around" {
		t.Errorf("text = %q", got)
	}
	st, err := c.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String(model), Messages: userText("streamed too")})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for ev := range st.GetStream().Events() {
		if d, ok := ev.(*rt.ConverseStreamOutputMemberContentBlockDelta); ok {
			text.WriteString(d.Value.Delta.(*rt.ContentBlockDeltaMemberText).Value)
		}
	}
	if err := st.GetStream().Err(); err != nil || text.String() != "streamed too" {
		t.Errorf("stream: %q, %v", text.String(), err)
	}
	if calls.Load() != 2 {
		t.Errorf("the throttled backend saw %d calls, want 2", calls.Load())
	}

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`outcrop_backend_calls_total{backend="busy",outcome="error"} 2`,
		`outcrop_backend_calls_total{backend="echo",outcome="ok"} 2`,
		`outcrop_backend_fallbacks_total{backend="busy"} 2`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
