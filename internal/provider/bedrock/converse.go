package bedrock

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
)

func unsupported(what string) error {
	return fault.Newf(fault.Invalid, "The bedrock backend does not accept %s.", what)
}

// doc wraps JSON as a Smithy document.
func doc(raw json.RawMessage) (document.Interface, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fault.Wrap(fault.Invalid, err, "A JSON value in the request is not valid JSON.")
	}
	return document.NewLazyDocument(v), nil
}

// docJSON renders a Smithy document as JSON.
func docJSON(d document.Interface) (json.RawMessage, error) {
	if d == nil {
		return nil, nil
	}
	b, err := d.MarshalSmithyDocument()
	if err != nil {
		return nil, fault.Wrap(fault.ModelFailed, err, "The bedrock backend sent a JSON value that cannot be read.")
	}
	return b, nil
}

// converseInput is req in the SDK's types.
func converseInput(req *provider.Request) (*bedrockruntime.ConverseInput, error) {
	if req.Raw {
		return nil, unsupported("raw text-completion prompts through Converse")
	}
	in := &bedrockruntime.ConverseInput{ModelId: aws.String(req.Model)}
	for _, b := range req.System {
		switch b.Type {
		case provider.TextBlock:
			if b.Text != "" {
				in.System = append(in.System, &types.SystemContentBlockMemberText{Value: b.Text})
			}
		case provider.CachePointBlock:
			in.System = append(in.System, &types.SystemContentBlockMemberCachePoint{Value: types.CachePointBlock{Type: types.CachePointTypeDefault}})
		case provider.GuardBlock:
			in.System = append(in.System, &types.SystemContentBlockMemberGuardContent{Value: &types.GuardrailConverseContentBlockMemberText{Value: types.GuardrailConverseTextBlock{Text: aws.String(b.Text)}}})
		default:
			return nil, unsupported(fmt.Sprintf("%s blocks in the system prompt", b.Type))
		}
	}
	for _, m := range req.Messages {
		var content []types.ContentBlock
		for _, b := range m.Content {
			cb, err := contentBlock(b)
			if err != nil {
				return nil, err
			}
			content = append(content, cb)
		}
		in.Messages = append(in.Messages, types.Message{Role: types.ConversationRole(m.Role), Content: content})
	}
	if req.MaxTokens > 0 || req.Temperature != nil || req.TopP != nil || len(req.StopSequences) > 0 {
		ic := &types.InferenceConfiguration{StopSequences: req.StopSequences}
		if req.MaxTokens > 0 {
			ic.MaxTokens = aws.Int32(int32(min(req.MaxTokens, 1<<31-1)))
		}
		if req.Temperature != nil {
			ic.Temperature = aws.Float32(float32(*req.Temperature))
		}
		if req.TopP != nil {
			ic.TopP = aws.Float32(float32(*req.TopP))
		}
		in.InferenceConfig = ic
	}
	if len(req.Tools) > 0 {
		tc := &types.ToolConfiguration{}
		for _, t := range req.Tools {
			schema := t.Schema
			if len(schema) == 0 {
				schema = json.RawMessage(`{"type":"object"}`)
			}
			d, err := doc(schema)
			if err != nil {
				return nil, err
			}
			spec := types.ToolSpecification{Name: aws.String(t.Name), InputSchema: &types.ToolInputSchemaMemberJson{Value: d}}
			if t.Description != "" {
				spec.Description = aws.String(t.Description)
			}
			tc.Tools = append(tc.Tools, &types.ToolMemberToolSpec{Value: spec})
		}
		switch req.ToolChoice.Mode {
		case provider.ToolAny:
			tc.ToolChoice = &types.ToolChoiceMemberAny{Value: types.AnyToolChoice{}}
		case provider.ToolOne:
			tc.ToolChoice = &types.ToolChoiceMemberTool{Value: types.SpecificToolChoice{Name: aws.String(req.ToolChoice.Name)}}
		case provider.ToolNone:
			// Converse has no "none": leave the tools out, as Bedrock
			// documents for models without tool choice.
			tc = nil
		}
		in.ToolConfig = tc
	}
	extra := req.Extra
	if req.TopK != nil {
		// Converse has no top-k field; Bedrock's models read it from
		// additionalModelRequestFields.
		m := map[string]any{}
		if len(extra) > 0 {
			if err := json.Unmarshal(extra, &m); err != nil {
				return nil, fault.Wrap(fault.Invalid, err, "additionalModelRequestFields is not a JSON object.")
			}
		}
		if _, ok := m["top_k"]; !ok {
			m["top_k"] = *req.TopK
		}
		extra, _ = json.Marshal(m)
	}
	if len(extra) > 0 {
		d, err := doc(extra)
		if err != nil {
			return nil, err
		}
		in.AdditionalModelRequestFields = d
	}
	return in, nil
}

