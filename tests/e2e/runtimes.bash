# Shared by tests/e2e/containerd_cri.sh and tests/e2e/podman_cni.sh: a "node" that holds only
# weft's plugins, built from namespaces so that a container runtime runs on it without changing any
# host state. The node is a network namespace (lo up, also holding the node's address
# 198.18.77.1/32; ip_forward on) plus a private mount namespace kept open by a holder process:
#   /sys           a fresh sysfs (this netns's devices) with the host's cgroup tree bound back;
#   /run           a private tmpfs (runtime sockets, runc state, pod netns files, xtables lock);
#   /var/lib       a private tmpfs, with /var/lib/cni bound to $RT_TMP/var-lib-cni (leases, result
#                  cache, flannel state) so the test reads the node's CNI state from outside.
# Daemons and CLIs run with rt_exec (nsenter into both namespaces; never `ip netns exec`, which
# remounts /sys and makes a new mount namespace per call). Everything lives under $RT_TMP; the
# EXIT trap removes the runtime's containers (rt_cleanup_runtime, defined by the test), kills what
# runs in the node, deletes its cgroups and namespace, then the directory.
# Needs: WEFT_BIN (weft's build/bin: the runtimes get this directory and nothing else), WEFT_SRC.

RT_ID=${RT_ID:-$$}
RT_NS=wrt$RT_KIND$RT_ID              # node network namespace
RT_TMP=/tmp/wrt-$RT_KIND-$RT_ID
RT_CG=wrt-$RT_KIND-$RT_ID            # cgroup parent of the node's containers (every hierarchy)
RT_ADDR=198.18.77.1                  # the node's own address (on lo)
RT_HOLDER=
RT_PIDS=()
PY=/usr/bin/python3                  # Debian's python3: python3-grpcio lives there

gq() { grep "$@" >/dev/null; }
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }
rt_log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

# rt_exec CMD...: CMD inside the node (its network and private mount namespace), killed after
# 120 s; rt_daemon CMD...: the same without a time limit (run it in the background).
rt_daemon() { nsenter -t "$RT_HOLDER" -m -n -- "$@"; }
rt_exec() { timeout -k 5 120 nsenter -t "$RT_HOLDER" -m -n -- "$@"; }

