#!/usr/bin/env python3
"""A Linux-side TCP peer for actnet's tap tests. Each job prints one line
starting with "ok" or "fail" and exits 0 only on success. Every socket
operation has a timeout, so a job never hangs."""
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


JOBS = {"echo": job_echo, "source": job_source, "refused": job_refused,
        "halfclose": job_halfclose, "crash": job_crash, "sink": job_sink,
        "sha": job_sha}

if __name__ == "__main__":
    sys.exit(JOBS[sys.argv[1]](*sys.argv[2:]))