func contentBlock(b provider.Block) (types.ContentBlock, error) {
	switch b.Type {
	case provider.TextBlock:
		return &types.ContentBlockMemberText{Value: b.Text}, nil
	case provider.ImageBlock:
		img, err := imageBlock(b.Image)
		if err != nil {
			return nil, err
		}
		return &types.ContentBlockMemberImage{Value: img}, nil
	case provider.DocumentBlock:
		d, err := documentBlock(b.Document)
		if err != nil {
			return nil, err
		}
		return &types.ContentBlockMemberDocument{Value: d}, nil
	case provider.ToolUseBlock:
		input := b.ToolUse.Input
		if len(input) == 0 {
			input = json.RawMessage(`{}`)
		}
		d, err := doc(input)
		if err != nil {
			return nil, err
		}
		return &types.ContentBlockMemberToolUse{Value: types.ToolUseBlock{ToolUseId: aws.String(b.ToolUse.ID), Name: aws.String(b.ToolUse.Name), Input: d}}, nil
	case provider.ToolResultBlock:
		tr := types.ToolResultBlock{ToolUseId: aws.String(b.ToolResult.ToolUseID), Status: types.ToolResultStatus(b.ToolResult.Status)}
		for _, c := range b.ToolResult.Content {
			switch c.Type {
			case provider.TextBlock:
				tr.Content = append(tr.Content, &types.ToolResultContentBlockMemberText{Value: c.Text})
			case provider.JSONBlock:
				d, err := doc(c.JSON)
				if err != nil {
					return nil, err
				}
				tr.Content = append(tr.Content, &types.ToolResultContentBlockMemberJson{Value: d})
			case provider.ImageBlock:
				img, err := imageBlock(c.Image)
				if err != nil {
					return nil, err
				}
				tr.Content = append(tr.Content, &types.ToolResultContentBlockMemberImage{Value: img})
			case provider.DocumentBlock:
				d, err := documentBlock(c.Document)
				if err != nil {
					return nil, err
				}
				tr.Content = append(tr.Content, &types.ToolResultContentBlockMemberDocument{Value: d})
			default:
				return nil, unsupported(fmt.Sprintf("%s blocks in tool results", c.Type))
			}
		}
		return &types.ContentBlockMemberToolResult{Value: tr}, nil
	case provider.ReasoningBlock:
		if len(b.Reasoning.Redacted) > 0 {
			return &types.ContentBlockMemberReasoningContent{Value: &types.ReasoningContentBlockMemberRedactedContent{Value: b.Reasoning.Redacted}}, nil
		}
		rt := types.ReasoningTextBlock{Text: aws.String(b.Reasoning.Text)}
		if b.Reasoning.Signature != "" {
			rt.Signature = aws.String(b.Reasoning.Signature)
		}
		return &types.ContentBlockMemberReasoningContent{Value: &types.ReasoningContentBlockMemberReasoningText{Value: rt}}, nil
	case provider.CachePointBlock:
		return &types.ContentBlockMemberCachePoint{Value: types.CachePointBlock{Type: types.CachePointTypeDefault}}, nil
	case provider.GuardBlock:
		return &types.ContentBlockMemberGuardContent{Value: &types.GuardrailConverseContentBlockMemberText{Value: types.GuardrailConverseTextBlock{Text: aws.String(b.Text)}}}, nil
	}
	return nil, unsupported(fmt.Sprintf("%s blocks", b.Type))
}

