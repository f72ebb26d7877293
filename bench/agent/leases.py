#!/usr/bin/env python3
"""Writes fake flannel leases through etcd's JSON gateway for bench/agent/run.sh.

  leases.py URL fill N          N leases (10.1.0.0/24 upwards), transactions of 100 puts
  leases.py URL fill6 N         N dual-stack leases (also fd99:0:0:<i+1>::/64, PublicIPv6, BackendV6Data)
  leases.py URL clear           delete the fake leases (prefixes 10.1. .. 10.9.)
  leases.py URL put INDEX       one lease; prints the wall-clock time just before the request
"""
import base64, json, sys, time, urllib.request

PREFIX = "/coreos.com/network/subnets/"
b64 = lambda s: base64.b64encode(s.encode()).decode()

def call(url, path, body):
    req = urllib.request.Request(url + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=5))

def lease(i, v6=False):
    subnet = f"10.{1 + i // 250}.{i % 250}.0"
    mac = "0e:%02x:%02x:%02x:%02x:%02x" % (0xfa, (i >> 16) & 255, (i >> 8) & 255, i & 255, 1)
    attrs = {"PublicIP": f"198.19.{i // 250}.{1 + i % 250}", "PublicIPv6": None, "BackendType": "vxlan",
             "BackendData": {"VNI": 1, "VtepMAC": mac}}
    key = PREFIX + subnet + "-24"
    if v6:
        attrs["PublicIPv6"] = f"fd19::{i + 1:x}"
        attrs["BackendV6Data"] = {"VNI": 1, "VtepMAC": mac[:-2] + "06"}
        key += f"&fd99:0:0:{i + 1:x}::-64"
    return key, json.dumps(attrs, separators=(",", ":"))

def main():
    url, cmd = sys.argv[1], sys.argv[2]
    if cmd in ("fill", "fill6"):
        n = int(sys.argv[3])
        for start in range(0, n, 100):
            ops = [{"request_put": {"key": b64(k), "value": b64(v)}}
                   for k, v in (lease(i, cmd == "fill6") for i in range(start, min(n, start + 100)))]
            call(url, "/v3/kv/txn", {"success": ops})
    elif cmd == "clear":
        for d in range(1, 10):
            p = PREFIX + f"10.{d}."
            end = p[:-1] + chr(ord(p[-1]) + 1)
            call(url, "/v3/kv/deleterange", {"key": b64(p), "range_end": b64(end)})
    elif cmd == "put":
        k, v = lease(int(sys.argv[3]))
        t0 = time.time()
        call(url, "/v3/kv/put", {"key": b64(k), "value": b64(v)})
        print(f"{t0:.6f} {k.rsplit('/', 1)[1].replace('-', '/')}")

main()
