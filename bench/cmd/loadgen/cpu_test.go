package main

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"syscall"
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

// TestProcTree starts a child that starts a grandchild and checks that
// both count towards this process's tree, its RSS and its CPU time.
func TestProcTree(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 30 & echo $!; wait")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	var grandchild int
	if _, err := fmt.Fscan(out, &grandchild); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(grandchild, syscall.SIGKILL)
	pids, err := procTree(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if pids[0] != os.Getpid() || !slices.Contains(pids, cmd.Process.Pid) || !slices.Contains(pids, grandchild) {
		t.Errorf("procTree(self) = %v; want self (%d), the child %d and the grandchild %d", pids, os.Getpid(), cmd.Process.Pid, grandchild)
	}
	own, err := procField(fmt.Sprintf("/proc/%d/status", os.Getpid()), "VmRSS:")
	if err != nil {
		t.Fatal(err)
	}
	if all, err := rssKiB(os.Getpid()); err != nil || all <= own {
		t.Errorf("rssKiB(self and descendants) = %d, %v; want more than this process's own %d", all, err, own)
	}
	if _, err := procTree(1 << 30); err == nil {
		t.Error("procTree of a process that does not exist succeeded")
	}
}
