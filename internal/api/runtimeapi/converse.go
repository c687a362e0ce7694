package runtimeapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/outcrop/outcrop/internal/adapt"
	"github.com/outcrop/outcrop/internal/awsapi"
	"github.com/outcrop/outcrop/internal/awsapi/eventstream"
	"github.com/outcrop/outcrop/internal/awsapi/restjson"
	"github.com/outcrop/outcrop/internal/catalog"
	"github.com/outcrop/outcrop/internal/family/converse"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/reqctx"
	"github.com/outcrop/outcrop/internal/span"
)

// decodeConverse resolves the model, authorizes action on it and decodes a
// Converse body. Converse authorizes as bedrock:InvokeModel and
// ConverseStream as bedrock:InvokeModelWithResponseStream, as AWS documents.
func (h *Handler) decodeConverse(r *http.Request, action string) (_ *target, _ *provider.Request, err error) {
	defer func() { h.refused(r, err) }()
	body, err := readBody(r)
	if err != nil {
		return nil, nil, err
	}
	t, err := h.resolve(r, action)
	if err != nil {
		return nil, nil, err
	}
	_, req, err := converse.Decode(body)
	if err != nil {
		return nil, nil, err
	}
	if err := checkChat(t.model, req); err != nil {
		return nil, nil, err
	}
	req.Model = t.model.BackendModel
	strict := h.opts.StrictConverse || r.Header.Get(adapt.StrictHeader) == "true"
	c, err := adapt.Prepare(r.Context(), t.model.Caps, t.adapter, req, adapt.Options{Strict: strict})
	if err != nil {
		return nil, nil, err
	}
	t.adapter, t.adapted = c.Adapter, c.Applied
	return t, c.Request, nil
}

// reportAdaptations names the adaptations made in the response header
// (the body carries them in additionalModelResponseFields).
func reportAdaptations(w http.ResponseWriter, t *target) {
	if len(t.adapted) > 0 {
		w.Header().Set(adapt.Header, strings.Join(t.adapted, ","))
	}
}

// checkChat rejects requests the model cannot serve at all.
func checkChat(m *catalog.Model, req *provider.Request) error {
	if m.Embedding() || m.Image() || m.Reranker() {
		return fault.New(fault.Invalid, "This action doesn't support the model that you provided. Try again with a supported text or chat model.")
	}
	if m.Caps.MaxOutputTokens > 0 && req.MaxTokens > m.Caps.MaxOutputTokens {
		return fault.Newf(fault.Invalid, "The maximum tokens you requested exceeds the model limit of %d. Try again with a maximum tokens value that is lower than %d.", m.Caps.MaxOutputTokens, m.Caps.MaxOutputTokens)
	}
	return nil
}

func (h *Handler) converse(w http.ResponseWriter, r *http.Request) error {
	start := h.opts.Now()
	t, req, err := h.decodeConverse(r, "bedrock:InvokeModel")
	if err != nil {
		return err
	}
	ctx, cancel := h.timeout(r.Context())
	defer cancel()
	ctx, tr := traceCall(ctx, span.OpChat, t.model)
	resp, err := t.adapter.Converse(ctx, req)
	err = backendError(ctx, err)
	endConverse(tr, err, resp)
	d := h.opts.Now().Sub(start)
	if err != nil {
		h.opts.Metrics.record(t.model.ID, err, d, 0, 0)
		return err
	}
	h.opts.Metrics.record(t.model.ID, nil, d, resp.Usage.InputTokens, resp.Usage.OutputTokens)
	reqctx.AddUsage(r.Context(), resp.Usage.InputTokens, resp.Usage.OutputTokens)
	reportAdaptations(w, t)
	out := converse.EncodeResponse(resp, d.Milliseconds())
	out.AdditionalModelResponseFields = adapt.ResponseFields(t.adapted)
	return restjson.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) converseStream(w http.ResponseWriter, r *http.Request) error {
	start := h.opts.Now()
	t, req, err := h.decodeConverse(r, "bedrock:InvokeModelWithResponseStream")
	if err != nil {
		return err
	}
	if !t.model.Caps.Streaming {
		return fault.New(fault.Invalid, "The model is unsupported for streaming.")
	}
	ctx, cancel := h.timeout(r.Context())
	defer cancel()
	reportAdaptations(w, t)
	fields := adapt.ResponseFields(t.adapted)
	es := eventstream.NewWriter(w)
	var usage provider.Usage
	var stop provider.StopReason
	first := true
	ctx, tr := traceCall(ctx, span.OpChat, t.model)
	err = t.adapter.ConverseStream(ctx, req, func(ev provider.Event) error {
		es.Batch(ev.More)
		now := h.opts.Now()
		if first && (ev.Type == provider.TextDeltaEvent || ev.Type == provider.ToolInputDeltaEvent) {
			first = false
			h.opts.Metrics.firstToken(t.model.ID, now.Sub(start))
		}
		switch ev.Type {
		case provider.MetadataEvent:
			usage = ev.Usage
		case provider.MessageStopEvent:
			stop = ev.StopReason
		}
		se := converse.EncodeEvent(ev, now.Sub(start).Milliseconds())
		if ev.Type == provider.MessageStopEvent && fields != nil {
			se = converse.WithResponseFields(se, fields)
		}
		return es.Event(se.Type, se.Payload)
	})
	err = backendError(ctx, err)
	tr.End(err, usage.InputTokens, usage.OutputTokens, string(stop))
	h.opts.Metrics.record(t.model.ID, err, h.opts.Now().Sub(start), usage.InputTokens, usage.OutputTokens)
	reqctx.AddUsage(r.Context(), usage.InputTokens, usage.OutputTokens)
	if err == nil {
		return nil
	}
	return streamError(es, "ConverseStreamOutput", err)
}

// streamError reports err in the stream if the response has started; the
// caller's error writer handles it otherwise.
func streamError(es *eventstream.Writer, union string, err error) error {
	if !es.Started() {
		return err
	}
	if r := httpRequestGone(err); r {
		return nil // the client went away; nothing to tell it
	}
	name, _ := awsapi.ErrorFor(awsapi.Runtime, fault.KindOf(err))
	member, ok := awsapi.StreamException(awsapi.Runtime, union, name)
	if !ok {
		member, _ = awsapi.StreamException(awsapi.Runtime, union, "ModelStreamErrorException")
	}
	_ = es.Exception(member, fault.Message(err))
	return nil
}

// httpRequestGone reports whether err means the caller cancelled.
func httpRequestGone(err error) bool { return errors.Is(err, context.Canceled) }
