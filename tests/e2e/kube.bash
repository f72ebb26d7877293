# Shared by tests that need a real Kubernetes control plane (docs/testing-kube.md): an "underlay"
# network namespace with a bridge (198.18.42.254/24) holding etcd, kube-apiserver (RBAC on, TLS from
# a throw-away CA, an admin token, a service-account key pair) and kube-controller-manager (nodeipam
# with --cluster-cidr 10.42.0.0/16, serviceaccount + token controllers), optionally kube-scheduler;
# node namespaces hang off the bridge by veths (eth0 = 198.18.42.<n>/24) and reach the API server at
# https://198.18.42.254:6443. With KB_SUBNET6 set (e.g. fd18:42::) the underlay is dual stack:
# the bridge also has ${KB_SUBNET6}254/64, each node ${KB_SUBNET6}<n>/64 and a v6 default route
# (forwarding on inside the node namespace only); KB_FEATURE_GATES, KB_CLUSTER_CIDR and
# KB_NODE_CIDR_ARGS then give the controller-manager dual-stack or IPv6 podCIDRs. The binaries come from scripts/kube-bin through WEFT_KUBE_BIN, which
# scripts/test exports; without it the harness fails, it never builds (a build does not fit a
# test's timeout). Nothing touches the root namespace's network; every file lives under $KB_TMP;
# the EXIT trap stops every daemon and removes namespaces and files, also on failure.
#
# Source it, call kb_init and kb_up, then use kb_kubectl & co. Every wait is
# bounded and prints the daemon's log tail when it gives up.

KB_ID=${KB_ID:-$$}
KB_U=wku$KB_ID                           # underlay namespace
KB_TMP=${KB_TMP:-/tmp/wk-kube-$KB_ID}
KB_SUBNET=198.18.42                      # underlay /24, the bridge and the API server at .254
KB_API_IP=$KB_SUBNET.254
KB_API=https://$KB_API_IP:6443
KB_ETCD=http://127.0.0.1:2379           # reachable from the underlay namespace only
KB_CLUSTER_CIDR=${KB_CLUSTER_CIDR:-10.42.0.0/16}
KB_SUBNET6=${KB_SUBNET6:-}               # e.g. fd18:42:: for a dual-stack underlay
KB_FEATURE_GATES=${KB_FEATURE_GATES:-}   # e.g. IPv6DualStack=true (apiserver and controller-manager)
KB_NODE_CIDR_ARGS=${KB_NODE_CIDR_ARGS:---node-cidr-mask-size=24}
KB_SERVICE_CIDR=10.96.0.0/16
KB_SERVICE_IP=10.96.0.1                 # the `kubernetes` service, first address of the range
KB_ADMIN_TOKEN=wk-admin-token
KB_CONTROLLERS=${KB_CONTROLLERS:-nodeipam,serviceaccount,serviceaccount-token}
KB_PIDS=()
KB_NODES=()
declare -A KB_WEFTD KB_WEFTD_ENV          # node -> weftd pid; node -> identity env (default NODE_NAME=node<n>)
declare -A KB_PID                        # daemon name -> pid (etcd, apiserver, controller-manager, scheduler)

kb_log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }
kb_node_ns() { echo "wkn$1-$KB_ID"; }
kb_in() { ip netns exec "$KB_U" "$@"; }  # run a command in the underlay namespace
# Daemons are started as `ip netns exec "$KB_U" daemon ... &`, never through kb_in: ip execs the
# daemon, so $! is the daemon itself (a backgrounded function would be a subshell, and a TERM to
# it would leave the daemon running).

# kb_stop NAME: TERM, up to 5 s, then KILL; reaps it.
kb_stop() {
  local pid=${KB_PID[$1]:-}
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true         # its exit status is not ours
  unset "KB_PID[$1]"
}

