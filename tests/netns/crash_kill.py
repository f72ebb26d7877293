#!/usr/bin/env python3
"""Crash injection: kill -9 each plugin at every system call of its ADD and its DEL.

Run by crash_kill.sh (root, throw-away namespaces; see there). For each plugin (host-local,
bridge with host-local, portmap with a prevResult, flannel with bridge and host-local) and each
command (ADD, DEL), a traced run lists the plugin's system calls from its first read of stdin on
(before that only the loader and libc start-up run, and nothing the plugin owns can change).
Then, for every one of those calls, the operation is repeated under
`strace -e inject=<call>:signal=KILL:when=<n>`, so the kernel kills the plugin with SIGKILL on
entry to that call, before it executes. Only the plugin is killed: the delegates it started keep
running to their end, as they do when a runtime kills a plugin on timeout (a child subreaper
waits for them before the next step).

After every kill:
  * no state file is empty or half-written: every host-local reservation holds exactly
    "<container id>\\r\\n<ifname>", every last_reserved_ip.N holds an address of the range,
    no other file appears in the store; every flannel saved file (name without a leading dot) is
    byte for byte the delegate config of the uninterrupted run; a per-container iptables chain
    that exists holds exactly the rules of the uninterrupted run (a firewall transaction is all
    or nothing);
  * after every second ADD kill, GC with an empty attachment list runs first (a runtime that
    never sends DEL) and must release the reservation, the saved file and the portmap chain;
  * then the runtime's DEL is repeated: the node must be back to the state before the ADD (no
    reservation, no veth, no interface in the pod, no saved file, ruleset identical to the
    baseline). If it is not, GC with an empty attachment list runs and must reclaim the rest;
    both outcomes are counted.
flannel's crashed writers leave a hidden temp file (.<id>.tmp<pid>.<n>); at the end they are aged
by two hours and one GC must remove them all.

Environment: WEFT_BIN, CRASH_NODE, CRASH_POD, CRASH_DIR (set by crash_kill.sh);
WEFT_CRASH_POINTS=n tries n kill points per plugin and command, evenly spread over its calls
(default 25, which keeps the suite's run short; 0 = every call); WEFT_CRASH_PLUGINS limits the
plugins (comma list).
"""
import json
import os
import re
import subprocess
import sys
import time

BIN = os.environ["WEFT_BIN"]
NODE = os.environ["CRASH_NODE"]
POD = os.environ["CRASH_POD"]
DIR = os.environ["CRASH_DIR"]
POINTS = int(os.environ.get("WEFT_CRASH_POINTS", "25"))
ONLY = [p for p in os.environ.get("WEFT_CRASH_PLUGINS", "").split(",") if p]
NET = "crash"
SUBNET_PFX = "10.93.0."
CID = "crash-ctr-1"
IFNAME = "eth0"
IPAM_DIR = f"{DIR}/ipam"
FLANNEL_DIR = f"{DIR}/flannel"
NETNS = f"/var/run/netns/{POD}"
# Waits for every descendant of the command (the delegates a killed plugin started) and exits
# with the command's status, 128+signal when it was killed.
REAPER = r"""
import ctypes, os, subprocess, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
p = subprocess.Popen(sys.argv[1:], stdin=sys.stdin, stdout=sys.stdout, stderr=sys.stderr)
rc = p.wait()
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
sys.exit(128 - rc if rc < 0 else rc)
"""


class Failure(Exception):
    pass


