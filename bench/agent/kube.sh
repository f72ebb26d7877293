#!/usr/bin/env bash
# weftd Kubernetes-mode benchmarks against a real kube-apiserver 1.20.2 (tests/e2e/kube.bash:
# etcd + kube-apiserver with RBAC + kube-controller-manager in an underlay namespace; binaries
# from scripts/kube-bin's cache, never built here). weftd runs in one node namespace as the
# flannel service account of conf/kube-flannel.yml (a bound token). The bench creates the peer
# Nodes itself with spec.podCIDR and the annotations flanneld writes (bench/agent/nodes.py), so
# it measures weftd, not the controller-manager's CIDR allocator.
#  1. 1,000 peer Nodes in the API server before weftd starts: time from exec to all 1,000 routes
#     in the node namespace (then ARP and FDB entries counted), and the batch time weftd logs;
#  2. a VtepMAC change in one peer Node's backend-data annotation -> the new ARP and FDB entries
#     on weftd's node (ip -ts monitor neigh timestamps against the wall clock taken just before the
#     PATCH), CHANGES samples (default 20), median and max.
#  With STACK=dual: the network is dual stack (EnableIPv6, IPv6Network fd10::/16, a v6 underlay,
#  the API server's IPv6DualStack gate), the peers carry a v6 podCIDR and the -v6 annotations,
#  and part 1 waits for PEERS routes on flannel.1 and on flannel-v6.1.
# Every figure is printed with the load average at the time. Bounded: every wait has a limit;
# the EXIT trap of kube.bash stops every daemon and removes namespaces and files.
#   sudo [STACK=dual] bench/agent/kube.sh [PEERS [CHANGES]]
set -euo pipefail
WEFT_SRC=${WEFT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
WEFT_BIN=${WEFT_BIN:-$WEFT_SRC/build/bin}
export WEFT_SRC WEFT_BIN
PEERS=${1:-1000}; CHANGES=${2:-20}
((PEERS >= 1 && PEERS <= 2000 && CHANGES >= 1 && CHANGES <= 100)) || { echo "PEERS 1..2000, CHANGES 1..100" >&2; exit 2; }
KB_ID=wkb$$
KB_CONTROLLERS=serviceaccount,serviceaccount-token   # no nodeipam: the bench sets the podCIDRs
STACK=${STACK:-v4}
[ "$STACK" = v4 ] || [ "$STACK" = dual ] || { echo "STACK is v4 or dual" >&2; exit 2; }
if [ "$STACK" = dual ]; then KB_SUBNET6=fd18:42::; KB_FEATURE_GATES=IPv6DualStack=true; fi
source "$WEFT_SRC/tests/e2e/kube.bash"
rc=0; kb_init || rc=$?; [ $rc -eq 0 ] || exit $rc
[ -x "$WEFT_BIN/weftd" ] || fail "weftd not built ($WEFT_BIN/weftd)"
now() { date +%s.%N; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
N() { kb_in python3 "$WEFT_SRC/bench/agent/nodes.py" "$KB_API" "$KB_ADMIN_TOKEN" "$KB_TMP/pki/ca.crt" "$@"; }

kb_up
kb_flannel_rbac
token=$(kb_sa_token kube-flannel flannel)
if [ "$STACK" = dual ]; then
  printf '{"Network":"10.0.0.0/8","EnableIPv6":true,"IPv6Network":"fd10::/16","Backend":{"Type":"vxlan"}}\n' >"$KB_TMP/net-conf.json"
  own_cidrs='["10.250.0.0/24","fd10:fa::/64"]'
else
  printf '{"Network":"10.0.0.0/8","Backend":{"Type":"vxlan"}}\n' >"$KB_TMP/net-conf.json"
  own_cidrs='["10.250.0.0/24"]'
fi
kb_node 1
NS=$(kb_node_ns 1)
kb_kubeconfig "$KB_TMP/n1/kubeconfig" "$token"
kb_kubectl create -f - >/dev/null <<EOF2
{"apiVersion":"v1","kind":"Node","metadata":{"name":"node1"},"spec":{"podCIDR":"10.250.0.0/24","podCIDRs":$own_cidrs}}
EOF2
t0=$(now); if [ "$STACK" = dual ]; then N fill-dual "$PEERS"; else N fill "$PEERS"; fi
printf '(setup: %d Nodes created through the API in %.1f s)\n' "$PEERS" "$(python3 -c "print($(now) - $t0)")"
count_routes() {  # the smaller of the families' route counts
  local c4 c6
  c4=$(ip -n "$NS" -4 route show dev flannel.1 2>/dev/null | wc -l)
  [ "$STACK" = dual ] || { echo "$c4"; return; }
  c6=$(ip -n "$NS" -6 route show dev flannel-v6.1 2>/dev/null | grep -c onlink)
  echo $((c4 < c6 ? c4 : c6))
}

echo "== 1. weftd start with $PEERS peer Nodes in the API server ($STACK)"
l0=$(load); t0=$(now)
ip netns exec "$NS" env NODE_NAME=node1 "$WEFT_BIN/weftd" --kube-subnet-mgr --ip-masq \
  --kubeconfig-file "$KB_TMP/n1/kubeconfig" --net-config-path "$KB_TMP/net-conf.json" --iface eth0 \
  --subnet-file "$KB_TMP/n1/subnet.env" --healthz-ip 127.0.0.1 --healthz-port 8471 >"$KB_TMP/n1/weftd.log" 2>&1 &
KB_PIDS+=($!)
for _ in $(seq 3000); do [ "$(count_routes)" -ge "$PEERS" ] && break; sleep 0.01; done   # 30 s bound (plus polls)
t1=$(now)
[ "$(count_routes)" -eq "$PEERS" ] || fail "$(count_routes) routes, want $PEERS"
neigh=$(ip -n "$NS" neigh show dev flannel.1 | grep -c PERMANENT)
fdb=$(bridge -n "$NS" fdb show dev flannel.1 | grep -c ' dst 198\.19\.')
[ "$neigh" -eq "$PEERS" ] && [ "$fdb" -eq "$PEERS" ] || fail "neighbours $neigh, FDB $fdb, want $PEERS"
printf 'weftd start -> %d routes in the kernel: %.3f s (load %s -> %s)\n' "$PEERS" "$(python3 -c "print($t1 - $t0)")" "$l0" "$(load)"
grep -o 'start-up sync: .*' "$KB_TMP/n1/weftd.log" || true
echo "   neighbours: $neigh, FDB: $fdb"

echo "== 2. VtepMAC annotation change on a peer Node -> ARP + FDB on node1 ($CHANGES samples)"
# RTM_NEWNEIGH carries both: the ARP entry (10.x.y.0 lladdr MAC) and the FDB entry (198.19.a.b lladdr MAC)
ip -n "$NS" -ts monitor neigh >"$KB_TMP/neigh.txt" &
KB_PIDS+=($!)
sleep 0.3
l0=$(load)
: >"$KB_TMP/patches.txt"
for k in $(seq "$CHANGES"); do N mac $(( (k * 37) % PEERS )) "$k" >>"$KB_TMP/patches.txt"; sleep 0.1; done
sleep 1
python3 - "$KB_TMP" "$l0" "$(load)" <<'PY'
import sys, datetime, statistics
d, l0, l1 = sys.argv[1:4]
def ts_of(kind, mac):  # first "[ts] <kind address> dev flannel.1 lladdr <mac>" line, not a deletion
    for line in open(f"{d}/neigh.txt"):
        rest = line.split("] ", 1)[-1]
        if line.startswith("[") and rest.startswith(kind) and f"lladdr {mac}" in rest:
            return datetime.datetime.fromisoformat(line[1:line.index("]")]).replace(tzinfo=datetime.timezone.utc).timestamp()
lat, missing = [], 0
for t0, mac in (l.split() for l in open(f"{d}/patches.txt")):
    a, f = ts_of("10.", mac), ts_of("198.19.", mac)
    if a is None or f is None: missing += 1; print(f"{mac}: ARP {a is not None}, FDB {f is not None}"); continue
    lat.append((max(a, f) - float(t0)) * 1000)
if not lat: sys.exit("no change observed")
lat.sort()
print(f"samples {len(lat)} (missing {missing}): PATCH -> ARP and FDB on node1, ms: median {statistics.median(lat):.1f}, p90 {lat[max(0, int(len(lat) * 0.9) - 1)]:.1f}, "
      f"max {lat[-1]:.1f} (load {l0} -> {l1})")
sys.exit(1 if missing else 0)
PY
