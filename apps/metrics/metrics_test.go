package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/internal/stacktest"
)

// The collector exports every counter under a unique, valid name (the
// registry refuses duplicates and bad names), with the netstat name as
// help text and the value Stats reads.
func TestMetricsHandler(t *testing.T) {
	a, _ := stacktest.PingedPair(t)
	srv := httptest.NewServer(Handler(a.Stats, a.Gauges))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d:\n%s", resp.StatusCode, body)
	}
	text := string(body)
	st := a.Stats()
	if st.ARP.RequestsSent != 1 || st.ICMPv4.MessagesReceived != 1 {
		t.Fatalf("after one ping: arp %+v icmp %+v", st.ARP, st.ICMPv4)
	}
	for _, want := range []string{
		"# HELP actnet_tcp_active_connection_openings_total active connection openings\n",
		"# TYPE actnet_tcp_active_connection_openings_total counter\n",
		"actnet_tcp_active_connection_openings_total 0\n",
		"actnet_arp_requests_sent_total 1\n",
		"actnet_icmpv4_icmp_messages_received_total 1\n",
		"# HELP actnet_ipv4_with_invalid_headers_bad_checksum_total with invalid headers: bad checksum (a drop counter)\n",
		"go_goroutines ",
		"# TYPE actnet_tcp_open_connections gauge\nactnet_tcp_open_connections 0\n",
		"# TYPE actnet_tcp_half_open_connections gauge\nactnet_tcp_half_open_connections 0\n",
		"# TYPE actnet_tcp_time_wait_connections gauge\nactnet_tcp_time_wait_connections 0\n",
		"# TYPE actnet_pool_buffers_outstanding gauge\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if n, want := strings.Count(text, "\nactnet_"), len(st.Values())+4; n != want { // +4: the gauges
		t.Errorf("/metrics has %d actnet samples, Stats has %d counters", n, want)
	}
}

func TestMetricName(t *testing.T) {
	for _, c := range []struct {
		stat actnet.Stat
		want string
	}{
		{actnet.Stat{Layer: "tcp", Name: "active connection openings"}, "actnet_tcp_active_connection_openings_total"},
		{actnet.Stat{Layer: "icmpv4", Name: "source quenches ignored (RFC 6633)"}, "actnet_icmpv4_source_quenches_ignored_rfc_6633_total"},
		{actnet.Stat{Layer: "tcp", Name: "SYNs to LISTEN sockets dropped: backlog full"}, "actnet_tcp_syns_to_listen_sockets_dropped_backlog_full_total"},
	} {
		if got := Name(c.stat); got != c.want {
			t.Errorf("Name(%q) = %q, want %q", c.stat.Name, got, c.want)
		}
	}
}
