# Shared by tests/e2e/*.sh and scripts/demo: a throw-away multi-node flannel overlay built from
# network namespaces. An "underlay" namespace holds a bridge (198.18.0.254/24) and etcd; each
# node is a namespace attached to that bridge by a veth (eth0 = 198.18.0.<n>/24) running weftd;
# pods are namespaces wired by the CNI chain (flannel -> bridge + host-local, then portmap) run
# inside the node namespace. Nothing touches the root namespace's network state; every path lives
# under $OV_TMP. Source it, call ov_init, and the EXIT trap cleans up.
# Needs: WEFT_BIN (weftd and, when built, our plugins; default $WEFT_SRC/build/bin), REF_BIN
# (Debian's plugins, fallback; default /usr/lib/cni); WEFT_SRC defaults to this checkout.

WEFT_SRC=${WEFT_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
WEFT_BIN=${WEFT_BIN:-$WEFT_SRC/build/bin}
REF_BIN=${REF_BIN:-/usr/lib/cni}
export WEFT_SRC WEFT_BIN REF_BIN

source "$WEFT_SRC/tests/e2e/dualstack.bash"   # ds_pod6, ds_wait_route6 behind ov_pod6, ov_wait_route6
OV_ID=${OV_ID:-$$}
OV_U=wu$OV_ID                      # underlay namespace
OV_TMP=${OV_TMP:-/tmp/weft-ov-$OV_ID}
OV_NET=${OV_NET:-10.42.0.0/16}
OV_PREFIX=/coreos.com/network
OV_ETCD=http://198.18.0.254:2379
OV_PIDS=()
OV_NODES=()

# grep for pipelines: reads all input (grep -q exits at the first match, the writer then dies of
# SIGPIPE and `set -o pipefail` turns a match into a failure).
gq() { grep "$@" >/dev/null; }

ov_log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }
ov_node_ns() { echo "wn$1-$OV_ID"; }

ov_cleanup() {
  local rc=$?
  set +e
  # pods are created in command substitutions (subshells), so find them by name
  for p in $(ip netns list | awk -v s="-$OV_ID" '$1 ~ "^wp-" && substr($1, length($1) - length(s) + 1) == s {print $1}'); do
    ip netns del "$p" 2>/dev/null
  done
  for pid in "${OV_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${OV_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  for n in "${OV_NODES[@]}"; do ip netns pids "$(ov_node_ns "$n")" 2>/dev/null | xargs -r kill 2>/dev/null; ip netns del "$(ov_node_ns "$n")" 2>/dev/null; done
  ip netns pids "$OV_U" 2>/dev/null | xargs -r kill 2>/dev/null
  sleep 0.2
  ip netns del "$OV_U" 2>/dev/null
  if [ "${OV_KEEP_TMP:-0}" != 1 ]; then rm -rf "$OV_TMP"; fi
  return $rc
}

ov_init() {
  [ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; return 77; }
  command -v etcd >/dev/null || { echo "etcd not installed" >&2; return 77; }
  ip netns add "wprobe$OV_ID" 2>/dev/null || { echo "cannot create network namespaces" >&2; return 77; }
  ip netns del "wprobe$OV_ID"
  mkdir -p "$OV_TMP"
  trap ov_cleanup EXIT
  ip netns add "$OV_U"
  ip -n "$OV_U" link set lo up
  # A fixed MAC: a bridge without one takes the lowest of its ports' MACs, so a node plugged in
  # later could change it under the running nodes' ARP entries for 198.18.0.254 (etcd), and
  # their next request stalls until the entry is re-resolved (weftd's 5 s etcd timeout).
  ip -n "$OV_U" link add br0 address 02:00:c6:12:00:fe type bridge
  ip -n "$OV_U" addr add 198.18.0.254/24 dev br0
  ip -n "$OV_U" link set br0 up
}

# The start of every tests/e2e/*.sh: weftd built, ov_init (77 = skip, passed through), and the
# helpers the tests share. Call as `rc=0; ov_test_start || rc=$?; [ $rc -eq 0 ] || exit $rc`.
ov_test_start() {
  [ -x "$WEFT_BIN/weftd" ] || { echo "weftd not built in $WEFT_BIN" >&2; return 1; }
  ov_init
}
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }
n() { ov_node_ns "$1"; }
net_of() { local s; s=$(ov_subnet "$1"); echo "${s%.1/*}.0/24"; }   # 10.42.x.0/24
gw_of() { local s; s=$(ov_subnet "$1"); echo "${s%.1/*}.0"; }

# ov_etcd: etcd inside the underlay namespace, data in $OV_TMP/etcd.
ov_etcd() {
  ip netns exec "$OV_U" etcd --name weft --data-dir "$OV_TMP/etcd" \
    --listen-client-urls "$OV_ETCD,http://127.0.0.1:2379" --advertise-client-urls "$OV_ETCD" \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster weft=http://127.0.0.1:2380 >"$OV_TMP/etcd.log" 2>&1 &
  OV_PIDS+=($!)
  for _ in $(seq 100); do
    ov_etcdctl endpoint health >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "etcd did not start" >&2; cat "$OV_TMP/etcd.log" >&2; return 1
}

