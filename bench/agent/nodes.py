#!/usr/bin/env python3
"""Writes fake flannel Nodes through a kube-apiserver for bench/agent/kube.sh (admin token, TLS
verified against the test CA). Each Node carries spec.podCIDR and the four annotations flanneld
writes (backend-type, backend-data, public-ip, kube-subnet-manager), as a running flanneld leaves it;
fill-dual adds what a dual-stack flanneld writes (backend-v6-data, public-ipv6, a v6 podCIDR).

  nodes.py URL TOKEN CA fill N      Nodes wkb-peer-0 .. N-1 (podCIDR 10.1.0.0/24 upwards), 8 in parallel
  nodes.py URL TOKEN CA fill-dual N the same, dual stack (second podCIDR fd10:1::/64 upwards)
  nodes.py URL TOKEN CA mac INDEX K  a new VtepMAC (generation K) on wkb-peer-INDEX; prints the
                                     wall-clock time just before the PATCH and the new MAC
"""
import http.client, json, ssl, sys, time, threading, urllib.parse
from concurrent.futures import ThreadPoolExecutor

P = "flannel.alpha.coreos.com/"

def mac(i, gen=0):
    return "0e:%02x:%02x:%02x:%02x:%02x" % (0xfb, gen & 255, (i >> 8) & 255, i & 255, 1)

def node(i, dual=False):
    n = node4(i)
    if dual:
        n["metadata"]["annotations"].update({
            P + "backend-v6-data": json.dumps({"VNI": 1, "VtepMAC": mac(i, 0x60)}, separators=(",", ":")),
            P + "public-ipv6": f"fd19::{i + 1:x}"})
        n["spec"]["podCIDRs"].append(f"fd10:{1 + i // 250:x}:{i % 250:x}::/64")
    return n

def node4(i):
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": f"wkb-peer-{i}", "annotations": {
                P + "backend-type": "vxlan",
                P + "backend-data": json.dumps({"VNI": 1, "VtepMAC": mac(i)}, separators=(",", ":")),
                P + "public-ip": f"198.19.{i // 250}.{1 + i % 250}",
                P + "kube-subnet-manager": "true"}},
            "spec": {"podCIDR": f"10.{1 + i // 250}.{i % 250}.0/24", "podCIDRs": [f"10.{1 + i // 250}.{i % 250}.0/24"]}}

class Client(threading.local):
    def __init__(self, url, token, ca):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.token = u.hostname, u.port, token
        self.ctx = ssl.create_default_context(cafile=ca)
        self.conn = None
    def connect(self):
        if self.conn is None:
            self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=30)
            self.conn.connect()
    def call(self, method, path, body, ctype="application/json"):
        self.connect()
        self.conn.request(method, path, json.dumps(body), {"Authorization": "Bearer " + self.token, "Content-Type": ctype})
        r = self.conn.getresponse(); data = r.read()
        if r.status >= 300:
            raise SystemExit(f"{method} {path}: {r.status} {data[:300]!r}")

def main():
    url, token, ca, cmd = sys.argv[1:5]
    c = Client(url, token, ca)
    if cmd in ("fill", "fill-dual"):
        n = int(sys.argv[5])
        with ThreadPoolExecutor(8) as ex:
            list(ex.map(lambda i: c.call("POST", "/api/v1/nodes", node(i, cmd == "fill-dual")), range(n)))
    elif cmd == "mac":
        i, gen = int(sys.argv[5]), int(sys.argv[6])
        m = mac(i, gen)
        body = {"metadata": {"annotations": {P + "backend-data": json.dumps({"VNI": 1, "VtepMAC": m}, separators=(",", ":"))}}}
        c.connect()  # TLS handshake before the clock starts, as weftd's watch is an open connection
        t0 = time.time()
        c.call("PATCH", f"/api/v1/nodes/wkb-peer-{i}", body, "application/strategic-merge-patch+json")
        print(f"{t0:.6f} {m}")
    else:
        raise SystemExit("usage: see the file's docstring")

main()
