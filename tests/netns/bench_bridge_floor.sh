#!/usr/bin/env bash
# bench/bridge/floor.cpp (bench/run's floor under bridge's ADD row) makes the same kernel and
# file changes as a real bridge + host-local ADD with the live scenario's conf, so "weft ÷ floor"
# compares like with like: one bridge ADD into a pod namespace, a snapshot of everything it changed
# (the pod's links, addresses, routes and sysctls; the host end's bridge port, hairpin flag and
# sysctl; host-local's reservation file), its DEL, then the harness's ADD (--keep) with the same
# address into the same namespace and the same snapshot, which must be identical; and the
# harness's timed ADD+DEL must leave what bridge's DEL leaves. No timing is asserted. Everything
# happens in namespaces made here; the root namespace is never touched.
set -euo pipefail
. "$(dirname "$0")/bridge_helpers.bash"
need_root
WEFT_BIN=${WEFT_BIN:?} WEFT_BUILD=${WEFT_BUILD:-$WEFT_BIN/..}
PLUGIN=$WEFT_BIN/bridge CNI_PATH=$WEFT_BIN FLOOR=$WEFT_BUILD/bench/bridge-floor
[ -x "$PLUGIN" ] || fail "missing $PLUGIN"
[ -x "$FLOOR" ] || fail "missing $FLOOR (the bridge-floor target)"
NODE=wbfnode$$ POD=wbfpod$$ T=$(mktemp -d /tmp/weft-bfloor.XXXXXX)
cleanup() { ip netns del $POD 2>/dev/null || true; ip netns del $NODE 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
ip netns add $NODE; ip netns add $POD
ip -n $NODE link set lo up
NSP=/run/netns/$POD
conf='{"cniVersion":"1.0.0","name":"bfloor","type":"bridge","bridge":"wbfbr","hairpinMode":true,
"ipMasq":false,"isDefaultGateway":true,"isGateway":true,"ipam":{"type":"host-local","ranges":[[{
"subnet":"10.212.0.0/16","rangeStart":"10.212.2.2","rangeEnd":"10.212.2.254","gateway":"10.212.0.1"}]],
"dataDir":"'$T'/hl"}}'

# the one port of wbfbr (the host end), after every ADD below
host_end() { ip -n $NODE -j link show master wbfbr | jq -r '.[0].ifname'; }
# Everything an ADD changed, with the names and numbers a second ADD must differ in (the host
# end's random name, ifindexes, MACs, the namespace id of the peer, address lifetimes) masked.
snapshot() {
  local hv=$1 ip=$2
  {
    echo "# pod links"; ip -n $POD -d link show | sed -E 's/^[0-9]+: /N: /; s/@if[0-9]+/@ifN/; s/link\/ether \S+ brd \S+/link\/ether M brd B/; s/link-netns\S* \S+/link-netns X/; s/ (addrgenmode|numtxqueues|numrxqueues|gso_max_size|gso_max_segs|tso_max_size|tso_max_segs|gro_max_size|gso_ipv4_max_size|gro_ipv4_max_size) \S+//g'
    echo "# pod addresses"; ip -n $POD addr show | grep -E '^\S|inet' | sed -E 's/^[0-9]+: /N: /; s/@if[0-9]+/@ifN/; s/ (valid_lft|preferred_lft) \S+//g; s/inet6 fe80::\S+/inet6 fe80::X/'
    echo "# pod routes"; ip -n $POD route show; ip -n $POD -6 route show
    echo "# pod sysctls"
    for s in ipv6/conf/eth0/accept_dad ipv4/conf/eth0/arp_notify; do
      echo "$s=$(ip netns exec $POD cat /proc/sys/net/$s 2>/dev/null || echo none)"
    done
    echo "# host end"
    ip -n $NODE -d link show dev "$hv" | sed -E "s/$hv/HV/g; s/^[0-9]+: /N: /; s/@if[0-9]+/@ifN/; s/link\/ether \S+ brd \S+/link\/ether M brd B/; s/link-netns\S* \S+/link-netns X/; s/ (addrgenmode|numtxqueues|numrxqueues|gso_max_size|gso_max_segs|tso_max_size|tso_max_segs|gro_max_size|gso_ipv4_max_size|gro_ipv4_max_size|port_id|port_no|designated_port|designated_cost|designated_bridge|designated_root|root_id|bridge_id|no) \S+//g; s/ (hold_timer|message_age_timer|forward_delay_timer) +\S+//g"
    echo "accept_ra=$(ip netns exec $NODE cat /proc/sys/net/ipv6/conf/$hv/accept_ra 2>/dev/null || echo none)"
    echo "# reservation"; cat "$T/hl/bfloor/$ip" 2>/dev/null || echo none; echo
  }
}

out=$(cni $NODE ADD $NSP c1 eth0 "$conf")
ip=$(jq -r '.ips[0].address' <<<"$out"); addr=${ip%/*}
[ "$ip" = 10.212.2.2/16 ] || fail "bridge ADD gave $ip"
hv=$(host_end)
snapshot "$hv" "$addr" >"$T/bridge.txt"
# the snapshot really holds the ADD's changes (a snapshot that missed them would compare equal too)
grep -q 'inet 10.212.2.2/16' "$T/bridge.txt" || fail "no pod address in the snapshot"
grep -q '^default via 10.212.0.1 dev eth0' "$T/bridge.txt" || fail "no default route in the snapshot"
grep -q 'hairpin on' "$T/bridge.txt" || fail "no hairpin port in the snapshot"
grep -qx 'ipv4/conf/eth0/arp_notify=1' "$T/bridge.txt" || fail "no arp_notify in the snapshot"
grep -q '^c1' "$T/bridge.txt" || fail "no reservation in the snapshot"
cni $NODE DEL $NSP c1 eth0 "$(jq -c --argjson p "$out" '. + {prevResult: $p}' <<<"$conf")" >/dev/null
after_del_bridge=$(ip -n $POD -o link show | wc -l; ls "$T/hl/bfloor")

ip netns exec $NODE "$FLOOR" --bridge wbfbr --netns $NSP --addr $ip --gw 10.212.0.1 --hairpin \
  --default-route --datadir "$T/hl" --network bfloor --id c1 --keep
snapshot "$(host_end)" "$addr" >"$T/floor.txt"
diff -u "$T/bridge.txt" "$T/floor.txt" || fail "bridge-floor's changes differ from bridge's (diff above)"
ok "bridge-floor makes the same links, addresses, routes, sysctls, port flags and reservation as bridge ADD"

ip netns exec $POD ip link del eth0
rm -f "$T/hl/bfloor/$addr"
line=$(ip netns exec $NODE "$FLOOR" --bridge wbfbr --netns $NSP --addr $ip --gw 10.212.0.1 --hairpin \
  --default-route --datadir "$T/hl" --network bfloor --id c1 --runs 2)
[ "$(wc -l <<<"$line")" = 2 ] || fail "--runs 2 printed: $line"
grep -Eqx '([0-9]+ ){3}[0-9]+' <<<"$(head -1 <<<"$line")" || fail "timing line: $line"
[ "$(ip -n $POD -o link show | wc -l; ls "$T/hl/bfloor")" = "$after_del_bridge" ] ||
  fail "bridge-floor's DEL leaves a different state than bridge DEL"
[ -z "$(ip -n $NODE -j link show master wbfbr | jq -r '.[].ifname')" ] || fail "host end left on the bridge"
ok "bridge-floor ADD+DEL leaves what bridge DEL leaves"
