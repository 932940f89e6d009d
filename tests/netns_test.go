package tests

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/actnet/actnet/internal/syncbuf"
)

// requireNetns skips the test unless it can make network namespaces: it
// needs root and the ip command.
func requireNetns(t testing.TB, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace and a tap")
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (apt-get install it; .ci/run does)", tool)
		}
	}
}

// netns is a network namespace the test made; it is deleted, with every
// interface in it, when the test ends. Nothing the test does reaches
// outside it.
type netns struct {
	t    testing.TB
	name string
}

func newNetns(t testing.TB) *netns {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	n := &netns{t: t, name: "actnet-t-" + hex.EncodeToString(b[:])}
	if out, err := exec.Command("ip", "netns", "add", n.name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() {
		// Kill whatever still runs inside, then delete the namespace.
		exec.Command("ip", "netns", "pids", n.name).Output()
		if out, err := exec.Command("ip", "netns", "pids", n.name).Output(); err == nil {
			for _, pid := range strings.Fields(string(out)) {
				exec.Command("kill", "-9", pid).Run()
			}
		}
		if out, err := exec.Command("ip", "netns", "del", n.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", n.name, err, out)
		}
	})
	n.mustRun("ip", "link", "set", "lo", "up")
	return n
}

// cmd prepares a command to run inside the namespace.
func (n *netns) cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.name, name}, args...)...)
}

// mustRun runs a command inside the namespace and returns its output.
func (n *netns) mustRun(name string, args ...string) string {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := n.cmd(ctx, name, args...).CombinedOutput()
	if err != nil {
		n.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// builtBinary is a program of this module built once per test run.
type builtBinary struct {
	pkg, name string
	once      sync.Once
	path      string
	err       error
}

// get builds the program the first time it is asked for and returns it.
func (bb *builtBinary) get(t testing.TB) string {
	t.Helper()
	bb.once.Do(func() {
		dir, err := os.MkdirTemp("", "actnet-"+bb.name+"-")
		if err != nil {
			bb.err = err
			return
		}
		bb.path = filepath.Join(dir, bb.name)
		if out, err := exec.Command("go", "build", "-o", bb.path, bb.pkg).CombinedOutput(); err != nil {
			bb.err = fmt.Errorf("go build %s: %v\n%s", bb.pkg, err, out)
		}
	})
	if bb.err != nil {
		t.Fatal(bb.err)
	}
	return bb.path
}

var actnetBin = builtBinary{pkg: "github.com/actnet/actnet/cmd/actnet", name: "actnet"}

// actnetBinary builds cmd/actnet once per test run.
func actnetBinary(t testing.TB) string { return actnetBin.get(t) }

// process is a program running in the background inside a namespace.
type process struct {
	name           string // the program, for messages
	cmd            *exec.Cmd
	stdout, stderr *syncbuf.Buffer
	done           chan struct{}
	err            error
}

// start runs name inside the namespace until it exits or the test ends.
func (n *netns) start(name string, args ...string) *process {
	n.t.Helper()
	p := &process{name: filepath.Base(name), stdout: new(syncbuf.Buffer), stderr: new(syncbuf.Buffer), done: make(chan struct{})}
	if v := os.Getenv("ACTNET_OFFLOAD"); v != "" && len(args) > 0 && args[0] == "serve" {
		// The tap suite runs with offloads on (the default) and again
		// with ACTNET_OFFLOAD=off (.ci/run); a test's own --offload,
		// later on the line, still wins.
		args = append([]string{"serve", "--offload", v}, args[1:]...)
	}
	p.cmd = n.cmd(context.Background(), name, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		n.t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	n.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// failIfExited fails the test if the process has exited: a helper waiting for
// something of a stack it started calls it on each try, so a stack that
// died fails at once with its log instead of at the wait's bound.
func (p *process) failIfExited(t testing.TB) {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("%s exited early: %v\n%s", p.name, p.err, p.stderr.String())
	default:
	}
}

// signal sends sig and waits for the process to exit, returning its exit
// code.
func (p *process) stop(t testing.TB, sig syscall.Signal, within time.Duration) int {
	t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(within):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("process did not exit within %v of %v\nstderr:\n%s", within, sig, p.stderr.String())
	}
	return p.cmd.ProcessState.ExitCode()
}
