#!/usr/bin/env bash
# e2e: weftd --kube-subnet-mgr in dual stack and IPv6 only against kube-apiserver 1.20
# (tests/e2e/kube.bash with a dual-stack underlay, feature gate IPv6DualStack=true, the
# controller-manager assigning podCIDRs from 10.42.0.0/16,fd42::/56). Three dual-stack nodes:
# subnet.env, the -v6 annotations and the PATCH body byte for byte, node-public-ipv6 and
# public-ipv6-overwrite, v6 route/NDP/FDB per peer, HTTP between pods on different nodes over
# v4 and [fd42:..] (flannel -> bridge -> host-local with two ranges), a capture of VXLAN over the
# v6 underlay carrying the pods' own addresses, the v6 VtepMAC read back from backend-v6-data
# at a restart (peers follow the annotation), a v4-only node in the cluster (flanneld's
# behaviour: it sees the others over v4, they skip it), a deleted Node's v6 entries gone; then
# the controller-manager on fd43::/56 alone and two IPv6-only nodes (EnableIPv4 false).
set -euo pipefail
WEFT_SRC=${WEFT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
WEFT_BIN=${WEFT_BIN:-$WEFT_SRC/build/bin}
REF_BIN=${REF_BIN:-/usr/lib/cni}
export WEFT_SRC WEFT_BIN REF_BIN
KB_ID=wkd$$
KB_SUBNET6=fd18:42::
KB_FEATURE_GATES=IPv6DualStack=true
KB_CLUSTER_CIDR=10.42.0.0/16,fd42::/56
KB_NODE_CIDR_ARGS="--node-cidr-mask-size-ipv4=24 --node-cidr-mask-size-ipv6=64"
source "$WEFT_SRC/tests/e2e/kube.bash"
source "$WEFT_SRC/tests/e2e/dualstack.bash"
rc=0; kb_init || rc=$?; [ $rc -eq 0 ] || exit $rc
[ -x "$WEFT_BIN/weftd" ] || fail "weftd not built ($WEFT_BIN/weftd)"
[ -x "$WEFT_BIN/flannel" ] || fail "our flannel plugin is not built (the v6 delegate needs it)"
command -v tcpdump >/dev/null || fail "tcpdump not installed (scripts/deps)"
P=flannel.alpha.coreos.com

kb_up
kb_flannel_rbac
token=$(kb_sa_token kube-flannel flannel)
echo '{"Network":"10.42.0.0/16","EnableIPv6":true,"IPv6Network":"fd42::/56","Backend":{"Type":"vxlan"}}' >"$KB_TMP/net-conf.json"

ns() { kb_node_ns "$1"; }
pns() { kb_pod_ns "$1"; }
mac_of() { ip -n "$(ns "$1")" -j link show "$2" | jq -r '.[0].address'; }
cidrs() { kb_kubectl get node "node$1" -o json | jq -r '.spec.podCIDRs | join(",")'; }
net6_of() { cidrs "$1" | tr , '\n' | grep :; }   # fd42:0:0:x::/64
new_node() {  # N: namespace, kubeconfig, Node object; waits for its podCIDRs
  kb_node "$1"
  kb_kubeconfig "$KB_TMP/n$1/kubeconfig" "$token"
  kb_create_node "node$1"
  kb_wait_pod_cidr "node$1" >/dev/null
}

# ---- dual stack ----
for i in 1 2 3; do new_node $i; done
for i in 1 2 3; do
  cidrs $i | gq -xE "10\.42\.[0-9]+\.0/24,fd42:[0-9a-f:]*:/64" || fail "node$i podCIDRs: $(cidrs $i)"
done
pass "dual-stack podCIDRs from the controller-manager: $(cidrs 1) $(cidrs 2) $(cidrs 3)"

# node 2 advertises public-ipv6-overwrite, node 3 takes node-public-ipv6 as its --public-ipv6;
# both addresses are extra ones on the nodes' eth0
ip -n "$(ns 2)" addr add fd18:42::22/64 dev eth0 nodad
ip -n "$(ns 3)" addr add fd18:42::33/64 dev eth0 nodad
kb_kubectl annotate node node2 "$P/public-ipv6-overwrite=fd18:42::22" >/dev/null
kb_kubectl annotate node node3 "$P/node-public-ipv6=fd18:42::33" >/dev/null
declare -A PUB6=([1]=fd18:42::1 [2]=fd18:42::22 [3]=fd18:42::33)
for i in 1 2 3; do kb_weftd $i; done
for i in 1 2 3; do kb_wait_weftd $i; done
gq "public IPv6 fd18:42::33 from $P/node-public-ipv6" "$KB_TMP/n3/weftd.log" || fail "node 3 did not read node-public-ipv6"
pass "three dual-stack weftd ready"

for i in 1 2 3; do
  c=$(cidrs $i); v4=${c%%,*}; v6=${c#*,}
  want=$(printf 'FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=%s.1/24\nFLANNEL_IPV6_NETWORK=fd42::/56\nFLANNEL_IPV6_SUBNET=%s1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n' \
    "${v4%.0/24}" "${v6%/64}")
  [ "$(cat "$KB_TMP/n$i/subnet.env")" = "$want" ] || fail "node $i subnet.env: $(cat "$KB_TMP/n$i/subnet.env") (want $want)"
  m4=$(mac_of $i flannel.1); m6=$(mac_of $i flannel-v6.1)
  [ "$m4" != "$m6" ] || fail "node $i: flannel.1 and flannel-v6.1 share $m4"
  ip -n "$(ns $i)" -d link show flannel-v6.1 | gq -E "vxlan id 1 local fd18:42::$i($i)? dev eth0" || fail "node $i flannel-v6.1: $(ip -n "$(ns $i)" -d link show flannel-v6.1)"
  [ "$(kb_ann node$i $P/backend-v6-data)" = "{\"VNI\":1,\"VtepMAC\":\"$m6\"}" ] || fail "node$i backend-v6-data: $(kb_ann node$i $P/backend-v6-data)"
  [ "$(kb_ann node$i $P/backend-data)" = "{\"VNI\":1,\"VtepMAC\":\"$m4\"}" ] || fail "node$i backend-data"
  [ "$(kb_ann node$i $P/public-ipv6)" = "${PUB6[$i]}" ] || fail "node$i public-ipv6: $(kb_ann node$i $P/public-ipv6)"
  [ "$(kb_ann node$i $P/public-ip)" = "198.18.42.$i" ] || fail "node$i public-ip"
done
body="{\"metadata\":{\"annotations\":{\"$P/backend-data\":\"{\\\"VNI\\\":1,\\\"VtepMAC\\\":\\\"$(mac_of 1 flannel.1)\\\"}\",\"$P/backend-type\":\"vxlan\",\"$P/backend-v6-data\":\"{\\\"VNI\\\":1,\\\"VtepMAC\\\":\\\"$(mac_of 1 flannel-v6.1)\\\"}\",\"$P/kube-subnet-manager\":\"true\",\"$P/public-ip\":\"198.18.42.1\",\"$P/public-ipv6\":\"fd18:42::1\"}}}"
gq -F "annotated Node node1: $body" "$KB_TMP/n1/weftd.log" || fail "node1 PATCH body: $(grep 'annotated Node' "$KB_TMP/n1/weftd.log")"
# node 2's Node says public-ipv6 fd18:42::22 (the overwrite): still its own lease, not another writer's
for i in 1 2 3; do ! gq "is gone from the store" "$KB_TMP/n$i/weftd.log" || fail "node $i took its own Node's lease for another's"; done
pass "subnet.env with the v6 podCIDR, backend-v6-data/public-ipv6 and the PATCH body as flanneld's; overwrite and node-public-ipv6 honoured"

# node 1's v6 entries for node 2 and node 3 (FDB to the advertised PublicIPv6)
for p in 2 3; do
  net=$(net6_of $p); gw=${net%/64}; m=$(mac_of $p flannel-v6.1)
  ds_wait_route6 "$(ns 1)" "$net"
  ip -n "$(ns 1)" -6 route show "$net" | gq "via $gw dev flannel-v6.1 .*onlink" || fail "v6 route to node $p: $(ip -n "$(ns 1)" -6 route show "$net")"
  ip -n "$(ns 1)" -6 neigh show dev flannel-v6.1 | gq "^$gw lladdr $m PERMANENT" || fail "v6 neighbour of node $p: $(ip -n "$(ns 1)" -6 neigh show dev flannel-v6.1)"
  ip netns exec "$(ns 1)" bridge fdb show dev flannel-v6.1 | gq "^$m dst ${PUB6[$p]} self permanent" || fail "v6 fdb of node $p: $(ip netns exec "$(ns 1)" bridge fdb show dev flannel-v6.1)"
done
pass "v6 peer entries from the Nodes' annotations: onlink route, NDP neighbour, FDB to PublicIPv6"

a4=$(kb_pod 1 a); b4=$(kb_pod 2 b)
a6=$(ds_pod6 "$(pns a)"); b6=$(ds_pod6 "$(pns b)")
[ -n "$a6" ] && [ -n "$b6" ] || fail "pods have no IPv6 address (a=$a6 b=$b6)"
ds_serve "$(pns b)" b; KB_PIDS+=($!)
[ "$(ds_get "$(pns a)" "http://$b4:8080/")" = b ] || fail "HTTP over v4 a -> b"
kb_in tcpdump -nvli br0 -c 4 "ip6 and udp port 8472" >"$KB_TMP/cap6" 2>/dev/null &
cap=$!; KB_PIDS+=("$cap")
sleep 0.5
[ "$(ds_get "$(pns a)" "http://[$b6]:8080/")" = b ] || fail "HTTP over v6 a -> b"
for _ in $(seq 30); do kill -0 $cap 2>/dev/null || break; ip netns exec "$(pns a)" curl -sf -m 1 -g "http://[$b6]:8080/" >/dev/null || true; done
wait $cap 2>/dev/null || true
gq -E "fd18:42::1\.[0-9]+ > fd18:42::22\.8472: .*(OTV|VXLAN), flags \[I\] \(0x08\).*instance 1" "$KB_TMP/cap6" || fail "no VXLAN over the v6 underlay: $(cat "$KB_TMP/cap6")"
gq " $a6\.[0-9]* > $b6\.8080: " "$KB_TMP/cap6" || fail "inner v6 packet is not pod a -> pod b: $(cat "$KB_TMP/cap6")"
pass "HTTP pod a ($a4, $a6) -> pod b over v4 and [$b6]; tcpdump: VXLAN over fd18:42:: to the overwrite address"

# the v6 VtepMAC comes back from backend-v6-data: weftd stopped, flannel-v6.1 deleted, the
# annotation set to another MAC; the restarted weftd creates the device with it and node 2's
# FDB follows the annotation change
kb_weftd_stop 1
ip -n "$(ns 1)" link del flannel-v6.1
kb_kubectl annotate --overwrite node node1 "$P/backend-v6-data={\"VNI\":1,\"VtepMAC\":\"0e:42:00:00:06:01\"}" >/dev/null
kb_until sh -c "ip netns exec $(ns 2) bridge fdb show dev flannel-v6.1 | grep -q '^0e:42:00:00:06:01 dst fd18:42::1 '" \
  || fail "node 2 did not follow node1's backend-v6-data: $(ip netns exec "$(ns 2)" bridge fdb show dev flannel-v6.1)"
kb_weftd 1; kb_wait_weftd 1
[ "$(mac_of 1 flannel-v6.1)" = 0e:42:00:00:06:01 ] || fail "flannel-v6.1 MAC after restart: $(mac_of 1 flannel-v6.1)"
gq "IPv6 VtepMAC 0e:42:00:00:06:01 read back from $P/backend-v6-data" "$KB_TMP/n1/weftd.log" || fail "no read-back log line"
[ "$(ds_get "$(pns a)" "http://[$b6]:8080/")" = b ] || fail "HTTP over v6 after node 1's restart"
pass "v6 VtepMAC read back from backend-v6-data at start; peers follow a backend-v6-data change"

# mixed: node 4 runs a v4-only net-conf in the dual-stack cluster. As with flanneld, it sees
# the dual-stack nodes as IPv4 peers, and they skip it as a whole (no public-ipv6 annotation:
# "Error turning node "node4" to lease: invalid IP address format").
new_node 4
echo '{"Network":"10.42.0.0/16","Backend":{"Type":"vxlan"}}' >"$KB_TMP/n4/net-conf.json"
kb_weftd 4; kb_wait_weftd 4
c4=$(cidrs 4); v44=${c4%%,*}
c1=$(cidrs 1); v41=${c1%%,*}
kb_until sh -c "ip -n $(ns 4) route show $v41 | grep -q 'dev flannel.1'" || fail "v4-only node 4 has no route to node 1"
ip -n "$(ns 4)" link show flannel-v6.1 >/dev/null 2>&1 && fail "v4-only node 4 created flannel-v6.1"
kb_ann node4 $P/public-ipv6 | gq . && fail "v4-only node 4 published public-ipv6"
kb_until gq -F "Error turning node \"node4\" to lease: invalid IP address format (peer skipped)" "$KB_TMP/n1/weftd.log" \
  || fail "node 1 did not skip node 4"
ip -n "$(ns 1)" route show "$v44" | gq . && fail "dual-stack node 1 programmed the v4-only node 4: $(ip -n "$(ns 1)" route show "$v44")"
pass "mixed: v4-only node 4 routes to the dual-stack nodes over v4; they skip it (flanneld's nodeToLease)"
kb_weftd_stop 4

# node 3 removed: weftd stopped, its Node deleted; node 1's v6 (and v4) entries for it go
net3=$(net6_of 3); gw3=${net3%/64}; c3=$(cidrs 3)
kb_weftd_stop 3
kb_kubectl delete node node3 >/dev/null
gone() {
  ! ip -n "$(ns 1)" -6 route show "$net3" | gq . && ! ip -n "$(ns 1)" -6 neigh show dev flannel-v6.1 | gq "^$gw3 " &&
    ! ip netns exec "$(ns 1)" bridge fdb show dev flannel-v6.1 | gq "dst fd18:42::33 " && ! ip -n "$(ns 1)" route show "${c3%%,*}" | gq .
}
kb_until gone || fail "node 3's entries still on node 1: $(ip -n "$(ns 1)" -6 route show "$net3")"
pass "deleted Node: its v6 route, neighbour and FDB entry (and v4 route) are gone on node 1"

# ---- IPv6 only: the controller-manager on fd43::/56 alone ----
for i in 1 2; do kb_weftd_stop $i; done
kb_kubectl delete node node1 node2 node4 >/dev/null
kb_stop controller-manager
KB_CLUSTER_CIDR=fd43::/56
KB_NODE_CIDR_ARGS=--node-cidr-mask-size=64   # 1.20 refuses the -ipv4/-ipv6 flags with one cluster CIDR
kb_controller_manager
echo '{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd43::/56","Backend":{"Type":"vxlan"}}' >"$KB_TMP/net-conf.json"
for i in 5 6; do new_node $i; done
for i in 5 6; do cidrs $i | gq -xE "fd43:[0-9a-f:]*:/64" || fail "node$i podCIDRs: $(cidrs $i)"; done
for i in 5 6; do kb_weftd $i; done
for i in 5 6; do kb_wait_weftd $i; done
for i in 5 6; do
  c=$(cidrs $i)
  want=$(printf 'FLANNEL_IPV6_NETWORK=fd43::/56\nFLANNEL_IPV6_SUBNET=%s1/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=true\n' "${c%/64}")
  [ "$(cat "$KB_TMP/n$i/subnet.env")" = "$want" ] || fail "node $i subnet.env: $(cat "$KB_TMP/n$i/subnet.env") (want $want)"
  ip -n "$(ns $i)" link show flannel.1 >/dev/null 2>&1 && fail "IPv6-only node $i created flannel.1"
  kb_ann node$i $P/public-ip | gq . && fail "IPv6-only node $i published public-ip"
  kb_ann node$i $P/backend-data | gq . && fail "IPv6-only node $i published backend-data"
done
body="{\"metadata\":{\"annotations\":{\"$P/backend-type\":\"vxlan\",\"$P/backend-v6-data\":\"{\\\"VNI\\\":1,\\\"VtepMAC\\\":\\\"$(mac_of 5 flannel-v6.1)\\\"}\",\"$P/kube-subnet-manager\":\"true\",\"$P/public-ipv6\":\"fd18:42::5\"}}}"
gq -F "annotated Node node5: $body" "$KB_TMP/n5/weftd.log" || fail "node5 PATCH body: $(grep 'annotated Node' "$KB_TMP/n5/weftd.log")"
ds_wait_route6 "$(ns 5)" "$(cidrs 6)"
kb_pod 5 c >/dev/null; kb_pod 6 d >/dev/null
c6=$(ds_pod6 "$(pns c)"); d6=$(ds_pod6 "$(pns d)")
ds_serve "$(pns d)" d; KB_PIDS+=($!)
[ "$(ds_get "$(pns c)" "http://[$d6]:8080/")" = d ] || fail "IPv6-only HTTP c -> d"
pass "IPv6 only: podCIDRs $(cidrs 5) $(cidrs 6), subnet.env v6 lines only, no flannel.1, the v6-only PATCH body, HTTP [$c6] -> [$d6]"
