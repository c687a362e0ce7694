package local

import "github.com/prometheus/client_golang/prometheus"

// Engine metrics, read from the scheduler at scrape time. model is the
// weights file (the catalog's backendModel), bounded by the models
// directory.
var (
	loadedModelsDesc = prometheus.NewDesc("outcrop_engine_loaded_models",
		"Models the built-in engine holds in memory.", nil, nil)
	modelMemoryDesc = prometheus.NewDesc("outcrop_engine_model_memory_bytes",
		"Memory booked for a loaded model: weights plus its sessions' KV caches and buffers.", []string{"model"}, nil)
	activeSeqDesc = prometheus.NewDesc("outcrop_engine_active_sequences",
		"Requests a model is running now.", []string{"model"}, nil)
	waitingDesc = prometheus.NewDesc("outcrop_engine_waiting_requests",
		"Requests queued for a model's load or a free sequence slot.", []string{"model"}, nil)
)

var _ prometheus.Collector = (*Adapter)(nil)

// Describe implements prometheus.Collector.
func (a *Adapter) Describe(ch chan<- *prometheus.Desc) {
	ch <- loadedModelsDesc
	ch <- modelMemoryDesc
	ch <- activeSeqDesc
	ch <- waitingDesc
}

// Collect implements prometheus.Collector.
func (a *Adapter) Collect(ch chan<- prometheus.Metric) {
	loaded := 0
	for _, st := range a.sched.Models() {
		if st.Loaded {
			loaded++
			ch <- prometheus.MustNewConstMetric(modelMemoryDesc, prometheus.GaugeValue, float64(st.Bytes), st.Name)
		}
		ch <- prometheus.MustNewConstMetric(activeSeqDesc, prometheus.GaugeValue, float64(st.Active), st.Name)
		ch <- prometheus.MustNewConstMetric(waitingDesc, prometheus.GaugeValue, float64(st.Waiting), st.Name)
	}
	ch <- prometheus.MustNewConstMetric(loadedModelsDesc, prometheus.GaugeValue, float64(loaded))
}
