#!/usr/bin/env bash
# e2e: the wireguard backend in etcd mode on three nodes, each with its own wireguard-go (this
# kernel has no WireGuard module; weftd starts wireguard-go itself) and its own /run/wireguard
# (a per-node directory bind-mounted in weftd's mount namespace, so three "flannel-wg" sockets do
# not collide and a restarted weftd finds its wireguard-go again). Checks: pods on different
# nodes talk HTTP; the underlay carries only UDP to port 51820 between nodes, no cleartext; `wg
# show` agrees with the leases (keys, endpoints, allowed IPs); weftd restart keeps the key and
# the wireguard-go process, traffic flows; a peer someone removed comes back; wireguard-go killed
# with weftd held: the fail-closed route refuses pod traffic to other nodes and none of it is on
# the underlay, encrypted again once resumed; a deleted fail-closed route comes back; a node's
# lease removed -> its peer removed on the others.
set -euo pipefail
source "$(dirname "$0")/overlay.bash"
source "$WEFT_SRC/tests/e2e/wireguard.bash"
wg_ns() { n "$1"; }
wg_dir() { echo "$OV_TMP/n$1"; }
wg_track() { OV_PIDS+=("$1"); }
wg_checks || exit $?
ov_test_start || exit $?

lease() { ov_etcdctl get --print-value-only "$OV_PREFIX/subnets/$(net_of "$1" | tr / -)"; }
pubkey() { lease "$1" | jq -r .BackendData.PublicKey; }
http() { wg_http "wp-$1-$OV_ID" "$2"; }   # http FROM-POD IP
serve() { wg_serve "wp-$1-$OV_ID"; }
# check_wg N: `wg show` on node N equals what the other nodes' leases say
check_wg() {
  local j
  wg_check "$1" "$(for j in "${LIVE[@]}"; do [ "$j" = "$1" ] || printf '%s\t198.18.0.%s:51820\t%s\n' "$(pubkey "$j")" "$j" "$(net_of "$j")"; done)"
}
wg_www

ov_etcd
ov_config '{"Type":"wireguard","PersistentKeepaliveInterval":25}'
for i in 1 2 3; do ov_node $i; done
for i in 1 2 3; do wg_weftd $i; done
for i in 1 2 3; do ov_wait_ready $i; done
LIVE=(1 2 3)
for i in 1 2 3; do wait_peers $i 2; done
for i in 1 2 3; do check_wg $i; done
ip -n "$(n 1)" -j link show flannel-wg | jq -e '.[0].mtu == 1420' >/dev/null || fail "flannel-wg MTU: $(ip -n "$(n 1)" link show flannel-wg)"
gq '^FLANNEL_MTU=1420$' "$OV_TMP/n1/subnet.env" || fail "subnet.env MTU: $(cat "$OV_TMP/n1/subnet.env")"
ip -n "$(n 1)" route show "$OV_NET" | gq "^$OV_NET dev flannel-wg .*scope link" || fail "Network route: $(ip -n "$(n 1)" route)"
ip -n "$(n 1)" -4 addr show flannel-wg | gq "inet $(gw_of 1)/32" || fail "device address: $(ip -n "$(n 1)" addr show flannel-wg)"
ip -n "$(n 1)" route show "$OV_NET" | gq "^unreachable $OV_NET metric 16384" || fail "no fail-closed route: $(ip -n "$(n 1)" route)"
lease 1 | jq -e --arg k "$(pubkey 1)" '.BackendType == "wireguard" and .BackendData == {"PublicKey": $k, "Port": 51820}' >/dev/null ||
  fail "lease: $(lease 1)"
[ "$(stat -c %a "$OV_TMP/n1/wgkey")" = 400 ] || fail "key file mode $(stat -c %a "$OV_TMP/n1/wgkey")"
pass "three nodes: wireguard-go started by weftd, MTU 1420, /32 address, one Network route over the fail-closed one, wg show = leases"