func imageBlock(im *provider.Image) (types.ImageBlock, error) {
	out := types.ImageBlock{Format: types.ImageFormat(im.Format)}
	switch {
	case im.URI != "":
		out.Source = &types.ImageSourceMemberS3Location{Value: types.S3Location{Uri: aws.String(im.URI)}}
	default:
		out.Source = &types.ImageSourceMemberBytes{Value: im.Data}
	}
	return out, nil
}

func documentBlock(d *provider.Document) (types.DocumentBlock, error) {
	out := types.DocumentBlock{Format: types.DocumentFormat(d.Format), Name: aws.String(d.Name)}
	switch {
	case d.URI != "":
		out.Source = &types.DocumentSourceMemberS3Location{Value: types.S3Location{Uri: aws.String(d.URI)}}
	case d.Text != "" && d.Data == nil:
		out.Source = &types.DocumentSourceMemberText{Value: d.Text}
	default:
		out.Source = &types.DocumentSourceMemberBytes{Value: d.Data}
	}
	return out, nil
}

// fromContent is a response content block in canonical form; ok is false
// for blocks the canonical types cannot hold (citations, ...), which are
// dropped.
func fromContent(cb types.ContentBlock) (provider.Block, bool, error) {
	switch v := cb.(type) {
	case *types.ContentBlockMemberText:
		return provider.Block{Type: provider.TextBlock, Text: v.Value}, true, nil
	case *types.ContentBlockMemberToolUse:
		input, err := docJSON(v.Value.Input)
		if err != nil {
			return provider.Block{}, false, err
		}
		return provider.Block{Type: provider.ToolUseBlock, ToolUse: &provider.ToolUse{
			ID: aws.ToString(v.Value.ToolUseId), Name: aws.ToString(v.Value.Name), Input: input}}, true, nil
	case *types.ContentBlockMemberReasoningContent:
		switch r := v.Value.(type) {
		case *types.ReasoningContentBlockMemberReasoningText:
			return provider.Block{Type: provider.ReasoningBlock, Reasoning: &provider.Reasoning{
				Text: aws.ToString(r.Value.Text), Signature: aws.ToString(r.Value.Signature)}}, true, nil
		case *types.ReasoningContentBlockMemberRedactedContent:
			return provider.Block{Type: provider.ReasoningBlock, Reasoning: &provider.Reasoning{Redacted: r.Value}}, true, nil
		}
	case *types.ContentBlockMemberImage:
		if src, ok := v.Value.Source.(*types.ImageSourceMemberBytes); ok {
			return provider.Block{Type: provider.ImageBlock, Image: &provider.Image{Format: string(v.Value.Format), Data: src.Value}}, true, nil
		}
	}
	return provider.Block{}, false, nil
}

func usageOf(u *types.TokenUsage) provider.Usage {
	if u == nil {
		return provider.Usage{}
	}
	return provider.Usage{InputTokens: int(aws.ToInt32(u.InputTokens)), OutputTokens: int(aws.ToInt32(u.OutputTokens))}
}

// stopSequenceOf reads the stop sequence that Bedrock's models report in
// additionalModelResponseFields (Claude's "stop_sequence").
func stopSequenceOf(d document.Interface) string {
	if d == nil {
		return ""
	}
	var m struct {
		StopSequence string `json:"stop_sequence"`
	}
	if b, err := d.MarshalSmithyDocument(); err == nil {
		_ = json.Unmarshal(b, &m)
	}
	return m.StopSequence
}

