# Shared by tests/e2e/kube_cluster.sh and `scripts/demo --kubernetes` (docs/testing-cluster.md): a
# real two-node Kubernetes 1.20 cluster on this machine, built on tests/e2e/kube.bash (underlay
# namespace, etcd, kube-apiserver, controller-manager, scheduler). Each node is a network
# namespace on the underlay bridge plus one private mount namespace, kept open by a holder
# process, in which containerd 1.6 and kubelet run (facts: shared/reference/kubelet.md):
#   /sys              a fresh sysfs, the host's cgroup tree bound back under /sys/fs/cgroup
#   /run              a private tmpfs (sockets, runc state, /run/flannel, xtables lock)
#   /var/lib          a private tmpfs: /var/lib/kubelet and /var/lib/cni bound to $KB_TMP/n<N>/
#   /var/log, /opt/cni/bin, /etc/cni/net.d   bound to per-node dirs (what the init container writes)
#   3 /proc/sys files kubelet would set machine-wide, shadowed by files holding its values
# kubelet's cgroups live under /wc<N>-<id> in every hierarchy (cgroupRoot), removed at the end.
# The `kubernetes` service (10.96.0.1:443) is what in-cluster clients dial; with no kube-proxy
# here each node DNATs it to the API server itself (one nat OUTPUT rule in the node namespace).
# Images (pause, the weft image, the workload) are imported with ctr: no registry anywhere.
#
# Needs: WEFT_SRC; WEFT_IMAGE (scripts/image's OCI archive, localhost/weft:v<version>) or cl_find_image's.

# shellcheck source=tests/e2e/kube.bash
. "$WEFT_SRC/tests/e2e/kube.bash"
# shellcheck source=tests/e2e/containerd.bash
. "$WEFT_SRC/tests/e2e/containerd.bash"

CL_HOLDER=()                             # node N -> holder pid
declare -A CL_PID                        # "containerd<N>" / "kubelet<N>" -> pid
CL_BUSYBOX=weft.test/busybox:1

cl_cg() { echo "wc$1-$KB_ID"; }          # kubelet's cgroupRoot (without the slash) of node N
# cl_exec N CMD...: CMD inside node N (network + mount namespace), bounded to 120 s;
# cl_daemon N CMD...: the same without a bound (daemons, started in the background).
cl_daemon() { nsenter -t "${CL_HOLDER[$1]}" -m -n -- "${@:2}"; }
cl_exec() { timeout -k 5 120 nsenter -t "${CL_HOLDER[$1]}" -m -n -- "${@:2}"; }
cl_ctr() { cl_exec "$1" ctr --address /run/containerd/containerd.sock -n k8s.io "${@:2}"; }

