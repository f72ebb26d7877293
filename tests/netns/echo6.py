# ICMPv6 echo for the netns tests and bench/bridge/v6_first_reply.sh (iputils may be absent).
# Usage: python3 echo6.py DST [TRIES [WAIT_MS]]   (defaults 3, 200; needs CAP_NET_RAW)
# Sends up to TRIES echo requests, each waiting WAIT_MS for its reply; on the first reply prints
# "<ms> ms <n> tries" and exits 0, else prints "no reply after <n> tries" and exits 1.
import os
import socket
import struct
import sys
import time

dst = sys.argv[1]
tries = int(sys.argv[2]) if len(sys.argv) > 2 else 3
wait = (int(sys.argv[3]) if len(sys.argv) > 3 else 200) / 1000
ident = os.getpid() & 0xFFFF
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
t0 = time.time()
for n in range(1, tries + 1):
    end = time.time() + wait
    try:
        s.sendto(struct.pack("!BBHHH", 128, 0, 0, ident, n) + b"weft", (dst, 0))
    except OSError:  # neighbour unresolved and its queue full: this try is lost
        time.sleep(wait)
        continue
    while (left := end - time.time()) > 0:
        s.settimeout(left)
        try:
            d, _ = s.recvfrom(2048)
        except socket.timeout:
            break
        if d[0] == 129 and struct.unpack("!HH", d[4:8]) == (ident, n):
            print("%.0f ms %d tries" % ((time.time() - t0) * 1000, n))
            sys.exit(0)
print("no reply after %d tries" % tries)
sys.exit(1)
