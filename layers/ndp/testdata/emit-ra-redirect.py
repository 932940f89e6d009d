import socket, struct, sys
# Emit a router advertisement with prefix, MTU, route info, RDNSS, and a redirect, from the
# link-local address of veth-b to ff02::1. Kernel fills ICMPv6 checksum.
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
ifidx = socket.if_nametoindex(sys.argv[1])
mac = bytes.fromhex(sys.argv[2].replace(':',''))
def opt(t, body):
    l = len(body)+2
    assert l % 8 == 0
    return bytes([t, l//8]) + body
ra = struct.pack('!BBHBBHII', 134, 0, 0, 64, 0x80|0x40|0x08, 1800, 30000, 1000)
ra += opt(1, mac)
ra += opt(5, b'\0\0' + struct.pack('!I', 1400))
ra += opt(3, struct.pack('!BBIII', 64, 0xc0, 86400, 14400, 0) + socket.inet_pton(socket.AF_INET6, '2001:db8:1::'))
ra += opt(24, struct.pack('!BBI', 48, 0x18, 3600) + socket.inet_pton(socket.AF_INET6, '2001:db8:99::')[:8])
ra += opt(25, b'\0\0' + struct.pack('!I', 600) + socket.inet_pton(socket.AF_INET6, '2001:db8:1::53'))
s.sendto(ra, ('ff02::1', 0, 0, ifidx))
# a low-preference RA with lifetime 0 (withdrawal)
ra2 = struct.pack('!BBHBBHII', 134, 0, 0, 0, 0x18, 0, 0, 0) + opt(1, mac)
s.sendto(ra2, ('ff02::1', 0, 0, ifidx))
# redirect to peer: target fe80::1234, destination 2001:db8:2::1
rd = struct.pack('!BBHI', 137, 0, 0, 0) + socket.inet_pton(socket.AF_INET6, 'fe80::1234') + socket.inet_pton(socket.AF_INET6, '2001:db8:2::1')
rd += opt(2, bytes.fromhex('020000001234'))
hdr = bytes.fromhex('6000000000083a40') + socket.inet_pton(socket.AF_INET6, sys.argv[3]) + socket.inet_pton(socket.AF_INET6, '2001:db8:2::1') + b'\x80\0\0\0\0\0\0\0'
rd += opt(4, b'\0'*6 + hdr)
s.sendto(rd, (sys.argv[3], 0, 0, ifidx))
