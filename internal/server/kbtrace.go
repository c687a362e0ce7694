package server

import (
	"context"

	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/span"
)

// Knowledge-base calls to models (the query's embedding in Retrieve, the
// answer in RetrieveAndGenerate and its stream, ingestion's embeddings) get
// the same backend call spans as runtime invocations (docs/metrics.md,
// Traces) and count in the model's invocation metrics. Package kb sees
// only provider interfaces, so kbModels hands it adapters wrapped here.

// invocationSpan starts the backend-call span of an invocation of md.
func invocationSpan(ctx context.Context, op string, md *catalog.Model) (context.Context, span.Invocation) {
	return span.StartInvocation(ctx, op, md.ID, md.BackendName(), md.BackendModel)
}

// tracedEmbedder traces each Embed call of a knowledge base.
type tracedEmbedder struct {
	provider.Embedder
	md *catalog.Model
	s  *Server
}

func (t tracedEmbedder) Embed(ctx context.Context, req *provider.EmbedRequest) (*provider.EmbedResponse, error) {
	start := t.s.opts.Now()
	ctx, tr := invocationSpan(ctx, span.OpEmbeddings, t.md)
	resp, err := t.Embedder.Embed(ctx, req)
	in := 0
	if resp != nil {
		in = resp.InputTokens
	}
	tr.End(err, in, 0, "")
	t.s.invocations.Record(t.md.ID, err, t.s.opts.Now().Sub(start), in, 0)
	return resp, err
}

// tracedChat traces the Converse and ConverseStream calls of
// RetrieveAndGenerate.
type tracedChat struct {
	provider.Adapter
	md *catalog.Model
	s  *Server
}

func (t tracedChat) Converse(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	start := t.s.opts.Now()
	ctx, tr := invocationSpan(ctx, span.OpChat, t.md)
	resp, err := t.Adapter.Converse(ctx, req)
	var u provider.Usage
	if resp == nil {
		tr.End(err, 0, 0, "")
	} else {
		u = resp.Usage
		tr.End(err, u.InputTokens, u.OutputTokens, string(resp.StopReason))
	}
	t.s.invocations.Record(t.md.ID, err, t.s.opts.Now().Sub(start), u.InputTokens, u.OutputTokens)
	return resp, err
}

func (t tracedChat) ConverseStream(ctx context.Context, req *provider.Request, emit func(provider.Event) error) error {
	start := t.s.opts.Now()
	ctx, tr := invocationSpan(ctx, span.OpChat, t.md)
	var usage provider.Usage
	var stop provider.StopReason
	first := true
	err := t.Adapter.ConverseStream(ctx, req, func(ev provider.Event) error {
		if first && ev.Type == provider.TextDeltaEvent {
			first = false
			t.s.invocations.FirstToken(t.md.ID, t.s.opts.Now().Sub(start))
		}
		switch ev.Type {
		case provider.MessageStopEvent:
			stop = ev.StopReason
		case provider.MetadataEvent:
			usage = ev.Usage
		}
		return emit(ev)
	})
	tr.End(err, usage.InputTokens, usage.OutputTokens, string(stop))
	t.s.invocations.Record(t.md.ID, err, t.s.opts.Now().Sub(start), usage.InputTokens, usage.OutputTokens)
	return err
}
