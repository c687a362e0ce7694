package runtimeapi

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outcrop/outcrop/internal/fault"
)

// Metrics are the per-model invocation metrics, with the meanings of
// Bedrock's CloudWatch metrics (Invocations, InvocationLatency,
// InputTokenCount, OutputTokenCount, InvocationClientErrors,
// InvocationServerErrors, InvocationThrottles, TimeToFirstToken).
type Metrics struct {
	invocations  *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	inputTokens  *prometheus.CounterVec
	outputTokens *prometheus.CounterVec
	ttft         *prometheus.HistogramVec
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outcrop_model_invocations_total",
			Help: "Model invocations by outcome: success, client_error, server_error or throttled.",
		}, []string{"model_id", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "outcrop_model_invocation_latency_seconds",
			Help:    "Time from request to last token of successful invocations.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14),
		}, []string{"model_id"}),
		inputTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outcrop_model_input_tokens_total", Help: "Input tokens of successful invocations.",
		}, []string{"model_id"}),
		outputTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outcrop_model_output_tokens_total", Help: "Output tokens of successful invocations.",
		}, []string{"model_id"}),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "outcrop_model_time_to_first_token_seconds",
			Help:    "Time to the first generated token of streaming invocations.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14),
		}, []string{"model_id"}),
	}
	reg.MustRegister(m.invocations, m.latency, m.inputTokens, m.outputTokens, m.ttft)
	return m
}

// record notes one finished invocation.
func (m *Metrics) record(modelID string, err error, d time.Duration, in, out int) {
	if m == nil {
		return
	}
	if err != nil {
		m.invocations.WithLabelValues(modelID, outcome(err)).Inc()
		return
	}
	m.invocations.WithLabelValues(modelID, "success").Inc()
	m.latency.WithLabelValues(modelID).Observe(d.Seconds())
	m.inputTokens.WithLabelValues(modelID).Add(float64(in))
	m.outputTokens.WithLabelValues(modelID).Add(float64(out))
}

func (m *Metrics) firstToken(modelID string, d time.Duration) {
	if m != nil {
		m.ttft.WithLabelValues(modelID).Observe(d.Seconds())
	}
}

func outcome(err error) string {
	switch fault.KindOf(err) {
	case fault.Throttled, fault.ModelNotReady:
		return "throttled"
	case fault.Invalid, fault.NotFound, fault.Denied, fault.Conflict, fault.QuotaExceeded:
		return "client_error"
	}
	return "server_error"
}

// Record notes one finished invocation made through another front door
// (the OpenAI and Anthropic dialects), so that a model's metrics are the
// same whichever API called it.
func (m *Metrics) Record(modelID string, err error, d time.Duration, in, out int) {
	m.record(modelID, err, d, in, out)
}

// FirstToken notes the time to the first token of a stream made through
// another front door.
func (m *Metrics) FirstToken(modelID string, d time.Duration) { m.firstToken(modelID, d) }
