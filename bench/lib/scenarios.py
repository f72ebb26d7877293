"""The measurements of bench/run. This module runs inside the throw-away "node" network namespace
(bench/run re-executes itself under `ip netns exec`), so bridges, veths and iptables rules land
there and the per-call cost is one plain spawn; pod namespaces were created by the outer process.

Every comparison is a group: for each run i the reference and weft execute the same scenario
back to back, the order swapping every run, so a ratio ref[i]/weft[i] sees the same machine state
and the drift of a noisy machine cancels. With cfg["rel_bin"] (bench/run --release) a third side,
"rel", runs the released static plugins in the same rounds, the order rotating every run. A side
that is missing (plugin not built, not in the release, no reference flannel) or fails keeps its
reason as the cell text and the other sides are still measured.
"""

import concurrent.futures
import json
import os
import socket
import subprocess
import time

import spawn
from spawn import Call, CallError, cni, sh

SIDES = ("ref", "weft")  # always measured; "rel" (the release plugins) joins with --release
SIDES_ALL = SIDES + ("rel",)  # a side's index picks its own subnets
# portmap's mappings in the portmap rows (PM_TCP_UDP) and the pod chains (PM_TCP), for their floors
PM_TCP_UDP = [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
              {"hostPort": 8053, "containerPort": 53, "protocol": "udp"}]
PM_TCP = [{"hostPort": 30000, "containerPort": 80, "protocol": "tcp"}]


