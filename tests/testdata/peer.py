#!/usr/bin/env python3
"""A Linux-side TCP and UDP peer for actnet's tap tests. Each job prints one
line starting with "ok" or "fail" and exits 0 only on success. Every socket
operation has a timeout, so a job never hangs. Hosts are names or address
literals of either family (10.77.0.2, 2001:db8:1::ff:fe00:2,
fe80::ff:fe00:2%tap0): getaddrinfo picks the family."""
import hashlib
import os
import socket
import sys
import threading

TIMEOUT = float(os.environ.get("PEER_TIMEOUT", "60"))


def connect(host, port):
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


def recv_all(s):
    chunks = []
    while True:
        b = s.recv(1 << 16)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def echo_once(host, port, size, results, i):
    try:
        data = os.urandom(size)
        s = connect(host, port)
        sender = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
        sender.start()
        got = recv_all(s)
        sender.join(TIMEOUT)
        s.close()
        if hashlib.sha256(got).digest() != hashlib.sha256(data).digest():
            results[i] = "digest differs: sent %d bytes, got %d" % (size, len(got))
        else:
            results[i] = None
    except Exception as e:  # reported, never raised: the job must end
        results[i] = "%s: %s" % (type(e).__name__, e)


def job_echo(host, port, size, parallel="1"):
    size, parallel = int(size), int(parallel)
    results = [False] * parallel
    threads = [threading.Thread(target=echo_once, args=(host, int(port), size, results, i)) for i in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 2)
    failed = [r for r in results if r is not None]
    if failed:
        print("fail %d of %d: %s" % (len(failed), parallel, failed[0]))
        return 1
    print("ok %d echoes of %d bytes, digests equal" % (parallel, size))
    return 0


