package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// nsPrefix starts the name of every namespace the runner creates; the
// runner's PID follows, so concurrent runs never collide and a later run
// can tell leftovers of a dead run from namespaces of a live one.
const nsPrefix = "actnet-bench-"

// world tracks every namespace and process the runner made, so cleanup
// can remove them all on any exit path: normal return, error, or signal.
type world struct {
	mu    sync.Mutex
	n     int
	nss   []string
	procs map[*proc]bool
}

func newWorld() *world { return &world{procs: map[*proc]bool{}} }

// newNS creates a fresh namespace with loopback up.
func (w *world) newNS() (string, error) {
	w.mu.Lock()
	w.n++
	name := fmt.Sprintf("%s%d-%d", nsPrefix, os.Getpid(), w.n)
	w.mu.Unlock()
	if err := run("ip", "netns", "add", name); err != nil {
		return "", err
	}
	w.mu.Lock()
	w.nss = append(w.nss, name)
	w.mu.Unlock()
	return name, run("ip", "-n", name, "link", "set", "lo", "up")
}

// proc is a long-lived process the runner started (a server).
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

// exited reports whether the process has ended, and how.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// start starts a long-lived command and remembers it. The kernel kills
// it if the runner dies (Pdeathsig), which covers even SIGKILL.
func (w *world) start(cmd *exec.Cmd) (*proc, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	w.mu.Lock()
	w.procs[p] = true
	w.mu.Unlock()
	return p, nil
}

// stop asks a server to exit with SIGINT (actnet then prints its
// counters), and kills it if it has not within grace.
func (w *world) stop(p *proc, grace time.Duration) error {
	w.mu.Lock()
	delete(w.procs, p)
	w.mu.Unlock()
	if done, err := p.exited(); done {
		return fmt.Errorf("had already exited: %v", err)
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("did not exit within %v of SIGINT; killed", grace)
	}
}

// teardown stops the server and deletes every namespace made for it.
func (w *world) teardown(p *proc) error {
	var err error
	if p != nil {
		err = w.stop(p, 5*time.Second)
	}
	w.mu.Lock()
	nss := w.nss
	w.nss = nil
	w.mu.Unlock()
	for _, name := range nss {
		killAllIn(name)
		if derr := run("ip", "netns", "del", name); derr != nil {
			fmt.Fprintf(os.Stderr, "benchrun: %v\n", derr)
		}
	}
	return err
}

// cleanup kills every remaining process and deletes every remaining
// namespace. It is safe to call more than once.
func (w *world) cleanup() {
	w.mu.Lock()
	procs := w.procs
	w.procs = map[*proc]bool{}
	nss := w.nss
	w.nss = nil
	w.mu.Unlock()
	for p := range procs {
		p.cmd.Process.Kill()
	}
	for _, name := range nss {
		killAllIn(name)
		run("ip", "netns", "del", name)
	}
}

// killAllIn kills any process still inside the namespace (a load
// generator the runner gave up on, say), so that deleting the namespace
// really frees it.
func killAllIn(name string) {
	out, err := exec.Command("ip", "netns", "pids", name).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// removeStale deletes namespaces left by runs whose process is gone (a
// run killed with SIGKILL cannot clean up after itself). Namespaces of
// live runs are left alone.
func removeStale() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasPrefix(fields[0], nsPrefix) {
			continue
		}
		pidText, _, _ := strings.Cut(strings.TrimPrefix(fields[0], nsPrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			fmt.Fprintf(os.Stderr, "benchrun: deleting %s, left by a run that is gone\n", fields[0])
			killAllIn(fields[0])
			run("ip", "netns", "del", fields[0])
		}
	}
}

// run runs a short set-up command, with its output in the error.
func run(name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// runAll runs set-up commands in order, stopping at the first error.
func runAll(cmds ...[]string) error {
	for _, c := range cmds {
		if err := run(c[0], c[1:]...); err != nil {
			return err
		}
	}
	return nil
}
