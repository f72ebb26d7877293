#!/usr/bin/env bash
# conf/kube-flannel.yml against a real kube-apiserver 1.20.2 (tests/e2e/kube.bash):
# 1. `kubectl apply --dry-run=server` accepts every object of the manifest (and the server really
#    validates: a DaemonSet with a wrong field type is rejected); the DaemonSet runs weftd from the
#    image tag scripts/image writes (localhost/weft:v<CMakeLists version>) and the ConfigMap holds
#    conf/10-flannel.conflist and conf/net-conf.json.
# 2. RBAC: with the manifest's Namespace, ServiceAccount, ClusterRole and binding created, a bound
#    token of kube-flannel/flannel may do exactly what weftd does (nodes get/list/watch, nodes/status
#    patch, pods get) and nothing else (PATCH nodes/<n> itself, node create/delete, pods list,
#    secrets, configmaps: 403 Forbidden naming the verb); a bogus token is 401.
# 3. The harness itself: nodeipam assigns the Node a podCIDR inside 10.42.0.0/16, a token
#    kubeconfig works with kubectl, a node namespace reaches the API server, and after
#    kb_restart_apiserver (a new process) the token still works.
set -euo pipefail
export LC_ALL=C
. "$(dirname "$0")/kube.bash"
rc=0; kb_init || rc=$?; [ $rc -eq 0 ] || exit $rc
M=$WEFT_SRC/conf/kube-flannel.yml
version=$(sed -n 's/^project(weft VERSION \([0-9.]*\).*/\1/p' "$WEFT_SRC/CMakeLists.txt")
[ -n "$version" ] || fail "no project VERSION in CMakeLists.txt"

t0=$(date +%s.%N)
kb_up
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
echo "control plane up in $(since "$t0") s"

# --- 1. server-side dry run of every object
objects=$(awk '/^kind:/' "$M" | wc -l)
# Namespaced objects need their namespace to exist even in a dry run (NamespaceLifecycle
# admission), so the manifest's own Namespace is created first; the dry run covers it too.
kb_kubectl create namespace kube-flannel --save-config >/dev/null
out=$(kb_kubectl apply --dry-run=server -f - <"$M" 2>&1) || fail "dry run rejected the manifest: $out"
echo "$out"
[ "$(grep -c '(server dry run)$' <<<"$out")" -eq "$objects" ] ||
  fail "dry run covered $(grep -c '(server dry run)$' <<<"$out") of $objects objects"
pass "apply --dry-run=server accepts all $objects objects"
for k in clusterrole/flannel clusterrolebinding/flannel serviceaccount/flannel configmap/kube-flannel-cfg daemonset/kube-flannel-ds; do
  ! kb_kubectl -n kube-flannel get "$k" >/dev/null 2>&1 || fail "dry run created $k"
done
pass "dry run created nothing"

bad=$(sed 's/^\(\s*\)hostNetwork: true$/\1hostNetwork: "yes"/' "$M")
[ "$bad" != "$(cat "$M")" ] || fail "could not mangle the manifest (hostNetwork line moved?)"
if out=$(kb_kubectl apply --dry-run=server -f - <<<"$bad" 2>&1); then fail "mangled DaemonSet accepted: $out"; fi
grep -qi 'hostNetwork' <<<"$out" || fail "mangled DaemonSet rejected for another reason: $out"
pass "server rejects a DaemonSet with a wrong field type"

json=$(kb_kubectl apply --dry-run=server -o json -f - <"$M")
ds=$(jq -c '.items[] | select(.kind == "DaemonSet") | .spec.template.spec' <<<"$json")
want=localhost/weft:v$version
[ "$(jq -r '[.initContainers[], .containers[]] | map(.image) | unique | join(" ")' <<<"$ds")" = "$want" ] ||
  fail "images are $(jq -c '[.initContainers[], .containers[]] | map(.image)' <<<"$ds"), want $want"
