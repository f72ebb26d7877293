#!/usr/bin/env bash
# e2e: the wireguard backend in dual stack in Kubernetes mode (Mode separate): three Nodes with
# IPv4+IPv6 podCIDRs from a dual-stack controller-manager (tests/e2e/kube.bash), each node with
# its own wireguard-go started by weftd (tests/e2e/wireguard.bash). Checks: the annotations as
# flanneld writes them (backend-data {"PublicKey":K,"Port":51820}, backend-v6-data
# {"PublicKey":K,"Port":51821} with K what wg pubkey derives from the key file, public-ipv6);
# flannel-wg and flannel-wg-v6 with the /32 and /128 and both network routes; `wg show` of both
# devices = the other Nodes' annotations and podCIDRs; HTTP between pods over v4 and [fd42:..]
# while the underlay carries only UDP/51820 over IPv4 and UDP/51821 over IPv6, no cleartext; a
# deleted Node's peers go from both devices.
set -euo pipefail
WEFT_SRC=${WEFT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
WEFT_BIN=${WEFT_BIN:-$WEFT_SRC/build/bin}
REF_BIN=${REF_BIN:-/usr/lib/cni}
export WEFT_SRC WEFT_BIN REF_BIN
KB_ID=wgkd$$
KB_SUBNET6=fd18:42::
KB_FEATURE_GATES=IPv6DualStack=true
KB_CLUSTER_CIDR=10.42.0.0/16,fd42::/56
KB_NODE_CIDR_ARGS="--node-cidr-mask-size-ipv4=24 --node-cidr-mask-size-ipv6=64"
source "$WEFT_SRC/tests/e2e/kube.bash"
source "$WEFT_SRC/tests/e2e/dualstack.bash"
source "$WEFT_SRC/tests/e2e/wireguard.bash"
wg_ns() { kb_node_ns "$1"; }
wg_dir() { echo "$KB_TMP/n$1"; }
wg_track() { KB_PIDS+=("$1"); }
rc=0; wg_checks || rc=$?; [ $rc -eq 0 ] || exit $rc
rc=0; kb_init || rc=$?; [ $rc -eq 0 ] || exit $rc
[ -x "$WEFT_BIN/weftd" ] || fail "weftd not built ($WEFT_BIN/weftd)"
[ -x "$WEFT_BIN/flannel" ] || fail "our flannel plugin is not built (the v6 delegate needs it)"
P=flannel.alpha.coreos.com
V6=flannel-wg-v6

kb_up
kb_flannel_rbac
token=$(kb_sa_token kube-flannel flannel)
echo '{"Network":"10.42.0.0/16","EnableIPv6":true,"IPv6Network":"fd42::/56","Backend":{"Type":"wireguard","PersistentKeepaliveInterval":25}}' >"$KB_TMP/net-conf.json"
kb_weftd_prefix() { wg_prefix "$1"; KB_PFX=("${WG_PFX[@]}"); }   # weftd with its /run/wireguard
cidrs() { kb_kubectl get node "node$1" -o json | jq -r '.spec.podCIDRs | join(",")'; }
net4_of() { cidrs "$1" | tr , '\n' | grep -v :; }
net6_of() { cidrs "$1" | tr , '\n' | grep :; }
pubkey() { wg pubkey <"$KB_TMP/n$1/wgkey"; }
check_wg() {  # check_wg N: both devices of node N = the other live Nodes' annotations and podCIDRs
  local j
  wg_check "$1" "$(for j in "${LIVE[@]}"; do [ "$j" = "$1" ] || printf '%s\t%s:51820\t%s\n' \
    "$(kb_ann "node$j" "$P/backend-data" | jq -r .PublicKey)" "$(kb_ann "node$j" "$P/public-ip")" "$(net4_of "$j")"; done)"
  wg_check "$1" "$(for j in "${LIVE[@]}"; do [ "$j" = "$1" ] || printf '%s\t[%s]:51821\t%s\n' \
    "$(kb_ann "node$j" "$P/backend-v6-data" | jq -r .PublicKey)" "$(kb_ann "node$j" "$P/public-ipv6")" "$(net6_of "$j")"; done)" $V6
}

for i in 1 2 3; do
  kb_node $i
  kb_kubeconfig "$KB_TMP/n$i/kubeconfig" "$token"
  kb_create_node "node$i"
  KB_WEFTD_ENV[$i]="NODE_NAME=node$i WIREGUARD_KEY_FILE=$KB_TMP/n$i/wgkey"
done
for i in 1 2 3; do kb_wait_pod_cidr "node$i" >/dev/null; done
for i in 1 2 3; do kb_weftd $i; done
for i in 1 2 3; do kb_wait_weftd $i; done
LIVE=(1 2 3)
for i in 1 2 3; do
  k=$(pubkey $i); own6=$(net6_of $i); own6=${own6%/64}
  [ "$(kb_ann node$i $P/backend-data)" = "{\"PublicKey\":\"$k\",\"Port\":51820}" ] || fail "node$i backend-data: $(kb_ann node$i $P/backend-data)"
  [ "$(kb_ann node$i $P/backend-v6-data)" = "{\"PublicKey\":\"$k\",\"Port\":51821}" ] || fail "node$i backend-v6-data: $(kb_ann node$i $P/backend-v6-data)"
  [ "$(kb_ann node$i $P/public-ipv6)" = "${KB_SUBNET6}$i" ] || fail "node$i public-ipv6: $(kb_ann node$i $P/public-ipv6)"
  [ "$(kb_ann node$i $P/backend-type)" = wireguard ] || fail "node$i backend-type"
  ip -n "$(kb_node_ns $i)" -6 addr show dev $V6 scope global | gq "inet6 $own6/128" || fail "node $i $V6 address: $(ip -n "$(kb_node_ns $i)" -6 addr show dev $V6)"
  ip -n "$(kb_node_ns $i)" -6 route show fd42::/56 | gq "dev $V6" || fail "node $i IPv6Network route: $(ip -n "$(kb_node_ns $i)" -6 route)"
  ip -n "$(kb_node_ns $i)" route show 10.42.0.0/16 | gq "dev $WG_DEV" || fail "node $i Network route"
done
for i in 1 2 3; do wait_peers $i 2; wait_peers $i 2 $V6; check_wg $i; done
pass "annotations backend-data/backend-v6-data {\"PublicKey\":K,\"Port\":51820/51821} (K = wg pubkey of the key file) and public-ipv6; /32 + /128, both routes; wg show of both devices = the Nodes"

wg_www
ip2=$(kb_pod 2 b); ip3=$(kb_pod 3 c); kb_pod 1 a >/dev/null
b6=$(ds_pod6 "$(kb_pod_ns b)"); c6=$(ds_pod6 "$(kb_pod_ns c)")
[ -n "$b6" ] && [ -n "$c6" ] || fail "pods without IPv6 ($b6 $c6)"
for p in b c; do ds_serve "$(kb_pod_ns $p)" "$WG_PAGE"; KB_PIDS+=($!); done
wg_capture_start "$KB_U"
for u in "$ip2" "[$b6]" "$ip3" "[$c6]"; do
  [ "$(ds_get "$(kb_pod_ns a)" "http://$u:8080/")" = "$WG_PAGE" ] || fail "HTTP pod a (node1) -> $u"
done
wg_capture_check "$KB_API_IP ${KB_SUBNET6}254" "51820 51821"
w4=$(tcpdump -r "$WG_PCAP" -nn "ip and udp port 51820" 2>/dev/null | grep -c . || true)
w6=$(tcpdump -r "$WG_PCAP" -nn "ip6 and udp port 51821" 2>/dev/null | grep -c . || true)
[ "$w4" -gt 0 ] && [ "$w6" -gt 0 ] || fail "want WireGuard over both families: IPv4/51820 $w4, IPv6/51821 $w6"
pass "HTTP pod a -> pods b, c over v4 and [fd42:..]; underlay: $w4 UDP/51820 over IPv4, $w6 UDP/51821 over IPv6, nothing else between nodes, no cleartext"

kb_weftd_stop 3
kb_kubectl delete node node3 >/dev/null
LIVE=(1 2)
for i in 1 2; do wait_peers $i 1; wait_peers $i 1 $V6; check_wg $i; done
pass "Node node3 deleted: its peers are gone from both devices of nodes 1 and 2"
