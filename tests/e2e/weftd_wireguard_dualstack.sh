#!/usr/bin/env bash
# e2e: the wireguard backend in dual stack and IPv6 only (etcd mode), each node with its own
# wireguard-go started by weftd (tests/e2e/wireguard.bash), over an underlay with IPv4 and IPv6
# (fd18::/64). Four runs:
#  - Mode separate (the default), three nodes: flannel-wg (51820) and flannel-wg-v6 (51821) with
#    one key, the /32 and /128 addresses and the Network / IPv6Network routes, the lease values
#    byte for byte (BackendData Port 51820, BackendV6Data Port 51821, PublicIPv6), `wg show` of
#    both devices = the leases, pods reaching pods on the other nodes over v4 and over [fd42:..]
#    while the underlay carries only UDP to 51820 (IPv4) and 51821 (IPv6), no cleartext; both
#    fail-closed routes; flannel-wg-v6's wireguard-go killed with weftd held: IPv6 to other
#    nodes refused (route get: No route to host), nothing on the underlay, v4 unaffected; resumed: encrypted;
#  - Mode auto, three nodes: one flannel-wg carrying both families (one peer per node with both
#    subnets, dialled over IPv4 as selectMode picks for these addresses), BackendV6Data still on
#    ListenPortV6, the port warning logged, HTTP over both families inside UDP/51820 over IPv4;
#  - Mode ipv6, two nodes: one flannel-wg, peers dialled at [PublicIPv6]:51820 (the port the
#    peer's one device listens on, not the published ListenPortV6), both families inside
#    UDP/51820 over IPv6;
#  - IPv6 only (EnableIPv4 false), two nodes: flannel-wg-v6 only, PublicIP 0.0.0.0 and no
#    BackendData, HTTP over v6 inside UDP/51821 over IPv6.
set -euo pipefail
WEFT_SRC=${WEFT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
OV_ID=wgd$$
source "$WEFT_SRC/tests/e2e/overlay.bash"
source "$WEFT_SRC/tests/e2e/wireguard.bash"
wg_ns() { n "$1"; }
wg_dir() { echo "$OV_TMP/n$1"; }
wg_track() { OV_PIDS+=("$1"); }
rc=0; wg_checks || rc=$?; [ $rc -eq 0 ] || exit $rc
rc=0; ov_test_start || rc=$?; [ $rc -eq 0 ] || exit $rc
[ -x "$WEFT_BIN/flannel" ] || fail "our flannel plugin is not built (the v6 delegate needs it)"

V6=flannel-wg-v6
net6_of() { local s; s=$(ov_subnet6 "$1"); echo "${s%1/64}/64"; }   # fd42:0:0:x::/64
own6_of() { local s; s=$(ov_subnet6 "$1"); echo "${s%1/64}"; }      # fd42:0:0:x::
lease_key() {  # the etcd key of node N's lease (dual stack: by its v4 subnet; IPv6 only: by its v6 one)
  if [ -n "$(ov_subnet "$1")" ]; then ov_etcdctl get --keys-only --prefix "$OV_PREFIX/subnets/$(net_of "$1" | tr / -)&"
  else ov_etcdctl get --keys-only --prefix "$OV_PREFIX/subnets/0.0.0.0-0&$(net6_of "$1" | tr / -)"; fi | grep .
}
lease() { ov_etcdctl get --print-value-only "$(lease_key "$1")"; }
pubkey() { wg pubkey <"$OV_TMP/n$1/wgkey"; }   # derived from the key file by wg(8), not by weftd
serve() { ds_serve "wp-$1-$OV_ID" "$WG_PAGE"; OV_PIDS+=($!); }
get() { ds_get "wp-$1-$OV_ID" "$2"; }
ports_seen() {  # ports_seen FILTER: how many captured packets match
  tcpdump -r "$WG_PCAP" -nn "$1" 2>/dev/null | grep -c . || true
}
# stop N...: weftd and its wireguard-go (left running by weftd on purpose). The node stays on the
# underlay: its fail-closed routes keep what its pods still send off it once the tunnels are gone.
stop() {
  local i p
  for i in "$@"; do
    kill "${OV_WEFTD[$i]}"; wait "${OV_WEFTD[$i]}" 2>/dev/null || true
    for p in $(wg_pid "$i"); do kill "$p"; done
  done
}
wg_www
ov_underlay6
ov_etcd

# ---- separate (default Mode): two devices, one key ----
ov_etcdctl put "$OV_PREFIX/config" '{"Network":"10.42.0.0/16","EnableIPv6":true,"IPv6Network":"fd42::/56","Backend":{"Type":"wireguard","PersistentKeepaliveInterval":25}}' >/dev/null
for i in 1 2 3; do ov_node6 $i; wg_weftd $i; done
for i in 1 2 3; do ov_wait_ready $i; done
LIVE=(1 2 3)
check_sep() {  # check_sep N: both devices of node N equal the other nodes' leases
  local j
  wg_check "$1" "$(for j in "${LIVE[@]}"; do [ "$j" = "$1" ] || printf '%s\t198.18.0.%s:51820\t%s\n' "$(pubkey "$j")" "$j" "$(net_of "$j")"; done)"
  wg_check "$1" "$(for j in "${LIVE[@]}"; do [ "$j" = "$1" ] || printf '%s\t[fd18::%s]:51821\t%s\n' "$(pubkey "$j")" "$j" "$(net6_of "$j")"; done)" $V6
}
for i in 1 2 3; do
  k=$(pubkey $i)
  want="{\"PublicIP\":\"198.18.0.$i\",\"PublicIPv6\":\"fd18::$i\",\"BackendType\":\"wireguard\",\"BackendData\":{\"PublicKey\":\"$k\",\"Port\":51820},\"BackendV6Data\":{\"PublicKey\":\"$k\",\"Port\":51821}}"
  [ "$(lease $i)" = "$want" ] || fail "node $i lease: $(lease $i) (want $want)"
  [ "$(wgn $i show $WG_DEV listen-port)" = 51820 ] && [ "$(wgn $i show $V6 listen-port)" = 51821 ] || fail "node $i listen ports"
  [ "$(wgn $i show $WG_DEV public-key)" = "$k" ] && [ "$(wgn $i show $V6 public-key)" = "$k" ] || fail "node $i: the devices' keys differ from the key file's"
  ip -n "$(n $i)" -j link show $V6 | jq -e '.[0].mtu == 1420' >/dev/null || fail "$V6 MTU: $(ip -n "$(n $i)" link show $V6)"
  ip -n "$(n $i)" -6 addr show dev $V6 scope global | gq "inet6 $(own6_of $i)/128" || fail "$V6 address: $(ip -n "$(n $i)" -6 addr show dev $V6)"
  ip -n "$(n $i)" -4 addr show dev $WG_DEV | gq "inet $(gw_of $i)/32" || fail "$WG_DEV address: $(ip -n "$(n $i)" addr show dev $WG_DEV)"
  ip -n "$(n $i)" -6 route show fd42::/56 | gq "^fd42::/56 dev $V6 " || fail "IPv6Network route: $(ip -n "$(n $i)" -6 route)"
  ip -n "$(n $i)" route show 10.42.0.0/16 | gq "^10.42.0.0/16 dev $WG_DEV .*scope link" || fail "Network route: $(ip -n "$(n $i)" route)"
  ip -n "$(n $i)" -6 route show dev $WG_DEV | gq fd42 && fail "v6 route on $WG_DEV"
  ip -n "$(n $i)" route show 10.42.0.0/16 | gq "^unreachable 10.42.0.0/16 metric 16384" || fail "no v4 fail-closed route"
  ip -n "$(n $i)" -6 route show fd42::/56 | gq "^unreachable fd42::/56 .*metric 16384" || fail "no v6 fail-closed route: $(ip -n "$(n $i)" -6 route)"
  gq -x "FLANNEL_MTU=1420" "$OV_TMP/n$i/subnet.env" || fail "subnet.env: $(cat "$OV_TMP/n$i/subnet.env")"
done
for i in 1 2 3; do wait_peers $i 2; wait_peers $i 2 $V6; done
for i in 1 2 3; do check_sep $i; done
pass "separate: $WG_DEV:51820 + $V6:51821 with one key, /32 + /128, both network routes over both fail-closed ones, MTU 1420, lease values as flanneld's, wg show of both devices = leases"

ip1=$(ov_pod 1 a); ip2=$(ov_pod 2 b); ip3=$(ov_pod 3 c)
a6=$(ov_pod6 a); b6=$(ov_pod6 b); c6=$(ov_pod6 c)
[ -n "$a6" ] && [ -n "$b6" ] && [ -n "$c6" ] || fail "pods without IPv6 ($a6 $b6 $c6)"
serve b; serve c
wg_capture_start "$OV_U"
for pair in "a $ip2" "a [$b6]" "a $ip3" "a [$c6]" "c $ip2" "c [$b6]"; do
  set -- $pair
  [ "$(get "$1" "http://$2:8080/")" = "$WG_PAGE" ] || fail "HTTP pod $1 -> $2"
done
wg_capture_check "198.18.0.254 fd18::254" "51820 51821"
w4=$(ports_seen "ip and udp port 51820"); w6=$(ports_seen "ip6 and udp port 51821")
[ "$w4" -gt 0 ] && [ "$w6" -gt 0 ] || fail "want WireGuard over both families: IPv4/51820 $w4, IPv6/51821 $w6"
[ "$(ports_seen "ip6 and udp port 51820")" = 0 ] && [ "$(ports_seen "ip and udp port 51821")" = 0 ] || fail "a family on the other device's port"
pass "separate: HTTP between pods over v4 and [fd42:..] on three nodes; underlay: $w4 UDP/51820 over IPv4, $w6 UDP/51821 over IPv6, nothing else between nodes, no cleartext"

# flannel-wg-v6's wireguard-go killed while node 1's weftd is held (SIGSTOP: no supervisor, no
# check): IPv6Network falls on the fail-closed route, a pod's IPv6 request is refused and none
# of it reaches the underlay, IPv4 still goes over flannel-wg; resumed, IPv6 is encrypted again
w1=${OV_WEFTD[1]}
# never leave it stopped (a stopped weftd would hang the cleanup's wait); $? passed on to ov_cleanup
trap 'rc=$?; set +e; kill -CONT "$w1" 2>/dev/null; (exit $rc); ov_cleanup' EXIT
kill -STOP "$w1"
old6=""; for p in $(wg_pid 1); do tr '\0' ' ' <"/proc/$p/cmdline" | gq " $V6 " && old6=$p; done
[ -n "$old6" ] || fail "no wireguard-go for $V6 on node 1"
kill -9 "$old6"
for _ in $(seq 100); do ip -n "$(n 1)" link show $V6 >/dev/null 2>&1 || break; sleep 0.1; done
! ip -n "$(n 1)" link show $V6 >/dev/null 2>&1 || fail "$V6 outlived its wireguard-go"
got=$(ip -n "$(n 1)" -6 route get "$b6" 2>&1) && fail "route to $b6 without $V6: $got"
[ "$got" = "RTNETLINK answers: No route to host" ] || fail "route get $b6: $got"
ip -n "$(n 1)" route get "$ip2" | gq " dev $WG_DEV " || fail "v4 left $WG_DEV: $(ip -n "$(n 1)" route get "$ip2")"
wg_capture_start "$OV_U"
got=$(ip netns exec "wp-a-$OV_ID" curl -sSv -m 2 -g "http://[$b6]:8080/" 2>&1) && fail "pod a reached [$b6] with $V6 gone: $got"
# (ICMPv6 "no route to destination", which Linux reports as ENETUNREACH)
gq "Network is unreachable" <<<"$got" || fail "pod a -> [$b6] with $V6 gone: $got (want Network is unreachable)"
[ "$(get a "http://$ip2:8080/")" = "$WG_PAGE" ] || fail "v4 HTTP a -> $ip2 while $V6 was gone"
sleep 0.5; kill "$WG_TCPDUMP"; wait "$WG_TCPDUMP" 2>/dev/null || true
leak=$(ports_seen "net fd42::/56 or net 10.42.0.0/16 or tcp port 8080")
[ "$leak" = 0 ] || fail "$leak pod packets on the underlay while $V6 was gone: $(tcpdump -r "$WG_PCAP" -nn "net fd42::/56 or net 10.42.0.0/16 or tcp port 8080" 2>/dev/null | head -5)"
kill -CONT "$w1"; trap ov_cleanup EXIT
for _ in $(seq 100); do ip -n "$(n 1)" -6 route show fd42::/56 | gq "dev $V6" && break; sleep 0.1; done
wait_peers 1 2 $V6
check_sep 1
wg_capture_start "$OV_U"
[ "$(get a "http://[$b6]:8080/")" = "$WG_PAGE" ] || fail "HTTP a -> [$b6] after $V6 came back"
wg_capture_check "198.18.0.254 fd18::254" "51820 51821"
pass "separate: $V6's wireguard-go killed, weftd held: route get $b6 = No route to host, the IPv6 request refused (Network is unreachable) and not on the underlay, v4 unaffected; resumed: IPv6 encrypted again"

# node 3 leaves: both of its peers go from nodes 1 and 2
stop 3
ov_etcdctl del "$(lease_key 3)" >/dev/null
LIVE=(1 2)
for i in 1 2; do wait_peers $i 1; wait_peers $i 1 $V6; check_sep $i; done
pass "lease of node 3 removed: its peers are gone from both devices of nodes 1 and 2"
stop 1 2

# ---- auto: one device for both families ----
OV_PREFIX=/wgauto/network
ov_etcdctl put "$OV_PREFIX/config" '{"Network":"10.43.0.0/16","EnableIPv6":true,"IPv6Network":"fd43::/56","Backend":{"Type":"wireguard","Mode":"auto"}}' >/dev/null
for i in 4 5 6; do ov_node6 $i; wg_weftd $i; done
for i in 4 5 6; do ov_wait_ready $i; done
LIVE=(4 5 6)
check_auto() {
  local j
  wg_check "$1" "$(for j in "${LIVE[@]}"; do [ "$j" = "$1" ] || printf '%s\t198.18.0.%s:51820\t%s,%s\n' "$(pubkey "$j")" "$j" "$(net_of "$j")" "$(net6_of "$j")"; done)"
}
for i in 4 5 6; do
  k=$(pubkey $i)
  want="{\"PublicIP\":\"198.18.0.$i\",\"PublicIPv6\":\"fd18::$i\",\"BackendType\":\"wireguard\",\"BackendData\":{\"PublicKey\":\"$k\",\"Port\":51820},\"BackendV6Data\":{\"PublicKey\":\"$k\",\"Port\":51821}}"
  [ "$(lease $i)" = "$want" ] || fail "auto: node $i lease: $(lease $i) (want $want)"
  ip -n "$(n $i)" link show $V6 >/dev/null 2>&1 && fail "auto: node $i created $V6"
  ip -n "$(n $i)" -6 addr show dev $WG_DEV scope global | gq "inet6 $(own6_of $i)/128" || fail "auto: v6 address on $WG_DEV: $(ip -n "$(n $i)" addr show dev $WG_DEV)"
  ip -n "$(n $i)" -4 addr show dev $WG_DEV | gq "inet $(gw_of $i)/32" || fail "auto: v4 address on $WG_DEV"
  ip -n "$(n $i)" -6 route show fd43::/56 | gq "^fd43::/56 dev $WG_DEV " || fail "auto: IPv6Network route: $(ip -n "$(n $i)" -6 route)"
  ip -n "$(n $i)" route show 10.43.0.0/16 | gq "dev $WG_DEV" || fail "auto: Network route"
  gq "ListenPortV6 differs from ListenPort" "$OV_TMP/n$i/weftd.log" || fail "auto: no port warning in node $i's log"
done
for i in 4 5 6; do wait_peers $i 2; check_auto $i; done
pass "auto: one $WG_DEV with /32 + /128 and both routes, one peer per node with both subnets via 198.18.0.N:51820, BackendV6Data Port 51821 (as flanneld), port warning logged"

d=$(ov_pod 4 d); e=$(ov_pod 5 e); f=$(ov_pod 6 f)
e6=$(ov_pod6 e); f6=$(ov_pod6 f)
serve e; serve f
wg_capture_start "$OV_U"
for pair in "d $e" "d [$e6]" "d $f" "d [$f6]"; do
  set -- $pair
  [ "$(get "$1" "http://$2:8080/")" = "$WG_PAGE" ] || fail "auto: HTTP pod $1 -> $2"
done
wg_capture_check "198.18.0.254 fd18::254" 51820
[ "$(ports_seen "ip6 and udp")" = 0 ] || fail "auto: WireGuard over IPv6, want IPv4 endpoints for 198.18.0.0/24 peers"
pass "auto: HTTP over v4 and [fd43:..] inside $WG_PKTS UDP/51820 packets over IPv4, nothing else between nodes"
stop 4 5 6

# ---- ipv6: one device, every peer dialled over IPv6 on the port its one device listens on ----
OV_PREFIX=/wgip6/network
ov_etcdctl put "$OV_PREFIX/config" '{"Network":"10.45.0.0/16","EnableIPv6":true,"IPv6Network":"fd45::/56","Backend":{"Type":"wireguard","Mode":"ipv6"}}' >/dev/null
for i in 9 10; do ov_node6 $i; wg_weftd $i; done
for i in 9 10; do ov_wait_ready $i; done
for i in 9 10; do wait_peers $i 1; done
wg_check 9 "$(printf '%s	[fd18::10]:51820	%s,%s
' "$(pubkey 10)" "$(net_of 10)" "$(net6_of 10)")"
wg_check 10 "$(printf '%s	[fd18::9]:51820	%s,%s
' "$(pubkey 9)" "$(net_of 9)" "$(net6_of 9)")"
p=$(ov_pod 10 p); p6=$(ov_pod6 p); ov_pod 9 o >/dev/null
serve p
wg_capture_start "$OV_U"
[ "$(get o "http://$p:8080/")" = "$WG_PAGE" ] && [ "$(get o "http://[$p6]:8080/")" = "$WG_PAGE" ] || fail "ipv6 mode: HTTP o -> p"
wg_capture_check "198.18.0.254 fd18::254" 51820
[ "$(ports_seen "ip and udp")" = 0 ] || fail "ipv6 mode: WireGuard over IPv4"
pass "ipv6: one peer with both subnets via [fd18::N]:51820 (BackendData's Port, not the published 51821), HTTP over v4 and v6 inside UDP/51820 over IPv6"
stop 9 10

# ---- IPv6 only (separate): flannel-wg-v6 alone ----
OV_PREFIX=/wg6/network
ov_etcdctl put "$OV_PREFIX/config" '{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd44::/56","Backend":{"Type":"wireguard"}}' >/dev/null
for i in 7 8; do ov_node6 $i; wg_weftd $i; done
for i in 7 8; do ov_wait_ready $i; done
for i in 7 8; do
  k=$(pubkey $i)
  want="{\"PublicIP\":\"0.0.0.0\",\"PublicIPv6\":\"fd18::$i\",\"BackendType\":\"wireguard\",\"BackendV6Data\":{\"PublicKey\":\"$k\",\"Port\":51821}}"
  [ "$(lease $i)" = "$want" ] || fail "v6-only: node $i lease: $(lease $i) (want $want)"
  ip -n "$(n $i)" link show $WG_DEV >/dev/null 2>&1 && fail "v6-only: node $i created $WG_DEV"
  gq '^FLANNEL_NETWORK\|^FLANNEL_SUBNET' "$OV_TMP/n$i/subnet.env" && fail "v6-only subnet.env: $(cat "$OV_TMP/n$i/subnet.env")"
  gq -x "FLANNEL_MTU=1420" "$OV_TMP/n$i/subnet.env" || fail "v6-only subnet.env MTU: $(cat "$OV_TMP/n$i/subnet.env")"
done
wait_peers 7 1 $V6; wait_peers 8 1 $V6
wg_check 7 "$(printf '%s\t[fd18::8]:51821\t%s\n' "$(pubkey 8)" "$(net6_of 8)")" $V6
wg_check 8 "$(printf '%s\t[fd18::7]:51821\t%s\n' "$(pubkey 7)" "$(net6_of 7)")" $V6
g=$(ov_pod 7 g); h=$(ov_pod 8 h)
h6=$(ov_pod6 h)
serve h
wg_capture_start "$OV_U"
[ "$(get g "http://[$h6]:8080/")" = "$WG_PAGE" ] || fail "v6-only: HTTP g -> [$h6]"
wg_capture_check "198.18.0.254 fd18::254" 51821
[ "$(ports_seen "ip and udp")" = 0 ] || fail "v6-only: WireGuard over IPv4"
pass "IPv6 only: $V6 alone, lease PublicIP 0.0.0.0 without BackendData, wg show = leases, HTTP [$h6] inside $WG_PKTS UDP/51821 packets over IPv6"