[ "$(jq -r '.containers[0].command | join(" ")' <<<"$ds")" = /weft/bin/weftd ] || fail "main container does not run weftd"
[ "$(jq -r '.containers[0].args | sort | join(" ")' <<<"$ds")" = "--ip-masq --kube-subnet-mgr" ] ||
  fail "weftd args: $(jq -c '.containers[0].args' <<<"$ds")"
[ "$(jq -r .serviceAccountName <<<"$ds")" = flannel ] || fail "DaemonSet service account"
pass "DaemonSet runs $want /weft/bin/weftd --ip-masq --kube-subnet-mgr as kube-flannel/flannel"
cm=$(jq -c '.items[] | select(.kind == "ConfigMap") | .data' <<<"$json")
[ "$(jq -r '."cni-conf.json"' <<<"$cm" | jq -S .)" = "$(jq -S . "$WEFT_SRC/conf/10-flannel.conflist")" ] ||
  fail "ConfigMap cni-conf.json differs from conf/10-flannel.conflist"
[ "$(jq -r '."net-conf.json"' <<<"$cm" | jq -S .)" = "$(jq -S . "$WEFT_SRC/conf/net-conf.json")" ] ||
  fail "ConfigMap net-conf.json differs from conf/net-conf.json"
[ "$(jq -r '."net-conf.json"' <<<"$cm" | jq -r '.Network + " " + .Backend.Type')" = "10.42.0.0/16 vxlan" ] ||
  fail "net-conf.json is not 10.42.0.0/16 vxlan"
pass "ConfigMap holds conf/10-flannel.conflist and conf/net-conf.json (10.42.0.0/16, vxlan)"

# --- 2. RBAC: exactly the ClusterRole
kb_flannel_rbac "$M"
node=wk-node-a
kb_create_node "$node"
cidr=$(kb_wait_pod_cidr "$node")
python3 -c 'import ipaddress,sys; n=ipaddress.ip_network(sys.argv[1]); assert n.prefixlen == 24 and n.subnet_of(ipaddress.ip_network("10.42.0.0/16"))' "$cidr" ||
  fail "podCIDR $cidr is not a /24 of 10.42.0.0/16"
pass "controller-manager assigned $node podCIDR $cidr"

tok=$(kb_sa_token kube-flannel flannel 600)
user=system:serviceaccount:kube-flannel:flannel

