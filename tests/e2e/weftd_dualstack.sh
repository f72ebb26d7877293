#!/usr/bin/env bash
# e2e: dual stack and IPv6-only overlays in etcd mode. Three weftd nodes on an underlay bridge
# with IPv4 and IPv6 (fd18::/64); EnableIPv6 with IPv6Network fd42::/56, --ip-masq. Checks the
# ip6tables chains, the flannel-v6.1 device (v6 local address, own MAC, MTU underlay - 70, own
# /128) and its restoration by the periodic check, the lease values (PublicIPv6, BackendV6Data),
# v6 peer entries, pods through flannel -> bridge -> host-local with two ranges (no DAD wait, a
# v6 route) reaching pods on other nodes over both families (HTTP over [fd42:..]), a capture
# showing VXLAN over the IPv6 underlay carrying the pods' own addresses, hostPort (portmap) on
# the node's IPv6 address, a v4-only lease in the cluster, a removed node's v6 entries going
# away; then an IPv6-only run (EnableIPv4 false) and host-gw in dual stack.
set -euo pipefail
WEFT_SRC=${WEFT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
WEFT_BIN=${WEFT_BIN:-$WEFT_SRC/build/bin}
REF_BIN=${REF_BIN:-/usr/lib/cni}
export WEFT_SRC WEFT_BIN REF_BIN
OV_ID=wds$$
source "$WEFT_SRC/tests/e2e/overlay.bash"
rc=0; ov_test_start || rc=$?; [ $rc -eq 0 ] || exit $rc
[ -x "$WEFT_BIN/flannel" ] || fail "our flannel plugin is not built (the v6 delegate needs it)"
command -v tcpdump >/dev/null || { echo "tcpdump not installed" >&2; exit 77; }

ov_underlay6
ov_etcd
serve() {  # serve POD: HTTP on [::]:8080 (v4 and v6) in the pod
  ip netns exec "wp-$1-$OV_ID" python3 -c '
import http.server, socket, sys
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(sys.argv[1].encode())
    def log_message(self, *a): pass
S(("::", 8080), H).serve_forever()' "$1" >/dev/null 2>&1 &
  OV_PIDS+=($!)
}
get() {  # get POD URL: body, retried for 5 s
  for _ in $(seq 50); do
    ip netns exec "wp-$1-$OV_ID" curl -sf -m 1 -g "$2" && return 0
    sleep 0.1
  done
  return 1
}

# ---- dual stack ----
ov_etcdctl put "$OV_PREFIX/config" \
  '{"Network":"10.42.0.0/16","EnableIPv6":true,"IPv6Network":"fd42::/56","Backend":{"Type":"vxlan"}}' >/dev/null
for i in 1 2 3; do ov_node6 $i; ov_weftd $i --ip-masq --iptables-resync 1; done
for i in 1 2 3; do ov_wait_ready $i; done
pass "three dual-stack weftd ready"

for i in 1 2 3; do
  env=$OV_TMP/n$i/subnet.env
  sed -n 3p "$env" | gq -x 'FLANNEL_IPV6_NETWORK=fd42::/56' || fail "subnet.env: $(cat "$env")"
  ov_subnet6 $i | gq -xE 'fd42:0:0:[0-9a-f]+::1/64' || fail "subnet.env v6 subnet: $(cat "$env")"
  d=$(ip -n "$(n $i)" -d link show flannel-v6.1) || fail "node $i has no flannel-v6.1"
  gq "mtu 1430 " <<<"$d" || fail "flannel-v6.1 MTU: $d"
  gq "vxlan id 1 local fd18::$i dev eth0" <<<"$d" || fail "flannel-v6.1 local: $d"
  mac4=$(ip -n "$(n $i)" -j link show flannel.1 | jq -r '.[0].address')
  mac6=$(ip -n "$(n $i)" -j link show flannel-v6.1 | jq -r '.[0].address')
  [ "$mac4" != "$mac6" ] || fail "flannel.1 and flannel-v6.1 share MAC $mac4"
  s6=$(ov_subnet6 $i); own=${s6%1/64}
  ip -n "$(n $i)" -6 addr show dev flannel-v6.1 | gq "inet6 $own/128 scope global" || fail "flannel-v6.1 address: $(ip -n "$(n $i)" -6 addr show dev flannel-v6.1)"
  key=$(ov_etcdctl get --keys-only --prefix "$OV_PREFIX/subnets/" | grep "&${own}-64\$") || fail "no dual-stack key for $own"
  val=$(ov_etcdctl get --print-value-only "$key")
  want="{\"PublicIP\":\"198.18.0.$i\",\"PublicIPv6\":\"fd18::$i\",\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"$mac4\"},\"BackendV6Data\":{\"VNI\":1,\"VtepMAC\":\"$mac6\"}}"
  [ "$val" = "$want" ] || fail "lease value of node $i: $val (want $want)"
done
s6=$(ov_subnet6 1); sn1=${s6%1/64}/64
r6=$(ip netns exec "$(n 1)" ip6tables -t nat -S FLANNEL-POSTRTG)
for want in "-A FLANNEL-POSTRTG -s $sn1 -d fd42::/56 -m comment --comment \"flanneld masq\" -j RETURN" \
            "-A FLANNEL-POSTRTG -s fd42::/56 ! -d ff00::/8 -m comment --comment \"flanneld masq\" -j MASQUERADE --random-fully"; do
  gq -xF -- "$want" <<<"$r6" || fail "ip6tables nat lacks: $want; have: $r6"
done
ip netns exec "$(n 1)" ip6tables -S FLANNEL-FWD | gq -xF -- '-A FLANNEL-FWD -s fd42::/56 -m comment --comment "flanneld forward" -j ACCEPT' \
  || fail "ip6tables FLANNEL-FWD: $(ip netns exec "$(n 1)" ip6tables -S FLANNEL-FWD)"
ip netns exec "$(n 1)" iptables -t nat -S FLANNEL-POSTRTG | gq -- "-s 10.42.0.0/16 ! -d 224.0.0.0/4" || fail "iptables v4 masq chain missing"
pass "ip6tables FLANNEL-POSTRTG/FLANNEL-FWD with the v6 network and subnet, iptables v4 chains too"
pass "flannel-v6.1 (local fd18::N, MTU 1430, own MAC, /128) and lease values with PublicIPv6/BackendV6Data"

# node 1's v6 entries for node 2 (flannel §3.4)
s2=$(ov_subnet6 2); net2=${s2%1/64}
mac62=$(ip -n "$(n 2)" -j link show flannel-v6.1 | jq -r '.[0].address')
ov_wait_route6 1 "$net2/64"
ip -n "$(n 1)" -6 route show "$net2/64" | gq "via $net2 dev flannel-v6.1 .*onlink" || fail "v6 route: $(ip -n "$(n 1)" -6 route show "$net2/64")"
ip -n "$(n 1)" -6 neigh show dev flannel-v6.1 | gq "^$net2 lladdr $mac62 PERMANENT" || fail "v6 neighbour: $(ip -n "$(n 1)" -6 neigh show dev flannel-v6.1)"
ip netns exec "$(n 1)" bridge fdb show dev flannel-v6.1 | gq "^$mac62 dst fd18::2 self permanent" || fail "v6 fdb: $(ip netns exec "$(n 1)" bridge fdb show dev flannel-v6.1)"
pass "v6 peer entries: onlink route, NDP neighbour, FDB to PublicIPv6"

# the periodic data-plane check covers the v6 device: deleted, it comes back with its MAC,
# address and peer entries (flanneld replays no peer after re-creating a device, flannel §3.8)
mac61=$(ip -n "$(n 1)" -j link show flannel-v6.1 | jq -r '.[0].address')
ip -n "$(n 1)" link del flannel-v6.1
back=0
for _ in $(seq 100); do
  ip -n "$(n 1)" -6 route show "$net2/64" | gq "dev flannel-v6.1" && { back=1; break; }
  sleep 0.05
done
[ $back = 1 ] || fail "flannel-v6.1 and its peer route not restored: $(tail -5 "$OV_TMP/n1/weftd.log")"
[ "$(ip -n "$(n 1)" -j link show flannel-v6.1 | jq -r '.[0].address')" = "$mac61" ] || fail "re-created flannel-v6.1 has another MAC"
ip -n "$(n 1)" -6 neigh show dev flannel-v6.1 | gq "^$net2 lladdr $mac62 PERMANENT" || fail "v6 neighbour not restored"
pass "deleted flannel-v6.1 restored by the periodic check (same MAC $mac61, peer route and neighbour)"

a4=$(ov_pod 1 a); b4=$(OV_PORTMAPS='[{"hostPort":18080,"containerPort":8080,"protocol":"tcp"}]' ov_pod 2 b)
a6=$(ov_pod6 a); b6=$(ov_pod6 b)
[ -n "$a6" ] && [ -n "$b6" ] || fail "pods have no IPv6 address (a=$a6 b=$b6)"
ip -n "wp-a-$OV_ID" -6 addr show dev eth0 | gq tentative && fail "pod address still tentative (DAD wait)"
ip -n "$(n 1)" -6 addr show dev cni0 | gq "$(ov_subnet6 1 | cut -d/ -f1)/64" || fail "cni0 lacks the v6 gateway: $(ip -n "$(n 1)" -6 addr show dev cni0)"
ip -n "wp-a-$OV_ID" -6 route show | gq "fd42::/56 via" || fail "pod has no v6 route to the overlay: $(ip -n "wp-a-$OV_ID" -6 route show)"
pass "pods dual stack: $a4 + $a6, $b4 + $b6 (two gateways on cni0, v6 route)"

serve b
[ "$(get a "http://$b4:8080/")" = b ] || fail "HTTP over v4 a -> b"
ip netns exec "$OV_U" tcpdump -nvli br0 -c 4 "ip6 and udp port 8472" >"$OV_TMP/cap6" 2>/dev/null &
cap=$!; OV_PIDS+=($cap)
sleep 0.5
[ "$(get a "http://[$b6]:8080/")" = b ] || fail "HTTP over v6 a -> b"
for _ in $(seq 30); do kill -0 $cap 2>/dev/null || break; ip netns exec "wp-a-$OV_ID" curl -sf -m 1 -g "http://[$b6]:8080/" >/dev/null || true; done
wait $cap 2>/dev/null || true
gq -E "fd18::1\.[0-9]+ > fd18::2\.8472: .*(OTV|VXLAN), flags \[I\] \(0x08\).*instance 1" "$OV_TMP/cap6" || fail "no VXLAN over the v6 underlay: $(cat "$OV_TMP/cap6")"
gq " $a6\.[0-9]* > $b6\.8080: " "$OV_TMP/cap6" || fail "inner v6 packet is not pod a -> pod b (masqueraded?): $(cat "$OV_TMP/cap6")"
pass "HTTP pod a -> pod b over v4 and over [$b6]; tcpdump: VXLAN over fd18:: for the v6 overlay"
for _ in $(seq 50); do ip netns exec "$(n 1)" curl -sf -m 1 -g "http://[fd18::2]:18080/" >/dev/null && break; sleep 0.1; done
[ "$(ip netns exec "$(n 1)" curl -sf -m 1 -g "http://[fd18::2]:18080/")" = b ] || fail "hostPort [fd18::2]:18080 does not answer from node 1"
[ "$(ip netns exec "$(n 1)" curl -sf -m 1 "http://198.18.0.2:18080/")" = b ] || fail "hostPort 198.18.0.2:18080 does not answer"
pass "hostPort 18080 (portmap) answers on [fd18::2] and 198.18.0.2"

# mixed: a v4-only lease (an older agent without IPv6) in the dual-stack cluster gets its IPv4
# entries only, as flanneld's handleSubnetEvents does; its v6 side is skipped with a log line.
ov_etcdctl put "$OV_PREFIX/subnets/10.42.250.0-24" \
  '{"PublicIP":"198.18.0.150","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"0e:00:00:00:01:50"}}' >/dev/null
ov_wait_route 1 10.42.250.0/24
ip -n "$(n 1)" route show 10.42.250.0/24 | gq "via 10.42.250.0 dev flannel.1 onlink" || fail "v4-only peer's route: $(ip -n "$(n 1)" route show 10.42.250.0/24)"
[ "$(ip -n "$(n 1)" -6 route show dev flannel-v6.1 | grep -c onlink)" = 2 ] || fail "v6 routes on node 1: $(ip -n "$(n 1)" -6 route show dev flannel-v6.1)"
gq "lease 10.42.250.0/24: no IPv6 subnet, ignoring" "$OV_TMP/n1/weftd.log" || fail "no log line for the v4-only lease's v6 side"
ov_etcdctl del "$OV_PREFIX/subnets/10.42.250.0-24" >/dev/null
pass "mixed: a v4-only lease gets its v4 route only, the v6 side skips it"

# node 3 removed: its lease deleted, node 1's v6 entries for it go away
s3=$(ov_subnet6 3); net3=${s3%1/64}
ov_wait_route6 1 "$net3/64"
kill "${OV_WEFTD[3]}"; wait "${OV_WEFTD[3]}" 2>/dev/null || true
key3=$(ov_etcdctl get --keys-only --prefix "$OV_PREFIX/subnets/" | grep "&${net3}-64\$")
ov_etcdctl del "$key3" >/dev/null
gone=0
for _ in $(seq 100); do
  if ! ip -n "$(n 1)" -6 route show "$net3/64" | gq . && ! ip -n "$(n 1)" -6 neigh show dev flannel-v6.1 | gq "^$net3 "; then gone=1; break; fi
  sleep 0.05
done
[ $gone = 1 ] || fail "node 3's v6 route/neighbour still on node 1"
ip netns exec "$(n 1)" bridge fdb show dev flannel-v6.1 | gq "dst fd18::3 " && fail "node 3's v6 FDB entry still on node 1"
pass "removed node: its v6 route, neighbour and FDB entry are gone"

for i in 1 2; do kill "${OV_WEFTD[$i]}"; wait "${OV_WEFTD[$i]}" 2>/dev/null || true; done
for p in a b; do ip netns del "wp-$p-$OV_ID"; done

# ---- IPv6 only ----
OV_PREFIX=/weft6/network
ov_etcdctl put "$OV_PREFIX/config" \
  '{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd43::/56","Backend":{"Type":"vxlan"}}' >/dev/null
for i in 4 5; do
  ov_node6 $i
  ov_weftd $i --etcd-prefix "$OV_PREFIX"
done
for i in 4 5; do ov_wait_ready $i; done
for i in 4 5; do
  env=$OV_TMP/n$i/subnet.env
  sed -n 1p "$env" | gq -x 'FLANNEL_IPV6_NETWORK=fd43::/56' || fail "v6-only subnet.env: $(cat "$env")"
  gq '^FLANNEL_NETWORK\|^FLANNEL_SUBNET' "$env" && fail "v6-only subnet.env has v4 lines: $(cat "$env")"
  ip -n "$(n $i)" link show flannel.1 >/dev/null 2>&1 && fail "v6-only node $i created flannel.1"
  key=$(ov_etcdctl get --keys-only --prefix "$OV_PREFIX/subnets/" | grep "fd18\|0.0.0.0-0&" | head -1)
  [ -n "$key" ] || fail "no v6-only key"
done
ov_etcdctl get --keys-only --prefix "$OV_PREFIX/subnets/" | grep . | while read -r k; do
  case "$k" in "$OV_PREFIX/subnets/0.0.0.0-0&fd43:"*-64) ;; *) fail "v6-only key form: $k" ;; esac
done
val=$(ov_etcdctl get --prefix --print-value-only "$OV_PREFIX/subnets/" | head -1)
jq -e '.PublicIP == "0.0.0.0" and (.PublicIPv6 | startswith("fd18::")) and (.BackendData == null) and .BackendV6Data.VtepMAC' <<<"$val" >/dev/null \
  || fail "v6-only lease value: $val"
s5=$(ov_subnet6 5); ov_wait_route6 4 "${s5%1/64}/64"
c=$(ov_pod 4 c); d=$(ov_pod 5 d)
c6=$(ov_pod6 c); d6=$(ov_pod6 d)
serve d
[ "$(get c "http://[$d6]:8080/")" = d ] || fail "v6-only HTTP c -> d"
pass "IPv6-only: keys 0.0.0.0-0&fd43:…, PublicIP 0.0.0.0, no flannel.1, HTTP [$c6] -> [$d6]"
for i in 4 5; do kill "${OV_WEFTD[$i]}"; wait "${OV_WEFTD[$i]}" 2>/dev/null || true; done

# ---- host-gw, dual stack: v6 routes via the peers' PublicIPv6 on the underlay ----
OV_PREFIX=/weftgw/network
ov_etcdctl put "$OV_PREFIX/config" \
  '{"Network":"10.44.0.0/16","EnableIPv6":true,"IPv6Network":"fd44::/56","Backend":{"Type":"host-gw"}}' >/dev/null
for i in 6 7; do ov_node6 $i; ov_weftd $i --etcd-prefix "$OV_PREFIX"; done
for i in 6 7; do ov_wait_ready $i; done
s7=$(ov_subnet6 7); net7=${s7%1/64}
ov_wait_route6 6 "$net7/64"
ip -n "$(n 6)" -6 route show "$net7/64" | gq "via fd18::7 dev eth0" || fail "host-gw v6 route: $(ip -n "$(n 6)" -6 route show "$net7/64")"
ip -n "$(n 6)" link show flannel-v6.1 >/dev/null 2>&1 && fail "host-gw created flannel-v6.1"
e=$(ov_pod 6 e); f=$(ov_pod 7 f)
f6=$(ov_pod6 f)
serve f
[ "$(get e "http://[$f6]:8080/")" = f ] || fail "host-gw v6 HTTP e -> f"
[ "$(get e "http://$f:8080/")" = f ] || fail "host-gw v4 HTTP e -> f"
pass "host-gw dual stack: $net7/64 via fd18::7 dev eth0, HTTP over [$f6] and $f"
