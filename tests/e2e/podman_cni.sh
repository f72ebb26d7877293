#!/usr/bin/env bash
# podman 4.3 with network_backend = "cni" on a node that holds only weft's plugins.
#
# podman runs inside a node (tests/e2e/runtimes.bash: network namespace + private mount
# namespace) with everything private: containers.conf through CONTAINERS_CONF (cni backend,
# cni_plugin_dirs = weft's build/bin only, network_config_dir of the test, cgroupfs, file events),
# storage.conf through CONTAINERS_STORAGE_CONF and --root/--runroot (vfs driver). The networks are
# podman's own conflists for the cni backend (bridge with host-local, portmap, firewall, tuning):
# the default network as Debian's podman package ships it, and one that `podman network create`
# writes; the test checks both chains before using them.
# Then, on each network, with an image built here and `podman load`ed (no registry):
#   `podman run -d -p HOSTPORT:80` busybox httpd (on the created network with --ip and
#   --mac-address, which podman hands to the chain as CNI_ARGS IP= and MAC=): the IP is
#   host-local's reservation, firewall's CNI-FORWARD/CNI-ADMIN rules accept it, HTTP to the
#   hostPort on the node's address and 127.0.0.1 and to the container IP answers with the token;
#   `podman rm -f` leaves no veth, reservation, tuning state or rule behind;
# and with `--opt isolate=true` (firewall's ingressPolicy same-bridge) an isolated network's
# container reaches a plain network's but not another isolated network's.
set -euo pipefail
RT_KIND=p
. "$(dirname "$0")/runtimes.bash"

: "${WEFT_BIN:?}" "${WEFT_SRC:?}"
for t in podman conmon runc gcc curl iptables-save; do
  command -v $t >/dev/null || fail "$t not installed (scripts/deps installs it)"
done
rt_require_plugins bridge host-local portmap firewall tuning

RT_RUNC_ROOTS=(/run/runc)            # podman's runc state, inside the node's private /run
NET=wrtnet
SUBNET=10.89.7.0/24
start=$EPOCHREALTIME

pm() {
  rt_exec env CONTAINERS_CONF="$RT_TMP/containers.conf" \
    CONTAINERS_STORAGE_CONF="$RT_TMP/storage.conf" CONTAINERS_REGISTRIES_CONF="$RT_TMP/registries.conf" \
    podman --root "$RT_TMP/storage" --runroot "$RT_TMP/runroot" --storage-driver vfs \
    --cgroup-manager cgroupfs "$@"
}

CTR=
rt_cleanup_runtime() {
  [ -n "$CTR" ] && pm rm -f -t 0 "$CTR" >/dev/null 2>&1
  pm rm -a -f -t 0 >/dev/null 2>&1
}

rt_node_up
rt_build_images

mkdir -p "$RT_TMP/cni-net.d" "$RT_TMP/tmp"
cat >"$RT_TMP/containers.conf" <<EOT
[containers]
log_driver = "k8s-file"
# podman asks runc to raise nofile/nproc for root's containers; this machine grants no
# CAP_SYS_RESOURCE, so ask for limits below the current ones instead
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$RT_TMP/events.log"
runtime = "runc"
tmp_dir = "$RT_TMP/tmp"
[network]
network_backend = "cni"
cni_plugin_dirs = ["$WEFT_BIN"]
network_config_dir = "$RT_TMP/cni-net.d"
EOT
cat >"$RT_TMP/storage.conf" <<EOT
[storage]
driver = "vfs"
graphroot = "$RT_TMP/storage"
runroot = "$RT_TMP/runroot"
EOT
: >"$RT_TMP/registries.conf"

backend=$(pm info --format '{{.Host.NetworkBackend}}') || fail "podman info"
[ "$backend" = cni ] || fail "podman network backend is '$backend', not cni"
pass "podman $(pm version --format '{{.Client.Version}}') in node $RT_NS, network backend cni, plugins from $WEFT_BIN"

pm load -q -i "$RT_TMP/httpd.tar" >/dev/null || fail "podman load"
pm image exists weft.test/httpd:1 || fail "loaded image not named weft.test/httpd:1: $(pm images)"
pass "image loaded without a registry"

