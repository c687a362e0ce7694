package bedrock

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// familiesOf lists the catalog families whose native bodies a Bedrock
// model reads, by model-ID prefix (after any inference-profile region
// prefix). Longer prefixes come first.
var familiesOf = []struct {
	prefix   string
	families []string
}{
	{"anthropic.claude-v2", []string{"anthropic-text", "anthropic-messages"}},
	{"anthropic.claude-instant", []string{"anthropic-text", "anthropic-messages"}},
	{"anthropic.", []string{"anthropic-messages"}},
	{"meta.llama", []string{"meta-llama"}},
	{"mistral.", []string{"mistral-text", "mistral-chat"}},
	{"amazon.titan-text", []string{"titan-text"}},
	{"amazon.titan-tg1", []string{"titan-text"}},
	{"amazon.titan-embed-text-v2", []string{"titan-embed-v2"}},
	{"amazon.titan-embed", []string{"titan-embed"}},
	{"amazon.titan-image-generator-v2", []string{"titan-image-v2", "titan-image"}},
	{"amazon.titan-image-generator", []string{"titan-image"}},
	{"amazon.nova", []string{"nova"}},
	{"cohere.command-r", []string{"cohere-command-r"}},
	{"cohere.command", []string{"cohere-command"}},
	{"cohere.embed", []string{"cohere-embed"}},
	{"ai21.j2", []string{"ai21-j2"}},
	{"ai21.jamba", []string{"ai21-jamba"}},
	{"stability.stable-diffusion-xl", []string{"stability-sdxl"}},
	{"stability.", []string{"stability-image"}},
}

// baseModel strips an inference profile's geography ("us.", "eu.",
// "apac.", "global.") and any ARN prefix.
func baseModel(model string) string {
	if i := strings.LastIndex(model, "/"); i >= 0 {
		model = model[i+1:]
	}
	for _, g := range []string{"us.", "eu.", "apac.", "global.", "us-gov.", "ca.", "jp.", "au."} {
		if rest, ok := strings.CutPrefix(model, g); ok && strings.Contains(rest, ".") {
			return rest
		}
	}
	return model
}

// AcceptsRaw reports whether the Bedrock model reads family's bodies.
func (a *Adapter) AcceptsRaw(family, model string) bool {
	if !a.raw {
		return false
	}
	m := baseModel(model)
	for _, f := range familiesOf {
		if strings.HasPrefix(m, f.prefix) {
			for _, x := range f.families {
				if x == family {
					return true
				}
			}
			return false
		}
	}
	return false
}

// InvokeRaw sends body to the upstream's InvokeModel untouched.
func (a *Adapter) InvokeRaw(ctx context.Context, model string, body []byte) (*provider.RawResponse, error) {
	cctx, cancel := a.callContext(ctx)
	defer cancel()
	out, err := a.client.InvokeModel(cctx, &bedrockruntime.InvokeModelInput{
		ModelId: aws.String(model), Body: body,
		ContentType: aws.String("application/json"), Accept: aws.String("application/json"),
	})
	if err != nil {
		return nil, a.mapError(ctx, cctx, err)
	}
	resp := &provider.RawResponse{Body: out.Body}
	if r, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok {
		resp.Usage.InputTokens, _ = strconv.Atoi(r.Header.Get("X-Amzn-Bedrock-Input-Token-Count"))
		resp.Usage.OutputTokens, _ = strconv.Atoi(r.Header.Get("X-Amzn-Bedrock-Output-Token-Count"))
	}
	return resp, nil
}

var metricsKey = []byte(`"amazon-bedrock-invocationMetrics"`)

// InvokeRawStream streams the upstream's InvokeModelWithResponseStream
// chunks untouched. Usage is read from the invocation metrics Bedrock adds
// to the last chunk.
func (a *Adapter) InvokeRawStream(ctx context.Context, model string, body []byte, emit func([]byte) error) (provider.Usage, error) {
	var usage provider.Usage
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(a.timeout, func() { cancel(errTimedOut) })
	out, err := a.client.InvokeModelWithResponseStream(sctx, &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId: aws.String(model), Body: body,
		ContentType: aws.String("application/json"), Accept: aws.String("application/json"),
	})
	timer.Stop()
	if err != nil {
		return usage, a.mapError(ctx, sctx, err)
	}
	stream := out.GetStream()
	defer stream.Close()
	for ev := range stream.Events() {
		chunk, ok := ev.(*types.ResponseStreamMemberChunk)
		if !ok {
			continue
		}
		if bytes.Contains(chunk.Value.Bytes, metricsKey) {
			var m struct {
				Metrics struct {
					In  int `json:"inputTokenCount"`
					Out int `json:"outputTokenCount"`
				} `json:"amazon-bedrock-invocationMetrics"`
			}
			if json.Unmarshal(chunk.Value.Bytes, &m) == nil {
				usage = provider.Usage{InputTokens: m.Metrics.In, OutputTokens: m.Metrics.Out}
			}
		}
		if err := emit(chunk.Value.Bytes); err != nil {
			return usage, err
		}
	}
	return usage, a.mapError(ctx, sctx, stream.Err())
}

