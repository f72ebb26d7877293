#!/usr/bin/env bash
# weftd benchmarks, inside throw-away namespaces (tests/e2e/overlay.bash):
#  1. start-up with 1,000 peer leases in etcd: time until all 1,000 routes (plus ARP and FDB
#     entries) are in the node's kernel, and the data-plane batch time weftd logs;
#  2. a burst of 1,000 leases deleted, then 1,000 created (transactions of 100) while running;
#  3. latency from an etcd write to the route being present on each of 3 nodes (ip -ts monitor
#     timestamps against the wall clock taken just before the write), 20 samples.
# Targets: 1,000 leases programmed < 1 s; etcd write -> route on every node < 100 ms.
set -euo pipefail
WEFT_SRC=${WEFT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
WEFT_BIN=${WEFT_BIN:-$WEFT_SRC/build/bin}
REF_BIN=/usr/lib/cni
export WEFT_SRC WEFT_BIN REF_BIN
OV_NET=10.0.0.0/8
source "$WEFT_SRC/tests/e2e/overlay.bash"
rc=0; ov_init || rc=$?; [ $rc -eq 0 ] || exit $rc
L() { ip netns exec "$OV_U" python3 "$WEFT_SRC/bench/agent/leases.py" http://127.0.0.1:2379 "$@"; }
now() { date +%s.%N; }
count_routes() { ip -n "$(ov_node_ns "$1")" -4 route show dev flannel.1 2>/dev/null | wc -l; }
wait_routes() {  # node, want -> prints seconds waited (10 ms polls, 20 s bound)
  local t0; t0=$(now)
  for _ in $(seq 2000); do [ "$(count_routes "$1")" -eq "$2" ] && break; sleep 0.01; done
  [ "$(count_routes "$1")" -eq "$2" ] || { echo "node $1: $(count_routes "$1") routes, want $2" >&2; return 1; }
  python3 -c "print(f'{$(now) - $t0:.3f}')"
}

ov_etcd
ov_etcdctl put "$OV_PREFIX/config" '{"Network":"10.0.0.0/8","SubnetMin":"10.250.0.0","Backend":{"Type":"vxlan"}}' >/dev/null
for i in 1 2 3; do ov_node $i; done

echo "== 1. start-up with 1,000 leases in etcd"
L fill 1000
t0=$(now)
ov_weftd 1
wait_routes 1 1000 >/dev/null
t1=$(now)
printf 'weftd start -> 1000 routes in the kernel: %.3f s\n' "$(python3 -c "print($t1 - $t0)")"
grep -o 'start-up sync: .*' "$OV_TMP/n1/weftd.log"
echo "   neighbours: $(ip -n "$(ov_node_ns 1)" neigh show dev flannel.1 | wc -l), FDB: $(bridge -n "$(ov_node_ns 1)" fdb show dev flannel.1 | grep -c dst)"

echo "== 2. bursts while running"
t0=$(now); L clear; s=$(wait_routes 1 0); printf '1000 leases deleted -> routes gone: %.3f s (after the deletes returned: %s s)\n' "$(python3 -c "print($(now) - $t0)")" "$s"
t0=$(now); L fill 1000; s=$(wait_routes 1 1000); printf '1000 leases created -> routes present: %.3f s (after the writes returned: %s s)\n' "$(python3 -c "print($(now) - $t0)")" "$s"
L clear; wait_routes 1 0 >/dev/null

echo "== 3. etcd write -> route on every node (3 nodes, 20 samples)"
ov_weftd 2; ov_weftd 3
for i in 1 2 3; do ov_wait_ready $i; done
for i in 1 2 3; do wait_routes $i 2 >/dev/null; done
for i in 1 2 3; do
  ip -n "$(ov_node_ns $i)" -ts monitor route >"$OV_TMP/mon$i.txt" &
  OV_PIDS+=($!)
done
sleep 0.3
: >"$OV_TMP/puts.txt"
for k in $(seq 2000 2019); do L put "$k" >>"$OV_TMP/puts.txt"; sleep 0.05; done
sleep 0.5
python3 - "$OV_TMP" <<'PY'
import sys, datetime, statistics
d = sys.argv[1]
puts = [l.split() for l in open(f"{d}/puts.txt")]
worst = []
for t0, dst in puts:
    lat = []
    for i in (1, 2, 3):
        for line in open(f"{d}/mon{i}.txt"):
            if line.split("] ", 1)[-1].startswith(dst + " via") and "Deleted" not in line:
                ts = datetime.datetime.fromisoformat(line[1:line.index("]")]).replace(tzinfo=datetime.timezone.utc).timestamp()
                lat.append((ts - float(t0)) * 1000); break
    if len(lat) == 3: worst.append(max(lat))
    else: print(f"{dst}: seen on {len(lat)} of 3 nodes")
worst.sort()
print(f"samples {len(worst)}: slowest node per write, ms: median {statistics.median(worst):.1f}, "
      f"p90 {worst[int(len(worst)*0.9)-1]:.1f}, max {worst[-1]:.1f}")
PY
