#!/usr/bin/env bash
# bridge ADD/DEL: weft vs the reference (/usr/lib/cni/bridge) in the same run, each with its own
# suite's host-local as IPAM (weft's when built, else the reference's), in throw-away namespaces.
# Per call: wall time, CPU (user+sys of the plugin and the IPAM child it waited for) and peak RSS
# of that process tree, taken by bench/lib/spawn.c linked statically (so the launcher's own image,
# which a vfork child's ru_maxrss includes, is as small as it gets: ~0.5 MiB). The sides run in
# rotating order per iteration, so a noisy machine slows all of them alike; ref/weft ratios are
# medians of per-iteration ratios. Floors in the same run: bench/bridge-floor (bench/bridge/floor.cpp:
# the kernel changes of one bridge + host-local ADD and DEL, made in one process and timed inside
# it) plus two static process starts (an empty main(), bench/lib/nop.c: bridge's and host-local's
# exec), the floor bench/run and docs/benchmarks.md use; and a VERSION call of each side.
# Usage: bench/bridge/run.sh [weft-bin-dir] [iterations]
#   MASQ=true      ipMasq on (iptables backend)
#   OTHER=<dir>    also measure a second weft build (e.g. the one before a change) as "other"
#   FLOOR=<path>   the bridge-floor harness (default: <weft-bin-dir>/../bench/bridge-floor)
# On a machine busy with other work, `chrt -f 10 bench/bridge/run.sh ...` keeps other processes'
# CPU time out of the wall times (every side and the floors alike; all waits here are bounded).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WEFT_BIN=${1:-${WEFT_BIN:-build/bin}} N=${2:-30} REF_BIN=${REF_BIN:-/usr/lib/cni}
FLOOR=${FLOOR:-$WEFT_BIN/../bench/bridge-floor}
[ -x "$FLOOR" ] || { echo "bridge-floor harness not found at $FLOOR (build it: ninja -C build bench/bridge-floor, or set FLOOR)" >&2; exit 2; }
T=$(mktemp -d /tmp/wbb.XXXXXX) NODE=wbbn$$
SIDES=(ref weft); [ -n "${OTHER:-}" ] && SIDES+=(other)
cleanup() {
  ip netns del $NODE 2>/dev/null || true
  for s in "${SIDES[@]}" fl; do for i in $(seq 0 "$N"); do ip netns del wbbp$$-$s-$i 2>/dev/null || true; done; done
  rm -rf "$T"
}
trap cleanup EXIT
cc -O2 -static -o "$T/spawn" "$HERE/../lib/spawn.c" 2>/dev/null || cc -O2 -o "$T/spawn" "$HERE/../lib/spawn.c"
cc -O2 -static -o "$T/nop" "$HERE/../lib/nop.c"
for s in "${SIDES[@]}"; do
  mkdir -p "$T/$s"
  case $s in ref) b=$REF_BIN ;; weft) b=$WEFT_BIN ;; other) b=$OTHER ;; esac
  ln -s "$(realpath "$b/bridge")" "$T/$s/bridge"
  if [ $s != ref ] && [ -x "$b/host-local" ]; then ln -s "$(realpath "$b/host-local")" "$T/$s/host-local"
  else ln -s "$REF_BIN/host-local" "$T/$s/host-local"; fi
