#!/usr/bin/env bash
# bridge, dual stack, fresh bridge: no IPv6 DAD wait on the node side. Right after the first ADD
# the bridge's gateway and link-local addresses are not tentative (gateway added with
# IFA_F_NODAD, accept_dad=0 on the bridge the plugin created), and the first echoes are answered
# (bounded tries, no timing assert): pod -> gateway, and a routed namespace behind the node ->
# a second new pod on a second fresh bridge (needs the bridge's link-local address: while it is
# tentative the kernel sends no neighbour solicitation from the bridge). A pre-existing bridge
# made outside the plugin keeps its accept_dad; its gateway is still added without DAD.
set -euo pipefail
. "$(dirname "$0")/bridge_helpers.bash"
need_root
WEFT_BIN=${WEFT_BIN:?} REF_BIN=${REF_BIN:-/usr/lib/cni}
HERE=$(cd "$(dirname "$0")" && pwd)
T=/tmp/wbv6$$ NODE=wbv6n$$ R=wbv6r$$ P1=wbv6p1$$ P2=wbv6p2$$ P3=wbv6p3$$
cleanup() {
  for n in $NODE $R $P1 $P2 $P3; do ip netns del $n 2>/dev/null || true; done
  rm -rf $T
}
trap cleanup EXIT
bridge_bin $T/bin
for n in $NODE $R $P1 $P2 $P3; do ip netns add $n; ip -n $n link set lo up; done
# the routed namespace: a veth to the node, its addresses without DAD (a long-up underlay)
ip -n $NODE link add up0 type veth peer name r0 netns $R
ip netns exec $NODE sysctl -qw net.ipv6.conf.up0.accept_dad=0
ip netns exec $R sysctl -qw net.ipv6.conf.r0.accept_dad=0
ip -n $NODE link set up0 up; ip -n $R link set r0 up
ip -n $NODE addr add fd78::1/64 dev up0 nodad; ip -n $R addr add fd78::2/64 dev r0 nodad
ip -n $R route add default via fd78::1

conf() {  # conf BRIDGE V4-SUBNET V6-SUBNET
  echo '{"cniVersion":"1.0.0","name":"wbv6'"$1"'","type":"bridge","bridge":"'"$1"'","isGateway":true,
    "ipam":{"type":"host-local","dataDir":"'$T/ipam-$1'","ranges":[[{"subnet":"'"$2"'"}],[{"subnet":"'"$3"'"}]],
    "routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}]}}'
}
no_tentative() {  # no_tentative BRIDGE GATEWAY
  local a
  a=$(ip -n $NODE -6 addr show dev "$1")
  echo "$a"
  grep -q "inet6 $2/64 " <<<"$a" || fail "$1: no gateway $2"
  grep -q 'inet6 fe80::' <<<"$a" || fail "$1: no link-local address"
  ! grep -q -e tentative -e dadfailed <<<"$a" || fail "$1: tentative address right after ADD"
  [ "$(ip -n $NODE -j -6 addr show dev "$1" | jq -r --arg g "$2" '.[0].addr_info[] | select(.local==$g) | .nodad')" = true ] \
    || fail "$1: gateway $2 without nodad"
}
echo6() { ip netns exec "$1" python3 "$HERE/echo6.py" "$2" 3 200; }

# 1. pod -> its gateway, first thing after ADD
R1=$(cni $NODE ADD /run/netns/$P1 c1 eth0 "$(conf wbv6a 10.246.1.0/24 fd79:1::/64)") || fail "ADD c1: $R1"
no_tentative wbv6a fd79:1::1
[ "$(ip netns exec $NODE cat /proc/sys/net/ipv6/conf/wbv6a/accept_dad)" = 0 ] || fail "accept_dad on the created bridge"
# the result and the pod side stay as the reference's
[ "$(jq -r '.ips[1].address' <<<"$R1")" = fd79:1::2/64 ] || fail "v6 address"
[ "$(jq -r '.ips[1].gateway' <<<"$R1")" = fd79:1::1 ] || fail "v6 gateway"
[ "$(ip netns exec $P1 cat /proc/sys/net/ipv6/conf/eth0/accept_dad)" = 0 ] || fail "pod accept_dad"
echo6 $P1 fd79:1::1 || fail "pod -> gateway over v6: no answer to the first echoes"
ok "pod -> gateway at once"

# 2. routed namespace -> a new pod on a second fresh bridge, before the pod sent anything
R2=$(cni $NODE ADD /run/netns/$P2 c2 eth0 "$(conf wbv6b 10.246.2.0/24 fd79:2::/64)") || fail "ADD c2: $R2"
no_tentative wbv6b fd79:2::1
echo6 $R fd79:2::2 || fail "routed -> new pod over v6: no answer to the first echoes"
ok "routed -> new pod at once"

# 3. a bridge made outside the plugin: its accept_dad is left alone, the gateway has no DAD
ip -n $NODE link add wbv6c type bridge
ip netns exec $NODE sysctl -qw net.ipv6.conf.wbv6c.accept_dad=1
ip -n $NODE link set wbv6c up
R3=$(cni $NODE ADD /run/netns/$P3 c3 eth0 "$(conf wbv6c 10.246.3.0/24 fd79:3::/64)") || fail "ADD c3: $R3"
[ "$(ip netns exec $NODE cat /proc/sys/net/ipv6/conf/wbv6c/accept_dad)" = 1 ] || fail "accept_dad of a foreign bridge changed"
a=$(ip -n $NODE -j -6 addr show dev wbv6c | jq -r '.[0].addr_info[] | select(.local=="fd79:3::1") | "\(.nodad) \(.tentative)"')
[ "$a" = "true null" ] || fail "foreign bridge gateway: nodad/tentative = $a"
echo6 $P3 fd79:3::1 || fail "pod -> gateway on a foreign bridge: no answer to the first echoes"
ok "foreign bridge: gateway without DAD, accept_dad kept"

for c in "c1 $P1 wbv6a 10.246.1.0/24 fd79:1::/64" "c2 $P2 wbv6b 10.246.2.0/24 fd79:2::/64" "c3 $P3 wbv6c 10.246.3.0/24 fd79:3::/64"; do
  set -- $c
  cni $NODE DEL /run/netns/$2 $1 eth0 "$(conf $3 $4 $5)" >/dev/null || fail "DEL $1"
done
ok "bridge_v6_nodad"