kb_cleanup() {
  local rc=$? n
  set +e
  for n in scheduler controller-manager apiserver etcd; do kb_stop "$n"; done
  for pid in "${KB_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${KB_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  # pods are created in command substitutions (subshells), so found by name
  for n in $(ip netns list | awk -v s="-$KB_ID" '$1 ~ "^wkp-" && substr($1, length($1) - length(s) + 1) == s {print $1}'); do
    ip netns del "$n" 2>/dev/null
  done
  for n in "${KB_NODES[@]}"; do
    ip netns pids "$(kb_node_ns "$n")" 2>/dev/null | xargs -r kill 2>/dev/null
    ip netns del "$(kb_node_ns "$n")" 2>/dev/null
  done
  ip netns pids "$KB_U" 2>/dev/null | xargs -r kill 2>/dev/null
  sleep 0.2
  ip netns del "$KB_U" 2>/dev/null
  if [ $rc -ne 0 ] && [ -d "$KB_TMP" ]; then
    for f in "$KB_TMP"/*.log; do [ -f "$f" ] && { echo "--- tail of $f" >&2; tail -15 "$f" >&2; }; done
  fi
  [ "${KB_KEEP_TMP:-0}" = 1 ] || rm -rf "$KB_TMP"
  return $rc
}

# kb_init: checks, the temp dir, the trap, the underlay namespace with its bridge. The start of a
# test: `rc=0; kb_init || rc=$?; [ $rc -eq 0 ] || exit $rc`. Returns 77 only when this machine
# cannot run it at all (not root, no namespaces); missing binaries are a failure (1).
kb_init() {
  [ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; return 77; }
  ip netns add "wkprobe$KB_ID" 2>/dev/null || { echo "cannot create network namespaces" >&2; return 77; }
  ip netns del "wkprobe$KB_ID"
  local b
  # scripts/test exports it; a bare ctest run finds the cache, but never builds
  [ -n "${WEFT_KUBE_BIN:-}" ] || WEFT_KUBE_BIN=$("$WEFT_SRC/scripts/kube-bin" --check) ||
    { echo "FAIL: WEFT_KUBE_BIN is not set and scripts/kube-bin has no cached build (run it once)" >&2; return 1; }
  for b in kube-apiserver kube-controller-manager kubectl; do
    [ -x "$WEFT_KUBE_BIN/$b" ] || { echo "FAIL: $WEFT_KUBE_BIN/$b missing (run scripts/kube-bin)" >&2; return 1; }
  done
  for b in etcd openssl curl jq; do
    command -v "$b" >/dev/null || { echo "FAIL: $b not installed (scripts/deps)" >&2; return 1; }
  done
  mkdir -p "$KB_TMP"
  trap kb_cleanup EXIT
  # called as `kb_init || rc=$?`, where set -e is off: every step is checked. br0 gets a fixed
  # MAC (else it follows the lowest port MAC and a node plugged in later changes it under the
  # others' ARP entries for the API server; see overlay.bash's ov_init).
  if ! { ip netns add "$KB_U" && ip -n "$KB_U" link set lo up && ip -n "$KB_U" link add br0 address 02:00:c6:12:2a:fe type bridge &&
         ip -n "$KB_U" addr add "$KB_API_IP/24" dev br0 && ip -n "$KB_U" link set br0 up &&
         { [ -z "$KB_SUBNET6" ] || ip -n "$KB_U" addr add "${KB_SUBNET6}254/64" dev br0 nodad; }; }; then
    echo "FAIL: cannot set up the underlay namespace $KB_U" >&2; return 1
  fi
}
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }
# grep for pipelines: reads all input (grep -q exits at the first match, the writer then dies of
# SIGPIPE and `set -o pipefail` turns a match into a failure).
gq() { grep "$@" >/dev/null; }

# kb_node N: namespace $(kb_node_ns N) = wkn<N>-<id> with eth0 198.18.42.<N>/24 on the underlay
# bridge (N in 1..253) and $KB_TMP/n<N>/ for its files. Call it directly, not in $(...): the
# cleanup list lives in this shell.
kb_node() {
  local n=$1 ns; ns=$(kb_node_ns "$1")
  ((n >= 1 && n <= 253)) || { echo "kb_node: N must be 1..253" >&2; return 1; }
  ip netns add "$ns"
  KB_NODES+=("$n")
  ip -n "$ns" link set lo up
  ip link add "wkv$n-$KB_ID" netns "$KB_U" type veth peer name eth0 netns "$ns"
  ip -n "$KB_U" link set "wkv$n-$KB_ID" master br0 up
  ip -n "$ns" addr add "$KB_SUBNET.$n/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default via "$KB_API_IP"
  if [ -n "$KB_SUBNET6" ]; then
    ip -n "$ns" addr add "${KB_SUBNET6}$n/64" dev eth0 nodad
    ip -n "$ns" -6 route add default via "${KB_SUBNET6}254"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.forwarding=1
  fi
  mkdir -p "$KB_TMP/n$n"
}

# kb_cert NAME CN [O] [SAN]: key + certificate signed by the throw-away CA, in $KB_TMP/pki/NAME.{key,crt}.
# SAN is an openssl subjectAltName value (server certificates); without it a client certificate.
kb_cert() {
  local name=$1 o=${3:-} san=${4:-} d=$KB_TMP/pki subj="/CN=$2" ext
  [ -n "$o" ] && subj="/O=$o$subj"
  ext=$d/$name.ext
  if [ -n "$san" ]; then
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "$san" >"$ext"
  else
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >"$ext"
  fi
  openssl req -new -newkey rsa:2048 -nodes -keyout "$d/$name.key" -subj "$subj" -out "$d/$name.csr" 2>/dev/null
  openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$ext" -out "$d/$name.crt" 2>/dev/null
}

# kb_kubeconfig FILE TOKEN [SERVER]: a kubeconfig that authenticates with a bearer token and
# verifies the server against the test CA.
kb_kubeconfig() {
  local file=$1 token=$2 server=${3:-$KB_API}
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: wk
  cluster:
    server: $server
    certificate-authority-data: $(base64 -w0 "$KB_TMP/pki/ca.crt")
users:
- name: wk-user
  user:
    token: $token
contexts:
- name: wk
  context:
    cluster: wk
    user: wk-user
current-context: wk
EOF
}

# kb_pki: CA, API server certificate, service-account key pair, token file, admin kubeconfig.
kb_pki() {
  local d=$KB_TMP/pki
  mkdir -p "$d"
  openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$d/ca.key" -subj /CN=wk-test-ca \
    -days 2 -out "$d/ca.crt" 2>/dev/null
  kb_cert apiserver kube-apiserver "" \
    "IP:$KB_API_IP,IP:127.0.0.1,IP:$KB_SERVICE_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
  echo "$KB_ADMIN_TOKEN,admin,admin,system:masters" >"$d/tokens.csv"
  kb_kubeconfig "$KB_TMP/admin.kubeconfig" "$KB_ADMIN_TOKEN"
}

kb_etcd() {
  ip netns exec "$KB_U" etcd --name wk --data-dir "$KB_TMP/etcd" \
    --listen-client-urls "$KB_ETCD" --advertise-client-urls "$KB_ETCD" \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster wk=http://127.0.0.1:2380 >"$KB_TMP/etcd.log" 2>&1 &
  KB_PID[etcd]=$!
  for _ in $(seq 100); do
    kb_in env ETCDCTL_API=3 etcdctl --endpoints "$KB_ETCD" endpoint health >/dev/null 2>&1 && return 0
    kill -0 "${KB_PID[etcd]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "etcd did not start" >&2; tail -20 "$KB_TMP/etcd.log" >&2; return 1
}

kb_apiserver_start() {
  local d=$KB_TMP/pki
  ip netns exec "$KB_U" "$WEFT_KUBE_BIN/kube-apiserver" --etcd-servers="$KB_ETCD" \
    --bind-address="$KB_API_IP" --advertise-address="$KB_API_IP" --secure-port=6443 --insecure-port=0 \
    --tls-cert-file="$d/apiserver.crt" --tls-private-key-file="$d/apiserver.key" --client-ca-file="$d/ca.crt" \
    --token-auth-file="$d/tokens.csv" --authorization-mode=Node,RBAC \
    --service-account-key-file="$d/sa.pub" --service-account-signing-key-file="$d/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc --service-cluster-ip-range="$KB_SERVICE_CIDR" \
    --allow-privileged=true --kubelet-preferred-address-types=InternalIP \
    ${KB_FEATURE_GATES:+--feature-gates=$KB_FEATURE_GATES} \
    --kubelet-certificate-authority="$d/ca.crt" --kubelet-client-certificate="$d/apiserver.crt" \
    --kubelet-client-key="$d/apiserver.key" \
    >>"$KB_TMP/apiserver.log" 2>&1 &
  KB_PID[apiserver]=$!
}

# kb_wait_readyz [SECONDS]: until GET /readyz says ok (default 60 s; ~5 s on an idle machine).
kb_wait_readyz() {
  local limit=$(( ${1:-60} * 5 ))
  for _ in $(seq "$limit"); do
    [ "$(kb_in curl -s -m 1 --cacert "$KB_TMP/pki/ca.crt" -H "Authorization: Bearer $KB_ADMIN_TOKEN" \
         "$KB_API/readyz" 2>/dev/null)" = ok ] && return 0
    kill -0 "${KB_PID[apiserver]:-0}" 2>/dev/null || { echo "kube-apiserver exited" >&2; break; }
    sleep 0.2
  done
  echo "kube-apiserver not ready:" >&2
  kb_in curl -s -m 1 --cacert "$KB_TMP/pki/ca.crt" -H "Authorization: Bearer $KB_ADMIN_TOKEN" \
    "$KB_API/readyz?verbose" >&2 || true
  tail -20 "$KB_TMP/apiserver.log" >&2
  return 1
}

# kb_restart_apiserver: stops kube-apiserver (TERM), starts it again with the same flags and
# data, waits for /readyz. Clients' watches end; tokens stay valid (same signing key).
kb_restart_apiserver() {
  kb_stop apiserver
  echo "--- restarted $(date -u +%FT%T.%NZ)" >>"$KB_TMP/apiserver.log"
  kb_apiserver_start
  kb_wait_readyz
}

kb_controller_manager() {
  local d=$KB_TMP/pki
  # shellcheck disable=SC2086  # KB_NODE_CIDR_ARGS is a list of flags
  ip netns exec "$KB_U" "$WEFT_KUBE_BIN/kube-controller-manager" --kubeconfig="$KB_TMP/admin.kubeconfig" \
    --controllers="$KB_CONTROLLERS" \
    --allocate-node-cidrs=true --cluster-cidr="$KB_CLUSTER_CIDR" $KB_NODE_CIDR_ARGS \
    ${KB_FEATURE_GATES:+--feature-gates=$KB_FEATURE_GATES} \
    --service-cluster-ip-range="$KB_SERVICE_CIDR" \
    --service-account-private-key-file="$d/sa.key" --root-ca-file="$d/ca.crt" \
    --leader-elect=false --secure-port=0 --port=0 >"$KB_TMP/controller-manager.log" 2>&1 &
  KB_PID[controller-manager]=$!
}

# kb_scheduler: kube-scheduler (needed for DaemonSet pods; issue 21's cluster).
kb_scheduler() {
  [ -x "$WEFT_KUBE_BIN/kube-scheduler" ] || { echo "FAIL: $WEFT_KUBE_BIN/kube-scheduler missing" >&2; return 1; }
  ip netns exec "$KB_U" "$WEFT_KUBE_BIN/kube-scheduler" --kubeconfig="$KB_TMP/admin.kubeconfig" \
    --leader-elect=false --port=0 --secure-port=0 >"$KB_TMP/scheduler.log" 2>&1 &
  KB_PID[scheduler]=$!
}

# kb_up: PKI, etcd, kube-apiserver (ready), kube-controller-manager. ~10 s.
kb_up() {
  kb_pki
  kb_etcd
  kb_apiserver_start
  kb_wait_readyz
  kb_controller_manager
}

# kb_kubectl ARGS...: kubectl as cluster admin, run in the underlay namespace.
kb_kubectl() { kb_in "$WEFT_KUBE_BIN/kubectl" --kubeconfig "$KB_TMP/admin.kubeconfig" "$@"; }

# kb_curl TOKEN PATH [CURL ARGS...]: curl against the API server (https://198.18.42.254:6443/PATH)
# with a bearer token, TLS verified against the test CA.
kb_curl() {
  local token=$1 path=$2; shift 2
  kb_in curl -sS -m 10 --cacert "$KB_TMP/pki/ca.crt" -H "Authorization: Bearer $token" "$@" "$KB_API$path"
}

# kb_flannel_rbac [MANIFEST]: creates the Namespace, ServiceAccount, ClusterRole and
# ClusterRoleBinding of conf/kube-flannel.yml (not the ConfigMap or DaemonSet).
kb_flannel_rbac() {
  local m=${1:-$WEFT_SRC/conf/kube-flannel.yml}
  awk 'function flush() { if (keep) printf "%s", doc; doc = ""; keep = 0 }
       /^---[[:space:]]*$/ { flush(); doc = "---\n"; next }
       { doc = doc $0 "\n" }
       /^kind:[[:space:]]*(Namespace|ServiceAccount|ClusterRole|ClusterRoleBinding)[[:space:]]*$/ { keep = 1 }
       END { flush() }' "$m" >"$KB_TMP/flannel-rbac.yml"
  kb_kubectl apply -f - <"$KB_TMP/flannel-rbac.yml" >/dev/null
}

# kb_sa_token NAMESPACE SA [SECONDS]: a bound token for the service account (TokenRequest, as the
# kubelet mints for a pod's projected token). Prints the JWT.
kb_sa_token() {
  local body
  body=$(printf '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":%d}}' "${3:-3600}")
  kb_curl "$KB_ADMIN_TOKEN" "/api/v1/namespaces/$1/serviceaccounts/$2/token" -f -X POST \
    -H 'Content-Type: application/json' -d "$body" | jq -er .status.token
}

# kb_create_node NAME: an empty Node object (what kubelet registration creates; no kubelet runs).
kb_create_node() {
  kb_kubectl create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Node","metadata":{"name":"$1","labels":{"kubernetes.io/os":"linux"}}}
EOF
}

# kb_wait_pod_cidr NODE [SECONDS]: until the controller-manager assigned spec.podCIDR (default
# 60 s; ~10 s after the controller-manager starts); prints it.
kb_wait_pod_cidr() {
  local cidr limit=$(( ${2:-60} * 5 ))
  for _ in $(seq "$limit"); do
    cidr=$(kb_kubectl get node "$1" -o 'jsonpath={.spec.podCIDR}' 2>/dev/null)
    [ -n "$cidr" ] && { echo "$cidr"; return 0; }
    kill -0 "${KB_PID[controller-manager]:-0}" 2>/dev/null || { echo "kube-controller-manager exited" >&2; break; }
    sleep 0.2
  done
  echo "node $1 got no podCIDR" >&2; tail -20 "$KB_TMP/controller-manager.log" >&2; return 1
}

# kb_until CMD...: until CMD succeeds (10 s)
kb_until() { for _ in $(seq 200); do "$@" && return 0; sleep 0.05; done; return 1; }

# kb_ann NODE KEY: one annotation of a Node
kb_ann() { kb_kubectl get node "$1" -o "jsonpath={.metadata.annotations.${2//./\\.}}"; }

# kb_weftd N [extra flags]: weftd on node N in Kubernetes mode with $KB_TMP/nN/kubeconfig, the
# net-conf.json of the node ($KB_TMP/nN/net-conf.json) or of the cluster ($KB_TMP/net-conf.json),
# --ip-masq, --iface eth0, subnet.env and the log under $KB_TMP/nN, /readyz on 127.0.0.1:8471;
# the node's identity from KB_WEFTD_ENV[N] (default NODE_NAME=node<N>). Pid in KB_WEFTD[N]. A test
# that runs weftd under a wrapper inside the node namespace defines kb_weftd_prefix N, which sets
# the array KB_PFX to the command prefix (it must exec, so the pid stays weftd's; default
# `ip netns exec <node ns>`).
kb_weftd() {
  local n=$1 conf=$KB_TMP/net-conf.json; shift
  [ -f "$KB_TMP/n$n/net-conf.json" ] && conf=$KB_TMP/n$n/net-conf.json
  KB_PFX=(ip netns exec "$(kb_node_ns "$n")")
  if declare -F kb_weftd_prefix >/dev/null; then kb_weftd_prefix "$n"; fi
  # shellcheck disable=SC2086
  "${KB_PFX[@]}" env ${KB_WEFTD_ENV[$n]:-NODE_NAME=node$n} "$WEFT_BIN/weftd" --kube-subnet-mgr --ip-masq \
    --kubeconfig-file "$KB_TMP/n$n/kubeconfig" --net-config-path "$conf" --iface eth0 \
    --subnet-file "$KB_TMP/n$n/subnet.env" --healthz-ip 127.0.0.1 --healthz-port 8471 "$@" \
    >>"$KB_TMP/n$n/weftd.log" 2>&1 &
  KB_WEFTD[$n]=$!
  KB_PIDS+=($!)
}
kb_weftd_stop() { kill "${KB_WEFTD[$1]}"; wait "${KB_WEFTD[$1]}" 2>/dev/null || true; }

# kb_wait_weftd N: until weftd on node N answers /readyz on 127.0.0.1:8471 (30 s); else its log tail
kb_wait_weftd() {
  for _ in $(seq 300); do
    ip netns exec "$(kb_node_ns "$1")" curl -sf -m 1 http://127.0.0.1:8471/readyz >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  ip netns exec "$(kb_node_ns "$1")" curl -s -m 1 http://127.0.0.1:8471/readyz >&2 || true
  tail -20 "$KB_TMP/n$1/weftd.log" >&2; fail "weftd on node $1 not ready"
}

# kb_pod N NAME: pod namespace $(kb_pod_ns NAME) on node N through conf/10-flannel.conflist's chain
# (our plugins from WEFT_BIN, subnet.env and data under $KB_TMP/nN); prints the pod IP.
kb_pod_ns() { echo "wkp-$1-$KB_ID"; }
kb_pod() {
  local n=$1 name=$2 ns pod conf prev="" plugin out i count
  ns=$(kb_node_ns "$n"); pod=$(kb_pod_ns "$name")
  ip netns add "$pod"; ip -n "$pod" link set lo up
  conf=$(jq -c --arg d "$KB_TMP/n$n" '.plugins[0] += {subnetFile: ($d + "/subnet.env"), dataDir: ($d + "/flannel"),
      ipam: {dataDir: ($d + "/networks")}}' "$WEFT_SRC/conf/10-flannel.conflist")
  count=$(jq '.plugins | length' <<<"$conf")
  for ((i = 0; i < count; i++)); do
    plugin=$(jq -c --argjson i "$i" '.plugins[$i] + {name: .name, cniVersion: .cniVersion}' <<<"$conf")
    [ -n "$prev" ] && plugin=$(jq -c --argjson p "$prev" '. + {prevResult: $p}' <<<"$plugin")
    out=$(ip netns exec "$ns" env CNI_COMMAND=ADD CNI_CONTAINERID="$name" CNI_NETNS="/var/run/netns/$pod" \
      CNI_IFNAME=eth0 CNI_PATH="$WEFT_BIN" "$WEFT_BIN/$(jq -r .type <<<"$plugin")" <<<"$plugin")
    prev=$out
  done
  jq -r '.ips[0].address' <<<"$prev" | cut -d/ -f1
}
