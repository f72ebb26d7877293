#!/usr/bin/env bash
# e2e: weftd's other data paths and its interface/firewall options. VXLAN (VNI 7, Port 4789)
# with DirectRouting on three nodes, two on one underlay L2 segment (198.18.0.0/24) and one routed
# behind the underlay router (198.18.1.0/24): the L2-adjacent peer gets a plain route via its
# public IP (pod packets cross the underlay unencapsulated), the routed one the VXLAN entries; a
# node behind NAT (--public-ip). And the host-gw backend on two more nodes (own etcd prefix and
# network): routes via the peers' public IPs, no VXLAN device, HTTP across.
set -euo pipefail
source "$(dirname "$0")/overlay.bash"
ov_test_start || exit $?

mac_of() { ip -n "$(n "$1")" -j link show flannel.7 | jq -r '.[0].address'; }

# the underlay: br0 198.18.0.0/24 (nodes 1, 2, 4, 5) and br1 198.18.1.0/24 (node 3), routed
ov_etcd
ip -n "$OV_U" link add br1 type bridge
ip -n "$OV_U" addr add 198.18.1.254/24 dev br1
ip -n "$OV_U" link set br1 up
ip netns exec "$OV_U" sysctl -qw net.ipv4.ip_forward=1
for i in 1 2 3 4 5; do ov_node $i; done
ip -n "$OV_U" link set "wv3-$OV_ID" master br1
ip -n "$(n 3)" addr flush dev eth0
ip -n "$(n 3)" addr add 198.18.1.3/24 dev eth0
ip -n "$(n 3)" route add default via 198.18.1.254

# --- VXLAN with DirectRouting
ov_config '{"Type":"vxlan","VNI":7,"Port":4789,"DirectRouting":true}'
for i in 1 2 3; do ov_weftd $i --ip-masq; done
for i in 1 2 3; do ov_wait_ready $i; done
for i in 1 2 3; do for j in 1 2 3; do [ $i = $j ] || ov_wait_route $i "$(net_of $j)"; done; done
ip -n "$(n 1)" route show "$(net_of 2)" | gq "^$(net_of 2) via 198.18.0.2 dev eth0" ||
  fail "node 1 -> 2 not direct: $(ip -n "$(n 1)" route show "$(net_of 2)")"
ip -n "$(n 2)" route show "$(net_of 1)" | gq "via 198.18.0.1 dev eth0" || fail "node 2 -> 1 not direct"
ip -n "$(n 1)" neigh show dev flannel.7 | gq "$(gw_of 2) " && fail "ARP entry for a directly routed peer"
bridge -n "$(n 1)" fdb show dev flannel.7 | gq "dst 198.18.0.2 " && fail "FDB entry for a directly routed peer"
ip -n "$(n 1)" route show "$(net_of 3)" | gq "via $(gw_of 3) dev flannel.7 onlink" || fail "node 1 -> 3 not VXLAN"
ip -n "$(n 1)" neigh show dev flannel.7 | gq "$(gw_of 3) lladdr $(mac_of 3) PERMANENT" || fail "ARP 1 -> 3"
bridge -n "$(n 1)" fdb show dev flannel.7 | gq "$(mac_of 3) dst 198.18.1.3 self permanent" || fail "FDB 1 -> 3"
ip -n "$(n 3)" route show "$(net_of 1)" | gq "via $(gw_of 1) dev flannel.7 onlink" || fail "node 3 -> 1 not VXLAN"
ip -n "$(n 1)" -d -j link show flannel.7 | jq -e '.[0].linkinfo.info_data.id == 7 and .[0].linkinfo.info_data.port == 4789' >/dev/null ||
  fail "flannel.7 attributes: $(ip -n "$(n 1)" -d link show flannel.7)"
[ "$(ov_etcdctl get --print-value-only "$OV_PREFIX/subnets/$(net_of 1 | tr / -)" | jq .BackendData.VNI)" = 7 ] || fail "lease VNI"
pass "DirectRouting (VNI 7, port 4789): plain route to the L2 peer, VXLAN entries for the routed one"