def _read_int(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return -1


def _ct_walk():
    """One ctnetlink dump of the namespace's IPv4 conntrack table, timed in this process: what any
    flush of stale UDP entries by port costs the kernel (it walks every bucket of the host-wide
    hash table, whatever the namespace holds). Returns a Call (CPU: this thread's time)."""
    import struct
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
    try:
        c0, t0 = time.thread_time(), time.perf_counter()
        # nlmsghdr: IPCTNL_MSG_CT_GET of the ctnetlink subsystem, REQUEST|DUMP; nfgenmsg AF_INET
        s.send(struct.pack("=IHHII", 20, 0x101, 0x301, 1, 0) + struct.pack("=BBH", 2, 0, 0))
        for _ in range(1 << 20):
            b = s.recv(1 << 16)
            if not b or any(struct.unpack_from("=IH", b, o)[1] in (2, 3) for o in _nl_offsets(b)):
                break  # NLMSG_ERROR or NLMSG_DONE
        return Call((time.perf_counter() - t0) * 1000, (time.thread_time() - c0) * 1000, 0, b"")
    finally:
        s.close()


def _nl_offsets(b):
    import struct
    o = 0
    while o + 16 <= len(b):
        yield o
        o += max(16, (struct.unpack_from("=I", b, o)[0] + 3) & ~3)


def _agg(calls, wall=None):
    """One Call for several processes: summed wall (or the given phase wall), summed CPU, max RSS."""
    return Call(wall if wall is not None else sum(c.wall for c in calls), sum(c.cpu for c in calls),
                max(c.rss for c in calls), calls[-1].out)


class Bench:
    def __init__(self, cfg):
        self.cfg = cfg
        self.tmp = cfg["tmp"]
        self.pods = cfg["pods_ns"]
        self.groups = []
        self.seq = 0
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(cfg["pods"]) + 2)
        self.log = cfg.get("log", print)
        self.sides = SIDES + (("rel",) if cfg.get("rel_bin") else ())

    # ---- plumbing -------------------------------------------------------------------------------
    def bin(self, side, plugin):
        """Path of a side's plugin, or None when it is not there."""
        if side == "ref":
            p = self.cfg["ref_flannel"] if plugin == "flannel" else os.path.join(self.cfg["ref_bin"], plugin)
        else:
            p = os.path.join(self.cfg["rel_bin" if side == "rel" else "weft_bin"], plugin)
        return p if p and os.access(p, os.X_OK) else None

    def missing(self, side, plugins):
        """Reason text when one of plugins is not available on side, else None."""
        for p in plugins:
            if not self.bin(side, p):
                if side == "ref" and p == "flannel":
                    return "no reference flannel (--ref-flannel)"
                return {"weft": "not built", "rel": "not in the release"}.get(side, "missing %s" % p)
        return None

    def pod(self, side, i):
        """Pod namespace i of a side (i = -1: the side's spare one). Each side has its own pods,
        so state left behind by one side's failed call cannot break the other side."""
        per = (len(self.pods) - 2) // len(self.sides)
        return self.pods[self.sides.index(side) * per + (per - 1 if i < 0 else i)]

    def cid(self, tag):
        self.seq += 1
        return "bench-%s-%d" % (tag, self.seq)

    def compare(self, gid, section, title, fns, runs, floor=None, x=None, series=None, warmup=True,
                record_first=False, metrics=("ADD", "DEL", "ADD+DEL")):
        """Runs fns["ref"]/fns["weft"] (callables returning {metric: Call}, or a reason string)
        alternately `runs` times and records the group."""
        floor = dict(floor or {})
        if "ADD" in floor and "DEL" in floor and "ADD+DEL" in metrics:
            floor.setdefault("ADD+DEL", floor["ADD"] + floor["DEL"])
        g = {"id": gid, "section": section, "title": title, "runs": runs, "floor": floor,
             "x": x, "series": series, "sides": {}, "first": {}, "metrics": list(metrics)}
        live = {}
        for side in self.sides:
            fn = fns.get(side)
            if isinstance(fn, str) or fn is None:
                g["sides"][side] = fn or "n/a"
            else:
                live[side] = fn
                g["sides"][side] = {}
        t_start = time.perf_counter()
        if warmup:
            for side in list(live):
                try:
                    res = live[side]()
                    if record_first:
                        g["first"][side] = {m: c.wall for m, c in res.items()}
                except CallError as e:
                    g["sides"][side] = "failed: %s" % e
                    del live[side]
        for i in range(runs):
            k = i % len(self.sides)
            order = self.sides[k:] + self.sides[:k]
            for side in order:
                if side not in live:
                    continue
                try:
                    res = live[side]()
                except CallError as e:
                    g["sides"][side] = "failed: %s" % e
                    del live[side]
                    continue
                for m, c in res.items():
                    d = g["sides"][side].setdefault(m, {"wall": [], "cpu": [], "rss": []})
                    d["wall"].append(c.wall)
                    d["cpu"].append(c.cpu)
                    d["rss"].append(c.rss)
        g["seconds"] = time.perf_counter() - t_start
        self.groups.append(g)
        cells = []
        for side in self.sides:
            s = g["sides"][side]
            cells.append("%s=%s" % (side, s[:80] if isinstance(s, str) else "ok"))
        self.log("  %-46s %5.1fs  %s" % (title, g["seconds"], " ".join(cells)))
        return g

    def floor_group(self, gid, title, fn, runs, x=None):
        """A kernel/tool floor: one side only, stored under 'floor'."""
        g = {"id": gid, "section": "floor", "title": title, "runs": runs, "x": x, "sides": {"floor": {}}}
        t_start = time.perf_counter()
        fn()  # warm-up
        for _ in range(runs):
            for m, c in fn().items():
                d = g["sides"]["floor"].setdefault(m, {"wall": [], "cpu": [], "rss": []})
                d["wall"].append(c.wall)
                d["cpu"].append(c.cpu)
                d["rss"].append(c.rss)
        g["seconds"] = time.perf_counter() - t_start
        self.groups.append(g)
        self.log("  %-46s %5.1fs" % (title, g["seconds"]))
        return g

    # ---- floors ---------------------------------------------------------------------------------
    def floors(self, runs, tag=""):
        self.floor_group("floor-spawn", "spawn /bin/true (harness + exec)",
                         lambda: {"run": sh("/bin/true")}, runs)
        self.floor_group("floor-start", "process start: an empty main(), static / dynamic (libc only)",
                         lambda: {"static": sh(spawn.NOP["static"]), "dynamic": sh(spawn.NOP["dynamic"])}, runs)
        pod = self.pods[-1]

        def veth():
            a = sh("ip", "link", "add", "wbfloor0", "type", "veth", "peer", "name", "eth0", "netns", pod)
            d = sh("ip", "link", "del", "wbfloor0")
            return {"veth add": a, "veth del": d}
        self.floor_group("floor-veth", "ip link add/del veth pair (peer in pod netns)", veth, runs)
        self.bridge_floor("floor-bridge", "bridge-floor: bridge + host-local's changes, in one process",
                          runs, ["--bridge", "wbflbr", "--setup", "--addr", "10.219.0.2/16", "--gw", "10.219.0.1"])
        self.fw_floor(runs, 0)
        self.portmap_floor("floor-pm-0", "portmap-floor: portmap's tcp+udp batch, in one process", runs, PM_TCP_UDP, 0)
        self.portmap_floor("floor-pm-tcp", "portmap-floor: portmap's TCP-only batch, in one process", runs, PM_TCP)

    def portmap_floor(self, gid, title, runs, mappings, x=None):
        """The nf_tables batches of one portmap ADD and DEL (snat, `mappings`) made by
        bench/portmap/floor.cpp in one process with the fw layer's own planner and writer, timed
        inside it: ADD with route_localnet, DEL with the handle dump nf_tables deletes need, both with
        the conntrack walk for a UDP mapping (when the namespace has entries), both with the socket's
        close. No process start in the figure (see portmap_floor_keys)."""
        exe = os.path.join(os.path.dirname(self.cfg.get("floor_bin") or ""), "portmap-floor")
        if not os.access(exe, os.X_OK):
            self.log("  %-46s not built (%s)" % (title, exe))
            return
        conf = json.dumps({"cniVersion": "1.0.0", "name": "bench-pmfloor", "type": "portmap",
                           "runtimeConfig": {"portMappings": mappings}, "prevResult": self.portmap_prev()}).encode()

        def fn():
            c = sh(exe, "--id", "bench-pmfloor", "--localnet", self.LIVE_BRIDGE, stdin=conf)
            aw, ac, dw, dc = (int(v) / 1000.0 for v in c.out.split())
            return {"fw add": Call(aw, ac, c.rss, b""), "fw del": Call(dw, dc, c.rss, b"")}
        self.floor_group(gid, title, fn, runs, x=x)

    def portmap_floor_keys(self, gid, op, fallback):
        """Floor keys of one portmap op: the harness's batch plus one static process start
        (portmap's exec); the `fallback` keys (an iptables-restore commit) when the harness is missing."""
        if any(g["id"] == gid for g in self.groups):
            return ["%s/fw %s" % (gid, op), "floor-start/static"]
        return fallback

    def bridge_floor(self, gid, title, runs, args):
        """The kernel changes of one bridge + host-local ADD and DEL made by bench/bridge/floor.cpp in
        one process, timed inside it (no process start in the figure; see bridge_floor_keys)."""
        exe = self.cfg.get("floor_bin")
        if not exe or not os.access(exe, os.X_OK):
            self.log("  %-46s not built (%s)" % (title, exe))
            return
        argv = [exe, "--netns", "/run/netns/" + self.pods[-1], "--datadir", os.path.join(self.tmp, gid)] + args

        def fn():
            c = sh(*argv)
            aw, ac, dw, dc = (int(x) / 1000.0 for x in c.out.split())
            return {"bridge add": Call(aw, ac, c.rss, b""), "bridge del": Call(dw, dc, c.rss, b"")}
        self.floor_group(gid, title, fn, runs)

    def bridge_floor_keys(self, gid, op, starts=2):
        """Floor keys of a bridge + host-local op: the harness's changes plus `starts` static
        process starts (bridge's and host-local's exec); the veth floor when the harness is missing."""
        if any(g["id"] == gid for g in self.groups):
            return ["%s/bridge %s" % (gid, op)] + ["floor-start/static"] * starts
        return ["floor-live-veth/veth %s" % op if "live" in gid else "floor-veth/veth %s" % op]

    def fw_floor(self, runs, nrules):
        add = (b"*nat\n:WB-FLOOR - [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL -j WB-FLOOR\n"
               + b"".join(b"-A WB-FLOOR -p tcp -m tcp --dport %d -j DNAT --to-destination 10.99.0.2:80\n"
                          % (8000 + k) for k in range(4)) + b"COMMIT\n")
        rm = (b"*nat\n-D PREROUTING -m addrtype --dst-type LOCAL -j WB-FLOOR\n-F WB-FLOOR\n-X WB-FLOOR\n"
              b"COMMIT\n")

        def fw():
            a = sh("iptables-restore", "--noflush", "-w", "5", stdin=add)
            d = sh("iptables-restore", "--noflush", "-w", "5", stdin=rm)
            return {"fw add": a, "fw del": d}
        self.floor_group("floor-fw-%d" % nrules,
                         "iptables-restore: add / delete a 4-rule chain (%d rules)" % nrules, fw, runs,
                         x=nrules)

    # ---- single plugins -------------------------------------------------------------------------
    def version(self, runs):
        for p in ("host-local", "bridge", "portmap", "flannel"):
            fns = {}
            for side in self.sides:
                path = self.bin(side, p)
                fns[side] = (lambda path=path: {"VERSION": cni(path, "VERSION", b'{"cniVersion":"1.0.0"}')}) \
                    if path else self.missing(side, [p])
            self.compare("version-" + p, "start", "%s VERSION" % p, fns, runs,
                         floor={"VERSION": ["floor-spawn/run"]}, metrics=["VERSION"])

    def hl_conf(self, side, datadir, subnet):
        return json.dumps({"cniVersion": "1.0.0", "name": "bench-hl-" + side,
                           "ipam": {"type": "host-local", "subnet": subnet, "dataDir": datadir}}).encode()

    def host_local(self, runs):
        fns = {}
        for side in self.sides:
            path = self.bin(side, "host-local")
            if not path:
                fns[side] = self.missing(side, ["host-local"])
                continue
            conf = self.hl_conf(side, os.path.join(self.tmp, "hl-" + side), "10.200.0.0/16")

            def fn(path=path, conf=conf, side=side):
                cid = self.cid("hl" + side)
                a = cni(path, "ADD", conf, cid, "/var/run/netns/absent")
                d = cni(path, "DEL", conf, cid, "/var/run/netns/absent")
                return {"ADD": a, "DEL": d, "ADD+DEL": _agg([a, d])}
            fns[side] = fn
        self.compare("host-local", "plugin", "host-local", fns, runs,
                     floor={"ADD": ["floor-spawn/run"], "DEL": ["floor-spawn/run"]})

    def loopback(self, runs):
        """loopback ADD (lo up, addresses listed) and DEL (lo down) in a pod namespace: containerd's
        CRI runs it for every sandbox."""
        fns = {}
        conf = json.dumps({"cniVersion": "1.0.0", "name": "cni-loopback", "type": "loopback"}).encode()
        for side in self.sides:
            path = self.bin(side, "loopback")
            if not path:
                fns[side] = self.missing(side, ["loopback"])
                continue
            pod = "/run/netns/" + self.pod(side, 0)

            def fn(path=path, pod=pod, side=side):
                cid = self.cid("lo" + side)
                a = cni(path, "ADD", conf, cid, pod)
                d = cni(path, "DEL", conf, cid, pod)
                return {"ADD": a, "DEL": d, "ADD+DEL": _agg([a, d])}
            fns[side] = fn
        self.compare("loopback", "plugin", "loopback", fns, runs,
                     floor={"ADD": ["floor-spawn/run"], "DEL": ["floor-spawn/run"]})

    def tuning(self, runs):
        """tuning ADD (two sysctls, MTU, promisc: state file written) and DEL (restored) on a veth
        end `wbtun0` in a pod namespace, as in podman's default chain."""
        fns = {}
        for side in self.sides:
            path = self.bin(side, "tuning")
            if not path:
                fns[side] = self.missing(side, ["tuning"])
                continue
            podns = self.pod(side, 0)
            sh("ip", "link", "add", "wbtun" + side, "type", "veth", "peer", "name", "wbtun0", "netns", podns)
            pod = "/run/netns/" + podns
            conf = json.dumps({
                "cniVersion": "1.0.0", "name": "bench-tuning", "type": "tuning",
                "dataDir": os.path.join(self.tmp, "tuning-" + side),
                "sysctl": {"net.ipv4.conf.IFNAME.arp_filter": "1", "net.core.somaxconn": "512"},
                "mtu": 1400, "promisc": True,
                "prevResult": {"cniVersion": "1.0.0", "interfaces": [{"name": "wbtun0", "sandbox": pod}],
                               "ips": [{"interface": 0, "address": "10.213.0.2/24"}]}}).encode()

            def fn(path=path, pod=pod, side=side, conf=conf):
                cid = self.cid("tu" + side)
                a = cni(path, "ADD", conf, cid, pod, ifname="wbtun0")
                d = cni(path, "DEL", conf, cid, pod, ifname="wbtun0")
                return {"ADD": a, "DEL": d, "ADD+DEL": _agg([a, d])}
            fns[side] = fn
        try:
            self.compare("tuning", "plugin", "tuning: 2 sysctls, MTU, promisc", fns, runs,
                         floor={"ADD": ["floor-spawn/run"], "DEL": ["floor-spawn/run"]})
        finally:
            for side in self.sides:
                if self.bin(side, "tuning"):
                    sh("ip", "link", "del", "wbtun" + side)

    def bridge_conf(self, side, masq):
        net = {"ref": 210, "weft": 211, "rel": 214}[side]
        return {"cniVersion": "1.0.0", "name": "bench-br%s-%s" % ("m" if masq else "", side), "type": "bridge",
                "bridge": "wbbr" + side, "isGateway": True, "ipMasq": masq,
                "ipam": {"type": "host-local", "subnet": "10.%d.0.0/16" % net,
                         "dataDir": os.path.join(self.tmp, "br-" + side)}}

    def bridge(self, runs):
        for masq in (False, True):
            fns = {}
            for side in self.sides:
                why = self.missing(side, ["bridge", "host-local"])
                if why:
                    fns[side] = why
                    continue
                path = self.bin(side, "bridge")
                conf = self.bridge_conf(side, masq)
                pod = "/run/netns/" + self.pod(side, -1)

                def fn(path=path, conf=conf, side=side, pod=pod):
                    cid = self.cid("br" + side)
                    a = cni(path, "ADD", json.dumps(conf).encode(), cid, pod)
                    dconf = dict(conf, prevResult=json.loads(a.out))
                    d = cni(path, "DEL", json.dumps(dconf).encode(), cid, pod)
                    return {"ADD": a, "DEL": d, "ADD+DEL": _agg([a, d])}
                fns[side] = fn
            floor = {op: self.bridge_floor_keys("floor-bridge", op.lower()) for op in ("ADD", "DEL")}
            if masq:
                floor = {"ADD": floor["ADD"] + ["floor-fw-0/fw add"], "DEL": floor["DEL"] + ["floor-fw-0/fw del"]}
            self.compare("bridge-masq" if masq else "bridge", "plugin",
                         "bridge + host-local, ipMasq %s" % ("on" if masq else "off"), fns, runs, floor=floor)

    def portmap_prev(self):
        """A real prevResult for portmap: one reference bridge ADD in a spare pod namespace."""
        if not hasattr(self, "_prev"):
            conf = {"cniVersion": "1.0.0", "name": "bench-pmsetup", "type": "bridge", "bridge": "wbpm",
                    "isGateway": True,
                    "ipam": {"type": "host-local", "subnet": "10.212.0.0/16",
                             "dataDir": os.path.join(self.tmp, "pmsetup")}}
            brg = self.bin("ref", "bridge") or self.bin("weft", "bridge")
            c = cni(brg, "ADD", json.dumps(conf).encode(), "bench-pmsetup", "/run/netns/" + self.pods[-2],
                    cni_path=os.path.dirname(brg))
            self._prev = json.loads(c.out)
        return self._prev

    def portmap(self, runs, nrules):
        prev = self.portmap_prev()
        fns = {}
        for side in self.sides:
            path = self.bin(side, "portmap")
            if not path:
                fns[side] = self.missing(side, ["portmap"])
                continue
            conf = {"cniVersion": "1.0.0", "name": "bench-pm-" + side, "type": "portmap",
                    "runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
                                                       {"hostPort": 8053, "containerPort": 53, "protocol": "udp"}]},
                    "prevResult": prev}
            data = json.dumps(conf).encode()

            def fn(path=path, data=data, side=side):
                cid = self.cid("pm" + side)
                a = cni(path, "ADD", data, cid, "/run/netns/" + self.pods[-2])
                d = cni(path, "DEL", data, cid, "/run/netns/" + self.pods[-2])
                return {"ADD": a, "DEL": d, "ADD+DEL": _agg([a, d])}
            fns[side] = fn
        fl = {op: self.portmap_floor_keys("floor-pm-%d" % nrules, op, ["floor-fw-%d/fw %s" % (nrules, op)])
              for op in ("add", "del")}
        self.compare("portmap-%d" % nrules, "portmap-scale" if nrules else "plugin",
                     "portmap (tcp+udp mapping), %d rules in nat" % nrules, fns, runs,
                     floor={"ADD": fl["add"], "DEL": fl["del"], "ADD+DEL": fl["add"] + fl["del"]},
                     x=nrules, series="rules")

    # ---- pod lifecycle --------------------------------------------------------------------------
    def bandwidth(self, runs):
        """bandwidth ADD (tbf on the host veth, ifb + redirect + tbf) and DEL (the ifb) on the
        veth of portmap's prevResult; the veth's qdiscs, which only its own DEL would remove,
        are deleted between runs, outside the measurement."""
        prev = self.portmap_prev()
        host = prev["interfaces"][1]["name"]
        fns = {}
        for side in self.sides:
            path = self.bin(side, "bandwidth")
            if not path:
                fns[side] = self.missing(side, ["bandwidth"])
                continue
            conf = {"cniVersion": "1.0.0", "name": "bench-bw-" + side, "type": "bandwidth",
                    "ingressRate": 100000000, "ingressBurst": 1000000,
                    "egressRate": 100000000, "egressBurst": 1000000, "prevResult": prev}
            data = json.dumps(conf).encode()

            def fn(path=path, data=data, side=side):
                cid = self.cid("bw" + side)
                a = cni(path, "ADD", data, cid, "/run/netns/" + self.pods[-2])
                d = cni(path, "DEL", data, cid, "/run/netns/" + self.pods[-2])
                for parent in ("root", "ingress"):
                    sh("tc", "qdisc", "del", "dev", host, parent)
                return {"ADD": a, "DEL": d, "ADD+DEL": _agg([a, d])}
            fns[side] = fn
        self.compare("bandwidth", "plugin", "bandwidth (ingress + egress limits)", fns, runs)

    def firewall(self, runs):
        """firewall ADD (CNI-FORWARD/CNI-ADMIN jumps and the address rules, same-bridge
        isolation) and DEL (the address rules) for portmap's prevResult (one IPv4 address)."""
        prev = self.portmap_prev()
        fns = {}
        for side in self.sides:
            path = self.bin(side, "firewall")
            if not path:
                fns[side] = self.missing(side, ["firewall"])
                continue
            conf = {"cniVersion": "1.0.0", "name": "bench-fw-" + side, "type": "firewall",
                    "backend": "iptables", "ingressPolicy": "same-bridge", "prevResult": prev}
            data = json.dumps(conf).encode()

            def fn(path=path, data=data, side=side):
                cid = self.cid("fw" + side)
                a = cni(path, "ADD", data, cid, "/run/netns/" + self.pods[-2])
                d = cni(path, "DEL", data, cid, "/run/netns/" + self.pods[-2])
                return {"ADD": a, "DEL": d, "ADD+DEL": _agg([a, d])}
            fns[side] = fn
        self.compare("firewall", "plugin", "firewall (iptables, same-bridge)", fns, runs)

    def chain_confs(self, side, flannel, live=False):
        """(first plugin path, its conf, portmap path) for one side's conflist."""
        if live:
            return (self.bin(side, "bridge"), self.live_bridge_conf(side, "0.3.1", "cbr-live-" + side, "lc"),
                    self.bin(side, "portmap"))
        octet = (240 if flannel else 230) + SIDES_ALL.index(side)
        sub, net = "10.%d.1" % octet, "10.%d.0.0/16" % octet
        ipam_dir = os.path.join(self.tmp, "chain-%s-%s" % ("fl" if flannel else "br", side))
        if flannel:
            env = os.path.join(self.tmp, "subnet-%s.env" % side)
            with open(env, "w") as f:
                f.write("FLANNEL_NETWORK=%s\nFLANNEL_SUBNET=%s.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"
                        % (net, sub))
            conf = {"cniVersion": "0.3.1", "name": "cbr-fl-" + side, "type": "flannel", "subnetFile": env,
                    "dataDir": os.path.join(self.tmp, "flannel-" + side), "ipam": {"dataDir": ipam_dir},
                    "delegate": {"hairpinMode": True, "isDefaultGateway": True, "bridge": "wbfl" + side}}
            first = self.bin(side, "flannel")
        else:
            # exactly the delegate conf that flannel generates for the shipped kube-flannel conflist
            conf = {"cniVersion": "0.3.1", "name": "cbr-br-" + side, "type": "bridge", "bridge": "wbch" + side,
                    "hairpinMode": True, "ipMasq": False, "isDefaultGateway": True, "isGateway": True,
                    "mtu": 1450, "ipam": {"type": "host-local", "ranges": [[{"subnet": sub + ".0/24"}]],
                                          "routes": [{"dst": net}],
                                          "dataDir": ipam_dir}}
            first = self.bin(side, "bridge")
        return first, conf, self.bin(side, "portmap")

    def lifecycle(self, runs, npods, flannel, live=False):
        fns = {}
        for side in self.sides:
            why = self.missing(side, (["flannel"] if flannel else []) + ["bridge", "host-local", "portmap"])
            if why:
                fns[side] = why
                continue
            first, conf, pm = self.chain_confs(side, flannel, live)
            cni_path = os.path.dirname(self.bin(side, "bridge"))

            def pod_add(i, cid, first=first, conf=conf, pm=pm, cni_path=cni_path, side=side):
                ns = "/run/netns/" + self.pod(side, i)
                a = cni(first, "ADD", json.dumps(conf).encode(), cid, ns, cni_path=cni_path)
                pconf = {"cniVersion": conf["cniVersion"], "name": conf["name"], "type": "portmap",
                         "capabilities": {"portMappings": True},
                         "runtimeConfig": {"portMappings": [{"hostPort": 30000 + i, "containerPort": 80,
                                                             "protocol": "tcp"}]},
                         "prevResult": json.loads(a.out)}
                p = cni(pm, "ADD", json.dumps(pconf).encode(), cid, ns, cni_path=cni_path)
                return _agg([a, p]), pconf

            def pod_del(i, cid, pconf, first=first, conf=conf, pm=pm, cni_path=cni_path, side=side):
                # cniVersion 0.3.1 as in the shipped conflist: libcni sends no prevResult on DEL
                ns = "/run/netns/" + self.pod(side, i)
                pconf = {k: v for k, v in pconf.items() if k != "prevResult"}
                p = cni(pm, "DEL", json.dumps(pconf).encode(), cid, ns, cni_path=cni_path)
                a = cni(first, "DEL", json.dumps(conf).encode(), cid, ns, cni_path=cni_path)
                return _agg([p, a])

            def fn(side=side, pod_add=pod_add, pod_del=pod_del):
                cids = [self.cid("lc" + side) for _ in range(npods)]
                t0 = time.perf_counter()
                adds = list(self.pool.map(lambda i: pod_add(i, cids[i]), range(npods)))
                t1 = time.perf_counter()
                dels = list(self.pool.map(lambda i: pod_del(i, cids[i], adds[i][1]), range(npods)))
                t2 = time.perf_counter()
                ca = _agg([a for a, _ in adds], (t1 - t0) * 1000)
                cd = _agg(dels, (t2 - t1) * 1000)
                return {"ADD": ca, "DEL": cd, "ADD+DEL": _agg([ca, cd])}
            fns[side] = fn
        what = "flannel → bridge → host-local, portmap" if flannel else "bridge → host-local, portmap"
        # one pod: the bridge floor (+ flannel's start) and portmap's TCP-only batch with its start
        floor = {op: self.bridge_floor_keys("floor-live-bridge" if live else "floor-bridge", op.lower(),
                                            3 if flannel else 2)
                 + self.portmap_floor_keys("floor-live-pm-tcp" if live else "floor-pm-tcp", op.lower(),
                                           [("floor-live-fw/fw %s" if live else "floor-fw-0/fw %s") % op.lower()])
                 for op in ("ADD", "DEL")} if npods == 1 else None
        if live:
            self.compare("pods-live-%d" % npods, "live",
                         "live node: %s: %d pod%s" % (what, npods, "s in parallel" if npods > 1 else ""), fns, runs,
                         floor=floor)
            return
        self.compare("pods-%s-%d" % ("fl" if flannel else "br", npods), "lifecycle",
                     "%s: %d pod%s" % (what, npods, "s in parallel" if npods > 1 else ""), fns, runs,
                     floor=floor, x=npods, series="flannel" if flannel else "bridge")

    # ---- live node ------------------------------------------------------------------------------
    LIVE_BRIDGE = "wbpm"     # the bridge of portmap_prev(); the live state grows around it
    LIVE_VETHS = 40          # pods' host veths on the bridge (both ends stay in the node namespace)
    LIVE_CONNS = 24          # TCP connections through a mapped port (conntrack entries)
    LIVE_MASQ = 40           # per-pod masquerade chains as the reference bridge's ipMasq writes them
    LIVE_RULES = 3000        # unrelated nat rules (a kube-proxy-sized KUBE-SERVICES stand-in)

    def live_setup(self):
        """Turns the node namespace into a busy node's (idempotent, undone by live_teardown)."""
        if getattr(self, "_live", None):
            return self._live
        prev = self.portmap_prev()
        st = {"procs": [], "socks": [], "server_cid": "bench-live-server"}
        self._live = st
        # a few dozen pods' veths on the bridge
        batch = "".join("link add wblv%d type veth peer name wblvp%d\nlink set wblv%d master %s up\n"
                        % (i, i, i, self.LIVE_BRIDGE) for i in range(self.LIVE_VETHS))
        sh("ip", "-batch", "-", stdin=batch.encode())
        # masquerade chains (reference ipMasq layout), flannel's chains, a few thousand nat rules
        nat = [b"*nat\n", b":WB-LIVE-SVC - [0:0]\n", b":FLANNEL-POSTRTG - [0:0]\n",
               b"-A PREROUTING -m comment --comment \"bench kube-services\" -j WB-LIVE-SVC\n",
               b"-A POSTROUTING -m comment --comment \"flanneld masq\" -j FLANNEL-POSTRTG\n",
               b"-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment \"flanneld masq\" -j RETURN\n",
               b"-A FLANNEL-POSTRTG -s 10.244.0.0/24 -d 10.244.0.0/16 -m comment --comment \"flanneld masq\" -j RETURN\n",
               b"-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.0.0/24 -m comment --comment \"flanneld masq\" -j RETURN\n",
               b"-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/24 -m comment --comment \"flanneld masq\" -j RETURN\n",
               b"-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment \"flanneld masq\" -j MASQUERADE --random-fully\n",
               b"-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment \"flanneld masq\" -j MASQUERADE --random-fully\n"]
        for i in range(self.LIVE_MASQ):
            ch = b"CNI-%024x" % (0xbe0c0000 + i)
            ip = b"10.244.0.%d" % (2 + i)
            cm = b"-m comment --comment \"name: cbr0 id: live-%d\"" % i
            nat.insert(1, b":%s - [0:0]\n" % ch)
            nat.append(b"-A POSTROUTING -s %s/32 %s -j %s\n" % (ip, cm, ch))
            nat.append(b"-A %s -d 10.244.0.0/24 %s -j ACCEPT\n" % (ch, cm))
            nat.append(b"-A %s ! -d 224.0.0.0/4 %s -j MASQUERADE\n" % (ch, cm))
        for k in range(self.LIVE_RULES):
            nat.append(b"-A WB-LIVE-SVC -d 10.96.%d.%d/32 -p tcp -m tcp --dport %d -j RETURN\n"
                       % ((k >> 8) & 255, k & 255, 1024 + k))
        nat.append(b"COMMIT\n")
        filt = (b"*filter\n:FLANNEL-FWD - [0:0]\n"
                b"-A FORWARD -m comment --comment \"flanneld forward\" -j FLANNEL-FWD\n"
                b"-A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment \"flanneld forward\" -j ACCEPT\n"
                b"-A FLANNEL-FWD -d 10.244.0.0/16 -m comment --comment \"flanneld forward\" -j ACCEPT\n"
                b"COMMIT\n")
        sh("iptables-restore", "--noflush", "-w", "30", stdin=b"".join(nat) + filt)
        # a server in the pod behind a mapped port (reference portmap, snat), and bounded clients
        pod_ip = prev["ips"][0]["address"].split("/")[0]
        gw = prev["ips"][0].get("gateway") or pod_ip.rsplit(".", 1)[0] + ".1"
        st["server_conf"] = json.dumps({
            "cniVersion": "1.0.0", "name": "bench-live-server", "type": "portmap", "snat": True,
            "runtimeConfig": {"portMappings": [{"hostPort": 9080, "containerPort": 80, "protocol": "tcp"}]},
            "prevResult": prev}).encode()
        pm = self.bin("ref", "portmap") or self.bin("weft", "portmap")
        st["server_pm"] = pm
        cni(pm, "ADD", st["server_conf"], st["server_cid"], "/run/netns/" + self.pods[-2])
        srv = ("import socket,sys,select,time\n"
               "s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
               "s.bind(('0.0.0.0',80));s.listen(128);print('up',flush=True)\n"
               "c=[];end=time.time()+3600\n"
               "while time.time()<end:\n"
               " r,_,_=select.select([s,sys.stdin]+c,[],[],1)\n"
               " for x in r:\n"
               "  if x is sys.stdin: sys.exit(0)\n"  # the bench went away: stdin at EOF
               "  elif x is s: c.append(s.accept()[0])\n"
               "  else:\n"
               "   d=x.recv(4096)\n"
               "   if not d: c.remove(x);x.close()\n"
               "   else: x.sendall(d)\n")
        p = subprocess.Popen(["ip", "netns", "exec", self.pods[-2], "python3", "-c", srv],
                             stdout=subprocess.PIPE, stdin=subprocess.PIPE)
        st["procs"].append(p)
        p.stdout.readline()  # 'up': listening
        for _ in range(self.LIVE_CONNS):
            c = socket.create_connection((gw, 9080), timeout=5)
            c.sendall(b"ping")
            c.recv(16)
            st["socks"].append(c)
        st["conntrack"] = _read_int("/proc/sys/net/netfilter/nf_conntrack_count")
        st["links"] = len(os.listdir("/sys/class/net"))
        out = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True).stdout
        st["nat_rules"] = sum(1 for l in out.splitlines() if l.startswith("-A "))
        self.log("  live node: %d links, %d nat rules, %d conntrack entries"
                 % (st["links"], st["nat_rules"], st["conntrack"]))
        return st

    def live_hook(self, cmd):
        """Runs `sh -c cmd` in the live state (for digs with strace/perf/callgrind): BENCH_POD is the
        pod namespace behind portmap's prevResult (written to BENCH_PREV), BENCH_BIN weft's plugins."""
        prev = os.path.join(self.tmp, "live-prev.json")
        with open(prev, "w") as f:
            json.dump(self.portmap_prev(), f)
        env = dict(os.environ, BENCH_POD="/run/netns/" + self.pods[-2], BENCH_PREV=prev,
                   BENCH_BIN=self.cfg["weft_bin"], BENCH_REF_BIN=self.cfg["ref_bin"], BENCH_TMP=self.tmp)
        self.log("  live hook: %s" % cmd)
        subprocess.run(["sh", "-c", cmd], env=env, timeout=600)

    def live_teardown(self):
        st = getattr(self, "_live", None)
        if not st:
            return
        self._live = None
        for c in st["socks"]:
            c.close()
        for p in st["procs"]:
            p.kill()
            p.wait()
        # each step on its own: a setup that failed half-way leaves only part of the state (the
        # outer bench/run deletes the node namespace, and with it anything left, in any case)
        if st.get("server_conf"):
            try:
                cni(st["server_pm"], "DEL", st["server_conf"], st["server_cid"], "/run/netns/" + self.pods[-2])
            except CallError as e:
                self.log("  live teardown: %s" % e)
        for i in range(self.LIVE_VETHS):
            if os.path.exists("/sys/class/net/wblv%d" % i):
                sh("ip", "link", "del", "wblv%d" % i)
        rm = [b"*nat\n", b"-D PREROUTING -m comment --comment \"bench kube-services\" -j WB-LIVE-SVC\n",
              b"-D POSTROUTING -m comment --comment \"flanneld masq\" -j FLANNEL-POSTRTG\n",
              b"-F WB-LIVE-SVC\n-X WB-LIVE-SVC\n-F FLANNEL-POSTRTG\n-X FLANNEL-POSTRTG\n"]
        for i in range(self.LIVE_MASQ):
            ch = b"CNI-%024x" % (0xbe0c0000 + i)
            rm.append(b"-D POSTROUTING -s 10.244.0.%d/32 -m comment --comment \"name: cbr0 id: live-%d\" -j %s\n"
                      % (2 + i, i, ch))
            rm.append(b"-F %s\n-X %s\n" % (ch, ch))
        rm.append(b"COMMIT\n*filter\n-D FORWARD -m comment --comment \"flanneld forward\" -j FLANNEL-FWD\n"
                  b"-F FLANNEL-FWD\n-X FLANNEL-FWD\nCOMMIT\n")
        try:
            sh("iptables-restore", "--noflush", "-w", "30", stdin=b"".join(rm))
        except CallError as e:
            self.log("  live teardown: %s" % e)

    def live_floors(self, runs):
        """The floors again in the live state: a veth pair with the bridge's dozens of ports and one
        iptables-restore commit against the live nat table."""
        pod = self.pods[-1]

        def veth():
            a = sh("ip", "link", "add", "wbfloor0", "type", "veth", "peer", "name", "eth0", "netns", pod)
            d = sh("ip", "link", "del", "wbfloor0")
            return {"veth add": a, "veth del": d}
        self.floor_group("floor-live-veth", "live node: ip link add/del veth pair (peer in pod netns)", veth, runs)
        self.bridge_floor("floor-live-bridge", "live node: bridge-floor: bridge + host-local's changes, in one process",
                          runs, ["--bridge", self.LIVE_BRIDGE, "--hairpin", "--default-route",
                                 "--addr", "10.212.200.2/16", "--gw", "10.212.0.1"])
        add = (b"*nat\n:WB-FLOOR - [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL -j WB-FLOOR\n"
               + b"".join(b"-A WB-FLOOR -p tcp -m tcp --dport %d -j DNAT --to-destination 10.99.0.2:80\n"
                          % (8000 + k) for k in range(4)) + b"COMMIT\n")
        rm = (b"*nat\n-D PREROUTING -m addrtype --dst-type LOCAL -j WB-FLOOR\n-F WB-FLOOR\n-X WB-FLOOR\n"
              b"COMMIT\n")

        def fw():
            a = sh("iptables-restore", "--noflush", "-w", "5", stdin=add)
            d = sh("iptables-restore", "--noflush", "-w", "5", stdin=rm)
            return {"fw add": a, "fw del": d}
        self.floor_group("floor-live-fw", "live node: iptables-restore add / delete a 4-rule chain", fw, runs)
        self.floor_group("floor-live-ct", "live node: one ctnetlink IPv4 dump (in-process, no spawn)",
                         lambda: {"ct walk": _ct_walk()}, runs)
        self.portmap_floor("floor-live-pm", "live node: portmap-floor: tcp+udp batch + conntrack walk", runs, PM_TCP_UDP)
        self.portmap_floor("floor-live-pm-tcp", "live node: portmap-floor: TCP-only batch", runs, PM_TCP)

    def live_portmap(self, runs):
        """portmap ADD+DEL with snat, the same container re-added after its DEL, in the live state."""
        prev = self.portmap_prev()
        fns = {}
        for side in self.sides:
            path = self.bin(side, "portmap")
            if not path:
                fns[side] = self.missing(side, ["portmap"])
                continue
            conf = {"cniVersion": "1.0.0", "name": "bench-lpm-" + side, "type": "portmap", "snat": True,
                    "runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
                                                       {"hostPort": 8053, "containerPort": 53, "protocol": "udp"}]},
                    "prevResult": prev}
            data = json.dumps(conf).encode()
            cid = "bench-live-pm-" + side  # one container, re-added after every DEL

            def fn(path=path, data=data, cid=cid):
                a = cni(path, "ADD", data, cid, "/run/netns/" + self.pods[-2])
                d = cni(path, "DEL", data, cid, "/run/netns/" + self.pods[-2])
                return {"ADD": a, "DEL": d, "ADD+DEL": _agg([a, d])}
            fns[side] = fn
        self.compare("live-portmap", "live", "live node: portmap (tcp+udp, snat), same container re-added",
                     fns, runs, floor={
                         "ADD": self.portmap_floor_keys("floor-live-pm", "add",
                                                        ["floor-live-fw/fw add", "floor-live-ct/ct walk"]),
                         # weft flushes stale UDP conntrack entries on DEL too (docs/portmap.md); the harness's
                         # DEL includes that walk, the restore fallback adds it
                         "DEL": self.portmap_floor_keys("floor-live-pm", "del",
                                                        ["floor-live-fw/fw del", "floor-live-ct/ct walk"])})

    def live_bridge(self, runs):
        """bridge + host-local ADD and DEL onto the live bridge (its dozens of ports)."""
        fns = {}
        for side in self.sides:
            why = self.missing(side, ["bridge", "host-local"])
            if why:
                fns[side] = why
                continue
            path = self.bin(side, "bridge")
            conf = self.live_bridge_conf(side, "1.0.0", "bench-lbr-" + side, "lbr")
            pod = "/run/netns/" + self.pod(side, -1)

            def fn(path=path, conf=conf, pod=pod, side=side):
                cid = self.cid("lbr" + side)
                a = cni(path, "ADD", json.dumps(conf).encode(), cid, pod)
                dconf = dict(conf, prevResult=json.loads(a.out))
                d = cni(path, "DEL", json.dumps(dconf).encode(), cid, pod)
                return {"ADD": a, "DEL": d, "ADD+DEL": _agg([a, d])}
            fns[side] = fn
        self.compare("live-bridge", "live", "live node: bridge + host-local, ipMasq off", fns, runs,
                     floor={op: self.bridge_floor_keys("floor-live-bridge", op.lower()) for op in ("ADD", "DEL")})

    def live_bridge_conf(self, side, version, name, tag):
        """A conf on the live bridge; each side allocates from its own slice of the bridge's /16."""
        octet = 1 + SIDES_ALL.index(side) + (len(SIDES_ALL) if tag == "lc" else 0)
        return {"cniVersion": version, "name": name, "type": "bridge", "bridge": self.LIVE_BRIDGE,
                "hairpinMode": True, "ipMasq": False, "isDefaultGateway": True, "isGateway": True,
                "ipam": {"type": "host-local",
                         "ranges": [[{"subnet": "10.212.0.0/16", "rangeStart": "10.212.%d.2" % octet,
                                      "rangeEnd": "10.212.%d.254" % octet, "gateway": "10.212.0.1"}]],
                         "dataDir": os.path.join(self.tmp, "live-%s-%s" % (tag, side))}}

    # ---- scale ----------------------------------------------------------------------------------
    def make_store(self, d, n):
        """n reservations 10.200.0.2 ... in the reference's on-disk format, plus last_reserved_ip.0."""
        os.makedirs(d)
        open(os.path.join(d, "lock"), "w").close()
        ip = None
        for i in range(n):
            v = 2 + i
            ip = "10.200.%d.%d" % (v >> 8, v & 255)
            fd = os.open(os.path.join(d, ip), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, b"pod-%d\r\neth0" % i)
            os.close(fd)
        if ip:
            with open(os.path.join(d, "last_reserved_ip.0"), "w") as f:
                f.write(ip)

    def host_local_scale(self, runs, n):
        fns = {}
        for side in self.sides:
            path = self.bin(side, "host-local")
            if not path:
                fns[side] = self.missing(side, ["host-local"])
                continue
            root = os.path.join(self.tmp, "hls-%s-%d" % (side, n))
            self.make_store(os.path.join(root, "bench-hl-" + side), n)
            conf = self.hl_conf(side, root, "10.200.0.0/16")

            def fn(path=path, conf=conf, side=side):
                cid = self.cid("hls" + side)
                a = cni(path, "ADD", conf, cid, "/var/run/netns/absent")
                d = cni(path, "DEL", conf, cid, "/var/run/netns/absent")
                return {"ADD": a, "DEL": d, "ADD+DEL": _agg([a, d])}
            fns[side] = fn
        self.compare("hl-scale-%d" % n, "hl-scale", "host-local, %d reservations" % n, fns, runs,
                     floor={"ADD+DEL": ["floor-spawn/run", "floor-spawn/run"]}, x=n, series="reservations",
                     record_first=True)
        # The stores stay until bench/run removes its temp directory after writing the report:
        # unlinking 60,000 files can take minutes on a busy disk and would delay the next figures.

    def load_rules(self, have, want):
        """Grows the nat table's filler chain from `have` to `want` rules in one iptables-restore."""
        lines = [b"*nat\n"]
        if have == 0:
            lines.append(b":WB-FILL - [0:0]\n")
        for k in range(have, want):
            lines.append(b"-A WB-FILL -d 10.%d.%d.%d/32 -p tcp -m tcp --dport %d -j RETURN\n"
                         % (100 + (k >> 16), (k >> 8) & 255, k & 255, 1024 + k % 50000))
        lines.append(b"COMMIT\n")
        sh("iptables-restore", "--noflush", "-w", "30", stdin=b"".join(lines))

    def portmap_scale(self, runs, sizes, floor_runs):
        have = 0
        try:
            for n in sizes:
                if n > have:
                    self.load_rules(have, n)
                    have = n
                if n:  # 0 rules: the plugin row measured before
                    self.fw_floor(floor_runs, n)
                    self.portmap_floor("floor-pm-%d" % n, "portmap-floor: tcp+udp batch (%d rules)" % n,
                                       floor_runs, PM_TCP_UDP, n)
                    self.portmap(runs, n)
        finally:
            if have:
                sh("iptables-restore", "--noflush", "-w", "30", stdin=b"*nat\n-F WB-FILL\n-X WB-FILL\nCOMMIT\n")


