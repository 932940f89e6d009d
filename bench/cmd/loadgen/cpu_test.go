package main

import (
	"os"
	"testing"
)

func TestStatCPUSeconds(t *testing.T) {
	// A command name with spaces and a parenthesis, then the fields of
	// proc(5); utime (14) is 250 ticks and stime (15) 125.
	stat := []byte("4242 (gvisor (x) srv) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 125 0 0 20 0 9 0 100 1000000 500 18446744073709551615\n")
	got, err := statCPUSeconds(stat)
	if err != nil || got != 3.75 {
		t.Errorf("statCPUSeconds = %v, %v; want 3.75 s", got, err)
	}
	for _, bad := range []string{"", "4242 gvisor S 1", "4242 (x) S 1 2 3", "4242 (x) S 1 4242 4242 0 -1 4194560 1200 0 0 0 2x0 125 0"} {
		if _, err := statCPUSeconds([]byte(bad)); err == nil {
			t.Errorf("statCPUSeconds(%q) succeeded", bad)
		}
	}
	// The process's own file parses.
	if _, err := procCPUSeconds(os.Getpid()); err != nil {
		t.Errorf("own /proc/PID/stat: %v", err)
	}
}
