#!/usr/bin/env bash
# e2e: weftd --kube-subnet-mgr against a real kube-apiserver 1.20 (tests/e2e/kube.bash: etcd,
# kube-apiserver with RBAC, kube-controller-manager assigning podCIDRs from 10.42.0.0/16).
# Three node namespaces run weftd as the service account of conf/kube-flannel.yml (a bound
# token, exactly that ClusterRole); the Nodes are created with kubectl and get their podCIDRs
# from the controller-manager. Checked: subnet.env and the annotations byte for byte in
# flanneld's format, the NetworkUnavailable condition, VXLAN entries per peer, HTTP between pods
# on different nodes through conf/10-flannel.conflist's chain, a Node deleted (its routes/ARP/FDB
# go on the others), a changed VtepMAC annotation (FDB replaced), weftd restarted under HTTP load
# (same MAC, gap < 1 s) onto the in-cluster config, its bound token rotated and the old one
# revoked, the API server restarted (the watch resumes and a change made meanwhile is applied),
# node 3 finding its Node through POD_NAME/pods get, an unreachable API server (/readyz reason),
# and a second service account without nodes/status patch getting the error that names it.
set -euo pipefail
WEFT_SRC=${WEFT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
WEFT_BIN=${WEFT_BIN:-$WEFT_SRC/build/bin}
REF_BIN=${REF_BIN:-/usr/lib/cni}
export WEFT_SRC WEFT_BIN REF_BIN
KB_ID=wm$$
source "$WEFT_SRC/tests/e2e/kube.bash"
rc=0; kb_init || rc=$?; [ $rc -eq 0 ] || exit $rc
[ -x "$WEFT_BIN/weftd" ] || fail "weftd not built ($WEFT_BIN/weftd)"
P=flannel.alpha.coreos.com

kb_up
kb_flannel_rbac
kb_kubectl -n kube-flannel create serviceaccount norbac >/dev/null
kb_kubectl create clusterrole wm-norbac --verb=get,list,watch --resource=nodes,pods >/dev/null
kb_kubectl create clusterrolebinding wm-norbac --clusterrole=wm-norbac --serviceaccount=kube-flannel:norbac >/dev/null
token=$(kb_sa_token kube-flannel flannel)
cp "$WEFT_SRC/conf/net-conf.json" "$KB_TMP/net-conf.json"

# node 3 finds its Node as a DaemonSet pod does: POD_NAME + POD_NAMESPACE, then pods/get
KB_WEFTD_ENV[3]="POD_NAME=wm-flannel-node3 POD_NAMESPACE=kube-flannel"
# weftd_start_incluster N: weftd on node N with no kubeconfig and no URL, i.e. the in-cluster
# config a DaemonSet pod has: KUBERNETES_SERVICE_HOST/_PORT and the token and ca.crt under
# /var/run/secrets/kubernetes.io/serviceaccount/, provided in a private mount namespace (a tmpfs
# on /run seen by weftd only); the token file is $KB_TMP/nN/sa/token, bind-mounted, so the test
# can rotate it.
weftd_start_incluster() {
  local n=$1 sa=$KB_TMP/n$1/sa
  ip netns exec "$(kb_node_ns "$n")" unshare -m --propagation private sh -c '
    mount -t tmpfs wm-run /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount &&
    mount --bind "$1" /run/secrets/kubernetes.io/serviceaccount && shift && exec "$@"' sh "$sa" \
    env KUBERNETES_SERVICE_HOST="$KB_API_IP" KUBERNETES_SERVICE_PORT=6443 NODE_NAME="node$n" \
    "$WEFT_BIN/weftd" --kube-subnet-mgr --ip-masq --net-config-path "$KB_TMP/net-conf.json" --iface eth0 \
    --subnet-file "$KB_TMP/n$n/subnet.env" --healthz-ip 127.0.0.1 --healthz-port 8471 \
    >>"$KB_TMP/n$n/weftd.log" 2>&1 &
  KB_WEFTD[$n]=$!
  KB_PIDS+=($!)
}
# pod_token NAME: a flannel service-account token bound to a new (never started) pod NAME; it
# stops being valid when that pod is deleted.
pod_token() {
  local uid
  kb_kubectl create -f - >/dev/null <<EOF2
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"$1","namespace":"kube-flannel"},
 "spec":{"nodeName":"node2","serviceAccountName":"flannel","containers":[{"name":"x","image":"localhost/weft:v0.1.0"}]}}