def job_source(host, port, count, pattern):
    count = int(count)
    s = connect(host, int(port))
    s.sendall(b"%d\n" % count)
    got = recv_all(s)
    s.close()
    pattern = pattern.encode().decode("unicode_escape").encode()
    want = (pattern * (count // len(pattern) + 1))[:count]
    if got != want:
        print("fail: asked %d bytes, got %d (content %s)" % (count, len(got), "equal" if got == want[:len(got)] else "differs"))
        return 1
    print("ok source sent exactly %d bytes" % count)
    return 0


def job_refused(host, port):
    try:
        connect(host, int(port))
    except ConnectionRefusedError:
        print("ok refused")
        return 0
    except Exception as e:
        print("fail: %s: %s" % (type(e).__name__, e))
        return 1
    print("fail: connected")
    return 1


def job_halfclose(host, port):
    # Send, half-close, and still read the whole echo back: the stack must
    # keep its sending direction open after our FIN.
    s = connect(host, int(port))
    data = b"half-close works\n" * 1000
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got = recv_all(s)
    s.close()
    if got != data:
        print("fail: got %d of %d bytes" % (len(got), len(data)))
        return 1
    print("ok half-close")
    return 0


def job_crash(host, crash_port, echo_port):
    # An unrelated echo connection, open across the crash.
    bystander = connect(host, int(echo_port))
    bystander.sendall(b"before\n")
    if bystander.recv(100) != b"before\n":
        print("fail: bystander echo before the crash")
        return 1
    victim = connect(host, int(crash_port))
    victim.sendall(b"hello\n")
    if victim.recv(100) != b"hello\n":
        print("fail: crash app did not echo")
        return 1
    victim.sendall(b"panic\n")
    try:
        b = victim.recv(100)
        print("fail: crash connection not reset, got %r" % b)
        return 1
    except ConnectionResetError:
        pass
    bystander.sendall(b"after\n")
    if bystander.recv(100) != b"after\n":
        print("fail: bystander echo after the crash")
        return 1
    again = connect(host, int(crash_port))
    again.sendall(b"again\n")
    if again.recv(100) != b"again\n":
        print("fail: a new crash-app connection was not served")
        return 1
    for s in (bystander, again):
        s.close()
    print("ok crash contained")
    return 0


def job_sink(host, port, count):
    # Ask the source app for count bytes and time how long they take.
    import time
    count = int(count)
    start = time.monotonic()
    s = connect(host, int(port))
    s.sendall(b"%d\n" % count)
    n = 0
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        n += len(b)
    s.close()
    took = time.monotonic() - start
    if n != count:
        print("fail: got %d of %d bytes" % (n, count))
        return 1
    print("ok %d %.6f" % (n, took))
    return 0


def job_sha(host, port):
    # Read a reply to its end and print its length and SHA-256. A reset
    # fails the job, before the end of the data or after it.
    s = connect(host, int(port))
    h, n = hashlib.sha256(), 0
    try:
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            h.update(b)
            n += len(b)
    except ConnectionResetError:
        print("fail: reset after %d bytes" % n)
        return 1
    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    s.close()
    if err:
        print("fail: socket error %s after EOF" % os.strerror(err))
        return 1
    print("ok %d %s" % (n, h.hexdigest()))
    return 0


def job_flood(host, port, during, after):
    # Runs alongside a SYN flood that starts now and lasts `during`
    # seconds: an established echo connection answers a line every 0.5 s
    # (each within LINE_TIMEOUT), and 10 new connections (connect and echo
    # one line, each within CONN_TIMEOUT) are tried while the flood runs,
    # 10 more once it is over. Prints each phase's successes and the
    # slowest line and connection.
    import time
    LINE_TIMEOUT, CONN_TIMEOUT = 2.0, 5.0
    during, after = float(during), float(after)
    # The established connection is made, and echoes a line, before the
    # flood: it then says "established" and waits for a line on standard
    # input, which the test sends once hping3 runs.
    est = socket.create_connection((host, int(port)), timeout=CONN_TIMEOUT)
    est.settimeout(CONN_TIMEOUT)
    est.sendall(b"before\n")
    got = b""
    while not got.endswith(b"\n"):
        b = est.recv(100)
        if not b:
            raise EOFError("closed before the flood")
        got += b
    est.settimeout(LINE_TIMEOUT)
    print("established", flush=True)
    sys.stdin.readline()
    start = time.monotonic()
    state = {"err": None, "lines": 0, "slowest": 0.0, "stop": False}

    def keep_echoing():
        i = 0
        try:
            while not state["stop"]:
                line = b"line %d\n" % i
                t0 = time.monotonic()
                est.sendall(line)
                got = b""
                while len(got) < len(line):
                    b = est.recv(100)
                    if not b:
                        raise EOFError("closed")
                    got += b
                if got != line:
                    raise ValueError("echo %r for %r" % (got, line))
                state["slowest"] = max(state["slowest"], time.monotonic() - t0)
                state["lines"] += 1
                i += 1
                time.sleep(0.5)
        except Exception as e:
            state["err"] = "line %d: %s: %s" % (i, type(e).__name__, e)

    def attempt(results, i):
        t0 = time.monotonic()
        try:
            s = socket.create_connection((host, int(port)), timeout=CONN_TIMEOUT)
            s.settimeout(max(0.1, CONN_TIMEOUT - (time.monotonic() - t0)))
            s.sendall(b"new %d\n" % i)
            got = b""
            while not got.endswith(b"\n"):
                b = s.recv(100)
                if not b:
                    break
                got += b
            s.close()
            results[i] = (got == b"new %d\n" % i, time.monotonic() - t0)
        except Exception:
            results[i] = (False, time.monotonic() - t0)

    def phase(first, last):
        # 10 attempts spread evenly over [first, last) seconds from start.
        results = [(False, 0.0)] * 10
        threads = []
        for i in range(10):
            wait = start + first + i * (last - first) / 10 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            th = threading.Thread(target=attempt, args=(results, i))
            th.start()
            threads.append(th)
        for th in threads:
            th.join(CONN_TIMEOUT + 1)
        return sum(1 for ok, _ in results if ok), max(d for _, d in results)

    echoer = threading.Thread(target=keep_echoing)
    echoer.start()
    n_during, slow_during = phase(1.0, during - 1.0)
    n_after, slow_after = phase(during + 1.0, during + 1.0 + after)
    state["stop"] = True
    echoer.join(LINE_TIMEOUT + 1)
    est.close()
    verdict = "ok" if state["err"] is None and n_during >= 9 and n_after >= 9 else "fail"
    print("%s during %d/10 (slowest %.2fs) after %d/10 (slowest %.2fs); established: %d lines, slowest %.3fs, error %s"
          % (verdict, n_during, slow_during, n_after, slow_after, state["lines"], state["slowest"], state["err"]))
    return 0 if verdict == "ok" else 1


def job_udpecho(host, port, *sizes):
    # Each size in turn (a size may be FIRST..LAST/STEP, LAST included):
    # one datagram of that many bytes, its echo must come back intact.
    # A lost datagram is sent again, up to 3 times, so only a stack that
    # never answers, or answers wrongly, fails the job.
    want = []
    for spec in sizes:
        if ".." in spec:
            first, rest = spec.split("..")
            last, _, step = rest.partition("/")
            want += list(range(int(first), int(last) + 1, int(step or 1)))
            if want[-1] != int(last):
                want.append(int(last))
        else:
            want.append(int(spec))
    family, kind, proto, _, addr = socket.getaddrinfo(host, int(port), 0, socket.SOCK_DGRAM)[0]
    s = socket.socket(family, kind, proto)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.settimeout(1)
    s.connect(addr)
    resent, earlier = 0, set()
    for i, n in enumerate(want):
        data = bytes((j * 7 + i) & 0xFF for j in range(n))
        for attempt in range(4):
            s.send(data)
            try:
                while True:
                    got = s.recv(70000)
                    if got == data:
                        break
                    if hashlib.sha256(got).digest() not in earlier:
                        print("fail: %d bytes sent, %d different bytes came back" % (n, len(got)))
                        return 1
                    # A late echo of an earlier datagram: read on.
                earlier.add(hashlib.sha256(data).digest())
                break
            except socket.timeout:
                resent += 1
        else:
            print("fail: no echo of %d bytes after 4 tries" % n)
            return 1
    print("ok %d datagrams of %d to %d bytes echoed over %s (%d resent)"
          % (len(want), min(want), max(want), "IPv6" if family == socket.AF_INET6 else "IPv4", resent))
    return 0


JOBS = {"echo": job_echo, "udpecho": job_udpecho, "source": job_source, "refused": job_refused,
        "halfclose": job_halfclose, "crash": job_crash, "sink": job_sink,
        "sha": job_sha, "flood": job_flood}

if __name__ == "__main__":
    sys.exit(JOBS[sys.argv[1]](*sys.argv[2:]))
