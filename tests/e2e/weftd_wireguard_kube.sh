#!/usr/bin/env bash
# e2e: the wireguard backend in Kubernetes mode (issue 19): three node namespaces run weftd
# --kube-subnet-mgr as the service account of conf/kube-flannel.yml against a real kube-apiserver
# 1.20 (tests/e2e/kube.bash), net-conf.json Backend {"Type":"wireguard"}, podCIDRs from the
# controller-manager, each node with its own wireguard-go started by weftd (tests/e2e/wireguard.bash).
# Checks: the annotations as flanneld writes them (backend-data {"PublicKey":K,"Port":51820} with
# K the public key of the key file, derived independently by wg pubkey); subnet.env with MTU 1420;
# HTTP between pods on different nodes through conf/10-flannel.conflist's chain while the
# underlay carries only UDP to 51820 between nodes, no cleartext; `wg show` agrees with the
# Nodes' annotations and podCIDRs; a weftd restart keeps the key (no re-annotation) and traffic;
# a changed key in a Node's backend-data replaces its peer; a Node deleted -> its peer removed on
# the others.
set -euo pipefail
WEFT_SRC=${WEFT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
WEFT_BIN=${WEFT_BIN:-$WEFT_SRC/build/bin}
REF_BIN=${REF_BIN:-/usr/lib/cni}
export WEFT_SRC WEFT_BIN REF_BIN
KB_ID=wgk$$
source "$WEFT_SRC/tests/e2e/kube.bash"
source "$WEFT_SRC/tests/e2e/wireguard.bash"
wg_ns() { kb_node_ns "$1"; }
wg_dir() { echo "$KB_TMP/n$1"; }
wg_track() { KB_PIDS+=("$1"); }
rc=0; wg_checks || rc=$?; [ $rc -eq 0 ] || exit $rc
rc=0; kb_init || rc=$?; [ $rc -eq 0 ] || exit $rc
[ -x "$WEFT_BIN/weftd" ] || fail "weftd not built ($WEFT_BIN/weftd)"
P=flannel.alpha.coreos.com

kb_up
kb_flannel_rbac
token=$(kb_sa_token kube-flannel flannel)
jq -n '{Network: "10.42.0.0/16", Backend: {Type: "wireguard", PersistentKeepaliveInterval: 25}}' >"$KB_TMP/net-conf.json"

declare -A CIDR
# weftd (kube.bash's kb_weftd) as the flannel service account, with its key file and /run/wireguard
kb_weftd_prefix() { wg_prefix "$1"; KB_PFX=("${WG_PFX[@]}"); }
for i in 1 2 3; do KB_WEFTD_ENV[$i]="NODE_NAME=node$i WIREGUARD_KEY_FILE=$KB_TMP/n$i/wgkey"; done
pubkey() { kb_ann "node$1" "$P/backend-data" | jq -r .PublicKey; }
# check_wg N: `wg show` on node N equals what the other live Nodes' annotations say
check_wg() {
  local j
  wg_check "$1" "$(for j in "${LIVE[@]}"; do [ "$j" = "$1" ] ||
    printf '%s\t%s:%s\t%s\n' "$(pubkey "$j")" "$(kb_ann "node$j" "$P/public-ip")" \
      "$(kb_ann "node$j" "$P/backend-data" | jq -r .Port)" "${CIDR[$j]}"; done)"
}

for i in 1 2 3; do
  kb_node $i
  kb_kubeconfig "$KB_TMP/n$i/kubeconfig" "$token"
  kb_create_node "node$i"
done
for i in 1 2 3; do CIDR[$i]=$(kb_wait_pod_cidr "node$i"); done
for i in 1 2 3; do kb_weftd $i; done
for i in 1 2 3; do kb_wait_weftd $i; done
LIVE=(1 2 3)
pass "podCIDRs ${CIDR[1]} ${CIDR[2]} ${CIDR[3]}; three weftd ready with the wireguard backend"

# the annotations as flanneld writes them; the key is the key file's (wg pubkey derives it on its own)
for i in 1 2 3; do
  key=$(wg pubkey <"$KB_TMP/n$i/wgkey")
  [ "$(kb_ann node$i $P/backend-type)" = wireguard ] || fail "node$i backend-type: $(kb_ann node$i $P/backend-type)"
  [ "$(kb_ann node$i $P/backend-data)" = "{\"PublicKey\":\"$key\",\"Port\":51820}" ] ||
    fail "node$i backend-data: $(kb_ann node$i $P/backend-data), want key $key"
  [ "$(kb_ann node$i $P/public-ip)" = "198.18.42.$i" ] || fail "node$i public-ip"
  [ "$(kb_ann node$i $P/kube-subnet-manager)" = true ] || fail "node$i kube-subnet-manager"
  [ "$(wgn $i show $WG_DEV public-key)" = "$key" ] || fail "node$i device key $(wgn $i show $WG_DEV public-key) != $key"
  [ "$(stat -c %a "$KB_TMP/n$i/wgkey")" = 400 ] || fail "node$i key file mode $(stat -c %a "$KB_TMP/n$i/wgkey")"
  want=$(printf 'FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=%s.1/24\nFLANNEL_MTU=1420\nFLANNEL_IPMASQ=true\n' "${CIDR[$i]%.0/24}")
  [ "$(cat "$KB_TMP/n$i/subnet.env")" = "$want" ] || fail "node $i subnet.env: $(cat "$KB_TMP/n$i/subnet.env")"
  cond=$(kb_kubectl get node node$i -o json | jq -c '.status.conditions[] | select(.type=="NetworkUnavailable") | [.status,.reason]')
  [ "$cond" = '["False","FlannelIsUp"]' ] || fail "node$i condition: $cond"