EOF2
  uid=$(kb_kubectl -n kube-flannel get pod "$1" -o 'jsonpath={.metadata.uid}')
  kb_curl "$KB_ADMIN_TOKEN" "/api/v1/namespaces/kube-flannel/serviceaccounts/flannel/token" \
    -f -X POST -H 'Content-Type: application/json' -d "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\",\"spec\":{\"expirationSeconds\":3600,\"boundObjectRef\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"name\":\"$1\",\"uid\":\"$uid\"}}}" | jq -er .status.token
}
mac_of() { ip -n "$(kb_node_ns "$1")" -j link show flannel.1 | jq -r '.[0].address'; }

for i in 1 2 3; do
  kb_node $i
  kb_kubeconfig "$KB_TMP/n$i/kubeconfig" "$token"
  kb_create_node "node$i"
done
declare -A CIDR
for i in 1 2 3; do CIDR[$i]=$(kb_wait_pod_cidr "node$i"); done
pass "podCIDRs from the controller-manager: ${CIDR[1]} ${CIDR[2]} ${CIDR[3]}"

# the pod object (never started: no kubelet runs) that tells node 3's weftd its node name
kb_kubectl create -f - >/dev/null <<EOF2
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"wm-flannel-node3","namespace":"kube-flannel"},
 "spec":{"nodeName":"node3","serviceAccountName":"flannel","containers":[{"name":"weftd","image":"localhost/weft:v0.1.0"}]}}
EOF2
for i in 1 2 3; do kb_weftd $i; done
for i in 1 2 3; do kb_wait_weftd $i; done
gq "node name node3 from pod kube-flannel/wm-flannel-node3" "$KB_TMP/n3/weftd.log" || fail "node 3 did not find its node through pods/get"
pass "three weftd ready (node 3 found through pods/get)"

# subnet.env byte for byte as flanneld writes it for these podCIDRs
for i in 1 2 3; do
  want=$(printf 'FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=%s.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n' "${CIDR[$i]%.0/24}")
  [ "$(cat "$KB_TMP/n$i/subnet.env")" = "$want" ] || fail "node $i subnet.env: $(cat "$KB_TMP/n$i/subnet.env")"
done
pass "subnet.env format (FLANNEL_SUBNET from the Node's podCIDR)"

# annotations as flanneld writes them
for i in 1 2 3; do
  mac=$(mac_of $i)
  [ "$(kb_ann node$i $P/backend-type)" = vxlan ] || fail "node$i backend-type"
  [ "$(kb_ann node$i $P/backend-data)" = "{\"VNI\":1,\"VtepMAC\":\"$mac\"}" ] || fail "node$i backend-data: $(kb_ann node$i $P/backend-data)"
  [ "$(kb_ann node$i $P/public-ip)" = "198.18.42.$i" ] || fail "node$i public-ip"
  [ "$(kb_ann node$i $P/kube-subnet-manager)" = true ] || fail "node$i kube-subnet-manager"
  cond=$(kb_kubectl get node node$i -o json | jq -c '.status.conditions[] | select(.type=="NetworkUnavailable") | [.status,.reason,.message]')
  [ "$cond" = '["False","FlannelIsUp","Flannel is running on this node"]' ] || fail "node$i condition: $cond"
done
body="{\"metadata\":{\"annotations\":{\"$P/backend-data\":\"{\\\"VNI\\\":1,\\\"VtepMAC\\\":\\\"$(mac_of 1)\\\"}\",\"$P/backend-type\":\"vxlan\",\"$P/kube-subnet-manager\":\"true\",\"$P/public-ip\":\"198.18.42.1\"}}}"
gq -F "annotated Node node1: $body" "$KB_TMP/n1/weftd.log" || fail "node1 PATCH body: $(grep 'annotated Node' "$KB_TMP/n1/weftd.log")"
! gq "is gone from the store" "$KB_TMP/n1/weftd.log" || fail "node1 lost its own lease from the first snapshot"
pass "annotations and NetworkUnavailable=False (FlannelIsUp) as flanneld writes them"

# per peer: ARP, FDB, onlink route
entries_ok() {  # N PEER
  local ns gw mac; ns=$(kb_node_ns "$1"); gw=${CIDR[$2]%/24}; mac=$(mac_of "$2")
  ip -n "$ns" route show "${CIDR[$2]}" | gq "via $gw dev flannel.1 onlink" &&
    ip -n "$ns" neigh show dev flannel.1 "$gw" | gq "lladdr $mac PERMANENT" &&
    bridge -n "$ns" fdb show dev flannel.1 | gq "$mac dst 198.18.42.$2 self permanent"
}
for i in 1 2 3; do for j in 1 2 3; do
  [ $i = $j ] && continue
  kb_until entries_ok $i $j || fail "node $i lacks the entries of node $j"
