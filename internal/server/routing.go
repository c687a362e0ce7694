package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/outcrop/outcrop/internal/route"
)

// newRoutes builds the per-model adapters (routers for models with
// several backends), with breakers shared across models and per-backend
// counters in the server's registry.
func (s *Server) newRoutes() *route.Table {
	obs := &backendMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outcrop_backend_calls_total",
			Help: "Calls routed to a backend for models with several backends, by outcome (ok or error).",
		}, []string{"backend", "outcome"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outcrop_backend_fallbacks_total",
			Help: "Calls that moved on from a failing backend to the next candidate.",
		}, []string{"backend"}),
	}
	s.reg.MustRegister(obs.calls, obs.fallbacks)
	return route.NewTable(s.backends, s.catalog.List(), route.Options{
		Health:   route.NewHealth(0, 0, s.opts.Now),
		Observer: obs,
	})
}

type backendMetrics struct {
	calls, fallbacks *prometheus.CounterVec
}

func (m *backendMetrics) Call(backend string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.calls.WithLabelValues(backend, outcome).Inc()
}

func (m *backendMetrics) Fallback(backend string) { m.fallbacks.WithLabelValues(backend).Inc() }
