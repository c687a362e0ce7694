package bedrock

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/document"
	art "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

// Rerank calls bedrock-agent-runtime's Rerank with the documents as text
// sources. Bedrock wants the model as a foundation-model ARN, so a plain
// model ID (the catalog's backendModel) is made into one in the backend's
// region.
func (a *Adapter) Rerank(ctx context.Context, req *provider.RerankRequest) (*provider.RerankResponse, error) {
	if len(req.Documents) == 0 {
		return nil, fault.New(fault.Invalid, "There are no documents to rerank.")
	}
	cfg := &art.BedrockRerankingConfiguration{ModelConfiguration: &art.BedrockRerankingModelConfiguration{ModelArn: aws.String(a.modelARN(req.Model))}}
	if req.TopN > 0 {
		cfg.NumberOfResults = aws.Int32(int32(min(req.TopN, len(req.Documents))))
	}
	if len(req.Extra) > 0 && string(req.Extra) != "null" {
		var extra map[string]any
		if err := json.Unmarshal(req.Extra, &extra); err != nil {
			return nil, fault.Wrap(fault.Invalid, err, "additionalModelRequestFields must be a JSON object.")
		}
		cfg.ModelConfiguration.AdditionalModelRequestFields = make(map[string]document.Interface, len(extra))
		for k, v := range extra {
			cfg.ModelConfiguration.AdditionalModelRequestFields[k] = document.NewLazyDocument(v)
		}
	}
	in := &bedrockagentruntime.RerankInput{
		Queries: []art.RerankQuery{{Type: art.RerankQueryContentTypeText, TextQuery: &art.RerankTextDocument{Text: aws.String(req.Query)}}},
		RerankingConfiguration: &art.RerankingConfiguration{
			Type:                          art.RerankingConfigurationTypeBedrockRerankingModel,
			BedrockRerankingConfiguration: cfg,
		},
		Sources: make([]art.RerankSource, len(req.Documents)),
	}
	for i, d := range req.Documents {
		in.Sources[i] = art.RerankSource{Type: art.RerankSourceTypeInline, InlineDocumentSource: &art.RerankDocument{
			Type: art.RerankDocumentTypeText, TextDocument: &art.RerankTextDocument{Text: aws.String(d)},
		}}
	}
	cctx, cancel := a.callContext(ctx)
	defer cancel()
	out, err := a.agent.Rerank(cctx, in)
	if err != nil {
		return nil, a.mapError(ctx, cctx, err)
	}
	resp := &provider.RerankResponse{Results: make([]provider.RerankResult, 0, len(out.Results))}
	seen := make([]bool, len(req.Documents))
	for _, r := range out.Results {
		if r.Index == nil || r.RelevanceScore == nil || *r.Index < 0 || int(*r.Index) >= len(seen) || seen[*r.Index] {
			return nil, fault.New(fault.ModelFailed, "The bedrock backend sent rerank results with a missing or bad index or score.")
		}
		seen[*r.Index] = true
		resp.Results = append(resp.Results, provider.RerankResult{Index: int(*r.Index), Score: float64(*r.RelevanceScore)})
	}
	return resp, nil
}

// modelARN returns model as a foundation-model ARN.
func (a *Adapter) modelARN(model string) string {
	if strings.HasPrefix(model, "arn:") {
		return model
	}
	return "arn:aws:bedrock:" + a.region + "::foundation-model/" + model
}
