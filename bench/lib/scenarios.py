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
import time

import spawn
from spawn import Call, CallError, cni, sh

SIDES = ("ref", "weft")  # always measured; "rel" (the release plugins) joins with --release
SIDES_ALL = SIDES + ("rel",)  # a side's index picks its own subnets


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
        pod = self.pods[-1]

        def veth():
            a = sh("ip", "link", "add", "wbfloor0", "type", "veth", "peer", "name", "eth0", "netns", pod)
            d = sh("ip", "link", "del", "wbfloor0")
            return {"veth add": a, "veth del": d}
        self.floor_group("floor-veth", "ip link add/del veth pair (peer in pod netns)", veth, runs)
        self.fw_floor(runs, 0)

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
            floor = {"ADD": ["floor-veth/veth add"], "DEL": ["floor-veth/veth del"]}
            if masq:
                floor = {"ADD": ["floor-veth/veth add", "floor-fw-0/fw add"],
                         "DEL": ["floor-veth/veth del", "floor-fw-0/fw del"]}
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
        fl = "floor-fw-%d" % nrules
        self.compare("portmap-%d" % nrules, "portmap-scale" if nrules else "plugin",
                     "portmap (tcp+udp mapping), %d rules in nat" % nrules, fns, runs,
                     floor={"ADD": [fl + "/fw add"], "DEL": [fl + "/fw del"],
                            "ADD+DEL": [fl + "/fw add", fl + "/fw del"]},
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

    def chain_confs(self, side, flannel):
        """(first plugin path, its conf, portmap path) for one side's conflist."""
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

    def lifecycle(self, runs, npods, flannel):
        fns = {}
        for side in self.sides:
            why = self.missing(side, (["flannel"] if flannel else []) + ["bridge", "host-local", "portmap"])
            if why:
                fns[side] = why
                continue
            first, conf, pm = self.chain_confs(side, flannel)
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
        self.compare("pods-%s-%d" % ("fl" if flannel else "br", npods), "lifecycle",
                     "%s: %d pod%s" % (what, npods, "s in parallel" if npods > 1 else ""), fns, runs,
                     floor={"ADD": ["floor-veth/veth add", "floor-fw-0/fw add"],
                            "DEL": ["floor-veth/veth del", "floor-fw-0/fw del"]} if npods == 1 else None,
                     x=npods, series="flannel" if flannel else "bridge")

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
    """Runs every measurement; returns the JSON-able result."""
    spawn.build_launcher(cfg["tmp"])
    b = Bench(cfg)
    q = cfg["quick"]
    r = cfg["runs"]
    log = b.log
    log("floors")
    b.floors(r)
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
    b.pool.shutdown()
    return {"groups": b.groups, "sizes": sizes_of(cfg), "quick": q}