ip1=$(ov_pod 1 a); ip2=$(ov_pod 2 b); ip3=$(ov_pod 3 c)
serve b; serve c
wg_capture_start "$OV_U"
[ "$(http a "$ip2")" = "hello from weft over wireguard" ] || fail "HTTP pod a (node 1) -> pod b (node 2)"
[ "$(http a "$ip3")" = "hello from weft over wireguard" ] || fail "HTTP pod a (node 1) -> pod c (node 3)"
[ "$(http c "$ip2")" = "hello from weft over wireguard" ] || fail "HTTP pod c (node 3) -> pod b (node 2)"
wg_capture_check 198.18.0.254
pass "HTTP between pods on three nodes; the underlay saw $WG_PKTS UDP/51820 packets, nothing else between nodes, no cleartext"

# weftd restart: the same key, the same wireguard-go (adopted, sessions kept), traffic flows
key1=$(pubkey 1); wgp=$(wg_pid 1)
kill "${OV_WEFTD[1]}"; wait "${OV_WEFTD[1]}" 2>/dev/null || true
[ "$(http a "$ip2")" = "hello from weft over wireguard" ] || fail "traffic stopped while weftd was down"
wg_weftd 1; ov_wait_ready 1
[ "$(pubkey 1)" = "$key1" ] || fail "key changed across a restart: $key1 -> $(pubkey 1)"
[ "$(wg_pid 1)" = "$wgp" ] || fail "wireguard-go was replaced ($wgp -> $(wg_pid 1)), not adopted"
[ "$(http a "$ip2")" = "hello from weft over wireguard" ] || fail "HTTP after the weftd restart"
check_wg 1
pass "weftd restart: same key $key1, wireguard-go $wgp adopted, traffic kept flowing"

# someone removes a peer: the periodic check (5 s) adds it back
wgn 1 set flannel-wg peer "$(pubkey 2)" remove
wait_peers 1 2
check_wg 1
[ "$(http a "$ip2")" = "hello from weft over wireguard" ] || fail "HTTP after the peer was restored"
pass "a peer removed with wg set is back after the periodic check"

# wireguard-go killed while weftd is held (SIGSTOP: neither its supervisor nor its periodic check
# can bring the device back): the tun link and its Network route are gone, the fail-closed route
# stays, so a pod's request to another node is refused ("No route to host") and none of it
# reaches the underlay, in cleartext or otherwise; the own subnet still goes to cni0. Resumed:
# weftd restarts wireguard-go (or, should its check see the tun link gone first, re-creates the
# device: either log line is a recovery by weftd), peers replayed, traffic encrypted again.
w2=${OV_WEFTD[2]}
# never leave it stopped (a stopped weftd would hang the cleanup's wait); $? passed on to ov_cleanup
trap 'rc=$?; set +e; kill -CONT "$w2" 2>/dev/null; (exit $rc); ov_cleanup' EXIT
kill -STOP "$w2"
old=$(wg_pid 2); kill -9 "$old"
for _ in $(seq 100); do ip -n "$(n 2)" link show flannel-wg >/dev/null 2>&1 || break; sleep 0.1; done
! ip -n "$(n 2)" link show flannel-wg >/dev/null 2>&1 || fail "flannel-wg outlived its wireguard-go"
rs=$(ip -n "$(n 2)" route show "$OV_NET")
gq "^unreachable $OV_NET metric 16384" <<<"$rs" && ! gq flannel-wg <<<"$rs" || fail "node 2's Network routes with flannel-wg gone: $rs"
got=$(ip -n "$(n 2)" route get "$ip3" 2>&1) && fail "route to $ip3 without flannel-wg: $got"
[ "$got" = "RTNETLINK answers: No route to host" ] || fail "route get $ip3: $got"
ip -n "$(n 2)" route get "$ip2" | gq " dev cni0 " || fail "own pod $ip2 not on cni0: $(ip -n "$(n 2)" route get "$ip2")"
wg_capture_start "$OV_U"
got=$(ip netns exec "wp-b-$OV_ID" curl -sSv -m 2 "http://$ip3:8080/index.txt" 2>&1) && fail "pod b reached $ip3 with flannel-wg gone: $got"
gq "No route to host" <<<"$got" || fail "pod b -> $ip3 with flannel-wg gone: $got (want No route to host)"
sleep 0.5; kill "$WG_TCPDUMP"; wait "$WG_TCPDUMP" 2>/dev/null || true
# (other nodes' keepalives to the dead port and node 2's ICMP port unreachable may be there)
leak=$(tcpdump -r "$WG_PCAP" -nn "net $OV_NET or tcp port 8080" 2>/dev/null | grep -c . || true)
[ "$leak" = 0 ] || fail "$leak pod packets on the underlay while flannel-wg was gone: $(tcpdump -r "$WG_PCAP" -nn "net $OV_NET or tcp port 8080" 2>/dev/null | head -5)"
! grep -a -q "GET /index.txt" "$WG_PCAP" || fail "the request is readable on the underlay"
kill -CONT "$w2"; trap ov_cleanup EXIT
recovered() { grep -qE "restarted, configuration replayed|flannel-wg is gone; re-creating it" "$OV_TMP/n2/weftd.log"; }
# (until the new process has replayed: the killed one may still be listed for a moment)
for _ in $(seq 100); do
  new=$(wg_pid 2)
  [ -n "$new" ] && [ "$new" != "$old" ] && recovered &&
    ip -n "$(n 2)" route show "$OV_NET" | gq flannel-wg && break
  sleep 0.1
