package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/actnet/actnet/bench/internal/report"
)

// TestTableHasGSOColumnAndCPURows writes the table for made-up runs of
// actnet, gVisor with and without host GSO and Linux, and checks the
// ratio columns and the CPU-per-GB rows.
func TestTableHasGSOColumnAndCPURows(t *testing.T) {
	b := &bench{outDir: t.TempDir(), binDir: t.TempDir(), runs: map[string]map[string][]run1{},
		loads: []string{report.BulkIn, report.BulkOut}, actnetRev: "test", roundsDone: 1}
	for _, name := range []string{"actnet", "gvisor", gvisorGSO, "linux"} {
		for _, k := range stackKinds {
			if k.short == name {
				b.stacks = append(b.stacks, k)
			}
		}
	}
	// Gbit/s and CPU s per GB for each stack: bytes are 3 GB over 3 s.
	perf := map[string][2]float64{"actnet": {8, 1.0}, "gvisor": {1, 4.0}, gvisorGSO: {4, 2.0}, "linux": {16, 0.5}}
	for stack, p := range perf {
		for _, load := range b.loads {
			b.add(stack, load, 1, report.Result{Bytes: 3e9, Seconds: 3, Gbps: p[0], ServerCPUSeconds: 3 * p[1]})
		}
	}
	// A run that did not measure CPU time leaves that cell n/a, not failed.
	b.runs["linux"][report.BulkOut][0].Result.ServerCPUSeconds = 0

	stdout := os.Stdout
	os.Stdout, _ = os.Open(os.DevNull)
	err := b.write()
	os.Stdout = stdout
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(b.outDir, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	table := string(md)
	for _, want := range []string{
		"| load | unit | actnet | gVisor | gVisor, host GSO | Linux (veth) | actnet/gVisor | actnet/gVisor, host GSO |",
		"| Bulk into the stack (client → discard) | Gbit/s | 8.00 | 1.00 | 4.00 | 16.0 | 8.00× | 2.00× |",
		"| Bulk into the stack: server CPU per GB moved | CPU s/GB (lower is better) | 1.00 | 4.00 | 2.00 | 0.50 | 0.25× | 0.50× |",
		"| Bulk out of the stack: server CPU per GB moved | CPU s/GB (lower is better) | 1.00 | 4.00 | 2.00 | n/a | 0.25× | 0.50× |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks\n%s\n\ngot:\n%s", want, table)
		}
	}
	if _, err := os.Stat(filepath.Join(b.outDir, "results.png")); err != nil {
		t.Errorf("no chart: %v", err)
	}
}