done
pass "annotations: backend-type wireguard, backend-data {\"PublicKey\":K,\"Port\":51820} (K = wg pubkey of the key file, 0400); subnet.env MTU 1420"

for i in 1 2 3; do wait_peers $i 2; done
for i in 1 2 3; do check_wg $i; done
ip -n "$(kb_node_ns 1)" -4 addr show $WG_DEV | gq "inet ${CIDR[1]%/24}/32" || fail "device address: $(ip -n "$(kb_node_ns 1)" addr show $WG_DEV)"
ip -n "$(kb_node_ns 1)" route show 10.42.0.0/16 | gq "dev $WG_DEV" || fail "Network route: $(ip -n "$(kb_node_ns 1)" route)"
pass "wg show on every node = the other Nodes' annotations (key, public-ip:Port) and podCIDRs"

# pods through the conflist's chain; HTTP across nodes; only WireGuard on the underlay
wg_www
ip1=$(kb_pod 1 a); ip2=$(kb_pod 2 b); ip3=$(kb_pod 3 c)
wg_serve "$(kb_pod_ns b)"; wg_serve "$(kb_pod_ns c)"
wg_capture_start "$KB_U"
[ "$(wg_http "$(kb_pod_ns a)" "$ip2")" = "$WG_PAGE" ] || fail "HTTP pod a (node1) -> pod b (node2)"
[ "$(wg_http "$(kb_pod_ns a)" "$ip3")" = "$WG_PAGE" ] || fail "HTTP pod a (node1) -> pod c (node3)"
[ "$(wg_http "$(kb_pod_ns c)" "$ip2")" = "$WG_PAGE" ] || fail "HTTP pod c (node3) -> pod b (node2)"
wg_capture_check "$KB_API_IP"
pass "HTTP between pods on three nodes ($ip1 -> $ip2, $ip3); the underlay saw $WG_PKTS UDP/51820 packets, between nodes nothing else, no cleartext"

# weftd restart: the same key, no re-annotation, traffic flows
key1=$(pubkey 1)
kb_weftd_stop 1
[ "$(wg_http "$(kb_pod_ns a)" "$ip2")" = "$WG_PAGE" ] || fail "traffic stopped while weftd was down"
kb_weftd 1; kb_wait_weftd 1
[ "$(pubkey 1)" = "$key1" ] || fail "key changed across a restart: $key1 -> $(pubkey 1)"
[ "$(wgn 1 show $WG_DEV public-key)" = "$key1" ] || fail "device key changed across a restart"
[ "$(grep -c "annotated Node node1" "$KB_TMP/n1/weftd.log")" = 1 ] || fail "node1 re-annotated on restart: $(grep "annotated Node" "$KB_TMP/n1/weftd.log")"
[ "$(wg_http "$(kb_pod_ns a)" "$ip2")" = "$WG_PAGE" ] || fail "HTTP after the weftd restart"
check_wg 1; check_wg 2
pass "weftd restart: same key $key1, no re-annotation, traffic kept flowing"

# a changed key in node3's backend-data replaces its peer on the others, no second peer (node 3's
# own weftd is stopped first: a running weftd republishes its annotations when they differ)
old3=$(pubkey 3)
kb_weftd_stop 3
key3=$(wg genkey | wg pubkey)
kb_kubectl annotate --overwrite node node3 "$P/backend-data={\"PublicKey\":\"$key3\",\"Port\":51820}" >/dev/null
for i in 1 2; do kb_until eval "wgn $i show $WG_DEV peers | gq -F '$key3'" || fail "node $i did not take node3's new key"; done
for i in 1 2; do wait_peers $i 2; check_wg $i; ! wgn $i show $WG_DEV peers | gq -F "$old3" || fail "node $i keeps node3's old key"; done
pass "a changed PublicKey in node3's backend-data replaced its peer on nodes 1 and 2 (still two peers)"

# node 3 deleted: its peer removed on nodes 1 and 2
kb_kubectl delete node node3 >/dev/null
LIVE=(1 2)
wait_peers 1 1; wait_peers 2 1
check_wg 1; check_wg 2
for i in 1 2; do ! wgn $i show $WG_DEV peers | gq -F "$key3" || fail "node 3's peer is still on node $i"; done
ip -n "$(kb_node_ns 1)" route show "${CIDR[3]}" | gq . && fail "node 1 keeps a route to ${CIDR[3]}"
[ "$(wg_http "$(kb_pod_ns a)" "$ip2")" = "$WG_PAGE" ] || fail "HTTP node1 -> node2 after node 3 left"
pass "Node node3 deleted: its peer is gone from nodes 1 and 2, traffic between them flows"