done
wait_peers 2 2
check_wg 2
wg_capture_start "$OV_U"
[ "$(http a "$ip2")" = "hello from weft over wireguard" ] || fail "HTTP after wireguard-go was restarted on node 2"
[ "$(http b "$ip3")" = "hello from weft over wireguard" ] || fail "HTTP pod b -> pod c after the restart"
wg_capture_check 198.18.0.254
recovered || fail "no restart in node 2's log: $(tail -5 "$OV_TMP/n2/weftd.log")"
ip -n "$(n 2)" route show "$OV_NET" | gq "^unreachable $OV_NET metric 16384" || fail "fail-closed route gone after the restart"
pass "wireguard-go killed, weftd held: route get $ip3 = No route to host, pod b's request refused, nothing of it on the underlay; resumed: restarted with its peers, traffic encrypted again ($WG_PKTS UDP/51820 packets)"

# someone deletes the fail-closed route: the periodic check (5 s) puts it back, and says so
ip -n "$(n 1)" route del unreachable "$OV_NET" metric 16384
for _ in $(seq 100); do ip -n "$(n 1)" route show "$OV_NET" | gq "^unreachable $OV_NET metric 16384" && break; sleep 0.1; done
ip -n "$(n 1)" route show "$OV_NET" | gq "^unreachable $OV_NET metric 16384" || fail "fail-closed route not restored: $(ip -n "$(n 1)" route show "$OV_NET")"
gq "fail-closed route unreachable $OV_NET metric 16384 was missing; restored" "$OV_TMP/n1/weftd.log" || fail "no restore in node 1's log"
pass "a deleted fail-closed route is restored by the periodic check"

# node 3 leaves: its lease removed -> its peer removed on nodes 1 and 2
key3=$(pubkey 3)
kill "${OV_WEFTD[3]}"; wait "${OV_WEFTD[3]}" 2>/dev/null || true
ov_etcdctl del "$OV_PREFIX/subnets/$(net_of 3 | tr / -)" >/dev/null
LIVE=(1 2)
wait_peers 1 1; wait_peers 2 1
check_wg 1; check_wg 2
wgn 1 show flannel-wg peers | gq "$key3" && fail "node 3's peer is still on node 1"
pass "lease of node 3 removed: its peer is gone from nodes 1 and 2"