def sh(*args, stdin=None, check=True):
    r = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=120)
    if check and r.returncode != 0:
        raise Failure(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def in_node(*args, **kw):
    return sh("ip", "netns", "exec", NODE, *args, **kw)


def plugin_env(cmd):
    return ["env", "-i", f"PATH={os.environ['PATH']}", f"CNI_COMMAND={cmd}", f"CNI_CONTAINERID={CID}",
            f"CNI_NETNS={NETNS}", f"CNI_IFNAME={IFNAME}", f"CNI_PATH={BIN}"]


def run_plugin(plugin, cmd, conf, strace=None):
    """Runs the plugin in the node namespace under the reaper; returns (rc, stdout, stderr)."""
    argv = ["ip", "netns", "exec", NODE, "python3", "-c", REAPER] + plugin_env(cmd)
    if strace:
        # In a sanitizer build: LeakSanitizer cannot run under ptrace (the untraced runs keep it).
        argv += ["ASAN_OPTIONS=detect_leaks=0", "strace", "-qq"] + strace
    argv.append(f"{BIN}/{plugin}")
    r = subprocess.run(argv, input=conf, capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def trace(plugin, cmd, conf):
    """The plugin's system calls from its first read of stdin, as (name, occurrence) pairs."""
    out = f"{DIR}/trace"
    rc, _, err = run_plugin(plugin, cmd, conf, ["-o", out])
    if rc != 0:
        raise Failure(f"traced {plugin} {cmd} failed: {err}")
    calls, seen, started = [], {}, False
    for line in open(out):
        m = re.match(r"(\w+)\(", line)
        if not m:
            continue
        name = m.group(1)
        seen[name] = seen.get(name, 0) + 1
        if not started and name == "read" and line.startswith("read(0,"):
            started = True
        if started:
            calls.append((name, seen[name]))
    if not calls:
        raise Failure(f"no read of stdin in the trace of {plugin} {cmd}")
    return calls


def conf_for(plugin, prev=None):
    ipam = {"type": "host-local", "dataDir": IPAM_DIR, "ranges": [[{"subnet": SUBNET_PFX + "0/24"}]]}
    if plugin == "host-local":
        return {"cniVersion": "1.1.0", "name": NET, "ipam": ipam}
    if plugin == "bridge":
        return {"cniVersion": "1.1.0", "name": NET, "type": "bridge", "bridge": "crbr0",
                "isGateway": True, "ipMasq": True, "ipam": ipam}
    if plugin == "portmap":
        c = {"cniVersion": "1.1.0", "name": NET, "type": "portmap", "snat": True,
             "runtimeConfig": {"portMappings": [
                 {"hostPort": 18080, "containerPort": 80, "protocol": "tcp"},
                 {"hostPort": 18081, "containerPort": 81, "protocol": "udp"}]}}
        c["prevResult"] = prev
        return c
    if plugin == "flannel":
        return {"cniVersion": "1.1.0", "name": NET, "type": "flannel",
                "subnetFile": f"{DIR}/subnet.env", "dataDir": FLANNEL_DIR,
                "delegate": {"bridge": "crfl0"}, "ipam": {"dataDir": IPAM_DIR}}
    raise ValueError(plugin)


PORTMAP_PREV = {"cniVersion": "1.1.0", "interfaces": [{"name": "eth0", "sandbox": NETNS}],
                "ips": [{"interface": 0, "address": "10.94.0.77/24"}], "dns": {}}


def normalise(text):
    return re.sub(re.escape(SUBNET_PFX) + r"\d+", "ADDR", text)


def ruleset():
    """Rules of the node without counters (iptables and ip6tables), addresses normalised."""
    v4 = in_node("iptables-save").stdout
    v6 = in_node("ip6tables-save").stdout
    lines = [re.sub(r" \[\d+:\d+\]$", "", l) for l in (v4 + v6).splitlines() if not l.startswith("#")]
    return [normalise(l) for l in lines]


def container_chains(rules):
    """Per-container chains (portmap CNI-DN-*, bridge masquerade CNI-<24 hex>) -> their rules."""
    chains = {}
    for l in rules:
        m = re.match(r"^:(CNI-DN-[0-9a-f]+|CNI-[0-9a-f]{24}) ", l)
        if m:
            chains.setdefault(m.group(1), [])
    for l in rules:
        m = re.match(r"^-A (\S+) ", l)
        if m and m.group(1) in chains:
            chains[m.group(1)].append(l)
    return chains


class Node:
    def __init__(self, plugin):
        self.plugin = plugin
        self.full_chains = {}
        self.saved_bytes = None
        self.baseline = None

    def veths(self):
        return in_node("ip", "-o", "link", "show", "type", "veth").stdout.strip()

    def pod_if(self):
        return sh("ip", "-n", POD, "-o", "link", "show", IFNAME, check=False).returncode == 0

    def check_files(self, where):
        """No empty, half-written or foreign state file, no half-applied chain."""
        store = f"{IPAM_DIR}/{NET}"
        if os.path.isdir(store):
            for name in os.listdir(store):
                path = f"{store}/{name}"
                data = open(path, "rb").read() if os.path.isfile(path) and not os.path.islink(path) else None
                if name == "lock":
                    continue
                if name.startswith(".weft-tmp."):
                    continue  # a crashed writer's temp file: never read as state
                if name.startswith("last_reserved_ip."):
                    if not re.fullmatch(re.escape(SUBNET_PFX) + r"\d+", (data or b"").decode(errors="replace")):
                        raise Failure(f"{where}: {name} holds {data!r}")
                elif re.fullmatch(re.escape(SUBNET_PFX) + r"\d+", name):
                    if data != f"{CID}\r\n{IFNAME}".encode():
                        raise Failure(f"{where}: reservation {name} holds {data!r}")
                else:
                    raise Failure(f"{where}: unexpected file {name} in the host-local store")
        if os.path.isdir(FLANNEL_DIR):
            for name in os.listdir(FLANNEL_DIR):
                if name.startswith("."):
                    if ".tmp" not in name:
                        raise Failure(f"{where}: unexpected hidden file {name} in flannel's dataDir")
                    continue
                data = open(f"{FLANNEL_DIR}/{name}", "rb").read()
                if name != CID or data != self.saved_bytes:
                    raise Failure(f"{where}: flannel saved file {name} holds {data[:200]!r}")
        if self.plugin == "host-local":
            return
        for chain, rules in container_chains(ruleset()).items():
            if chain not in self.full_chains or rules != self.full_chains[chain]:
                raise Failure(f"{where}: chain {chain} half-applied: {rules}")

    def leftovers(self):
        """What is not back to the baseline, as a list of strings (empty = clean)."""
        left = []
        store = f"{IPAM_DIR}/{NET}"
        if os.path.isdir(store):
            left += [f"reservation {n}" for n in os.listdir(store)
                     if re.fullmatch(re.escape(SUBNET_PFX) + r"\d+", n)]
            left += [f"temp file {n}" for n in os.listdir(store) if n.startswith(".weft-tmp.")]
        if os.path.isdir(FLANNEL_DIR):
            left += [f"saved file {n}" for n in os.listdir(FLANNEL_DIR) if not n.startswith(".")]
        if self.plugin == "host-local":
            return left
        if self.veths():
            left.append("veth: " + self.veths())
        if self.pod_if():
            left.append(f"{IFNAME} in the pod")
        rs = ruleset()
        if rs != self.baseline:
            left += ["rule: " + l for l in sorted(set(rs) ^ set(self.baseline))]
        return left

    def gc(self):
        conf = conf_for(self.plugin, PORTMAP_PREV)
        conf.pop("prevResult", None)
        conf.pop("runtimeConfig", None)
        conf["cni.dev/valid-attachments"] = []
        rc, _, err = run_plugin(self.plugin, "GC", json.dumps(conf))
        if rc != 0:
            raise Failure(f"GC failed: {err}")


def crash_plugin(plugin, stats):
    node = Node(plugin)
    add_conf = json.dumps(conf_for(plugin, PORTMAP_PREV))
    del_conf = add_conf
    if plugin == "portmap":  # snat needs a route to the container
        in_node("ip", "link", "add", "crpm0", "type", "bridge")
        in_node("ip", "addr", "add", "10.94.0.1/24", "dev", "crpm0")
        in_node("ip", "link", "set", "crpm0", "up")
    if plugin == "flannel":
        with open(f"{DIR}/subnet.env", "w") as f:
            f.write("FLANNEL_NETWORK=10.93.0.0/16\nFLANNEL_SUBNET=10.93.0.1/24\n"
                    "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n")
    # Warm-up: shared state (bridge, store directory, shared chains) exists as on a live node.
    for cmd, conf in (("ADD", add_conf), ("DEL", del_conf)):
        rc, _, err = run_plugin(plugin, cmd, conf)
        if rc != 0:
            raise Failure(f"{plugin} warm-up {cmd}: {err} {_}")
    node.baseline = ruleset()
    # The uninterrupted ADD: its chains and saved file are what a completed step must look like.
    rc, _, err = run_plugin(plugin, "ADD", add_conf)
    if rc != 0:
        raise Failure(f"{plugin} ADD: {err}")
    node.full_chains = container_chains(ruleset())
    if plugin == "flannel":
        node.saved_bytes = open(f"{FLANNEL_DIR}/{CID}", "rb").read()
    del_calls = trace(plugin, "DEL", del_conf)
    if node.leftovers():
        raise Failure(f"{plugin}: DEL leaves {node.leftovers()}")
    add_calls = trace(plugin, "ADD", add_conf)
    rc, _, err = run_plugin(plugin, "DEL", del_conf)
    if rc != 0 or node.leftovers():
        raise Failure(f"{plugin}: DEL after the traced ADD: {err} {node.leftovers()}")

    for cmd, calls in (("ADD", add_calls), ("DEL", del_calls)):
        key = f"{plugin} {cmd}"
        st = stats.setdefault(key, {"points": len(calls), "killed": 0, "completed": 0,
                                    "del_clean": 0, "gc_needed": 0})
        picks = range(len(calls)) if POINTS <= 0 or POINTS >= len(calls) else \
            sorted({k * len(calls) // POINTS for k in range(POINTS)})
        st["tried"] = len(picks)
        for i in picks:
            name, n = calls[i]
            where = f"{key}, kill at {name} #{n} (point {i + 1}/{len(calls)})"
            if cmd == "DEL":
                rc, _, err = run_plugin(plugin, "ADD", add_conf)
                if rc != 0:
                    raise Failure(f"{where}: setup ADD failed: {err}")
            rc, _, err = run_plugin(plugin, cmd, add_conf if cmd == "ADD" else del_conf,
                                    ["-o", "/dev/null", "-e", f"trace={name}", "-e", f"inject={name}:signal=KILL:when={n}"])
            if rc == 128 + 9:
                st["killed"] += 1
            elif rc == 0:
                st["completed"] += 1  # this run did not reach the call (e.g. a retry loop ended earlier)
            else:
                raise Failure(f"{where}: plugin exited {rc}: {err}")
            node.check_files(where)
            if cmd == "ADD" and i % 2:
                # The runtime never DELs (it crashed too): GC alone must release what the plugin
                # owns off the pod (reservation, saved file, portmap chain); DEL then finishes.
                node.gc()
                owned = [x for x in node.leftovers() if x.startswith(("reservation", "saved file"))
                         or (plugin == "portmap" and "CNI-DN-" in x)]
                if owned:
                    raise Failure(f"{where}: GC without DEL left {owned}")
                st["gc_first"] = st.get("gc_first", 0) + 1
            rc, _, err = run_plugin(plugin, "DEL", del_conf)
            if rc != 0:
                raise Failure(f"{where}: DEL after the kill failed: {err}")
            node.check_files(where + ", after DEL")
            left = node.leftovers()
            if not left:
                st["del_clean"] += 1
                continue
            st["gc_needed"] += 1
            print(f"  {where}: DEL left {left}; GC", flush=True)
            node.gc()
            left = node.leftovers()
            if left:
                raise Failure(f"{where}: still left after DEL and GC: {left}")
        print(f"{key}: {st}", flush=True)

    if plugin == "flannel":
        temps = [n for n in os.listdir(FLANNEL_DIR) if n.startswith(".")]
        old = time.time() - 7200
        for n in temps:
            os.utime(f"{FLANNEL_DIR}/{n}", (old, old))
        node.gc()
        rest = os.listdir(FLANNEL_DIR)
        if rest:
            raise Failure(f"flannel GC left {rest} in its dataDir")
        stats["flannel temp files reclaimed by GC"] = len(temps)
    for link in ("crbr0", "crfl0", "crpm0"):
        in_node("ip", "link", "del", link, check=False)


def main():
    stats = {}
    plugins = ONLY or ["host-local", "bridge", "portmap", "flannel"]
    try:
        for p in plugins:
            crash_plugin(p, stats)
    except Failure as e:
        print(f"FAIL: {e}")
        return 1
    kills = sum(s["killed"] for s in stats.values() if isinstance(s, dict))
    gcs = sum(s["gc_needed"] for s in stats.values() if isinstance(s, dict))
    print(f"PASS: {kills} kill -9 points ({POINTS or 'all'} per command) over {', '.join(plugins)}; "
          f"DEL alone converged {kills - gcs + sum(s['completed'] for s in stats.values() if isinstance(s, dict))} "
          f"times, GC needed {gcs} times; GC before any DEL released the plugin's state after "
          f"{sum(s.get('gc_first', 0) for s in stats.values() if isinstance(s, dict))} ADD kills; flannel temp files reclaimed by GC: "
          f"{stats.get('flannel temp files reclaimed by GC', 0)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