# --- the two conflists podman uses with the cni backend: the default network "podman" as
# Debian's podman package installs it (/etc/cni/net.d/87-podman-bridge.conflist, copied into the
# private config dir), and one that `podman network create` writes itself
DEFAULT_CONF=/etc/cni/net.d/87-podman-bridge.conflist
[ -f "$DEFAULT_CONF" ] || fail "$DEFAULT_CONF (shipped by the podman package) is missing"
cp "$DEFAULT_CONF" "$RT_TMP/cni-net.d/"
pm network create --subnet "$SUBNET" "$NET" >/dev/null || fail "podman network create"
[ -f "$RT_TMP/cni-net.d/$NET.conflist" ] || fail "podman wrote no $NET.conflist: $(ls "$RT_TMP/cni-net.d")"
for conf in "$RT_TMP/cni-net.d/87-podman-bridge.conflist" "$RT_TMP/cni-net.d/$NET.conflist"; do
  chain=$(jq -r '[.plugins[].type] | join(",")' "$conf")
  [ "$chain" = bridge,portmap,firewall,tuning ] || fail "$(basename "$conf"): chain is $chain"
done
pass "conflists: podman (packaged) and $NET (podman network create), both bridge -> portmap -> firewall -> tuning"

# run_web NAME NETWORK HOSTPORT [podman run args]: a container answering on HOSTPORT, checked
# (reservation, firewall rules, HTTP), then `podman rm -f` and nothing of it left
run_web() {
  local name=$1 net=$2 hostport=$3 conf br ip netdir fw t0 t1 id
  shift 3
  conf=$(grep -l "\"name\": *\"$net\"" "$RT_TMP"/cni-net.d/*.conflist)
  br=$(jq -r '.plugins[0].bridge' "$conf")
  rt_log "podman run --network $net -p $hostport:80 $*"
  t0=$EPOCHREALTIME
  CTR=$(pm run -d --name "$name" --network "$net" -p "$hostport:80" --cgroup-parent "/$RT_CG" "$@" \
        weft.test/httpd:1) || fail "podman run"
  t1=$EPOCHREALTIME
  ip=$(pm inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$CTR")
  netdir=$RT_TMP/var-lib-cni/networks/$net
  [ -f "$netdir/$ip" ] || fail "container IP '$ip' has no host-local reservation: $(ls "$netdir")"
  [ "$(head -1 "$netdir/$ip" | tr -d "\r")" = "$CTR" ] || fail "reservation of $ip is not the container's"
  pass "podman run $(rt_since "$t0" "$t1") s on $net: IP $ip = host-local's reservation for ${CTR:0:12}"
  WEB_IP=$ip
  WEB_MAC=$(pm exec "$CTR" busybox cat /sys/class/net/eth0/address) || fail "podman exec"
  WEB_TUNING=$({ rt_exec find /run/cni/tuning -type f 2>/dev/null || true; } | wc -l)

  fw=$(rt_exec iptables-save -t filter)
  echo "$fw" | gq -E -- "-A CNI-FORWARD -d $ip/32 .*-j ACCEPT" || fail "firewall: no CNI-FORWARD accept to $ip:
$fw"
  echo "$fw" | gq -E -- "-A CNI-FORWARD -s $ip/32 -j ACCEPT" || fail "firewall: no CNI-FORWARD accept from $ip"
  echo "$fw" | gq -E -- '-A CNI-FORWARD .*-j CNI-ADMIN' || fail "firewall: no CNI-ADMIN jump"
  pass "firewall: CNI-FORWARD accepts $ip both ways, CNI-ADMIN hooked"

  rt_check_http container "$ip" "$hostport"

  t0=$EPOCHREALTIME
  pm rm -f -t 0 "$CTR" >/dev/null || fail "podman rm -f"
  t1=$EPOCHREALTIME
  id=$CTR; CTR=
  [ -z "$(pm ps -aq)" ] || fail "containers still listed: $(pm ps -a)"
  rt_assert_clean "$br" "$netdir" "$ip" "$id"
  [ -z "$(ls -A "$RT_TMP/var-lib-cni/results" 2>/dev/null)" ] ||
    fail "libcni result cache left: $(ls "$RT_TMP/var-lib-cni/results")"
  [ -z "$(rt_exec find /run/cni/tuning -type f 2>/dev/null)" ] ||
    fail "tuning's saved state left: $(rt_exec ls /run/cni/tuning)"
  pass "podman rm -f $(rt_since "$t0" "$t1") s: no veth, reservation, cached result, tuning state or rule left"
}

run_web web0 podman 18081
MAC=92:e4:a1:3c:5f:07
run_web web1 "$NET" 18082 --ip 10.89.7.50 --mac-address $MAC
[ "$WEB_IP" = 10.89.7.50 ] || fail "--ip 10.89.7.50 (CNI_ARGS IP) gave $WEB_IP"
[ "$WEB_MAC" = $MAC ] || fail "--mac-address $MAC (CNI_ARGS MAC) gave eth0 $WEB_MAC"
[ "$WEB_TUNING" -ge 1 ] || fail "tuning saved no state for the MAC it changed (DEL could not restore it)"
pass "--ip reached host-local and --mac-address eth0 through CNI_ARGS IP=/MAC=, tuning saved its state for DEL"

# --- `podman network create --opt isolate=true`: firewall's ingressPolicy same-bridge. Between
# two isolated networks traffic is dropped; from an isolated network to a plain one it passes
# (the same chains as the reference: CNI-ISOLATION-STAGE-1/-2)
rt_log "isolate=true: two isolated networks and a plain one"
for i in 1 2; do
  pm network create --subnet "10.89.1$i.0/24" --opt isolate=true "wrtiso$i" >/dev/null ||
    fail "podman network create --opt isolate=true"
  [ "$(jq -r '.plugins[] | select(.type == "firewall") | .ingressPolicy' \
        "$RT_TMP/cni-net.d/wrtiso$i.conflist")" = same-bridge ] || fail "wrtiso$i: no ingressPolicy same-bridge"
done
declare -A ISO_IP
for c in isoa:wrtiso1 isob:wrtiso2 plain:"$NET"; do
  CTR=$(pm run -d --name "${c%%:*}" --network "${c#*:}" --cgroup-parent "/$RT_CG" weft.test/httpd:1) ||
    fail "podman run ${c%%:*}"
  ISO_IP[${c%%:*}]=$(pm inspect -f "{{(index .NetworkSettings.Networks \"${c#*:}\").IPAddress}}" "${c%%:*}")
done
CTR=
get_from() { # get_from CONTAINER IP: the body of http://IP/ fetched inside CONTAINER (busybox nc, 2 s)
  pm exec "$1" busybox sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | busybox timeout 2 busybox nc $2 80" 2>/dev/null |
    tail -n 1
}
for c in isoa isob plain; do
  rt_wait 10 rt_http "http://${ISO_IP[$c]}:80/" || fail "node cannot reach $c (${ISO_IP[$c]})"
done
[ "$(get_from isoa "${ISO_IP[plain]}")" = "$RT_TOKEN" ] ||
  fail "isolated isoa cannot reach the plain network's ${ISO_IP[plain]} (control)"
body=$(get_from isoa "${ISO_IP[isob]}" || true)
[ -z "$body" ] || fail "isoa (wrtiso1) reached isob (wrtiso2) at ${ISO_IP[isob]} despite isolate=true"
fw=$(rt_exec iptables-save -t filter)
for i in 1 2; do
  br=$(jq -r '.plugins[0].bridge' "$RT_TMP/cni-net.d/wrtiso$i.conflist")
  echo "$fw" | gq -E -- "-A CNI-ISOLATION-STAGE-1 -i $br ! -o $br .*-j CNI-ISOLATION-STAGE-2" ||
    fail "no CNI-ISOLATION-STAGE-1 rule for $br:
$fw"
  echo "$fw" | gq -E -- "-A CNI-ISOLATION-STAGE-2 -o $br .*-j DROP" || fail "no CNI-ISOLATION-STAGE-2 drop for $br"
done
pass "isolate=true: isoa -> plain answers, isoa -> isob dropped, node reaches all three"
pm rm -f -t 0 isoa isob plain >/dev/null || fail "podman rm -f"
[ -z "$(ip -n "$RT_NS" -o link show type veth)" ] || fail "veth left after podman rm -f"
for i in 1 2; do
  [ -z "$(ls "$RT_TMP/var-lib-cni/networks/wrtiso$i" | grep -v -e '^last_reserved_ip' -e '^lock$')" ] ||
    fail "reservation left on wrtiso$i"
done
pass "podman rm -f: no veth or reservation left on the isolated networks"

echo "podman_cni: $(rt_since "$start") s"
