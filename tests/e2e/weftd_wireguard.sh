#!/usr/bin/env bash
# e2e: the wireguard backend in etcd mode on three nodes, each with its own wireguard-go (this
# kernel has no WireGuard module; weftd starts wireguard-go itself) and its own /run/wireguard
# (a per-node directory bind-mounted in weftd's mount namespace, so three "flannel-wg" sockets do
# not collide and a restarted weftd finds its wireguard-go again). Checks: pods on different
# nodes talk HTTP; the underlay carries only UDP to port 51820 between nodes, no cleartext; `wg
# show` agrees with the leases (keys, endpoints, allowed IPs); weftd restart keeps the key and
# the wireguard-go process, traffic flows; a peer someone removed comes back; a node's lease
# removed -> its peer removed on the others.
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
lease 1 | jq -e --arg k "$(pubkey 1)" '.BackendType == "wireguard" and .BackendData == {"PublicKey": $k, "Port": 51820}' >/dev/null ||
  fail "lease: $(lease 1)"
[ "$(stat -c %a "$OV_TMP/n1/wgkey")" = 400 ] || fail "key file mode $(stat -c %a "$OV_TMP/n1/wgkey")"
pass "three nodes: wireguard-go started by weftd, MTU 1420, /32 address, one Network route, wg show = leases"

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

# wireguard-go killed: restarted by weftd, peers replayed, address and route restored. The
# supervisor restarts it at once; should the periodic check see the tun link gone first, it
# re-creates the device instead: either log line is a recovery by weftd.
old=$(wg_pid 2); kill -9 "$old"
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
[ "$(http a "$ip2")" = "hello from weft over wireguard" ] || fail "HTTP after wireguard-go was restarted on node 2"
recovered || fail "no restart in node 2's log: $(tail -5 "$OV_TMP/n2/weftd.log")"
pass "a killed wireguard-go is restarted with its peers; traffic flows again"

# node 3 leaves: its lease removed -> its peer removed on nodes 1 and 2
key3=$(pubkey 3)
kill "${OV_WEFTD[3]}"; wait "${OV_WEFTD[3]}" 2>/dev/null || true
ov_etcdctl del "$OV_PREFIX/subnets/$(net_of 3 | tr / -)" >/dev/null
LIVE=(1 2)
wait_peers 1 1; wait_peers 2 1
check_wg 1; check_wg 2
wgn 1 show flannel-wg peers | gq "$key3" && fail "node 3's peer is still on node 1"
pass "lease of node 3 removed: its peer is gone from nodes 1 and 2"
