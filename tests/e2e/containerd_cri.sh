#!/usr/bin/env bash
# containerd 1.6's CRI plugin running pods on a node that holds only weft's plugins.
#
# containerd runs inside a node (tests/e2e/runtimes.bash: network namespace + private mount
# namespace) with its own root, state, socket and runc root under the test's directory; its CRI
# `cni` section points bin_dir at weft's build/bin and conf_dir at a directory of the test holding
# k3s's chain: flannel (delegating to bridge + host-local, subnet.env written by the test) ->
# portmap -> bandwidth. containerd adds its own loopback network for every sandbox, so weft's
# loopback runs too. A real CRI client (tests/e2e/runtimes/cri_client.py, gRPC stubs generated
# now from the CRI api.proto of Debian's containerd source) then, with images built here and
# imported with ctr (no registry):
#   RunPodSandbox with a hostPort mapping and bandwidth annotations; PodSandboxStatus's IP is the
#   one host-local reserved for the sandbox; lo is up in the pod; tbf on the host veth and an ifb
#   for egress; CreateContainer/StartContainer busybox httpd; HTTP to the hostPort (node address
#   and 127.0.0.1) and to the pod IP answers with the test's token;
#   containerd restarted with the pod running: the pod keeps its IP and its hostPort answers;
#   StopPodSandbox + RemovePodSandbox (after that restart) leave no veth, ifb, reservation or rule.
set -euo pipefail
RT_KIND=c
. "$(dirname "$0")/runtimes.bash"
. "$(dirname "$0")/containerd.bash"

: "${WEFT_BIN:?}" "${WEFT_SRC:?}"
for t in containerd ctr runc gcc curl iptables-save; do
  command -v $t >/dev/null || fail "$t not installed (scripts/deps installs it)"
done
$PY -c 'import grpc, grpc_tools' 2>/dev/null || fail "python3-grpcio/python3-grpc-tools missing"
rt_require_plugins flannel bridge host-local portmap bandwidth loopback
PROTO=$("$WEFT_SRC/scripts/cri-api-proto" v1) || fail "no CRI api.proto (scripts/cri-api-proto)"

RT_RUNC_ROOTS=("$RT_TMP/runc/k8s.io")   # the shim runs runc with --root <Root>/<namespace>
SOCK=$RT_TMP/containerd.sock
NET=cbr0
POD_CIDR=10.42.7.0/24
HOSTPORT=18080
start=$EPOCHREALTIME

cri() { rt_exec $PY "$WEFT_SRC/tests/e2e/runtimes/cri_client.py" --socket "$SOCK" --proto "$PROTO" \
          --stubs "$RT_TMP/stubs" "$@"; }
ctr_() { rt_exec ctr --address "$SOCK" -n k8s.io "$@"; }

POD_ID=
rt_cleanup_runtime() {
  [ -S "$SOCK" ] || return 0
  if [ -n "$POD_ID" ]; then
    cri --timeout 30 StopPodSandbox "{\"podSandboxId\":\"$POD_ID\"}" >/dev/null 2>&1
    cri --timeout 30 RemovePodSandbox "{\"podSandboxId\":\"$POD_ID\"}" >/dev/null 2>&1
  fi
}

rt_node_up
rt_build_images

# --- the node's CNI configuration: k3s's conflist, flannel's subnet.env
mkdir -p "$RT_TMP/net.d" "$RT_TMP/flannel" "$RT_TMP/logs"
cat >"$RT_TMP/flannel/subnet.env" <<EOT
FLANNEL_NETWORK=10.42.0.0/16
FLANNEL_SUBNET=${POD_CIDR%.0/24}.1/24
FLANNEL_MTU=1450
FLANNEL_IPMASQ=true
EOT
cat >"$RT_TMP/net.d/10-flannel.conflist" <<EOT
{
  "name": "$NET",
  "cniVersion": "1.0.0",
  "plugins": [
    {
      "type": "flannel",
      "subnetFile": "$RT_TMP/flannel/subnet.env",
      "delegate": { "hairpinMode": true, "forceAddress": true, "isDefaultGateway": true }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } },
    { "type": "bandwidth", "capabilities": { "bandwidth": true } }
  ]
}
EOT

# --- containerd
ctd_config "$RT_TMP/containerd.toml" "$RT_TMP/root" "$RT_TMP/state" "$SOCK" "$RT_TMP/runc" "$RT_TMP/opt" \
  "$WEFT_BIN" "$RT_TMP/net.d"
