#!/usr/bin/env python3
"""Crafted IPv6 frames for actnet's tap tests, sent and sniffed on a raw
Ethernet (AF_PACKET) socket bound to one interface: the frames are exactly
as written here, with no help (or interference) from Linux's IPv6 stack.

    v6probe.py IFACE DST_MAC DST_IP SRC_IP PROBE

PROBE is one of:
  frags-ok       an echo request in two fragments that do not overlap
  frags-overlap  an echo request in two fragments that overlap by 8 bytes,
                 sent in both orders (RFC 8200 4.5: discard the datagram)
  ns255          a neighbour solicitation for DST_IP with hop limit 255
  ns64           the same with hop limit 64 (RFC 4861 7.1.1: ignore it)

It prints "reply" if DST_IP answered (an echo reply with the probe's
identifier, or a neighbour advertisement for DST_IP to SRC_IP) within the
wait, else "none", and exits 0 either way; a bad argument or a socket
error exits 1. Every wait is bounded.
"""
import ipaddress
import os
import select
import socket
import struct
import sys
import time

ETH_P_IPV6 = 0x86DD
ETH_P_ALL = 0x0003
WAIT = float(os.environ.get("PROBE_WAIT", "2"))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def icmp6(src, dst, typ, code, body):
    """An ICMPv6 message with its checksum over the pseudo-header."""
    msg = struct.pack("!BBH", typ, code, 0) + body
    pseudo = src + dst + struct.pack("!I3xB", len(msg), 58)
    c = checksum(pseudo + msg)
    return msg[:2] + struct.pack("!H", c) + msg[4:]


def ipv6(src, dst, nxt, payload, hop=64):
    return struct.pack("!IHBB", 6 << 28, len(payload), nxt, hop) + src + dst + payload


def frag(src, dst, ident, offset, more, data):
    """One fragment: a fragment header (next header ICMPv6) and data."""
    hdr = struct.pack("!BBHI", 58, 0, (offset & ~7) | (1 if more else 0), ident)
    return ipv6(src, dst, 44, hdr + data)


def mac(text):
    return bytes(int(b, 16) for b in text.split(":"))


def main(iface, dst_mac, dst_ip, src_ip, probe):
    dst_mac = mac(dst_mac)
    src_mac = mac(open("/sys/class/net/%s/address" % iface).read().strip())
    dst = ipaddress.IPv6Address(dst_ip).packed
    src = ipaddress.IPv6Address(src_ip).packed
    eth = dst_mac + src_mac + struct.pack("!H", ETH_P_IPV6)
    ident = os.getpid() & 0xFFFF

    packets = []
    if probe in ("frags-ok", "frags-overlap"):
        data = bytes((i * 7) & 0xFF for i in range(64))
        msg = icmp6(src, dst, 128, 0, struct.pack("!HH", ident, 1) + data)  # 72 bytes
        if probe == "frags-ok":
            packets = [frag(src, dst, ident, 0, True, msg[:48]),
                       frag(src, dst, ident, 48, False, msg[48:])]
        else:
            # Bytes 40 to 47 come twice; each order once, each with its
            # own identification.
            first = lambda i: frag(src, dst, i, 0, True, msg[:48])
            last = lambda i: frag(src, dst, i, 40, False, msg[40:])
            packets = [first(ident << 8), last(ident << 8),
                       last((ident << 8) | 1), first((ident << 8) | 1)]
    elif probe in ("ns255", "ns64"):
        hop = 255 if probe == "ns255" else 64
        # Unicast to the target, as neighbour unreachability detection
        # does, with the sender's link-layer address option.
        body = struct.pack("!I", 0) + dst + struct.pack("!BB", 1, 1) + src_mac
        packets = [ipv6(src, dst, 58, icmp6(src, dst, 135, 0, body), hop=hop)]
    else:
        print("unknown probe %r" % probe)
        return 1

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    for p in packets:
        s.send(eth + p)

    deadline = time.monotonic() + WAIT
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            print("none")
            return 0
        r, _, _ = select.select([s], [], [], left)
        if not r:
            continue
        frame, addr = s.recvfrom(65535)
        if addr[2] == socket.PACKET_OUTGOING or len(frame) < 14 + 40 + 8:
            continue
        if struct.unpack("!H", frame[12:14])[0] != ETH_P_IPV6:
            continue
        ip = frame[14:]
        if ip[6] != 58 or ip[8:24] != dst or ip[24:40] != src:
            continue
        typ = ip[40]
        if typ == 129 and probe.startswith("frags") and struct.unpack("!H", ip[44:46])[0] == ident:
            print("reply")
            return 0
        if typ == 136 and probe.startswith("ns") and ip[48:64] == dst:
            print("reply")
            return 0


if __name__ == "__main__":
    if len(sys.argv) != 6:
        print(__doc__)
        sys.exit(1)
    sys.exit(main(*sys.argv[1:]))
