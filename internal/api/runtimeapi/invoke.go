package runtimeapi

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"

	"github.com/outcrop/outcrop/internal/adapt"
	"github.com/outcrop/outcrop/internal/awsapi/eventstream"
	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/fault"
	"github.com/outcrop/outcrop/internal/provider"
	"github.com/outcrop/outcrop/internal/reqctx"
	"github.com/outcrop/outcrop/internal/span"
)

// checkJSON accepts a missing media type (boto3 sends none on InvokeModel),
// application/octet-stream (what aws-sdk-go-v2 sends when the caller sets none),
// application/json and */*.
func checkJSON(v, what string) error {
	if v == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(v)
	if err == nil && (mt == "application/json" || mt == "*/*" || mt == "application/octet-stream") {
		return nil
	}
	return fault.Newf(fault.Invalid, "The provided %s type is not supported: %s. Use application/json.", what, v)
}

// invocation is a decoded InvokeModel request.
type invocation struct {
	t     *target
	chat  family.ChatCodec
	embed family.EmbedCodec
	image family.ImageCodec
	req   *provider.Request
	ereq  *provider.EmbedRequest
	ireq  *provider.ImageRequest
	raw   provider.RawInvoker // set when body passes through untouched
	body  []byte
}

func (h *Handler) decodeInvoke(r *http.Request, accept, action string) (_ *invocation, err error) {
	defer func() { h.refused(r, err) }()
	if err := checkJSON(r.Header.Get("Content-Type"), "content"); err != nil {
		return nil, err
	}
	if err := checkJSON(accept, "accept"); err != nil {
		return nil, err
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	t, err := h.resolve(r, action)
	if err != nil {
		return nil, err
	}
	if ri := rawInvoker(t); ri != nil {
		return &invocation{t: t, raw: ri, body: body}, nil
	}
	codec, ok := h.opts.Families.Lookup(t.model.Family)
	if !ok && t.model.Reranker() {
		// A reranker without a family answers Rerank only.
		return nil, fault.New(fault.Invalid, "This action doesn't support the model that you provided. Try again with a supported text or chat model.")
	}
	if !ok {
		return nil, fault.Newf(fault.Internal, "model family %q is not compiled in", t.model.Family)
	}
	inv := &invocation{t: t}
	switch c := codec.(type) {
	case family.ChatCodec:
		c = family.ChatFor(c, body)
		inv.chat = c
		if inv.req, err = c.DecodeRequest(body); err != nil {
			return nil, err
		}
		if err := checkChat(t.model, inv.req); err != nil {
			return nil, err
		}
		inv.req.Model = t.model.BackendModel
		// Converse's adaptations apply to a family body too (or, strict,
		// refuse); the response header names them.
		strict := h.opts.StrictConverse || r.Header.Get(adapt.StrictHeader) == "true"
		ac, err := adapt.Prepare(r.Context(), t.model.Caps, t.adapter, inv.req, adapt.Options{Strict: strict})
		if err != nil {
			return nil, err
		}
		t.adapter, t.adapted, inv.req = ac.Adapter, ac.Applied, ac.Request
	case family.EmbedCodec:
		inv.embed = c
		if inv.ereq, err = c.DecodeEmbed(body); err != nil {
			return nil, err
		}
		inv.ereq.Model = t.model.BackendModel
	case family.ImageCodec:
		inv.image = c
		if inv.ireq, err = c.DecodeImage(body); err != nil {
			return nil, err
		}
		inv.ireq.Model = t.model.BackendModel
	default:
		return nil, fault.Newf(fault.Internal, "model family %q has no InvokeModel codec", t.model.Family)
	}
	return inv, nil
}

func (h *Handler) invokeModel(w http.ResponseWriter, r *http.Request) error {
	start := h.opts.Now()
	inv, err := h.decodeInvoke(r, r.Header.Get("Accept"), "bedrock:InvokeModel")
	if err != nil {
		return err
	}
	if inv.raw != nil {
		return h.invokeRaw(w, r, inv)
	}
	ctx, cancel := h.timeout(r.Context())
	defer cancel()
	var out []byte
	var in, outTok int
	var images int
	switch {
	case inv.image != nil:
		if out, err = h.generateImages(ctx, inv); err != nil {
			return err
		}
		images = inv.ireq.Count
	case inv.embed != nil:
		e, ok := inv.t.adapter.(provider.Embedder)
		if !ok {
			return fault.Newf(fault.Invalid, "The backend serving %s cannot produce embeddings.", inv.t.model.ID)
		}
		ctx, tr := traceCall(ctx, span.OpEmbeddings, inv.t.model)
		resp, err := e.Embed(ctx, inv.ereq)
		if resp != nil {
			tr.End(backendError(ctx, err), resp.InputTokens, 0, "")
		} else {
			tr.End(backendError(ctx, err), 0, 0, "")
		}
		if err = backendError(ctx, err); err != nil {
			h.opts.Metrics.record(inv.t.model.ID, err, 0, 0, 0)
			return err
		}
		in = resp.InputTokens
		if out, err = inv.embed.EncodeEmbed(inv.ereq, resp); err != nil {
			return err
		}
	default:
		ctx, tr := traceCall(ctx, span.OpChat, inv.t.model)
		resp, err := inv.t.adapter.Converse(ctx, inv.req)
		endConverse(tr, backendError(ctx, err), resp)
		if err = backendError(ctx, err); err != nil {
			h.opts.Metrics.record(inv.t.model.ID, err, 0, 0, 0)
			return err
		}
		in, outTok = resp.Usage.InputTokens, resp.Usage.OutputTokens
		if out, err = inv.chat.EncodeResponse(inv.req, resp); err != nil {
			return err
		}
	}
	d := h.opts.Now().Sub(start)
	h.opts.Metrics.record(inv.t.model.ID, nil, d, in, outTok)
	reqctx.AddUsage(r.Context(), in, outTok)
	reqctx.AddImages(r.Context(), images)
	reportAdaptations(w, inv.t)
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(out)))
	hd.Set("X-Amzn-Bedrock-Input-Token-Count", strconv.Itoa(in))
	hd.Set("X-Amzn-Bedrock-Output-Token-Count", strconv.Itoa(outTok))
	hd.Set("X-Amzn-Bedrock-Invocation-Latency", strconv.FormatInt(d.Milliseconds(), 10))
	echoHeaders(r, hd)
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(out)
	return err
}