CD_PID=
start_containerd() {
  rt_daemon containerd --config "$RT_TMP/containerd.toml" >>"$RT_TMP/containerd.log" 2>&1 &
  CD_PID=$!
  RT_PIDS+=($CD_PID)
  rt_wait 30 ctr_ version || { tail -30 "$RT_TMP/containerd.log" >&2; fail "containerd did not start"; }
}
rt_log "containerd in node $RT_NS"
start_containerd
status=$(cri Status '{}') || fail "CRI Status"
echo "$status" | jq -e '.status.conditions[] | select(.type=="NetworkReady") | .status == true' \
  >/dev/null || fail "CRI network not ready: $status"
pass "containerd $(ctr_ version | awk '/Version/{print $2; exit}') up, CRI NetworkReady with conf_dir=net.d, bin_dir=$WEFT_BIN"

ctr_ images import --snapshotter native "$RT_TMP/pause.tar" >/dev/null || fail "import pause"
ctr_ images import --snapshotter native "$RT_TMP/httpd.tar" >/dev/null || fail "import httpd"
cri ImageStatus '{"image":{"image":"weft.test/httpd:1"}}' | jq -e .image.id >/dev/null ||
  fail "CRI does not see the imported image"
pass "images imported without a registry"

# --- the pod
rt_log "RunPodSandbox"
pod_cfg=$(jq -nc --arg logs "$RT_TMP/logs" --arg cg "/$RT_CG" --argjson hp $HOSTPORT '{
  metadata: {name: "web", uid: "wrt-web-uid", namespace: "default", attempt: 0},
  hostname: "web", logDirectory: $logs,
  portMappings: [{protocol: "TCP", containerPort: 80, hostPort: $hp}],
  annotations: {"kubernetes.io/ingress-bandwidth": "8M", "kubernetes.io/egress-bandwidth": "4M"},
  linux: {cgroupParent: $cg}}')
t0=$EPOCHREALTIME
POD_ID=$(cri RunPodSandbox "{\"config\":$pod_cfg}" | jq -r .podSandboxId) ||
  { tail -30 "$RT_TMP/containerd.log" >&2; fail "RunPodSandbox"; }
t1=$EPOCHREALTIME
[ -n "$POD_ID" ] && [ "$POD_ID" != null ] || fail "no sandbox id"
st=$(cri PodSandboxStatus "{\"podSandboxId\":\"$POD_ID\"}")
POD_IP=$(echo "$st" | jq -r .status.network.ip)
[ "$(echo "$st" | jq -r .status.state)" = SANDBOX_READY ] || fail "sandbox not ready: $st"
NETDIR=$RT_TMP/var-lib-cni/networks/$NET
[ -f "$NETDIR/$POD_IP" ] || fail "PodSandboxStatus IP $POD_IP has no host-local reservation: $(ls "$NETDIR")"
[ "$(head -1 "$NETDIR/$POD_IP" | tr -d "\r")" = "$POD_ID" ] || fail "reservation of $POD_IP is not the sandbox's"
case $POD_IP in ${POD_CIDR%.0/24}.*) ;; *) fail "pod IP $POD_IP outside the node's subnet $POD_CIDR" ;; esac
pass "RunPodSandbox $(rt_since "$t0" "$t1") s: PodSandboxStatus IP $POD_IP = host-local's reservation for ${POD_ID:0:12}"

# the pod's network namespace, entered through the sandbox's pause process
pid=$(cri PodSandboxStatus "{\"podSandboxId\":\"$POD_ID\",\"verbose\":true}" | jq -r '.info.info' | jq -r .pid)
[ "$pid" -gt 0 ] 2>/dev/null || fail "no sandbox pid"
pod() { nsenter -t "$pid" -n -- "$@"; }
pod ip -o link show lo | gq 'UP' || fail "lo is not up in the pod (loopback plugin)"
pod ip -o addr show lo | gq '127.0.0.1/8' || fail "lo has no 127.0.0.1/8 in the pod"
pod ip -o addr show eth0 | gq "$POD_IP/24" || fail "eth0 of the pod lacks $POD_IP/24"
if [ "$(pod cat /proc/sys/net/ipv6/conf/lo/disable_ipv6 2>/dev/null)" = 0 ]; then
  pod ip -o addr show lo | gq '::1/128' || fail "lo has no ::1/128 in the pod"
