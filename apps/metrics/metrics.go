// Package metrics exports a stack's counters (Stack.Stats) and gauges
// (Stack.Gauges) in the Prometheus text exposition format. One handler
// serves both the host-side endpoint of `actnet serve --metrics` and the
// /metrics page the stack serves on its own network (apps/web), so a
// unikernel with no host process still shows its metrics.
package metrics

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/actnet/actnet"
)

// statsCollector exports a stack's counters to Prometheus. Each counter
// becomes one metric, actnet_<layer>_<its netstat name in snake case>_total
// (actnet_tcp_active_connection_openings_total), whose help text is the
// netstat name; Stats is read once per scrape.
type statsCollector struct {
	stats func() actnet.Stats
	descs []*prometheus.Desc // in the order of Stats.Values
}

func newStatsCollector(stats func() actnet.Stats) *statsCollector {
	c := &statsCollector{stats: stats}
	for _, v := range stats().Values() {
		help := v.Name
		if v.Drop {
			help += " (a drop counter)"
		}
		c.descs = append(c.descs, prometheus.NewDesc(Name(v), help, nil, nil))
	}
	return c
}

// Name is the Prometheus name of one counter: the netstat name's letters
// and digits, lower case, every other run of characters one "_".
func Name(v actnet.Stat) string {
	words := strings.FieldsFunc(strings.ToLower(v.Name), func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < '0' || r > '9')
	})
	return "actnet_" + v.Layer + "_" + strings.Join(words, "_") + "_total"
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	for i, v := range c.stats().Values() {
		ch <- prometheus.MustNewConstMetric(c.descs[i], prometheus.CounterValue, float64(v.Value))
	}
}

// gaugeCollector exports a stack's current resource use (Stack.Gauges):
// actnet_tcp_open_connections, actnet_tcp_half_open_connections,
// actnet_tcp_time_wait_connections and actnet_pool_buffers_outstanding.
// The
// process's goroutines are the Go collector's go_goroutines, and its
// resident memory the process collector's process_resident_memory_bytes.
type gaugeCollector struct {
	gauges                          func() actnet.Gauges
	conns, halfOpen, timeWait, pool *prometheus.Desc
}

func newGaugeCollector(gauges func() actnet.Gauges) *gaugeCollector {
	return &gaugeCollector{
		gauges: gauges,
		conns: prometheus.NewDesc("actnet_tcp_open_connections",
			"TCP connections the stack holds, in any state from SYN-RECEIVED to LAST-ACK", nil, nil),
		halfOpen: prometheus.NewDesc("actnet_tcp_half_open_connections",
			"of the open TCP connections, passive opens still in the handshake (SYN-RECEIVED)", nil, nil),
		timeWait: prometheus.NewDesc("actnet_tcp_time_wait_connections",
			"TCP connections in TIME-WAIT, each a compact entry (not in actnet_tcp_open_connections)", nil, nil),
		pool: prometheus.NewDesc("actnet_pool_buffers_outstanding",
			"packet buffers taken from the pool and not yet returned", nil, nil),
	}
}

func (c *gaugeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.conns
	ch <- c.halfOpen
	ch <- c.timeWait
	ch <- c.pool
}

func (c *gaugeCollector) Collect(ch chan<- prometheus.Metric) {
	g := c.gauges()
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(g.TCPConns))
	ch <- prometheus.MustNewConstMetric(c.halfOpen, prometheus.GaugeValue, float64(g.TCPHalfOpen))
	ch <- prometheus.MustNewConstMetric(c.timeWait, prometheus.GaugeValue, float64(g.TCPTimeWait))
	ch <- prometheus.MustNewConstMetric(c.pool, prometheus.GaugeValue, float64(g.PoolBuffers))
}

// Handler serves the stack's counters and gauges, and the Go runtime's and
// the process's metrics, in the Prometheus text format. stats and gauges
// are read once per scrape; a stack's Stats and Gauges methods are
// meant.
func Handler(stats func() actnet.Stats, gauges func() actnet.Gauges) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newStatsCollector(stats), newGaugeCollector(gauges),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