// echoHeaders copies the performance and service-tier headers back, as
// Bedrock does.
func echoHeaders(r *http.Request, hd http.Header) {
	for _, k := range []string{"X-Amzn-Bedrock-Performanceconfig-Latency", "X-Amzn-Bedrock-Service-Tier"} {
		if v := r.Header.Get(k); v != "" {
			hd.Set(k, v)
		}
	}
}

type invocationMetrics struct {
	InputTokenCount   int   `json:"inputTokenCount"`
	OutputTokenCount  int   `json:"outputTokenCount"`
	InvocationLatency int64 `json:"invocationLatency"`
	FirstByteLatency  int64 `json:"firstByteLatency"`
}

type chunkEvent struct {
	Bytes []byte `json:"bytes"`
}

func (h *Handler) invokeModelStream(w http.ResponseWriter, r *http.Request) error {
	start := h.opts.Now()
	inv, err := h.decodeInvoke(r, r.Header.Get("X-Amzn-Bedrock-Accept"), "bedrock:InvokeModelWithResponseStream")
	if err != nil {
		return err
	}
	if inv.raw != nil && inv.t.model.Caps.Streaming {
		return h.invokeRawStream(w, r, inv)
	}
	if inv.image != nil && inv.t.model.Caps.Streaming {
		return h.invokeImageStream(w, r, inv, start)
	}
	if inv.chat == nil || !inv.t.model.Caps.Streaming {
		return fault.New(fault.Invalid, "The model is unsupported for streaming.")
	}
	ctx, cancel := h.timeout(r.Context())
	defer cancel()
	reportAdaptations(w, inv.t)
	es := eventstream.NewWriter(w)
	es.Header.Set("X-Amzn-Bedrock-Content-Type", "application/json")
	echoHeaders(r, es.Header)
	enc := inv.chat.NewStream(inv.req)
	var pending []byte // the last chunk is held back to carry the invocation metrics
	var usage provider.Usage
	var firstByte int64 = -1
	var stop provider.StopReason
	ctx, tr := traceCall(ctx, span.OpChat, inv.t.model)
	err = inv.t.adapter.ConverseStream(ctx, inv.req, func(ev provider.Event) error {
		es.Batch(ev.More)
		switch ev.Type {
		case provider.MetadataEvent:
			usage = ev.Usage
		case provider.MessageStopEvent:
			stop = ev.StopReason
		}
		chunks, err := enc.Chunks(ev)
		if err != nil {
			return err
		}
		for _, c := range chunks {
			if pending != nil {
				if err := es.Event("chunk", chunkEvent{pending}); err != nil {
					return err
				}
			}
			if firstByte < 0 {
				firstByte = h.opts.Now().Sub(start).Milliseconds()
				h.opts.Metrics.firstToken(inv.t.model.ID, h.opts.Now().Sub(start))
			}
			pending = c
		}
		return nil
	})
	err = backendError(ctx, err)
	tr.End(err, usage.InputTokens, usage.OutputTokens, string(stop))
	d := h.opts.Now().Sub(start)
	h.opts.Metrics.record(inv.t.model.ID, err, d, usage.InputTokens, usage.OutputTokens)
	reqctx.AddUsage(r.Context(), usage.InputTokens, usage.OutputTokens)
	if err != nil {
		return streamError(es, "ResponseStream", err)
	}
	if pending == nil {
		pending = []byte("{}")
	}
	last, err := withMetrics(pending, invocationMetrics{usage.InputTokens, usage.OutputTokens, d.Milliseconds(), max(firstByte, 0)})
	if err != nil {
		return streamError(es, "ResponseStream", err)
	}
	if err := es.Event("chunk", chunkEvent{last}); err != nil && !httpRequestGone(err) {
		h.log.DebugContext(r.Context(), "stream write failed", "err", err)
	}
	return nil
}

// withMetrics adds "amazon-bedrock-invocationMetrics" to a JSON object.
func withMetrics(chunk []byte, m invocationMetrics) ([]byte, error) {
	chunk = bytes.TrimSpace(chunk)
	if len(chunk) < 2 || chunk[0] != '{' || chunk[len(chunk)-1] != '}' {
		return nil, fault.New(fault.Internal, "stream chunk is not a JSON object")
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Write(chunk[:len(chunk)-1])
	if len(bytes.TrimSpace(chunk[1:len(chunk)-1])) > 0 {
		b.WriteByte(',')
	}
	b.WriteString(`"amazon-bedrock-invocationMetrics":`)
	b.Write(mb)
	b.WriteByte('}')
	return b.Bytes(), nil
}