def sizes_of(cfg):
    """Bytes on disk and stripped (strip -o into tmp; what `cmake --install --strip` ships)."""
    out = []
    for side in SIDES + (("rel",) if cfg.get("rel_bin") else ()):
        for p in ("host-local", "bridge", "portmap", "flannel", "loopback", "tuning"):
            d = {"weft": cfg["weft_bin"], "rel": cfg.get("rel_bin")}.get(side, cfg["ref_bin"])
            path = os.path.join(d, p) if not (side == "ref" and p == "flannel") else cfg["ref_flannel"]
            row = {"side": side, "plugin": p, "bytes": None, "stripped": None}
            if path and os.path.isfile(path):
                row["bytes"] = os.path.getsize(path)
                tmp = os.path.join(cfg["tmp"], "stripped-%s-%s" % (side, p))
                try:
                    sh("strip", "-o", tmp, path)
                    row["stripped"] = os.path.getsize(tmp)
                    os.unlink(tmp)
                except (CallError, OSError):
                    pass
            out.append(row)
    return out


def main(cfg):
    """Runs the measurements of cfg["scenario"] (all, bare or live); returns the JSON-able result."""
    spawn.build_launcher(cfg["tmp"])
    b = Bench(cfg)
    q = cfg["quick"]
    r = cfg["runs"]
    scen = cfg.get("scenario", "all")
    log = b.log
    log("floors")
    b.floors(r)
    if scen in ("all", "bare"):
        log("process start and single plugins")
        b.version(r)
        b.host_local(r)
        b.loopback(r)
        b.tuning(r)
        b.bridge(r)
        b.portmap(r, 0)
        b.bandwidth(r)
        b.firewall(r)
        log("pod lifecycle")
        for flannel in (False, True):
            for n in cfg["pods"]:
                b.lifecycle(cfg["pod_runs"] if n > 1 else r, n, flannel)
        log("host-local at scale")
        for n in cfg["reservations"]:
            b.host_local_scale(max(3, r // (1 if n <= 1000 else (3 if n <= 10000 else 5))), n)
        log("portmap at scale")
        b.portmap_scale(max(3, r // 2), cfg["rules"], r)
    if scen in ("all", "live"):
        log("live node")
        try:
            live = b.live_setup()
            if os.environ.get("BENCH_LIVE_HOOK"):
                b.live_hook(os.environ["BENCH_LIVE_HOOK"])
            b.live_floors(r)
            b.live_portmap(r)
            b.live_bridge(r)
            b.lifecycle(r, 1, False, live=True)
            b.lifecycle(cfg["pod_runs"], max(cfg["pods"]), False, live=True)
            live = {k: live[k] for k in ("links", "nat_rules", "conntrack")}
            live["conntrack_end"] = _read_int("/proc/sys/net/netfilter/nf_conntrack_count")
        finally:
            b.live_teardown()
    else:
        live = None
    b.pool.shutdown()
    return {"groups": b.groups, "sizes": sizes_of(cfg), "quick": q, "scenario": scen, "live": live}