// Embed asks the upstream's InvokeModel for embeddings, in the body of the
// model's family: Titan Embeddings (one text per call) or Cohere Embed.
func (a *Adapter) Embed(ctx context.Context, req *provider.EmbedRequest) (*provider.EmbedResponse, error) {
	m := baseModel(req.Model)
	switch {
	case strings.HasPrefix(m, "amazon.titan-embed"):
		return a.embedTitan(ctx, req, strings.HasPrefix(m, "amazon.titan-embed-text-v2"))
	case strings.HasPrefix(m, "cohere.embed"):
		return a.embedCohere(ctx, req)
	}
	return nil, fault.Newf(fault.Invalid, "The bedrock backend computes embeddings only with Titan and Cohere embedding models, not %s.", req.Model)
}

func (a *Adapter) embedTitan(ctx context.Context, req *provider.EmbedRequest, v2 bool) (*provider.EmbedResponse, error) {
	resp := &provider.EmbedResponse{}
	for _, t := range req.Texts {
		body := map[string]any{"inputText": t}
		if v2 {
			if req.Dimensions > 0 {
				body["dimensions"] = req.Dimensions
			}
			body["normalize"] = req.Normalize
		} else if req.Dimensions > 0 || req.Normalize {
			return nil, fault.New(fault.Invalid, "Titan Embeddings G1 takes neither dimensions nor normalize.")
		}
		b, _ := json.Marshal(body)
		out, err := a.InvokeRaw(ctx, req.Model, b)
		if err != nil {
			return nil, err
		}
		var r struct {
			Embedding []float32 `json:"embedding"`
			Tokens    int       `json:"inputTextTokenCount"`
		}
		if err := json.Unmarshal(out.Body, &r); err != nil || r.Embedding == nil {
			return nil, fault.Wrap(fault.ModelFailed, err, "The bedrock backend sent embeddings that cannot be read.")
		}
		resp.Vectors = append(resp.Vectors, r.Embedding)
		resp.InputTokens += r.Tokens
	}
	return resp, nil
}

func (a *Adapter) embedCohere(ctx context.Context, req *provider.EmbedRequest) (*provider.EmbedResponse, error) {
	inputType := req.InputType
	if inputType == "" {
		inputType = "search_document"
	}
	body := map[string]any{"texts": req.Texts, "input_type": inputType, "embedding_types": []string{"float"}}
	if req.Dimensions > 0 {
		body["output_dimension"] = req.Dimensions
	}
	b, _ := json.Marshal(body)
	out, err := a.InvokeRaw(ctx, req.Model, b)
	if err != nil {
		return nil, err
	}
	// embeddings is {"float": [[...]]} when embedding_types is set, or a
	// plain [[...]] from older models.
	var r struct {
		Embeddings json.RawMessage `json:"embeddings"`
	}
	var typed struct {
		Float [][]float32 `json:"float"`
	}
	var plain [][]float32
	if err := json.Unmarshal(out.Body, &r); err != nil {
		return nil, fault.Wrap(fault.ModelFailed, err, "The bedrock backend sent embeddings that cannot be read.")
	}
	resp := &provider.EmbedResponse{InputTokens: out.Usage.InputTokens}
	if json.Unmarshal(r.Embeddings, &typed) == nil && typed.Float != nil {
		resp.Vectors = typed.Float
	} else if json.Unmarshal(r.Embeddings, &plain) == nil && plain != nil {
		resp.Vectors = plain
	} else {
		return nil, fault.New(fault.ModelFailed, "The bedrock backend sent embeddings that cannot be read.")
	}
	if req.Normalize {
		for _, v := range resp.Vectors {
			normalize(v)
		}
	}
	return resp, nil
}

func normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	n := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= n
	}
}
