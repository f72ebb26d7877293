#!/usr/bin/env bash
# First IPv6 reply after a dual-stack bridge ADD (isGateway, host-local v4+v6 ranges) on a fresh
# bridge, in throw-away namespaces: a node, a "routed" namespace behind a veth of the node (its
# link addresses without DAD, as a long-up underlay), two pods. ICMPv6 echo, 10 ms per try
# (tests/netns/echo6.py) until the first reply; prints ms and tries per direction.
# ORDER=gw: the pod talks to its gateway first; ORDER=routed (default): the routed namespace
# sends to the new pod first (the flannel case: a remote pod's packet reaches a new node's cni0).
# Usage: bench/bridge/v6_first_reply.sh BINDIR TAG   (BINDIR holds bridge [and host-local])
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
B=$1 TAG=$2 N=wv6n$$ R=wv6r$$ P1=wv61$$ P2=wv62$$ T=$(mktemp -d /tmp/wv6.XXXXXX)
cleanup() { for x in $N $R $P1 $P2; do ip netns del $x 2>/dev/null || true; done; rm -rf "$T"; }
trap cleanup EXIT
for x in $N $R $P1 $P2; do ip netns add $x; done
ip -n $N link set lo up; ip -n $R link set lo up
ip -n $N link add up0 type veth peer name r0 netns $R
ip netns exec $N sysctl -qw net.ipv6.conf.up0.accept_dad=0
ip netns exec $R sysctl -qw net.ipv6.conf.r0.accept_dad=0
ip -n $N link set up0 up; ip -n $R link set r0 up
ip -n $N addr add fd77::1/64 dev up0 nodad; ip -n $R addr add fd77::2/64 dev r0 nodad
ip -n $R route add default via fd77::1
ip netns exec $N sysctl -qw net.ipv6.conf.all.forwarding=1
mkdir -p "$T/bin"; ln -s "$(realpath "$B/bridge")" "$T/bin/bridge"
if [ -x "$B/host-local" ]; then ln -s "$(realpath "$B/host-local")" "$T/bin/host-local"
else ln -s /usr/lib/cni/host-local "$T/bin/host-local"; fi
conf='{"cniVersion":"1.0.0","name":"wv6","type":"bridge","bridge":"cni0","isGateway":true,"ipam":{"type":"host-local","dataDir":"'$T'/ipam","ranges":[[{"subnet":"10.22.0.0/24"}],[{"subnet":"fd22::/64"}]],"routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}]}}'
add() {
  ip netns exec $N env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID="$1" CNI_NETNS=/run/netns/"$1" \
    CNI_IFNAME=eth0 CNI_PATH="$T/bin" "$T/bin/bridge" <<<"$conf" >/dev/null
}
e() { echo "$TAG $1: $(ip netns exec "$2" python3 "$HERE/../../tests/netns/echo6.py" "$3" 500 10 || true)"; }
add $P1
echo "$TAG cni0 after ADD: $(ip -n $N -6 addr show dev cni0 | grep -o 'inet6 .*' | tr '\n' ';')"
if [ "${ORDER:-routed}" = gw ]; then e "pod1->gw" $P1 fd22::1; e "routed->pod1" $R fd22::2
else e "routed->pod1" $R fd22::2; e "pod1->gw" $P1 fd22::1; fi
add $P2
e "pod2->pod1" $P2 fd22::2
e "pod2->routed" $P2 fd77::2