ov_etcdctl() { ip netns exec "$OV_U" env ETCDCTL_API=3 etcdctl --endpoints "$OV_ETCD" "$@"; }

# ov_config [backend-json]: writes <prefix>/config.
ov_config() {
  local backend=${1:-'{"Type":"vxlan"}'}
  ov_etcdctl put "$OV_PREFIX/config" "{\"Network\":\"$OV_NET\",\"Backend\":$backend}" >/dev/null
}

# ov_node N: namespace with eth0 198.18.0.N on the underlay bridge.
ov_node() {
  local n=$1 ns; ns=$(ov_node_ns "$1")
  ip netns add "$ns"
  OV_NODES+=("$n")
  ip -n "$ns" link set lo up
  ip link add "wv$n-$OV_ID" netns "$OV_U" type veth peer name eth0 netns "$ns"
  ip -n "$OV_U" link set "wv$n-$OV_ID" master br0 up
  ip -n "$ns" addr add "198.18.0.$n/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default via 198.18.0.254
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
  mkdir -p "$OV_TMP/n$n"
}

# ov_underlay6: the underlay bridge also carries IPv6 (fd18::254/64), for ov_node6.
ov_underlay6() { ip -n "$OV_U" addr add fd18::254/64 dev br0 nodad; }

# ov_node6 N: ov_node plus the IPv6 underlay fd18::N and IPv6 forwarding (inside the node
# namespace only).
ov_node6() {
  ov_node "$1"
  local ns; ns=$(ov_node_ns "$1")
  ip -n "$ns" addr add "fd18::$1/64" dev eth0 nodad
  ip -n "$ns" -6 route add default via fd18::254
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.forwarding=1
}

# ov_wait_route6 N DST: until node N has an IPv6 route to DST (5 s), else fail.
ov_wait_route6() { ds_wait_route6 "$(ov_node_ns "$1")" "$2"; }

ov_subnet6() { sed -n 's/^FLANNEL_IPV6_SUBNET=//p' "$OV_TMP/n$1/subnet.env"; }   # fd42:0:0:x::1/64

# ov_weftd N [extra flags]: starts weftd in node N; its pid is in OV_WEFTD[N]. OV_WRAP (words)
# runs before weftd inside the node namespace, e.g. an unshare that hides a /proc file.
declare -A OV_WEFTD
ov_weftd() {
  local n=$1; shift
  # shellcheck disable=SC2086
  ip netns exec "$(ov_node_ns "$n")" ${OV_WRAP:-} "$WEFT_BIN/weftd" --etcd-endpoints "$OV_ETCD" --iface eth0 \
    --subnet-file "$OV_TMP/n$n/subnet.env" --healthz-ip 127.0.0.1 --healthz-port 8471 "$@" \
    >>"$OV_TMP/n$n/weftd.log" 2>&1 &
  OV_WEFTD[$n]=$!
  OV_PIDS+=($!)
}

# ov_wait_ready N: until /readyz of node N answers 200 (10 s).
ov_wait_ready() {
  local ns; ns=$(ov_node_ns "$1")
  for _ in $(seq 200); do
    ip netns exec "$ns" curl -sf -m 1 http://127.0.0.1:8471/readyz >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "weftd on node $1 not ready:" >&2
  ip netns exec "$ns" curl -s -m 1 http://127.0.0.1:8471/readyz >&2 || true
  tail -20 "$OV_TMP/n$1/weftd.log" >&2
  return 1
}

# ov_wait_route N DST: until node N has a route to DST (5 s).
ov_wait_route() {
  for _ in $(seq 100); do
    ip -n "$(ov_node_ns "$1")" route show "$2" | gq . && return 0
    sleep 0.05
  done
  echo "node $1 has no route to $2" >&2; return 1
}

ov_subnet() { sed -n 's/^FLANNEL_SUBNET=//p' "$OV_TMP/n$1/subnet.env"; }   # 10.42.x.1/24

# The conflist: conf/10-flannel.conflist with the paths moved under $OV_TMP/n<N>.
ov_conflist() {
  local n=$1 src=$WEFT_SRC/conf/10-flannel.conflist base
  if [ -f "$src" ]; then base=$(cat "$src"); else
    base='{"name":"cbr0","cniVersion":"0.3.1","plugins":[{"type":"flannel","delegate":{"hairpinMode":true,"isDefaultGateway":true}},{"type":"portmap","capabilities":{"portMappings":true}}]}'
  fi
  jq -c --arg d "$OV_TMP/n$n" '.plugins[0] += {subnetFile: ($d + "/subnet.env"), dataDir: ($d + "/flannel"),
      ipam: {dataDir: ($d + "/networks")}}' <<<"$base"
}

