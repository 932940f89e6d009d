#!/usr/bin/env bash
# make demo, as root: a network namespace with a tap device, actnet serving
# on it, and Linux (inside the same namespace) reaching it. Everything lives
# in the namespace, which is deleted on exit.
set -euo pipefail
bin=${1:-bin/actnet}
ns=actnet-demo-$$
stack=10.0.0.2
linux=10.0.0.1
mac=02:00:00:00:00:02
stack6=fe80::ff:fe00:2 # the link-local address EUI-64 forms from $mac
v6ok=

cleanup() {
  [ -n "${pid:-}" ] && kill -INT "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT

for tool in ip ping; do
  command -v "$tool" >/dev/null || { echo "demo needs '$tool' (apt-get install iproute2 iputils-ping)"; exit 1; }
done

echo "== namespace $ns: tap0 with Linux at $linux/24, actnet at $stack/24"
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" tuntap add tap0 mode tap
ip -n "$ns" addr add "$linux/24" dev tap0
# Linux's link-local address on the tap is usable at once (no DAD wait).
ip netns exec "$ns" sysctl -qw net.ipv6.conf.tap0.accept_dad=0
ip -n "$ns" link set tap0 up

echo "== actnet serve --tap tap0 --ipv4 $stack/24 --mac $mac (IPv6: auto, the default)"
ip netns exec "$ns" "$bin" serve --tap tap0 --ipv4 "$stack/24" --mac "$mac" --app echo:9000 --log-level info &
pid=$!

for _ in $(seq 50); do
  ip netns exec "$ns" ping -c1 -W1 "$stack" >/dev/null 2>&1 && break
  sleep 0.1
done

echo "== Linux pings actnet"
ip netns exec "$ns" ping -c 5 -i 0.2 "$stack"
if command -v nc >/dev/null; then
  echo "== Linux talks to actnet's echo app (one supervised actor per connection)"
  printf 'hello from Linux\nactnet echoes every line\n' | ip netns exec "$ns" nc -N -w 3 "$stack" 9000
else
  echo "(install netcat-openbsd to see the echo app answer)"
fi
echo "== Linux pings actnet's IPv6 link-local address $stack6 (after its duplicate address detection)"
for _ in $(seq 20); do
  ip netns exec "$ns" ping -6 -c1 -W1 "$stack6%tap0" >/dev/null 2>&1 && { v6ok=1; break; }
  sleep 0.1
done
if [ -n "$v6ok" ]; then
  ip netns exec "$ns" ping -6 -c 5 -i 0.2 "$stack6%tap0" || v6ok=
fi
[ -n "$v6ok" ] || echo "!! actnet's IPv6 link-local address did not answer ping -6"
echo "== Linux's neighbour table (learned from actnet's ARP and neighbour discovery)"
ip -n "$ns" neigh show dev tap0

echo "== stopping actnet (SIGINT); its counters:"
kill -INT "$pid"
wait "$pid"
pid=
if [ -z "$v6ok" ]; then
  echo "demo: IPv6 ping -6 $stack6%tap0 FAILED"
  exit 1
fi
