# Shared by the WireGuard e2e tests (weftd_wireguard.sh and weftd_wireguard_dualstack.sh in etcd
# mode, weftd_wireguard_kube.sh in Kubernetes mode): this kernel has no WireGuard module, so weftd starts wireguard-go itself, and
# every node gets its own /run/wireguard (a per-node directory bind-mounted in the mount namespace
# `ip netns exec` creates), so three "flannel-wg" sockets do not collide and a restarted weftd
# finds its wireguard-go again. Helpers for wg(8) against a node, peer counts, `wg show` against
# what the leases say, HTTP between pods, and the underlay capture (only UDP to the WireGuard ports
# between nodes, no cleartext); wg_weftd starts weftd in etcd mode (overlay.bash's nodes).
#
# The sourcing test defines, before calling these: wg_ns N (node N's namespace), wg_dir N (node
# N's temp dir) and wg_track PID (adds a background process to its cleanup list).

WG_DEV=flannel-wg
WG_PORT=51820
WG_PAGE="hello from weft over wireguard"

# wg_checks: the tools these tests need; 77 when one is missing (they are not in scripts/deps).
wg_checks() {
  command -v wireguard-go >/dev/null || { echo "wireguard-go not installed (apt-get install --no-install-recommends wireguard-go)" >&2; return 77; }
  command -v wg >/dev/null || { echo "wg (wireguard-tools) not installed" >&2; return 77; }
  command -v tcpdump >/dev/null || { echo "tcpdump not installed" >&2; return 77; }
  mkdir -p /run/wireguard   # the mount point; each node binds its own directory over it
}

# wg_prefix N: sets WG_PFX to the command prefix that runs something in node N's namespace with
# node N's /run/wireguard; a daemon started as `"${WG_PFX[@]}" weftd ... &` is $! itself (ip and
# sh exec it), so a TERM to $! reaches it.
wg_prefix() {
  mkdir -p "$(wg_dir "$1")/wgrun"
  WG_PFX=(ip netns exec "$(wg_ns "$1")" sh -c 'mount --bind "$0" /run/wireguard && exec "$@"' "$(wg_dir "$1")/wgrun")
}
# wg_weftd N [flags]: weftd of node N (etcd mode, overlay.bash) with its key file and its
# /run/wireguard; its pid in OV_WEFTD[N].
wg_weftd() {
  local n=$1; shift; wg_prefix "$n"
  "${WG_PFX[@]}" env WIREGUARD_KEY_FILE="$OV_TMP/n$n/wgkey" \
    "$WEFT_BIN/weftd" --etcd-endpoints "$OV_ETCD" --etcd-prefix "$OV_PREFIX" --iface eth0 \
    --subnet-file "$OV_TMP/n$n/subnet.env" --healthz-ip 127.0.0.1 --healthz-port 8471 "$@" >>"$OV_TMP/n$n/weftd.log" 2>&1 &
  OV_WEFTD[$n]=$!
  OV_PIDS+=($!)
}
wg_exec() { local n=$1; shift; wg_prefix "$n"; "${WG_PFX[@]}" "$@"; }   # wg_exec N CMD...: in the foreground
wgn() { local n=$1; shift; wg_exec "$n" wg "$@"; }   # wgn N ARGS: wg(8) against node N's wireguard-go
# wg_pid N: the pid of node N's wireguard-go (none: empty, still status 0)
wg_pid() { local p; for p in $(ip netns pids "$(wg_ns "$1")"); do [ "$(cat /proc/$p/comm 2>/dev/null)" != wireguard-go ] || echo "$p"; done; }