fi
pass "pod netns: lo up with 127.0.0.1/8 (loopback), eth0 $POD_IP/24 (flannel -> bridge)"

hostveth=$(ip -n "$RT_NS" -o link show master cni0 type veth | awk -F': ' '{print $2}' | cut -d@ -f1)
[ "$(echo "$hostveth" | wc -w)" -eq 1 ] || fail "expected one veth on cni0, got: $hostveth"
tc -n "$RT_NS" qdisc show dev "$hostveth" | gq 'tbf .*rate 8Mbit' ||
  fail "no tbf at 8Mbit on $hostveth (ingress): $(tc -n "$RT_NS" qdisc show dev "$hostveth")"
ifb=$(ip -n "$RT_NS" -o link show type ifb | awk -F': ' '{print $2}' | cut -d@ -f1)
[ -n "$ifb" ] || fail "no ifb device (egress shaping)"
tc -n "$RT_NS" qdisc show dev "$ifb" | gq 'tbf .*rate 4Mbit' ||
  fail "no tbf at 4Mbit on $ifb (egress): $(tc -n "$RT_NS" qdisc show dev "$ifb")"
tc -n "$RT_NS" filter show dev "$hostveth" ingress | gq "mirred.*$ifb" ||
  fail "no mirred redirect $hostveth -> $ifb"
pass "bandwidth: tbf 8Mbit on $hostveth, ifb $ifb with tbf 4Mbit, mirred redirect from the veth's ingress"

rt_log "CreateContainer / StartContainer"
ctr_cfg=$(jq -nc '{metadata: {name: "httpd", attempt: 0}, image: {image: "weft.test/httpd:1"},
                   logPath: "httpd.log", linux: {}}')
CID=$(cri CreateContainer "{\"podSandboxId\":\"$POD_ID\",\"config\":$ctr_cfg,\"sandboxConfig\":$pod_cfg}" |
      jq -r .containerId) || fail "CreateContainer"
cri StartContainer "{\"containerId\":\"$CID\"}" >/dev/null || fail "StartContainer"
cstate() { cri ContainerStatus "{\"containerId\":\"$CID\"}" | jq -r .status.state; }
[ "$(cstate)" = CONTAINER_RUNNING ] || fail "container not running: $(cstate)"
rt_check_http pod "$POD_IP" "$HOSTPORT"

# a containerd restart (an upgrade) with the pod running: the pod keeps serving, and the
# teardown below then runs from containerd's persisted sandbox state
rt_log "containerd restart"
rt_stop_pid "$CD_PID"
start_containerd
rt_wait 10 rt_http "http://$RT_ADDR:$HOSTPORT/" || fail "hostPort dead after a containerd restart"
[ "$(cri PodSandboxStatus "{\"podSandboxId\":\"$POD_ID\"}" | jq -r .status.network.ip)" = "$POD_IP" ] ||
  fail "PodSandboxStatus lost the IP across a restart"
pass "containerd restarted: sandbox still $POD_IP, hostPort still answers"

rt_log "StopPodSandbox / RemovePodSandbox"
t0=$EPOCHREALTIME
cri StopPodSandbox "{\"podSandboxId\":\"$POD_ID\"}" >/dev/null || fail "StopPodSandbox"
cri RemovePodSandbox "{\"podSandboxId\":\"$POD_ID\"}" >/dev/null || fail "RemovePodSandbox"
t1=$EPOCHREALTIME
id=$POD_ID; POD_ID=
[ "$(cri ListPodSandbox '{}' | jq '.items | length')" = 0 ] || fail "sandbox still listed"
rt_assert_clean cni0 "$NETDIR" "$POD_IP" "$id"
[ -z "$(ls -A "$RT_TMP/var-lib-cni/flannel" 2>/dev/null)" ] || fail "flannel's saved delegate config left"
[ -z "$(ls -A "$RT_TMP/var-lib-cni/results" 2>/dev/null)" ] || fail "libcni result cache left: $(ls "$RT_TMP/var-lib-cni/results")"
pass "Stop+RemovePodSandbox $(rt_since "$t0" "$t1") s: no veth, ifb, reservation, cached result or rule left"

echo "containerd_cri: $(rt_since "$start") s"