done
ip netns add $NODE
for s in "${SIDES[@]}" fl; do for i in $(seq 0 "$N"); do ip netns add wbbp$$-$s-$i; done; done
# call <side> <cmd> <i>: appends "side cmd i wall_us cpu_us rss_kib" to $T/raw
call() {
  local s=$1 cmd=$2 i=$3 k
  case $s in ref) k=91 ;; weft) k=92 ;; *) k=93 ;; esac
  local conf="{\"cniVersion\":\"1.0.0\",\"name\":\"bench-$s\",\"type\":\"bridge\",\"bridge\":\"bb$s\",\"isGateway\":true,\"ipMasq\":${MASQ:-false},
    \"ipam\":{\"type\":\"host-local\",\"dataDir\":\"$T/data-$s\",\"ranges\":[[{\"subnet\":\"10.$k.0.0/16\"}]]}}"
  local st
  st=$(ip netns exec $NODE env -i PATH="$PATH" CNI_COMMAND="$cmd" CNI_CONTAINERID=b$i \
    CNI_NETNS=/run/netns/wbbp$$-$s-$i CNI_IFNAME=eth0 CNI_PATH="$T/$s" \
    "$T/spawn" "$T/$s/bridge" 3>&1 >"$T/out" 2>"$T/err" <<<"$conf") || { cat "$T/out" "$T/err" >&2; exit 1; }
  read -r ns us ss rss _ <<<"$st"
  echo "$s $cmd $i $((ns / 1000)) $((us + ss)) $rss" >>"$T/raw"
}
rotate() {  # rotate <i>: the sides, starting at a different one each iteration
  local n=${#SIDES[@]} j
  for j in $(seq 0 $((n - 1))); do echo "${SIDES[$(((j + $1) % n))]}"; done
}
for s in "${SIDES[@]}"; do call $s ADD 0; call $s DEL 0; done  # warm up: bridges exist
: >"$T/raw"
for i in $(seq 1 "$N"); do for s in $(rotate $i); do call $s VERSION $i; done; done
for i in $(seq 1 "$N"); do for s in $(rotate $i); do call $s ADD $i; done; done
for i in $(seq 1 "$N"); do for s in $(rotate $i); do call $s DEL $i; done; done
for i in $(seq 1 "$N"); do  # floors: the harness's changes (timed inside it) + two static starts
  read -r aw ac dw dc < <(ip netns exec $NODE "$FLOOR" --bridge bbfl --setup --netns /run/netns/wbbp$$-fl-$i \
    --addr 10.94.0.2/16 --gw 10.94.0.1 --datadir "$T/data-fl" --id b$i)
  sw=0 sc=0
  for k in 1 2; do
    read -r ns us ss _ < <("$T/spawn" "$T/nop" 3>&1 >/dev/null)
    sw=$((sw + ns / 1000)) sc=$((sc + us + ss))
  done
  echo "floor ADD $i $((aw + sw)) $((ac + sc)) 0" >>"$T/raw"; echo "floor DEL $i $((dw + sw)) $((dc + sc)) 0" >>"$T/raw"
done
echo "bridge bench: $N iterations, ipMasq ${MASQ:-false}, load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$T/raw" "${SIDES[@]}" <<'EOF'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
sides = sys.argv[2:]
d = {}
for s, cmd, i, w, c, r in rows:
    d.setdefault((s, cmd), {})[int(i)] = (int(w) / 1000, int(c) / 1000, int(r) / 1024)
def q(v, p): v = sorted(v); return v[min(len(v) - 1, int(p * len(v)))]
def f(v): return f"{st.median(v):6.2f} ({q(v, .1):.2f}-{q(v, .9):.2f})"
print(f"{'side':6} {'op':8} {'wall ms median (p10-p90)':>26} {'cpu ms':>22} {'rss MiB':>22}  ref/side wall, cpu, rss")
for cmd in ("VERSION", "ADD", "DEL"):
    for s in sides:
        m = d[(s, cmd)]
        w, c, r = ([x[k] for x in m.values()] for k in range(3))
        ref = d[("ref", cmd)]
        ratio = [st.median(ref[i][k] / m[i][k] for i in m if m[i][k] > 0) for k in range(3)]
        print(f"{s:6} {cmd:8} {f(w):>26} {f(c):>22} {f(r):>22}  {ratio[0]:.2f}x {ratio[1]:.2f}x {ratio[2]:.2f}x")
    if ("floor", cmd) in d:
        w, c = ([x[k] for x in d[("floor", cmd)].values()] for k in range(2))
        print(f"{'floor':6} {cmd:8} {f(w):>26} {f(c):>22}   (bridge-floor {cmd} + 2 static starts)")
for s in sides:
    if s == "ref": continue
    a = [d[("ref", "ADD")][i][1] + d[("ref", "DEL")][i][1] for i in d[(s, "ADD")]]
    b = [d[(s, "ADD")][i][1] + d[(s, "DEL")][i][1] for i in d[(s, "ADD")]]
    print(f"ADD+DEL cpu ms: ref {st.median(a):.2f}, {s} {st.median(b):.2f}, ref/{s} {st.median(x / y for x, y in zip(a, b)):.2f}x")
    for cmd in ("ADD", "DEL"):
        fw, fc = (st.median(x[k] for x in d[("floor", cmd)].values()) for k in range(2))
        sw, sc = (st.median(x[k] for x in d[(s, cmd)].values()) for k in range(2))
        print(f"{s} {cmd} / floor {cmd} (medians): wall {sw / fw:.2f}, cpu {sc / fc:.2f}")
EOF
