package server_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/outcrop/outcrop/internal/config"
	familyall "github.com/outcrop/outcrop/internal/family/all"
	"github.com/outcrop/outcrop/internal/outcroptest"
)

// TestTracesImages traces image generation through both front doors to the
// openai-images backend: InvokeModel with a Titan body and the OpenAI
// dialect's /v1/images/generations each get a backend call span named
// "generate_content <backend model>" under the server span, with the
// image output type and count, and the upstream HTTP call under it.
func TestTracesImages(t *testing.T) {
	clearOTelEnv(t)
	rc := newOTLPReceiver(t)
	up := &imagesUpstream{png: smallPNG(t)}
	hs := httptest.NewServer(up)
	t.Cleanup(hs.Close)
	ratio := 1.0
	srv := outcroptest.NewServer(t, outcroptest.Options{
		Families: familyall.Families, Models: append(imageModels(t), outcroptest.EchoModels...),
		Mutate: func(c *config.Config) {
			c.Backends["images"] = config.Backend{Kind: "openai-images", Config: map[string]any{
				"baseURL": hs.URL + "/v1", "apiKey": "sk-upstream", "maxRetries": 0, "timeout": "10s",
			}}
			c.Telemetry = config.Telemetry{OTLPEndpoint: rc.URL, SampleRatio: &ratio, ServiceName: "outcrop-test"}
		},
	})
	token, _, err := srv.Srv.IAM().CreateAPIKey(context.Background(), "root", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tracedRuntimeClient(srv).InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{
		ModelId: aws.String(titanV2), ContentType: aws.String("application/json"),
		Body: []byte(`{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a lighthouse"},"imageGenerationConfig":{"numberOfImages":2,"width":512,"height":512}}`),
	}); err != nil {
		t.Fatal(err)
	}
	doDialect(t, "POST", srv.URL+"/v1/images/generations", `{"model":"`+sd35Large+`","prompt":"a lighthouse","response_format":"b64_json"}`,
		map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"})
	waitSpans(t, srv, rc, "bedrock-runtime.InvokeModel", "openai.ImagesGenerations", "generate_content test-image-model")

	spans, _ := rc.received()
	byID := map[string]*tracepb.Span{}
	for _, s := range spans {
		byID[hexID(s.SpanId)] = s
	}
	type call struct {
		Parent, Model, Output, Images, Backend string
		Upstream                               bool
	}
	var got []call
	for _, s := range spans {
		if s.Name != "generate_content test-image-model" {
			continue
		}
		a := attrs(s, "gen_ai.request.model", "gen_ai.output.type", "outcrop.images", "outcrop.backend")
		c := call{Model: a["gen_ai.request.model"], Output: a["gen_ai.output.type"], Images: a["outcrop.images"], Backend: a["outcrop.backend"]}
		if p := byID[hexID(s.ParentSpanId)]; p != nil {
			c.Parent = p.Name
		}
		for _, h := range spans {
			if h.Name == "HTTP POST" && hexID(h.ParentSpanId) == hexID(s.SpanId) {
				c.Upstream = true
			}
		}
		got = append(got, c)
	}
	want := []call{
		{Parent: "bedrock-runtime.InvokeModel", Model: "test-image-model", Output: "image", Images: "2", Backend: "images", Upstream: true},
		{Parent: "openai.ImagesGenerations", Model: "test-image-model", Output: "image", Images: "1", Backend: "images", Upstream: true},
	}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b call) bool { return a.Parent < b.Parent })); diff != "" {
		t.Errorf("image generation spans (-want +got):\n%s", diff)
	}
}