ip1=$(ov_pod 1 a); ip2=$(ov_pod 2 b); ip3=$(ov_pod 3 c)
ov_serve b c
ip netns exec "$OV_U" tcpdump -ni br0 -c 2 -l "tcp port 8080 and host $ip2" >"$OV_TMP/direct.txt" 2>/dev/null &
cap=$!
ip netns exec "$OV_U" tcpdump -ni br1 -c 2 -l 'udp port 4789' >"$OV_TMP/vxlan.txt" 2>/dev/null &
cap2=$!
sleep 0.5
[ "$(ov_http a "$ip2")" = "hello from weft" ] || fail "HTTP a -> b (direct)"
[ "$(ov_http a "$ip3")" = "hello from weft" ] || fail "HTTP a -> c (VXLAN, routed underlay)"
[ "$(ov_http c "$ip2")" = "hello from weft" ] || fail "HTTP c -> b (VXLAN, routed underlay)"
for _ in $(seq 30); do kill -0 $cap 2>/dev/null || kill -0 $cap2 2>/dev/null || break; sleep 0.1; done
kill $cap $cap2 2>/dev/null || true; wait $cap $cap2 2>/dev/null || true
gq -E "$ip1\.[0-9]+ > $ip2\.8080: " "$OV_TMP/direct.txt" || fail "no unencapsulated pod packet on br0: $(cat "$OV_TMP/direct.txt")"
gq -E '198\.18\.[01]\.[0-9]+\.[0-9]+ > 198\.18\.[01]\.[0-9]+\.4789: ' "$OV_TMP/vxlan.txt" || fail "no VXLAN on br1: $(cat "$OV_TMP/vxlan.txt")"
pass "HTTP across both paths; pod packets plain on br0, VXLAN on br1"

kill -TERM "${OV_WEFTD[2]}"; wait "${OV_WEFTD[2]}" 2>/dev/null || true
ov_etcdctl del "$OV_PREFIX/subnets/$(net_of 2 | tr / -)" >/dev/null
for _ in $(seq 100); do ip -n "$(n 1)" route show "$(net_of 2)" | gq . || break; sleep 0.05; done
ip -n "$(n 1)" route show "$(net_of 2)" | gq . && fail "direct route to a removed lease kept"
pass "direct route removed with the lease"

# --- node 2 behind NAT: --public-ip 203.0.113.2, which the underlay router DNATs (UDP 4789) to
# 198.18.0.2. The lease advertises the public IP; the VXLAN local address stays the interface
# address (flanneld >= 0.27.4 uses the public IP, and the kernel then drops every packet).
ip netns exec "$OV_U" iptables -t nat -A PREROUTING -d 203.0.113.2 -p udp --dport 4789 -j DNAT --to-destination 198.18.0.2
ov_weftd 2 --ip-masq --public-ip 203.0.113.2
ov_wait_ready 2
[ "$(ov_etcdctl get --print-value-only "$OV_PREFIX/subnets/$(net_of 2 | tr / -)" | jq -r .PublicIP)" = 203.0.113.2 ] ||
  fail "lease does not advertise --public-ip"
ip -n "$(n 2)" -d -j link show flannel.7 | jq -e '.[0].linkinfo.info_data.local == "198.18.0.2"' >/dev/null ||
  fail "VXLAN local address is not the interface address"
for _ in $(seq 100); do bridge -n "$(n 1)" fdb show dev flannel.7 | gq "dst 203.0.113.2 " && break; sleep 0.05; done
bridge -n "$(n 1)" fdb show dev flannel.7 | gq "$(mac_of 2) dst 203.0.113.2 self permanent" || fail "node 1 FDB for the NATed peer"
ip -n "$(n 1)" route show "$(net_of 2)" | gq "dev flannel.7 onlink" || fail "NATed peer (not on-link) must use VXLAN"
[ "$(ov_http a "$ip2")" = "hello from weft" ] || fail "HTTP a -> b through the NATed VXLAN endpoint"
pass "--public-ip behind NAT: advertised in the lease, local = interface address, HTTP across"

# --- host-gw, nodes 4 and 5, prefix /weft/hostgw, network 10.43.0.0/16. Their default route
# points at a decoy interface (decoy0, 192.0.2.N), so weftd's default choice would be wrong:
# node 4 finds eth0 with --iface-regex on the address, node 5 with FLANNELD_IFACE_CAN_REACH;
# node 5 also takes its prefix and --iptables-forward-rules=false from FLANNELD_* variables.
OV_PREFIX=/weft/hostgw OV_NET=10.43.0.0/16 ov_config '{"Type":"host-gw"}'
for i in 4 5; do
  ip -n "$(n $i)" link add decoy0 type veth peer name decoy1
  ip -n "$(n $i)" addr add "192.0.2.$i/24" dev decoy0
  ip -n "$(n $i)" link set decoy1 up
  ip -n "$(n $i)" link set decoy0 up
  ip -n "$(n $i)" route replace default via 192.0.2.254 dev decoy0