# code METHOD PATH [BODY [CONTENT-TYPE]]: HTTP status of the request made with the SA token
code() {
  local args=(-o "$KB_TMP/body" -w '%{http_code}' -X "$1")
  [ $# -ge 3 ] && args+=(-H "Content-Type: ${4:-application/strategic-merge-patch+json}" -d "$3")
  kb_curl "$tok" "$2" "${args[@]}"
}
expect() { # expect CODE DESCRIPTION METHOD PATH [BODY [CT]]
  local want=$1 what=$2 got; shift 2
  got=$(code "$@")
  [ "$got" = "$want" ] || fail "$what: $1 $2 gave $got, want $want: $(head -c 300 "$KB_TMP/body")"
  pass "$what: $1 ${2%%\?*} -> $got"
}
patch='{"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-type":"vxlan"}}}'
cond='{"status":{"conditions":[{"type":"NetworkUnavailable","status":"False","reason":"FlannelIsUp","message":"Flannel is running on this node"}]}}'
expect 200 "nodes get"   GET "/api/v1/nodes/$node"
expect 200 "nodes list"  GET "/api/v1/nodes?resourceVersion=0"
expect 200 "nodes watch" GET "/api/v1/nodes?watch=1&timeoutSeconds=1"
gq '"type":"ADDED"' "$KB_TMP/body" || fail "watch stream has no ADDED event: $(head -c 300 "$KB_TMP/body")"
expect 200 "nodes/status patch (annotations)" PATCH "/api/v1/nodes/$node/status" "$patch"
expect 200 "nodes/status patch (condition)"   PATCH "/api/v1/nodes/$node/status" "$cond"
[ "$(kb_kubectl get node "$node" -o 'jsonpath={.metadata.annotations.flannel\.alpha\.coreos\.com/backend-type}')" = vxlan ] ||
  fail "annotation not stored"
[ "$(kb_kubectl get node "$node" -o 'jsonpath={.status.conditions[?(@.type=="NetworkUnavailable")].reason}')" = FlannelIsUp ] ||
  fail "condition not stored"
pass "annotation and NetworkUnavailable=False stored"
expect 404 "pods get (allowed; no such pod)" GET /api/v1/namespaces/kube-flannel/pods/wk-none

# forbidden: each answer is a Status naming the verb, the resource and the user
forbid() { # forbid DESCRIPTION METHOD PATH [BODY [CT]] VERB RESOURCE
  local what=$1 verb=${*: -2:1} res=${*: -1} n=$#
  set -- "${@:2:$((n - 3))}"
  expect 403 "$what" "$@"
  jq -e --arg v "$verb" --arg r "$res" --arg u "$user" '.kind == "Status" and .reason == "Forbidden"
      and (.message | contains($u) and contains("cannot " + $v + " resource \"" + $r + "\""))' "$KB_TMP/body" >/dev/null ||
    fail "$what: 403 body does not name $verb/$res/$user: $(cat "$KB_TMP/body")"
}
forbid "PATCH nodes/<n> (not status)" PATCH "/api/v1/nodes/$node" "$patch" patch nodes
forbid "nodes delete" DELETE "/api/v1/nodes/$node" delete nodes
forbid "nodes create" POST /api/v1/nodes '{"apiVersion":"v1","kind":"Node","metadata":{"name":"wk-x"}}' application/json create nodes
forbid "nodes/status update" PUT "/api/v1/nodes/$node/status" \
  "$(kb_kubectl get node "$node" -o json)" application/json update nodes/status
forbid "pods list" GET /api/v1/namespaces/kube-flannel/pods list pods
forbid "secrets get" GET /api/v1/namespaces/kube-flannel/secrets/wk-none get secrets
forbid "tokenreviews create" POST /apis/authentication.k8s.io/v1/tokenreviews \
  '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"x"}}' application/json create tokenreviews
forbid "configmaps get" GET /api/v1/namespaces/kube-flannel/configmaps/kube-flannel-cfg get configmaps
[ "$(kb_curl wk-bogus-token /api/v1/nodes -o /dev/null -w '%{http_code}')" = 401 ] || fail "bogus token not 401"
pass "bogus token -> 401"

# --- 3. harness helpers: a token kubeconfig, and an API server restart keeps tokens valid
kb_kubeconfig "$KB_TMP/flannel.kubeconfig" "$tok"
kf() { kb_in "$WEFT_KUBE_BIN/kubectl" --kubeconfig "$KB_TMP/flannel.kubeconfig" "$@"; }
[ "$(kf get nodes -o name)" = "node/$node" ] || fail "kubectl with the SA kubeconfig cannot list nodes"
out=$(kf annotate node "$node" wk=1 2>&1) && fail "kubectl annotate (PATCH nodes) allowed: $out"
gq -i forbidden <<<"$out" || fail "kubectl annotate failed but not Forbidden: $out"
pass "SA kubeconfig: kubectl get nodes works, kubectl annotate is Forbidden"
kb_node 1
[ "$(ip netns exec "$(kb_node_ns 1)" curl -sS -m 5 --cacert "$KB_TMP/pki/ca.crt" -H "Authorization: Bearer $tok" \
      -o /dev/null -w '%{http_code}' "$KB_API/api/v1/nodes")" = 200 ] || fail "node namespace cannot reach the API server"
pass "a node namespace reaches the API server over the underlay bridge"
old=${KB_PID[apiserver]}
t0=$(date +%s.%N)
kb_restart_apiserver
! kill -0 "$old" 2>/dev/null || fail "the old kube-apiserver ($old) still runs"
[ "$(readlink "/proc/${KB_PID[apiserver]}/exe")" = "$WEFT_KUBE_BIN/kube-apiserver" ] ||
  fail "KB_PID[apiserver] is not the kube-apiserver process"
pass "kube-apiserver restarted, ready again in $(since "$t0") s"
expect 200 "nodes get after restart" GET "/api/v1/nodes/$node"
echo "kube manifest: all checks passed"
