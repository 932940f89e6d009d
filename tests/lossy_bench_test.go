package tests

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkLossyRouter measures bulk transfer out of actnet (the source app
// to a Linux peer) through a router namespace whose nftables rule drops a
// share of the forwarded packets both ways, for each TCP variant: CUBIC or
// NewReno, with and without SACK. It is issue 5's comparison of the fast
// stacks' features against NewReno without SACK. Root only; run with
//
//	go test -run '^$' -bench LossyRouter -benchtime 1x ./tests
func BenchmarkLossyRouter(b *testing.B) {
	requireNetns(b, "python3", "nft", "sysctl")
	const size = 8 << 20
	for _, loss := range []int{1, 3} {
		for _, v := range []struct {
			name  string
			flags []string
		}{
			{"newreno-nosack", []string{"--tcp-cc", "newreno", "--tcp-no-sack"}},
			{"newreno-sack", []string{"--tcp-cc", "newreno"}},
			{"cubic-nosack", []string{"--tcp-cc", "cubic", "--tcp-no-sack"}},
			{"cubic-sack", []string{"--tcp-cc", "cubic"}},
		} {
			b.Run(fmt.Sprintf("loss=%d%%/%s", loss, v.name), func(b *testing.B) {
				rt := newRoutedTopology(b, append([]string{"--app", "source:9001"}, v.flags...)...)
				rt.dropForwarded(b, loss)
				var total time.Duration
				for i := 0; i < b.N; i++ {
					out := peer(b, rt.peer, 3*time.Minute, "sink", tapStack, "9001", strconv.Itoa(size))
					fields := strings.Fields(out)
					secs, err := strconv.ParseFloat(fields[len(fields)-1], 64)
					if err != nil {
						b.Fatalf("peer said %q", out)
					}
					total += time.Duration(secs * float64(time.Second))
				}
				b.ReportMetric(float64(size)*8*float64(b.N)/total.Seconds()/1e6, "Mbit/s")
			})
		}
	}
}
