package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const sshdPath = "/usr/sbin/sshd"

// sshExample builds examples/ssh once for the test.
func sshExample(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ssh-example")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/actnet/actnet/examples/ssh").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startSSHD runs Debian's openssh-server in n, listening on port 2222 of
// Linux's tap addresses only, with a host key and the authorized key of
// root made for the test in dir. It returns the host key's public file.
func startSSHD(t *testing.T, n *netns, dir, authorized string) (hostPub string) {
	t.Helper()
	hostKey := filepath.Join(dir, "host_key")
	n.mustRun("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey)
	keys := filepath.Join(dir, "authorized_keys")
	pub, err := os.ReadFile(authorized)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keys, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "sshd_config")
	config := strings.Join([]string{
		"Port 2222",
		"ListenAddress " + tapLinux,
		"ListenAddress " + v6Linux,
		"HostKey " + hostKey,
		"PidFile " + filepath.Join(dir, "sshd.pid"),
		"AuthorizedKeysFile " + keys,
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PermitRootLogin prohibit-password",
		"StrictModes no",
		"UsePAM no",
		"",
	}, "\n")
	if err := os.WriteFile(conf, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	// sshd's privilege separation wants its empty folder (Debian's
	// package makes it at boot; a container may not have it).
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	n.mustRun(sshdPath, "-t", "-f", conf) // the configuration is sound
	sshd := n.start(sshdPath, "-D", "-e", "-f", conf)
	// sshd's session processes are its children, not the process start
	// waits for, and they hold its output: kill everything in n first
	// (this cleanup runs before start's).
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "pids", n.name).Output(); err == nil {
			for _, pid := range strings.Fields(string(out)) {
				exec.Command("kill", "-9", pid).Run()
			}
		}
	})
	eventually(t, 10*time.Second, "sshd to listen on both addresses", func() bool {
		select {
		case <-sshd.done:
			t.Fatalf("sshd exited: %v\n%s", sshd.err, sshd.stderr.String())
		default:
		}
		out, err := n.cmd(t.Context(), "ss", "-Hltn", "sport = :2222").Output()
		return err == nil && strings.Contains(string(out), tapLinux+":2222") && strings.Contains(string(out), "["+v6Linux+"]:2222")
	})
	return hostKey + ".pub"
}

// TestTapSSH is issue 11's SSH acceptance: the SSH example, on its own
// stack on a tap, logs in to Debian's sshd in the namespace with a key,
// over IPv4 (host key given as its .pub file) and over IPv6 (through a
// known_hosts file), runs a command and prints its output; with the
// wrong host key it refuses to log in.
func TestTapSSH(t *testing.T) {
	requireNetns(t, "ping", "sysctl", "ss", "ssh-keygen", sshdPath)
	bin := sshExample(t)
	ns := newNetns(t)
	webLink(t, ns)
	dir := t.TempDir()
	userKey := filepath.Join(dir, "user_key")
	ns.mustRun("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", userKey)
	hostPub := startSSHD(t, ns, dir, userKey+".pub")
	hostLine, err := os.ReadFile(hostPub)
	if err != nil {
		t.Fatal(err)
	}
	knownHosts := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownHosts, []byte("["+v6Linux+"]:2222 "+string(hostLine)), 0o600); err != nil {
		t.Fatal(err)
	}

	example := func(t *testing.T, args ...string) (string, error) {
		all := append([]string{"--tap", "tap0", "--ipv4", tapStack + "/24", "--ipv6", webStack6 + "/64",
			"--user", "root", "--key", userKey, "--command", "echo hello-from-sshd; uname -s"}, args...)
		out, err := ns.cmd(t.Context(), bin, all...).CombinedOutput()
		// The example hangs up in order: sshd's session process for it
		// sees the end and exits, leaving only the listening sshd.
		eventually(t, 10*time.Second, "sshd's session process to exit", func() bool {
			pids, _ := exec.Command("ip", "netns", "pids", ns.name).Output()
			return len(strings.Fields(string(pids))) == 1
		})
		return string(out), err
	}
	t.Run("IPv4 with --host-key", func(t *testing.T) {
		out, err := example(t, "--server", tapLinux+":2222", "--host-key", hostPub)
		if err != nil || out != "hello-from-sshd\nLinux\n" {
			t.Errorf("%v, output:\n%s", err, out)
		}
	})
	t.Run("IPv6 with --known-hosts", func(t *testing.T) {
		out, err := example(t, "--server", "["+v6Linux+"]:2222", "--known-hosts", knownHosts)
		if err != nil || out != "hello-from-sshd\nLinux\n" {
			t.Errorf("%v, output:\n%s", err, out)
		}
	})
	t.Run("a wrong host key is refused", func(t *testing.T) {
		out, err := example(t, "--server", tapLinux+":2222", "--host-key", userKey+".pub")
		if err == nil || !strings.Contains(out, "host key mismatch") || strings.Contains(out, "hello-from-sshd") {
			t.Errorf("%v, output:\n%s", err, out)
		}
	})
}