done
weftd_at() {  # weftd_at N ENV... -- FLAGS...: weftd without ov_weftd's --iface
  local i=$1 envs=(); shift
  while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
  ip netns exec "$(n "$i")" env "${envs[@]}" "$WEFT_BIN/weftd" --etcd-endpoints "$OV_ETCD" \
    --subnet-file "$OV_TMP/n$i/subnet.env" --healthz-ip 127.0.0.1 --healthz-port 8471 "$@" >>"$OV_TMP/n$i/weftd.log" 2>&1 &
  OV_WEFTD[$i]=$!; OV_PIDS+=($!)
}
weftd_at 4 -- -etcd-prefix=/weft/hostgw -iface-regex='^198\.18\.0\.' -ip-masq
weftd_at 5 FLANNELD_ETCD_PREFIX=/weft/hostgw FLANNELD_IFACE_CAN_REACH=198.18.0.254 FLANNELD_IPTABLES_FORWARD_RULES=false --
for i in 4 5; do ov_wait_ready $i; done
for i in 4 5; do gq "using interface eth0 (198.18.0.$i)" "$OV_TMP/n$i/weftd.log" || fail "node $i: $(grep 'using interface' "$OV_TMP/n$i/weftd.log")"; done
ip netns exec "$(n 4)" iptables -S FLANNEL-FWD | gq -- '-A FLANNEL-FWD -s 10.43.0.0/16' || fail "node 4 has no FLANNEL-FWD"
ip netns exec "$(n 4)" iptables -t nat -S FLANNEL-POSTRTG | gq MASQUERADE || fail "node 4 has no FLANNEL-POSTRTG"
ip netns exec "$(n 5)" iptables -S FLANNEL-FWD >/dev/null 2>&1 && fail "FLANNELD_IPTABLES_FORWARD_RULES=false ignored"
ip netns exec "$(n 5)" iptables -t nat -S FLANNEL-POSTRTG >/dev/null 2>&1 && fail "node 5 has masquerade rules without --ip-masq"
[ "$(sed -n 4p "$OV_TMP/n5/subnet.env")" = FLANNEL_IPMASQ=false ] || fail "node 5 FLANNEL_IPMASQ"
pass "interface by --iface-regex and FLANNELD_IFACE_CAN_REACH past a decoy default route; forward/masq rules per flags"
ov_wait_route 4 "$(net_of 5)"; ov_wait_route 5 "$(net_of 4)"
ip -n "$(n 4)" route show "$(net_of 5)" | gq "^$(net_of 5) via 198.18.0.5 dev eth0" ||
  fail "host-gw route 4 -> 5: $(ip -n "$(n 4)" route show "$(net_of 5)")"
ip -n "$(n 5)" route show "$(net_of 4)" | gq "via 198.18.0.4 dev eth0" || fail "host-gw route 5 -> 4"
ip -n "$(n 4)" -o link show | gq flannel && fail "host-gw node has a VXLAN device"
[ "$(sed -n 3p "$OV_TMP/n4/subnet.env")" = FLANNEL_MTU=1500 ] || fail "host-gw MTU: $(cat "$OV_TMP/n4/subnet.env")"
val=$(ov_etcdctl get --print-value-only "/weft/hostgw/subnets/$(net_of 4 | tr / -)")
[ "$val" = '{"PublicIP":"198.18.0.4","PublicIPv6":null,"BackendType":"host-gw"}' ] || fail "host-gw lease value: $val"
ip -n "$(n 4)" route show | gq "10.42." && fail "host-gw node 4 programmed a lease of the other prefix"
ip4=$(ov_pod 4 d); ip5=$(ov_pod 5 e)
ov_serve e
[ "$(ov_http d "$ip5")" = "hello from weft" ] || fail "HTTP d -> e over host-gw"
pass "host-gw: routes via public IPs, lease value, HTTP $ip4 -> $ip5"
kill -TERM "${OV_WEFTD[5]}"; wait "${OV_WEFTD[5]}" 2>/dev/null || true
ov_etcdctl del "/weft/hostgw/subnets/$(net_of 5 | tr / -)" >/dev/null
for _ in $(seq 100); do ip -n "$(n 4)" route show "$(net_of 5)" | gq . || break; sleep 0.05; done
ip -n "$(n 4)" route show "$(net_of 5)" | gq . && fail "host-gw route kept after the lease was deleted"
pass "host-gw route removed with the lease"
echo "all weftd backend e2e checks passed"