# wait_peers N COUNT [DEV]: until node N's device (default $WG_DEV) has COUNT peers (10 s)
wait_peers() {
  local dev=${3:-$WG_DEV}
  for _ in $(seq 100); do
    [ "$(wgn "$1" show "$dev" peers | grep -c .)" = "$2" ] && return 0
    sleep 0.1
  done
  fail "node $1 has $(wgn "$1" show "$dev" peers | grep -c .) peers on $dev, want $2"
}
# wg_check N WANT [DEV]: node N's peers on DEV (default $WG_DEV) as "key<TAB>endpoint<TAB>allowed-ips"
# lines equal WANT (any order; allowed-ips comma-separated, sorted)
wg_check() {
  local got want dev=${3:-$WG_DEV} key _psk ep ips _rest
  want=$(sort <<<"$2" | grep .) || true
  got=$(wgn "$1" show "$dev" dump | tail -n +2 | while IFS=$'\t' read -r key _psk ep ips _rest; do
    printf '%s\t%s\t%s\n' "$key" "$ep" "$(tr , '\n' <<<"$ips" | sort | paste -sd,)"
  done | sort)
  [ "$want" = "$got" ] || fail "node $1: wg show $dev disagrees with the leases:
want:
$want
got:
$got"
}

# wg_www: the page the pods serve
wg_www() { mkdir -p "$(wg_dir www)"; echo "$WG_PAGE" >"$(wg_dir www)/index.txt"; }
wg_serve() {  # wg_serve POD-NS
  ip netns exec "$1" python3 -m http.server 8080 --bind 0.0.0.0 --directory "$(wg_dir www)" >/dev/null 2>&1 &
  wg_track $!
}
wg_http() {  # wg_http POD-NS IP: the page, retried for up to 5 s
  local out=""
  for _ in $(seq 50); do
    out=$(ip netns exec "$1" curl -sf -m 1 "http://$2:8080/index.txt") && break
    sleep 0.1
  done
  echo "$out"
}

# wg_capture_start UNDERLAY-NS / wg_capture_check CONTROL-IPS [PORTS]: tcpdump on the underlay
# bridge; the check stops it and fails unless it saw WireGuard packets (UDP to one of PORTS,
# default $WG_PORT) and, between the nodes (everything but the control plane at CONTROL-IPS),
# nothing else and no cleartext HTTP; IPv6 neighbour discovery and multicast (the underlay's ARP)
# are not traffic between nodes. Sets WG_PKTS to the number of WireGuard packets; WG_PCAP stays
# for the caller's own per-family counts. Not in $(...): tcpdump is this shell's child. --immediate-mode: without it
# libpcap hands packets over per 1 s block, and a capture stopped sooner writes none.
wg_capture_start() {
  WG_PCAP=$(wg_dir cap)/underlay.pcap; mkdir -p "$(wg_dir cap)"
  ip netns exec "$1" tcpdump -i br0 -nn -U --immediate-mode -w "$WG_PCAP" 2>"$WG_PCAP.log" &
  WG_TCPDUMP=$!; wg_track $WG_TCPDUMP
  for _ in $(seq 100); do gq listening "$WG_PCAP.log" && return 0; sleep 0.1; done
  fail "tcpdump on the underlay did not start: $(cat "$WG_PCAP.log")"
}
wg_capture_check() {
  local ports=${2:-$WG_PORT} wgf="" not_ctl="" p h other clear
  for p in $ports; do wgf+="${wgf:+ or }udp port $p"; done
  for h in $1; do not_ctl+=" and not host $h"; done
  sleep 0.5; kill "$WG_TCPDUMP"; wait "$WG_TCPDUMP" 2>/dev/null || true
  WG_PKTS=$(tcpdump -r "$WG_PCAP" -nn "$wgf" 2>/dev/null | grep -c . || true)
  local rest="(ip or ip6) and not ($wgf)$not_ctl and not icmp6 and not ip6 multicast"
  other=$(tcpdump -r "$WG_PCAP" -nn "$rest" 2>/dev/null | grep -c . || true)
  clear=$(tcpdump -r "$WG_PCAP" -nn 'tcp port 8080' 2>/dev/null | grep -c . || true)
  [ "$WG_PKTS" -gt 0 ] || fail "no WireGuard packets on the underlay"
  [ "$other" = 0 ] || fail "$other non-WireGuard packets between nodes: $(tcpdump -r "$WG_PCAP" -nn "$rest" 2>/dev/null | head -5)"
  [ "$clear" = 0 ] || fail "cleartext HTTP on the underlay"
  ! grep -a -q "$WG_PAGE" "$WG_PCAP" || fail "the page is readable on the underlay"
}