# rt_wait SECONDS CMD...: until CMD succeeds, polling every 0.1 s; fails after SECONDS.
rt_wait() {
  local n=$(($1 * 10)) i; shift
  for ((i = 0; i < n; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# rt_require_plugins NAME...: every plugin the runtime will call must be weft's own, in WEFT_BIN.
rt_require_plugins() {
  local p
  for p in "$@"; do
    [ -x "$WEFT_BIN/$p" ] || fail "weft plugin '$p' missing in $WEFT_BIN (the node holds only weft)"
  done
}

rt_stop_pid() { # TERM, up to 10 s, then KILL
  local pid=$1 i
  kill "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
}

rt_cleanup() {
  local rc=$? pid h root
  set +e
  trap - EXIT
  if [ -n "$RT_HOLDER" ] && kill -0 "$RT_HOLDER" 2>/dev/null; then
    declare -F rt_cleanup_runtime >/dev/null && rt_cleanup_runtime
    # whatever the runtime left running: its runc state is private to the node
    for root in "${RT_RUNC_ROOTS[@]}"; do
      for id in $(rt_exec runc --root "$root" list -q 2>/dev/null); do
        rt_exec runc --root "$root" delete --force "$id" >/dev/null 2>&1
      done
    done
  fi
  for pid in "${RT_PIDS[@]}"; do rt_stop_pid "$pid"; done
  for pid in $(ip netns pids "$RT_NS" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
  for pid in "${RT_PIDS[@]}" $RT_HOLDER; do wait "$pid" 2>/dev/null; done
  ip netns del "$RT_NS" 2>/dev/null
  for h in /sys/fs/cgroup/*/; do
    [ -d "$h$RT_CG" ] && find "$h$RT_CG" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  if [ "${RT_KEEP_TMP:-0}" != 1 ]; then rm -rf "$RT_TMP"; fi
  if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then echo "failed (rc=$rc); logs were in $RT_TMP" >&2; fi
  exit $rc
}

# rt_node_up: the node's namespaces and the holder; sets RT_HOLDER.
rt_node_up() {
  [ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; exit 77; }
  ip netns add "wrtprobe$RT_ID" 2>/dev/null || { echo "cannot create network namespaces" >&2; exit 77; }
  ip netns del "wrtprobe$RT_ID"
  mkdir -p "$RT_TMP/cg" "$RT_TMP/var-lib-cni"
  trap rt_cleanup EXIT
  ip netns add "$RT_NS"
  ip -n "$RT_NS" link set lo up
  ip -n "$RT_NS" addr add "$RT_ADDR/32" dev lo
  ip netns exec "$RT_NS" sysctl -qw net.ipv4.ip_forward=1
  nsenter --net="/run/netns/$RT_NS" unshare -m --propagation slave /bin/bash -c '
    set -e
    mount --rbind /sys/fs/cgroup "$1/cg"
    mount -t sysfs sysfs /sys
    mount --rbind "$1/cg" /sys/fs/cgroup
    umount -l "$1/cg"
    mount -t tmpfs -o mode=0755 tmpfs /run
    mount -t tmpfs -o mode=0755 tmpfs /var/lib
    mkdir /var/lib/cni
    mount --bind "$1/var-lib-cni" /var/lib/cni
    : >"$1/holder.ready"
    exec sleep infinity' rt-holder "$RT_TMP" &
  RT_HOLDER=$!
  rt_wait 10 test -e "$RT_TMP/holder.ready" || fail "node holder did not come up"
  rt_exec test -d /sys/fs/cgroup/memory || fail "cgroup tree not visible inside the node"
}

# rt_build_images: $RT_TMP/pause.tar (weft.test/pause:1, the static pause) and
# $RT_TMP/httpd.tar (weft.test/httpd:1, busybox-static httpd serving $RT_TOKEN on port 80).
RT_TOKEN=weft-$RT_KIND-$RT_ID
rt_build_images() {
  local bb=/bin/busybox
  [ -x $bb ] && ! readelf -d $bb 2>/dev/null | gq NEEDED || fail "$bb is not busybox-static"
  # shellcheck source=tests/e2e/containerd.bash
  . "$WEFT_SRC/tests/e2e/containerd.bash"
  ctd_pause_image "$RT_TMP" || fail "pause image"
  $PY "$WEFT_SRC/tests/e2e/runtimes/oci_image.py" --name weft.test/httpd:1 --out "$RT_TMP/httpd.tar" \
    --file /bin/busybox="$bb" --symlink /bin/sh=busybox --text /www/index.html="$RT_TOKEN" \
    --entrypoint /bin/busybox httpd -f -p 80 -h /www || fail "httpd image"
}

# rt_since T0 [T1]: seconds between two $EPOCHREALTIME values (T1 = now).
rt_since() { awk -v a="$1" -v b="${2:-$EPOCHREALTIME}" 'BEGIN { printf "%.2f", b - a }'; }

# rt_http URL: the body, fetched from inside the node.
rt_http() { rt_exec curl -sS --max-time 2 "$1"; }

# rt_check_http WHAT IP HOSTPORT: the page ($RT_TOKEN) from the httpd of WHAT (pod, container) on
# IP:80, waited for up to 10 s, and through its hostPort HOSTPORT on $RT_ADDR and 127.0.0.1.
rt_check_http() {
  local what=$1 ip=$2 hostport=$3 a body
  rt_wait 10 rt_http "http://$ip:80/" || fail "httpd in the $what does not answer on $ip:80"
  [ "$(rt_http "http://$ip:80/")" = "$RT_TOKEN" ] || fail "$what IP answered something else"
  for a in "$RT_ADDR" 127.0.0.1; do
    body=$(rt_http "http://$a:$hostport/") || fail "no answer on hostPort $a:$hostport"
    [ "$body" = "$RT_TOKEN" ] || fail "hostPort $a:$hostport answered '$body'"
  done
  pass "HTTP: $what $ip:80, hostPort $RT_ADDR:$hostport and 127.0.0.1:$hostport answer '$RT_TOKEN'"
}

# rt_assert_clean BRIDGE NETDIR POD_IP ID: nothing of the pod is left on the node: no veth, no ifb
# (bandwidth), no reservation in NETDIR, no firewall rule naming the pod's IP or ID, no per-pod
# chain (portmap's CNI-DN-*, bridge's masquerade CNI-<hash>); the bridge itself stays, as the
# bridge plugin never deletes it.
rt_assert_clean() {
  local br=$1 netdir=$2 ip=$3 id=$4 links res rules
  links=$(ip -n "$RT_NS" -o link show type veth)
  [ -z "$links" ] || fail "veth left on the node: $links"
  links=$(ip -n "$RT_NS" -o link show type ifb)
  [ -z "$links" ] || fail "ifb left on the node: $links"
  res=$(grep -rl -- "$id" "$netdir" 2>/dev/null; [ ! -e "$netdir/$ip" ] || echo "$netdir/$ip")
  [ -z "$res" ] || fail "IP reservation left: $res"
  rules=$(rt_exec iptables-save | grep -E -e "(^|[^0-9.])${ip//./\\.}([^0-9]|$)" -e "$id" -e 'CNI-DN-' \
          -e '^:CNI-[0-9a-f]{24} ' || true)
  [ -z "$rules" ] || fail "per-pod firewall state left:
$rules"
  ip -n "$RT_NS" -o link show "$br" >/dev/null 2>&1 || fail "bridge $br vanished (it should stay)"
}