done; done
pass "route/ARP/FDB for every peer on every node"

# pods through the conflist's chain, HTTP across nodes
ip1=$(kb_pod 1 a); ip2=$(kb_pod 2 b); ip3=$(kb_pod 3 c)
echo "hello from node2" >"$KB_TMP/index.html"
ip netns exec "$(kb_pod_ns b)" python3 -m http.server 8080 --bind "$ip2" --directory "$KB_TMP" >/dev/null 2>&1 &
KB_PIDS+=($!)
kb_until ip netns exec "$(kb_pod_ns a)" curl -sf -m 1 "http://$ip2:8080/index.html" >/dev/null || fail "HTTP pod a (node1) -> pod b (node2)"
[ "$(ip netns exec "$(kb_pod_ns c)" curl -sf -m 2 "http://$ip2:8080/index.html")" = "hello from node2" ] || fail "HTTP pod c (node3) -> pod b"
pass "HTTP between pods on different nodes ($ip1, $ip3 -> $ip2)"

# a changed VtepMAC annotation: the FDB entry of the old MAC is replaced on the peers
old3=$(mac_of 3)
kb_kubectl annotate --overwrite node node3 "$P/backend-data={\"VNI\":1,\"VtepMAC\":\"0e:00:00:00:00:33\"}" >/dev/null
fdb_new() { bridge -n "$(kb_node_ns 1)" fdb show dev flannel.1 | gq "0e:00:00:00:00:33 dst 198.18.42.3" &&
            ! bridge -n "$(kb_node_ns 1)" fdb show dev flannel.1 | gq "$old3 dst"; }
kb_until fdb_new || fail "node1's FDB not replaced: $(bridge -n "$(kb_node_ns 1)" fdb show dev flannel.1)"
kb_kubectl annotate --overwrite node node3 "$P/backend-data={\"VNI\":1,\"VtepMAC\":\"$old3\"}" >/dev/null
kb_until entries_ok 1 3 || fail "node1: node3's entries not restored"
pass "a changed VtepMAC annotation replaces the FDB entry"

# weftd restarted while pod a (node1) talks to pod b (node2): same MAC, nothing torn down,
# longest gap between answers < 1 s
mac2=$(mac_of 2)
ip netns exec "$(kb_pod_ns a)" python3 "$WEFT_SRC/tests/e2e/http_gap.py" "http://$ip2:8080/index.html" 5 >"$KB_TMP/probe.out" &
probe=$!
sleep 1
mkdir -p "$KB_TMP/n2/sa"
pod_token wm-tok1 >"$KB_TMP/n2/sa/token"
cp "$KB_TMP/pki/ca.crt" "$KB_TMP/n2/sa/ca.crt"
kb_weftd_stop 2
ip -n "$(kb_node_ns 2)" route show "${CIDR[1]}" | gq flannel.1 || fail "routes removed on exit"
weftd_start_incluster 2   # from here on node 2 runs with the in-cluster config
kb_wait_weftd 2
gq "API server https://$KB_API_IP:6443 (in-cluster config)" "$KB_TMP/n2/weftd.log" || fail "node 2 not on the in-cluster config"
wait $probe
read -r gap okn <"$KB_TMP/probe.out"
python3 -c "import sys; sys.exit(0 if float('$gap') < 1.0 and int('$okn') > 10 else 1)" ||
  fail "traffic gap during restart ${gap}s ($okn requests)"
[ "$(mac_of 2)" = "$mac2" ] || fail "node2 MAC changed over a restart"
[ "$(kb_ann node2 $P/backend-data | jq -r .VtepMAC)" = "$mac2" ] || fail "node2 annotation MAC changed"
gq "VtepMAC $mac2 read back" "$KB_TMP/n2/weftd.log" || fail "node2 did not read its MAC back"
[ "$(grep -c "annotated Node node2" "$KB_TMP/n2/weftd.log")" = 1 ] || fail "node2 re-annotated on restart"
pass "weftd restart: same VtepMAC, no re-annotation, longest gap ${gap}s over $okn requests"

# the API server restarted: the watch resumes; a change made while weftd was cut off is applied.
# Before, node 2's token rotates: the file gets a new token and the old one is revoked (its pod
# deleted), so node 2 only follows the change if it re-read the file.
old_token=$(cat "$KB_TMP/n2/sa/token")
pod_token wm-tok2 >"$KB_TMP/n2/sa/token.new"
mv "$KB_TMP/n2/sa/token.new" "$KB_TMP/n2/sa/token"   # kubelet's atomic rewrite
kb_kubectl -n kube-flannel delete pod wm-tok1 --grace-period=0 --force >/dev/null 2>&1
# (the API server caches a successful token review for 10 s)
for _ in $(seq 60); do
  code=$(kb_curl "$old_token" /api/v1/nodes -o /dev/null -w '%{http_code}' || true)
  [ "$code" = 401 ] && break; sleep 0.5
done
[ "$code" = 401 ] || fail "the old token still works after its pod was deleted (HTTP $code)"
kb_stop apiserver
kb_apiserver_start
kb_wait_readyz
# (node 3's own weftd is stopped first: it would put its own public-ip back, as it republishes
# its lease when the store's copy differs)
kb_weftd_stop 3
kb_kubectl annotate --overwrite node node3 "$P/public-ip=198.18.42.33" >/dev/null
kb_until eval 'bridge -n "$(kb_node_ns 1)" fdb show dev flannel.1 | gq "dst 198.18.42.33"' || fail "node1 missed the change after the API server restart"
kb_until eval 'bridge -n "$(kb_node_ns 2)" fdb show dev flannel.1 | gq "dst 198.18.42.33"' ||
  fail "node2 (rotated token) missed the change: $(tail -3 "$KB_TMP/n2/weftd.log")"
kb_kubectl annotate --overwrite node node3 "$P/public-ip=198.18.42.3" >/dev/null
kb_until entries_ok 1 3 || fail "node1: node3's entries after the restart"
m1=$(ip netns exec "$(kb_node_ns 1)" curl -sf -m 2 http://127.0.0.1:8471/metrics)
gq -E '^weftd_store_watch_restarts_total\{store="kube",reason="expired"\} [1-9]' <<<"$m1" || fail "no kube watch restart in /metrics: $(grep kube <<<"$m1")"
gq -E '^weftd_store_request_errors_total\{store="kube"\} [1-9]' <<<"$m1" || fail "no kube request errors in /metrics"
gq -E '^weftd_peers_programmed 2$' <<<"$m1" || fail "node1 /metrics peers: $(grep peers <<<"$m1")"
pass "API server restarted: the watch resumed and applied a change (node 2 with a rotated in-cluster token)"

# a Node deleted: its entries go on the others
gw3=${CIDR[3]%/24}
kb_kubectl delete node node3 >/dev/null
gone() { ! ip -n "$(kb_node_ns "$1")" route show "${CIDR[3]}" | gq . &&
         ! ip -n "$(kb_node_ns "$1")" neigh show dev flannel.1 | gq "^$gw3 " &&
         ! bridge -n "$(kb_node_ns "$1")" fdb show dev flannel.1 | gq "dst 198.18.42.3 "; }
for i in 1 2; do kb_until gone $i || fail "node $i keeps node3's entries"; done
pass "a deleted Node's route/ARP/FDB removed on the peers"

# a service account without nodes/status patch: the error names the verb and resource
kb_create_node node4
kb_wait_pod_cidr node4 >/dev/null
kb_node 4
kb_kubeconfig "$KB_TMP/n4/kubeconfig" "$(kb_sa_token kube-flannel norbac)"
# first with the API server unreachable (a port nobody listens on): retried, /readyz says why
kb_weftd 4 --kube-api-url https://$KB_API_IP:6444
readyz4() { ip netns exec "$(kb_node_ns 4)" curl -s -m 1 http://127.0.0.1:8471/readyz 2>/dev/null; }
kb_until eval 'readyz4 | gq "unreachable"' || fail "node4 /readyz: $(readyz4)"
kill -0 "${KB_WEFTD[4]}" || fail "weftd exited while the API server was unreachable"
pass "API server unreachable: retried, /readyz: $(readyz4 | cut -c1-120)"
kb_weftd_stop 4
kb_weftd 4
for _ in $(seq 100); do kill -0 "${KB_WEFTD[4]}" 2>/dev/null || break; sleep 0.1; done
! kill -0 "${KB_WEFTD[4]}" 2>/dev/null || fail "weftd without nodes/status patch keeps running"
gq 'needs RBAC verb "patch" on resource "nodes/status"' "$KB_TMP/n4/weftd.log" || fail "no RBAC error: $(tail -5 "$KB_TMP/n4/weftd.log")"
pass "missing nodes/status patch: $(grep -o 'cannot patch resource "nodes/status"' "$KB_TMP/n4/weftd.log" | head -1)"