# Which binaries run the chain: ours when built, else Debian's (flannel is not packaged in
# Debian, so without ours the flannel step is done by ov_flannel_emulate).
ov_cni_path() {
  local p=""
  for b in bridge host-local portmap; do
    if [ -x "$WEFT_BIN/$b" ]; then p=$WEFT_BIN; else p=$REF_BIN; break; fi
  done
  echo "$p"
}

# Flannel's delegate construction (flannel §1.4/1.5) for when our flannel binary is not built.
ov_flannel_emulate() {
  local conf=$1 env=$2 net sub mtu masq
  net=$(sed -n 's/^FLANNEL_NETWORK=//p' "$env"); sub=$(sed -n 's/^FLANNEL_SUBNET=//p' "$env")
  mtu=$(sed -n 's/^FLANNEL_MTU=//p' "$env"); masq=$(sed -n 's/^FLANNEL_IPMASQ=//p' "$env")
  sub=$(python3 -c "import ipaddress,sys; print(ipaddress.ip_network(sys.argv[1], strict=False))" "$sub")
  jq -cS --arg net "$net" --arg sub "$sub" --argjson mtu "$mtu" --argjson masq "$masq" '
    (.delegate // {}) + {name: .name, cniVersion: .cniVersion} | .type //= "bridge"
    | .ipMasq //= ($masq | not) | .mtu //= $mtu | (if .type == "bridge" then .isGateway //= true else . end)
    | .ipam = (($conf.ipam // {}) | .type //= "host-local" | .ranges = [[{subnet: $sub}]]
               | .routes = ((.routes // []) + [{dst: $net}]))' --argjson conf "$conf" <<<"$conf"
}

# ov_serve NAME...: an HTTP server on port 8080 in each pod NAME (ov_pod), serving $OV_TMP/www,
# which holds index.txt = "hello from weft".
ov_serve() {
  mkdir -p "$OV_TMP/www"; echo "hello from weft" >"$OV_TMP/www/index.txt"
  local p
  for p in "$@"; do
    ip netns exec "wp-$p-$OV_ID" python3 -m http.server 8080 --bind 0.0.0.0 --directory "$OV_TMP/www" >/dev/null 2>&1 &
    OV_PIDS+=($!)
  done
}

# ov_http NAME IP: the page http://IP:8080/index.txt fetched from pod NAME (ov_pod), retried for
# up to 5 s; empty when none came.
ov_http() {
  local out=""
  for _ in $(seq 50); do
    out=$(ip netns exec "wp-$1-$OV_ID" curl -sf -m 1 "http://$2:8080/index.txt") && break
    sleep 0.1
  done
  echo "$out"
}

# ov_pod N NAME: a pod namespace on node N through the chain; prints its IP.
ov_pod() {
  local n=$1 name=$2 ns pod conf cni_path out plugin prev="" netconf env
  ns=$(ov_node_ns "$n"); pod="wp-$name-$OV_ID"
  ip netns add "$pod"
  ip -n "$pod" link set lo up
  conf=$(ov_conflist "$n"); cni_path=$(ov_cni_path)
  env=(CNI_COMMAND=ADD CNI_CONTAINERID="$name" CNI_NETNS="/var/run/netns/$pod" CNI_IFNAME=eth0 CNI_PATH="$cni_path")
  local count; count=$(jq '.plugins | length' <<<"$conf")
  for ((i = 0; i < count; i++)); do
    plugin=$(jq -c --argjson i "$i" '.plugins[$i] + {name: .name, cniVersion: .cniVersion}' <<<"$conf")
    [ -n "$prev" ] && plugin=$(jq -c --argjson p "$prev" '. + {prevResult: $p}' <<<"$plugin")
    # OV_PORTMAPS (JSON list): the runtime's portMappings, given to plugins with that capability
    [ -n "${OV_PORTMAPS:-}" ] && plugin=$(jq -c --argjson pm "$OV_PORTMAPS" \
      'if .capabilities.portMappings then . + {runtimeConfig: {portMappings: $pm}} else . end' <<<"$plugin")
    local type; type=$(jq -r .type <<<"$plugin")
    if [ "$type" = flannel ] && [ ! -x "$WEFT_BIN/flannel" ]; then
      netconf=$(ov_flannel_emulate "$plugin" "$OV_TMP/n$n/subnet.env")
      out=$(ip netns exec "$ns" env "${env[@]}" "$cni_path/$(jq -r .type <<<"$netconf")" <<<"$netconf")
    else
      local bin=$WEFT_BIN/$type; [ -x "$bin" ] || bin=$cni_path/$type
      out=$(ip netns exec "$ns" env "${env[@]}" CNI_PATH="$WEFT_BIN:$cni_path" "$bin" <<<"$plugin")
    fi
    prev=$out
  done
  jq -r '.ips[0].address' <<<"$prev" | cut -d/ -f1
}

# ov_pod6 NAME: the global IPv6 address of pod NAME (made by ov_pod in a dual-stack overlay).
ov_pod6() { ds_pod6 "wp-$1-$OV_ID"; }
