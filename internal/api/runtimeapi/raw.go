package runtimeapi

import (
	"net/http"
	"strconv"

	"github.com/outcrop/outcrop/internal/awsapi/eventstream"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/reqctx"
	"github.com/outcrop/outcrop/internal/span"
)

// rawInvoker is the backend, when it reads the model family's native
// bodies itself (a Bedrock upstream): InvokeModel bodies then pass through
// untouched.
func rawInvoker(t *target) provider.RawInvoker {
	ri, ok := t.adapter.(provider.RawInvoker)
	if !ok || !ri.AcceptsRaw(t.model.Family, t.model.BackendModel) {
		return nil
	}
	return ri
}

func (h *Handler) invokeRaw(w http.ResponseWriter, r *http.Request, inv *invocation) error {
	start := h.opts.Now()
	ctx, cancel := h.timeout(r.Context())
	defer cancel()
	ctx, tr := traceCall(ctx, span.OpChat, inv.t.model)
	resp, err := inv.raw.InvokeRaw(ctx, inv.t.model.BackendModel, inv.body)
	if err = backendError(ctx, err); err != nil {
		tr.End(err, 0, 0, "")
		h.opts.Metrics.record(inv.t.model.ID, err, 0, 0, 0)
		return err
	}
	d := h.opts.Now().Sub(start)
	in, out := resp.Usage.InputTokens, resp.Usage.OutputTokens
	tr.End(nil, in, out, "")
	h.opts.Metrics.record(inv.t.model.ID, nil, d, in, out)
	reqctx.AddUsage(r.Context(), in, out)
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	hd.Set("X-Amzn-Bedrock-Input-Token-Count", strconv.Itoa(in))
	hd.Set("X-Amzn-Bedrock-Output-Token-Count", strconv.Itoa(out))
	hd.Set("X-Amzn-Bedrock-Invocation-Latency", strconv.FormatInt(d.Milliseconds(), 10))
	echoHeaders(r, hd)
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(resp.Body)
	return err
}

// invokeRawStream passes the upstream's chunks on as they arrive; the
// upstream has already put the invocation metrics in the last one.
func (h *Handler) invokeRawStream(w http.ResponseWriter, r *http.Request, inv *invocation) error {
	start := h.opts.Now()
	ctx, cancel := h.timeout(r.Context())
	defer cancel()
	es := eventstream.NewWriter(w)
	es.Header.Set("X-Amzn-Bedrock-Content-Type", "application/json")
	echoHeaders(r, es.Header)
	first := true
	ctx, tr := traceCall(ctx, span.OpChat, inv.t.model)
	usage, err := inv.raw.InvokeRawStream(ctx, inv.t.model.BackendModel, inv.body, func(chunk []byte) error {
		if first {
			first = false
			h.opts.Metrics.firstToken(inv.t.model.ID, h.opts.Now().Sub(start))
		}
		return es.Event("chunk", chunkEvent{chunk})
	})
	err = backendError(ctx, err)
	tr.End(err, usage.InputTokens, usage.OutputTokens, "")
	h.opts.Metrics.record(inv.t.model.ID, err, h.opts.Now().Sub(start), usage.InputTokens, usage.OutputTokens)
	reqctx.AddUsage(r.Context(), usage.InputTokens, usage.OutputTokens)
	if err != nil {
		return streamError(es, "ResponseStream", err)
	}
	return nil
}
