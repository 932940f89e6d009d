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

// TestScheduleAndTable checks which runs each round makes (actnet with
// offloads off on the IPv4 bulk loads only, the idle load in the first
// round only) and that the table says so, leaving the cells of the runs
// not made n/a.
func TestScheduleAndTable(t *testing.T) {
	b := &bench{outDir: t.TempDir(), binDir: t.TempDir(), runs: map[string]map[string][]run1{},
		loads: report.Loads, actnetRev: "test", roundsDone: 3, conns: 100000}
	for _, name := range []string{"actnet", "actnet-off", "gvisor"} {
		for _, k := range stackKinds {
			if k.short == name {
				b.stacks = append(b.stacks, k)
			}
		}
	}
	count := map[string]int{} // stack and load → runs
	for round := 1; round <= 3; round++ {
		for _, load := range b.loads {
			for _, k := range b.stacks {
				if !scheduled(k, load, round) {
					continue
				}
				count[k.short+" "+load]++
				r := report.Result{Bytes: 3e9, Seconds: 3, Gbps: 8, ServerCPUSeconds: 3, PerSecond: 1000, P50Micros: 50, P99Micros: 90}
				if load == report.Idle {
					r = report.Result{Conns: 100000, KiBPerConn: 6}
				}
				b.add(k.short, load, round, r)
			}
		}
	}
	for key, want := range map[string]int{
		"actnet bulk-in": 3, "actnet rr6": 3, "actnet idle": 1, "gvisor idle": 1, "gvisor crr": 3,
		"actnet-off bulk-in": 3, "actnet-off bulk-out": 3, "actnet-off bulk-in6": 0, "actnet-off bulk-out6": 0,
		"actnet-off rr": 0, "actnet-off crr": 0, "actnet-off idle": 0,
	} {
		if count[key] != want {
			t.Errorf("%s: %d runs in 3 rounds, want %d", key, count[key], want)
		}
	}

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
		"Medians of 3 alternating rounds",
		"idle: one run, in the first round, of 100000 connections",
		"actnet, offloads off runs only bulk-in and bulk-out",
		"| Bulk into the stack (client → discard) | Gbit/s | 8.00 ±0% | 8.00 ±0% | 8.00 ±0% | 1.00× |",
		"| Bulk into the stack over IPv6 | Gbit/s | 8.00 ±0% | n/a | 8.00 ±0% | 1.00× |",
		"| Request/response, 1 byte, one connection | transactions/s | 1000 ±0% | n/a | 1000 ±0% | 1.00× |",
		"| Idle connections: server memory each | KiB/connection (lower is better) | 6.00 | n/a | 6.00 | 1.00× |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks\n%s\n\ngot:\n%s", want, table)
		}
	}
}