# cl_wait SECONDS CMD...: until CMD succeeds, every 0.2 s; 1 after SECONDS.
cl_wait() {
  local n=$(($1 * 5)) i; shift
  for ((i = 0; i < n; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

# Runs before kb_cleanup (which removes the namespaces and $KB_TMP): every container process of
# the nodes (found by cgroup: pods have their own network namespaces), then kubelet, containerd
# and the holders, then the cgroup trees.
cl_cleanup() {
  local rc=$? n h pid
  set +e
  for n in "${!CL_HOLDER[@]}"; do
    for pid in ${CL_PID[kubelet$n]:-} ${CL_PID[containerd$n]:-}; do kill "$pid" 2>/dev/null; done
  done
  for n in "${!CL_HOLDER[@]}"; do
    for h in /sys/fs/cgroup/*/"$(cl_cg "$n")"; do
      [ -d "$h" ] || continue
      find "$h" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r pid; do kill -9 "$pid" 2>/dev/null; done
    done
    for pid in $(ip netns pids "$(kb_node_ns "$n")" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
  done
  for pid in "${CL_PID[@]}"; do wait "$pid" 2>/dev/null; done
  for n in "${!CL_HOLDER[@]}"; do
    for _ in 1 2 3 4 5; do
      left=0
      for h in /sys/fs/cgroup/*/"$(cl_cg "$n")"; do
        [ -d "$h" ] || continue
        find "$h" -depth -type d -exec rmdir {} + 2>/dev/null
        [ -d "$h" ] && left=1
      done
      [ $left = 0 ] && break
      sleep 0.2
    done
  done
  (exit $rc)
  kb_cleanup
}

# cl_find_image: sets WEFT_IMAGE (when unset) to scripts/image's archive of this tree:
# $WEFT_RELEASE_DIST (scripts/test's release artifacts) or dist/, named by scripts/release's
# version (a dirty tree's says -dirty); builds it with scripts/image when neither has it.
cl_find_image() {
  [ -z "${WEFT_IMAGE:-}" ] || return 0
  local v d
  if [ -x "$WEFT_SRC/scripts/release" ]; then
    v=$("$WEFT_SRC/scripts/release" --print-version) || return 1
  else
    v=$(sed -n 's/^project(weft VERSION \([0-9.]*\).*/\1/p' "$WEFT_SRC/CMakeLists.txt")
  fi
  for d in ${WEFT_RELEASE_DIST:-} "$WEFT_SRC/dist"; do
    [ -f "$d/weft-image-v$v.oci.tar" ] && { WEFT_IMAGE=$d/weft-image-v$v.oci.tar; return 0; }
  done
  [ -x "$WEFT_SRC/scripts/image" ] || { echo "FAIL: no weft image archive and no scripts/image" >&2; return 1; }
  d=${WEFT_RELEASE_DIST:-$WEFT_SRC/dist}
  echo "building the weft image (scripts/image) into $d" >&2
  "$WEFT_SRC/scripts/image" --build-dir "${WEFT_RELEASE_BUILD:-$WEFT_SRC/build-release}" --dist-dir "$d" >&2 ||
    { echo "FAIL: scripts/image" >&2; return 1; }
  WEFT_IMAGE=$d/weft-image-v$v.oci.tar
}

# cl_init: kb_init plus the cluster's own checks and trap. Same contract as kb_init.
cl_init() {
  local t rc=0
  cl_find_image || return 1
  for t in containerd ctr runc gcc python3 nsenter unshare; do
    command -v $t >/dev/null || { echo "FAIL: $t not installed (scripts/deps)" >&2; return 1; }
  done
  [ -f "${WEFT_IMAGE:-}" ] || { echo "FAIL: WEFT_IMAGE (scripts/image's OCI archive) not found: '${WEFT_IMAGE:-}'" >&2; return 1; }
  if [ ! -x /bin/busybox ] || readelf -d /bin/busybox 2>/dev/null | grep -q NEEDED; then
    echo "FAIL: /bin/busybox is not busybox-static" >&2; return 1
  fi
  kb_init || return $?
  if [ ! -x "$WEFT_KUBE_BIN/kubelet" ] || [ ! -x "$WEFT_KUBE_BIN/kube-scheduler" ]; then
    echo "FAIL: kubelet/kube-scheduler missing in $WEFT_KUBE_BIN (run scripts/kube-bin)" >&2; return 1
  fi
  trap cl_cleanup EXIT
}

# cl_images: $KB_TMP/img/{pause,busybox}.tar. pause: the static sandbox holder. busybox: busybox-
# static with an httpd document root whose /cgi-bin/ip answers the caller's address (the seed's
# httpbin /ip), used by the server and the client pods alike.
cl_images() {
  local d=$KB_TMP/img py="python3 $WEFT_SRC/tests/e2e/runtimes/oci_image.py"
  mkdir -p "$d"
  ctd_pause_image "$d" || return 1
  # busybox httpd listens on a dual-stack socket: an IPv4 caller is [::ffff:a.b.c.d]
  cat >"$d/ip.cgi" <<'EOF2'
#!/bin/sh
a=${REMOTE_ADDR#\[}; a=${a%\]}; a=${a#::ffff:}
printf 'Content-Type: application/json\r\n\r\n{\n  "origin": "%s"\n}\n' "$a"
EOF2
  $py --name "$CL_BUSYBOX" --out "$d/busybox.tar" --file /bin/busybox=/bin/busybox \
    --symlink /bin/sh=busybox --file /www/cgi-bin/ip="$d/ip.cgi" --text /www/index.html=weft \
    --entrypoint /bin/busybox sh || return 1
}

# cl_node N: node N (namespace from kb_node, 198.18.42.N) with containerd and kubelet running,
# the pause, busybox and weft images imported. Returns once containerd answers; the Node
# registers a few seconds later (cl_wait_nodes).
cl_node() {
  local n=$1 d ns cg h
  kb_node "$n"
  ns=$(kb_node_ns "$n"); d=$KB_TMP/n$n; cg=$(cl_cg "$n")
  mkdir -p "$d"/{kubelet,cni-state,log,cni-bin,net.d,cg,containerd,sys}
  echo 1 >"$d/sys/overcommit_memory"; echo 10 >"$d/sys/panic"; echo 1 >"$d/sys/panic_on_oops"
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
  # the `kubernetes` service, as kube-proxy would give it to this node's own processes
  ip netns exec "$ns" iptables -t nat -A OUTPUT -d "$KB_SERVICE_IP/32" -p tcp --dport 443 \
    -j DNAT --to-destination "$KB_API_IP:6443"
  for h in /sys/fs/cgroup/*/; do mkdir -p "$h$cg"; done
  cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$cg/cpuset.cpus"
  cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$cg/cpuset.mems"
  nsenter --net="/run/netns/$ns" unshare -m --propagation slave /bin/bash -c '
    set -e; d=$1
    mount --rbind /sys/fs/cgroup "$d/cg"
    mount -t sysfs sysfs /sys
    mount --rbind "$d/cg" /sys/fs/cgroup
    umount -l "$d/cg"
    mount -t tmpfs -o mode=0755 tmpfs /run
    mount -t tmpfs -o mode=0755 tmpfs /var/lib
    mkdir -p /var/lib/kubelet /var/lib/cni
    mount --bind "$d/kubelet" /var/lib/kubelet
    mount --bind "$d/cni-state" /var/lib/cni
    mount --bind "$d/log" /var/log
    mount -t tmpfs -o mode=0755 tmpfs /opt
    mkdir -p /opt/cni/bin
    mount --bind "$d/cni-bin" /opt/cni/bin
    mount --bind "$d/net.d" /etc/cni/net.d
    for f in vm/overcommit_memory kernel/panic kernel/panic_on_oops; do
      mount --bind "$d/sys/${f#*/}" "/proc/sys/$f"
    done
    : >"$d/holder.ready"
    exec sleep infinity' wc-holder "$d" &
  CL_HOLDER[n]=$!
  disown "${CL_HOLDER[$n]}"             # killed by the cleanup; no "Killed" job notice
  cl_wait 10 test -e "$d/holder.ready" || { echo "node $n: holder did not come up" >&2; return 1; }

  ctd_config "$d/containerd.toml" "$d/containerd/root" /run/containerd /run/containerd/containerd.sock \
    /run/runc "$d/containerd/opt" /opt/cni/bin /etc/cni/net.d
  cl_daemon "$n" containerd --config "$d/containerd.toml" >"$KB_TMP/containerd$n.log" 2>&1 &
  CL_PID[containerd$n]=$!
  cl_wait 30 cl_ctr "$n" version || { echo "node $n: containerd did not start" >&2; return 1; }
  cl_ctr "$n" images import --snapshotter native "$KB_TMP/img/pause.tar" >/dev/null &&
    cl_ctr "$n" images import --snapshotter native "$KB_TMP/img/busybox.tar" >/dev/null &&
    cl_ctr "$n" images import --snapshotter native "$WEFT_IMAGE" >/dev/null ||
    { echo "node $n: image import failed" >&2; return 1; }

  # kubelet: client certificate system:node:nodeN, serving certificate for its address
  kb_cert "node$n" "system:node:node$n" system:nodes
  kb_cert "node$n-serving" "node$n" "" "IP:$KB_SUBNET.$n,DNS:node$n"
  cat >"$d/kubelet.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: wk
  cluster:
    server: $KB_API
    certificate-authority: $KB_TMP/pki/ca.crt
users:
- name: kubelet
  user:
    client-certificate: $KB_TMP/pki/node$n.crt
    client-key: $KB_TMP/pki/node$n.key
contexts:
- name: wk
  context: {cluster: wk, user: kubelet}
current-context: wk
EOF
  cat >"$d/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupsPerQOS: true
cgroupRoot: /$cg
failSwapOn: false
makeIPTablesUtilChains: false
oomScoreAdj: 0
tlsCertFile: $KB_TMP/pki/node$n-serving.crt
tlsPrivateKeyFile: $KB_TMP/pki/node$n-serving.key
authentication:
  x509: {clientCAFile: $KB_TMP/pki/ca.crt}
  webhook: {enabled: false}
  anonymous: {enabled: false}
authorization: {mode: AlwaysAllow}
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
  cl_daemon "$n" "$WEFT_KUBE_BIN/kubelet" --config="$d/kubelet.yaml" --kubeconfig="$d/kubelet.kubeconfig" \
    --container-runtime=remote --container-runtime-endpoint=unix:///run/containerd/containerd.sock \
    --image-service-endpoint=unix:///run/containerd/containerd.sock \
    --hostname-override="node$n" --node-ip="$KB_SUBNET.$n" --pod-infra-container-image="$CTD_PAUSE" \
    --register-node=true --enforce-node-allocatable= >"$KB_TMP/kubelet$n.log" 2>&1 &
  CL_PID[kubelet$n]=$!
}

# cl_wait_nodes SECONDS NODE...: until every Node object exists.
cl_wait_nodes() {
  local s=$1 n; shift
  for n in "$@"; do
    cl_wait "$s" kb_kubectl get node "$n" || { echo "Node $n did not register" >&2; return 1; }
  done
}

# cl_wait_pod SECONDS NS POD: until the pod is Running (prints its phase when it gives up).
cl_wait_pod() {
  cl_wait "$1" cl_pod_running "$2" "$3" && return 0
  echo "pod $2/$3 not Running:" >&2; kb_kubectl -n "$2" describe pod "$3" | tail -15 >&2; return 1
}
cl_pod_running() { [ "$(kb_kubectl -n "$1" get pod "$2" -o jsonpath='{.status.phase}')" = Running ]; }

# cl_up: control plane with the controllers a kubelet cluster needs, scheduler, images, nodes 1, 2.
cl_up() {
  KB_CONTROLLERS=nodeipam,nodelifecycle,daemonset,serviceaccount,serviceaccount-token,namespace
  kb_up || return 1
  kb_scheduler || return 1
  cl_images || { echo "image build failed" >&2; return 1; }
  cl_node 1 || return 1
  cl_node 2 || return 1
  cl_wait_nodes 60 node1 node2
}

# cl_deploy_weft: the seed's way: kubectl apply the manifest; waits for the DaemonSet's pods to be
# ready on both nodes (bounded by SECONDS, default 120).
cl_deploy_weft() {
  kb_kubectl apply -f - <"$WEFT_SRC/conf/kube-flannel.yml" >/dev/null || return 1
  cl_wait "${1:-120}" cl_ds_ready && return 0
  echo "weft DaemonSet not ready:" >&2
  kb_kubectl -n kube-flannel get pods -o wide >&2
  kb_kubectl -n kube-flannel describe pods | tail -30 >&2
  return 1
}
cl_ds_ready() {
  [ "$(kb_kubectl -n kube-flannel get ds kube-flannel-ds -o jsonpath='{.status.numberReady}')" = 2 ]
}

# cl_workload: the seed's pods: `server` (busybox httpd, /cgi-bin/ip answers the caller's
# address, hostPort CL_HOSTPORT) on node2 and `client` on node1, both placed by the scheduler
# (nodeSelector), from the locally built image; waits until both are Running.
CL_HOSTPORT=8080
cl_workload() {
  kb_kubectl apply -f - >/dev/null <<EOF2 || return 1
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: default, labels: {app: server}}
spec:
  nodeSelector: {kubernetes.io/hostname: node2}
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: $CL_BUSYBOX
    imagePullPolicy: Never
    command: [/bin/busybox, httpd, -f, -p, "80", -h, /www]
    ports: [{containerPort: 80, hostPort: $CL_HOSTPORT}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default}
spec:
  nodeSelector: {kubernetes.io/hostname: node1}
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers:
  - {name: sh, image: $CL_BUSYBOX, imagePullPolicy: Never, command: [/bin/busybox, sleep, "100000"]}
EOF2
  cl_wait_pod 90 default server && cl_wait_pod 90 default client
}

cl_pod_ip() { kb_kubectl -n default get pod "$1" -o jsonpath='{.status.podIP}'; }
# cl_get POD ADDR[:PORT]: HTTP GET /cgi-bin/ip from inside POD (kubectl exec, busybox nc); the body.
cl_get() {
  local host=${2%:*} port=80
  [ "$2" = "$host" ] || port=${2##*:}
  kb_kubectl -n default exec "$1" -- /bin/busybox sh -c \
    "printf 'GET /cgi-bin/ip HTTP/1.0\r\nHost: $host\r\n\r\n' | /bin/busybox timeout 5 /bin/busybox nc $host $port" |
    sed '1,/^\r\{0,1\}$/d'
}
