#!/usr/bin/env bash
# weftd dual-stack start-up benchmark, inside throw-away namespaces (tests/e2e/overlay.bash):
# 1,000 dual-stack peer leases in etcd (EnableIPv6, IPv6Network fd99::/48), weftd started on a
# node with an IPv4 and an IPv6 underlay address: time until all 1,000 IPv4 routes on flannel.1
# and all 1,000 IPv6 routes on flannel-v6.1 (with their neighbour and FDB entries) are in the
# kernel, and the start-up sync lines weftd logs per family. Target: < 1 s (bench/agent/run.sh
# measures the IPv4-only figure the same way).
set -euo pipefail
WEFT_SRC=${WEFT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
WEFT_BIN=${WEFT_BIN:-$WEFT_SRC/build/bin}
REF_BIN=/usr/lib/cni
export WEFT_SRC WEFT_BIN REF_BIN
OV_NET=10.0.0.0/8
OV_ID=${OV_ID:-wdb$$}
source "$WEFT_SRC/tests/e2e/overlay.bash"
rc=0; ov_init || rc=$?; [ $rc -eq 0 ] || exit $rc
now() { date +%s.%N; }
count() { ip -n "$(ov_node_ns 1)" "$1" route show dev "$2" 2>/dev/null | grep -c onlink || true; }  # peer routes only

ov_etcd
ov_etcdctl put "$OV_PREFIX/config" \
  '{"Network":"10.0.0.0/8","SubnetMin":"10.250.0.0","EnableIPv6":true,"IPv6Network":"fd99::/48","IPv6SubnetMin":"fd99:0:0:f000::","Backend":{"Type":"vxlan"}}' >/dev/null
ov_node 1
ip -n "$(ov_node_ns 1)" addr add fd18::1/64 dev eth0 nodad
ip netns exec "$OV_U" python3 "$WEFT_SRC/bench/agent/leases.py" http://127.0.0.1:2379 fill6 1000

t0=$(now)
ov_weftd 1
for _ in $(seq 2000); do
  [ "$(count -4 flannel.1)" -eq 1000 ] && [ "$(count -6 flannel-v6.1)" -eq 1000 ] && break
  sleep 0.01
done
t1=$(now)
[ "$(count -4 flannel.1)" -eq 1000 ] && [ "$(count -6 flannel-v6.1)" -eq 1000 ] \
  || { echo "routes: v4 $(count -4 flannel.1), v6 $(count -6 flannel-v6.1)" >&2; tail "$OV_TMP/n1/weftd.log" >&2; exit 1; }
printf 'weftd start -> 1000 v4 + 1000 v6 routes in the kernel: %.3f s\n' "$(python3 -c "print($t1 - $t0)")"
grep -o 'start-up sync: .*' "$OV_TMP/n1/weftd.log"
ns=$(ov_node_ns 1)
echo "   v6 neighbours: $(ip -n "$ns" -6 neigh show dev flannel-v6.1 | grep -c PERMANENT), v6 FDB: $(bridge -n "$ns" fdb show dev flannel-v6.1 | grep -c 'dst fd19')"