// Converse runs req on the upstream's Converse.
func (a *Adapter) Converse(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	in, err := converseInput(req)
	if err != nil {
		return nil, err
	}
	cctx, cancel := a.callContext(ctx)
	defer cancel()
	out, err := a.client.Converse(cctx, in)
	if err != nil {
		return nil, a.mapError(ctx, cctx, err)
	}
	resp := &provider.Response{Message: provider.Message{Role: provider.Assistant}, StopReason: provider.StopReason(out.StopReason), Usage: usageOf(out.Usage)}
	if msg, ok := out.Output.(*types.ConverseOutputMemberMessage); ok {
		for _, cb := range msg.Value.Content {
			b, ok, err := fromContent(cb)
			if err != nil {
				return nil, err
			}
			if ok {
				resp.Message.Content = append(resp.Message.Content, b)
			}
		}
	}
	if resp.StopReason == provider.StopSequence {
		resp.StopSequence = stopSequenceOf(out.AdditionalModelResponseFields)
	}
	return resp, nil
}

// ConverseStream runs req on the upstream's ConverseStream and passes each
// event on as it arrives.
func (a *Adapter) ConverseStream(ctx context.Context, req *provider.Request, emit func(provider.Event) error) error {
	in, err := converseInput(req)
	if err != nil {
		return err
	}
	sin := &bedrockruntime.ConverseStreamInput{
		ModelId: in.ModelId, Messages: in.Messages, System: in.System, InferenceConfig: in.InferenceConfig,
		ToolConfig: in.ToolConfig, AdditionalModelRequestFields: in.AdditionalModelRequestFields,
	}
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(a.timeout, func() { cancel(errTimedOut) })
	out, err := a.client.ConverseStream(sctx, sin)
	timer.Stop()
	if err != nil {
		return a.mapError(ctx, sctx, err)
	}
	stream := out.GetStream()
	defer stream.Close()
	for ev := range stream.Events() {
		pe, ok := streamEvent(ev)
		if !ok {
			continue
		}
		if err := emit(pe); err != nil {
			return err
		}
	}
	return a.mapError(ctx, sctx, stream.Err())
}

// streamEvent is ev in canonical form; ok is false for events the
// canonical types do not carry (signature and citation deltas).
func streamEvent(ev types.ConverseStreamOutput) (provider.Event, bool) {
	switch v := ev.(type) {
	case *types.ConverseStreamOutputMemberMessageStart:
		return provider.Event{Type: provider.MessageStartEvent}, true
	case *types.ConverseStreamOutputMemberContentBlockStart:
		if tu, ok := v.Value.Start.(*types.ContentBlockStartMemberToolUse); ok {
			return provider.Event{Type: provider.BlockStartEvent, Index: int(aws.ToInt32(v.Value.ContentBlockIndex)),
				ToolUse: &provider.ToolUse{ID: aws.ToString(tu.Value.ToolUseId), Name: aws.ToString(tu.Value.Name)}}, true
		}
	case *types.ConverseStreamOutputMemberContentBlockDelta:
		i := int(aws.ToInt32(v.Value.ContentBlockIndex))
		switch d := v.Value.Delta.(type) {
		case *types.ContentBlockDeltaMemberText:
			return provider.Event{Type: provider.TextDeltaEvent, Index: i, Text: d.Value}, true
		case *types.ContentBlockDeltaMemberToolUse:
			return provider.Event{Type: provider.ToolInputDeltaEvent, Index: i, Text: aws.ToString(d.Value.Input)}, true
		case *types.ContentBlockDeltaMemberReasoningContent:
			if t, ok := d.Value.(*types.ReasoningContentBlockDeltaMemberText); ok {
				return provider.Event{Type: provider.ReasoningDeltaEvent, Index: i, Text: t.Value}, true
			}
		}
	case *types.ConverseStreamOutputMemberContentBlockStop:
		return provider.Event{Type: provider.BlockStopEvent, Index: int(aws.ToInt32(v.Value.ContentBlockIndex))}, true
	case *types.ConverseStreamOutputMemberMessageStop:
		e := provider.Event{Type: provider.MessageStopEvent, StopReason: provider.StopReason(v.Value.StopReason)}
		if e.StopReason == provider.StopSequence {
			e.StopSequence = stopSequenceOf(v.Value.AdditionalModelResponseFields)
		}
		return e, true
	case *types.ConverseStreamOutputMemberMetadata:
		return provider.Event{Type: provider.MetadataEvent, Usage: usageOf(v.Value.Usage)}, true
	}
	return provider.Event{}, false
}
