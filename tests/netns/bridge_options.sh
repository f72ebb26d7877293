#!/usr/bin/env bash
# bridge option matrix and the "better than the reference" items, each in throw-away namespaces:
# forceAddress, isolation, disableContainerInterface, IPAM+disableContainerInterface error, MAC
# precedence, stable bridge MAC, concurrent ADDs on a new bridge, IPv4 on a host with IPv6
# disabled, GC of masquerade rules, the nftables ipMasq backend, enabledad, a VLAN (when the
# kernel has bridge VLAN filtering), STATUS, no lease left when the veth or the netns fails while
# host-local ran concurrently.
set -euo pipefail
. "$(dirname "$0")/bridge_helpers.bash"
need_root
WEFT_BIN=${WEFT_BIN:?} REF_BIN=${REF_BIN:-/usr/lib/cni}
T=/tmp/wbo$$
NS_LIST=()
cleanup() {
  for n in "${NS_LIST[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf $T
}
trap cleanup EXIT
bridge_bin $T/bin
mkns() { ip netns add "$1"; ip -n "$1" link set lo up; NS_LIST+=("$1"); }
NODE=wbon$$; mkns $NODE
ipam() { echo "\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"$T/ipam\",\"ranges\":[[{\"subnet\":\"$1\"}]]}"; }

# --- forceAddress: a conflicting bridge address fails, then is replaced.
ip -n $NODE link add fbr0 type bridge
ip -n $NODE addr add 10.31.0.1/16 dev fbr0
mkns wbop1$$
C="{\"cniVersion\":\"1.0.0\",\"name\":\"fa\",\"type\":\"bridge\",\"bridge\":\"fbr0\",\"isGateway\":true,$(ipam 10.31.2.0/24)}"
if cni $NODE ADD /run/netns/wbop1$$ f1 eth0 "$C" >$T/out; then fail "conflicting address accepted"; fi
grep -q 'failed to set bridge addr: \\"fbr0\\" already has an IP address different from 10.31.2.1/24' $T/out || fail "conflict message: $(cat $T/out)"
# The failure came after IPAM: the address was released again.
[ -z "$(ls $T/ipam/fa | grep -v -e lock -e last_reserved)" ] || fail "IP not released after failed ADD"
cni $NODE DEL /run/netns/wbop1$$ f1 eth0 "$C" >/dev/null
C2="${C/\"isGateway\":true/\"isGateway\":true,\"forceAddress\":true}"
cni $NODE ADD /run/netns/wbop1$$ f1 eth0 "$C2" >/dev/null || fail "forceAddress ADD"
A=$(ip -n $NODE -4 -j addr show fbr0 | jq -r '[.[0].addr_info[] | "\(.local)/\(.prefixlen)"] | join(",")')
[ "$A" = 10.31.2.1/24 ] || fail "forceAddress replaced: $A"
cni $NODE DEL /run/netns/wbop1$$ f1 eth0 "$C2" >/dev/null
ok "forceAddress"

# --- host-local runs while the veth is created (it starts before the veth exists): when the veth
# then fails (the container already has the interface) or the netns is not there, no lease stays.
mkns wbop9$$
ip -n wbop9$$ link add eth0 type bridge
C="{\"cniVersion\":\"1.0.0\",\"name\":\"early\",\"type\":\"bridge\",\"bridge\":\"ebr0\",\"isGateway\":true,$(ipam 10.39.0.0/24)}"
if cni $NODE ADD /run/netns/wbop9$$ e1 eth0 "$C" >$T/out; then fail "ADD over an existing eth0 succeeded"; fi
grep -q 'container veth name (\\"eth0\\") peer provided (\\"veth[0-9a-f]\{8\}\\") already exists' $T/out || fail "veth exists message: $(cat $T/out)"
# host-local did allocate (last_reserved_ip exists) and the lease was released again.
[ -f $T/ipam/early/last_reserved_ip.0 ] || fail "host-local did not run concurrently with the veth setup"
[ -z "$(ls $T/ipam/early | grep -v -e lock -e last_reserved)" ] || fail "lease kept after the veth failed: $(ls $T/ipam/early)"
if cni $NODE ADD /run/netns/wbonone$$ e2 eth0 "$C" >$T/out; then fail "ADD into a missing netns succeeded"; fi
grep -q 'failed to open netns' $T/out || fail "missing netns message: $(cat $T/out)"
[ -z "$(ls $T/ipam/early 2>/dev/null | grep -v -e lock -e last_reserved)" ] || fail "lease kept after a missing netns"
ip -n wbop9$$ link del eth0
R=$(cni $NODE ADD /run/netns/wbop9$$ e1 eth0 "$C") || fail "ADD after the conflict: $R"
[ "$(jq -r '.ips[0].address' <<<"$R")" != null ] || fail "no address: $R"
[ "$(ip netns exec wbop9$$ sysctl -n net.ipv4.conf.eth0.arp_notify)" = 1 ] || fail "arp_notify"
[ "$(ip netns exec wbop9$$ sysctl -n net.ipv6.conf.eth0.accept_dad)" = 0 ] || fail "accept_dad"
cni $NODE DEL /run/netns/wbop9$$ e1 eth0 "$C" >/dev/null
[ -z "$(ls $T/ipam/early | grep -v -e lock -e last_reserved)" ] || fail "lease kept after DEL"
ok "IPAM overlapping the veth setup: leases released on veth and netns failures"

# --- portIsolation, MAC precedence, stable bridge MAC, enabledad.
mkns wbop2$$
C="{\"cniVersion\":\"1.0.0\",\"name\":\"iso\",\"type\":\"bridge\",\"bridge\":\"ibr0\",\"portIsolation\":true,\"enabledad\":true,
   \"args\":{\"cni\":{\"mac\":\"02:00:00:00:07:89\"}},\"runtimeConfig\":{\"mac\":\"02:00:00:00:00:01\"},$(ipam 10.32.0.0/24)}"
R=$(cni $NODE ADD /run/netns/wbop2$$ i1 eth0 "$C" CNI_ARGS="IgnoreUnknown=1;MAC=02:00:00:00:04:56") || fail "iso ADD: $R"
V=$(jq -r '.interfaces[1].name' <<<"$R")
ip -n $NODE -d -j link show $V | jq -e '.[0].linkinfo.info_slave_data.isolated == true' >/dev/null || fail "isolated"
[ "$(ip -n wbop2$$ -j link show eth0 | jq -r '.[0].address')" = 02:00:00:00:00:01 ] || fail "runtimeConfig MAC wins"
[ "$(jq -r '.interfaces[2].mac' <<<"$R")" = 02:00:00:00:00:01 ] || fail "result MAC"
[ "$(ip netns exec wbop2$$ sysctl -n net.ipv6.conf.eth0.accept_dad)" = 1 ] || fail "enabledad"
BMAC=$(ip -n $NODE -j link show ibr0 | jq -r '.[0].address')
[ "$BMAC" != "$(jq -r '.interfaces[1].mac' <<<"$R")" ] || fail "bridge MAC follows its port"
cni $NODE DEL /run/netns/wbop2$$ i1 eth0 "$C" >/dev/null
[ "$(ip -n $NODE -j link show ibr0 | jq -r '.[0].address')" = "$BMAC" ] || fail "bridge MAC changed after DEL"
ok "portIsolation, MAC precedence, stable bridge MAC, enabledad"

# --- disableContainerInterface (L2) leaves the container end down; with IPAM it is an error.
mkns wbop3$$
C="{\"cniVersion\":\"1.0.0\",\"name\":\"dci\",\"type\":\"bridge\",\"bridge\":\"dbr0\",\"disableContainerInterface\":true}"
cni $NODE ADD /run/netns/wbop3$$ d1 eth0 "$C" >/dev/null || fail "disableContainerInterface ADD"
ip -n wbop3$$ -j link show eth0 | jq -e '.[0].flags|index("UP")|not' >/dev/null || fail "container end is up"
cni $NODE DEL /run/netns/wbop3$$ d1 eth0 "$C" >/dev/null
C="{\"cniVersion\":\"1.0.0\",\"name\":\"dci\",\"type\":\"bridge\",\"disableContainerInterface\":true,$(ipam 10.33.0.0/24)}"
if cni $NODE ADD /run/netns/wbop3$$ d1 eth0 "$C" >$T/out; then fail "IPAM+disableContainerInterface accepted"; fi
grep -q "cannot use IPAM when DisableContainerInterface flag is set" $T/out || fail "dci message"
ok "disableContainerInterface"

# --- concurrent ADDs on a bridge that does not exist yet: none fails with "file exists".
C="{\"cniVersion\":\"1.0.0\",\"name\":\"conc\",\"type\":\"bridge\",\"bridge\":\"cbr9\",\"isGateway\":true,$(ipam 10.34.0.0/24)}"
pids=()
for i in 1 2 3 4 5 6; do
  mkns wbc$i$$
  cni $NODE ADD /run/netns/wbc$i$$ cc$i eth0 "$C" >$T/conc$i 2>&1 & pids+=($!)
done
for i in 1 2 3 4 5 6; do wait ${pids[$((i-1))]} || fail "concurrent ADD $i: $(cat $T/conc$i)"; done
[ "$(ip -n $NODE -j link show master cbr9 | jq length)" = 6 ] || fail "6 ports on cbr9"
ok "6 concurrent ADDs on a new bridge"

# --- GC: masquerade rules of attachments not in the valid list go, the others stay.
C="{\"cniVersion\":\"1.1.0\",\"name\":\"gcnet\",\"type\":\"bridge\",\"bridge\":\"gbr0\",\"ipMasq\":true,$(ipam 10.35.0.0/24)}"
mkns wbg1$$; mkns wbg2$$
cni $NODE ADD /run/netns/wbg1$$ keep eth0 "$C" >/dev/null || fail "gc ADD keep"
cni $NODE ADD /run/netns/wbg2$$ gone eth0 "$C" >/dev/null || fail "gc ADD gone"
GC=$(jq -c '. + {"cni.dev/valid-attachments":[{"containerID":"keep","ifname":"eth0"}]}' <<<"$C")
ip netns exec $NODE env -i PATH="$PATH" CNI_COMMAND=GC CNI_PATH=$CNI_PATH $PLUGIN <<<"$GC" || fail "GC"
ip netns exec $NODE iptables -t nat -S | grep >/dev/null 'id: \\"keep\\"' || fail "GC removed a valid attachment"
ip netns exec $NODE iptables -t nat -S | grep >/dev/null 'id: \\"gone\\"' && fail "GC left a stale attachment"
ip netns exec $NODE env -i PATH="$PATH" CNI_COMMAND=STATUS CNI_PATH=$CNI_PATH $PLUGIN <<<"$C" || fail "STATUS"
ok "GC and STATUS"

# --- nftables ipMasq backend: one rule per address in inet cni_plugins_masquerade, removed by DEL.
if ip netns exec $NODE nft list tables >/dev/null 2>&1; then
  mkns wbnf$$
  C="{\"cniVersion\":\"1.0.0\",\"name\":\"nfnet\",\"type\":\"bridge\",\"bridge\":\"nbr0\",\"ipMasq\":true,\"ipMasqBackend\":\"nftables\",$(ipam 10.36.0.0/24)}"
  cni $NODE ADD /run/netns/wbnf$$ n1 eth0 "$C" >/dev/null || fail "nft ADD"
  ip netns exec $NODE nft list chain inet cni_plugins_masquerade masq_checks | grep >/dev/null 'ip saddr 10.36.0.2 ip daddr != 10.36.0.0/24 masquerade comment ".*, net: nfnet, if: eth0, id: n1"' || fail "nft rule: $(ip netns exec $NODE nft list chain inet cni_plugins_masquerade masq_checks)"
  ip netns exec $NODE nft list chain inet cni_plugins_masquerade postrouting | grep >/dev/null 'goto masq_checks' || fail "nft postrouting: $(ip netns exec $NODE nft list ruleset)"
  cni $NODE DEL /run/netns/wbnf$$ n1 eth0 "$C" >/dev/null || fail "nft DEL"
  ip netns exec $NODE nft list chain inet cni_plugins_masquerade masq_checks | grep >/dev/null 'id: n1' && fail "nft rule left"
  ok "nftables ipMasq backend"
else
  echo "note: nft unusable here, nftables backend not exercised"
fi

# --- macspoofchk: the reference's bridge-family rules; a pod that changes its MAC is cut off.
if ip netns exec $NODE nft list tables >/dev/null 2>&1; then
  mkns wbs1$$; mkns wbs2$$
  C="{\"cniVersion\":\"1.0.0\",\"name\":\"spoof\",\"type\":\"bridge\",\"bridge\":\"sbr0\",\"macspoofchk\":true,$(ipam 10.38.0.0/24)}"
  cni $NODE ADD /run/netns/wbs1$$ s1 eth0 "$C" >/dev/null || fail "spoofchk ADD s1"
  cni $NODE ADD /run/netns/wbs2$$ s2 eth0 "$C" >/dev/null || fail "spoofchk ADD s2"
  [ "$(ip netns exec $NODE nft -j list chain bridge nat PREROUTING | jq '[.nftables[].rule? | select(.comment == "macspoofchk-s1-eth0")] | length')" = 1 ] || fail "PREROUTING rule"
  [ "$(ip netns exec $NODE nft -j list chain bridge nat cni-br-iface-s1-eth0-mac | jq '[.nftables[].rule? | select(.comment == "macspoofchk-s1-eth0")] | length')" = 2 ] || fail "-mac rules"
  tcp_probe wbs1$$ wbs2$$ 10.38.0.3 || fail "traffic with the right MAC"
  ip -n wbs1$$ link set eth0 address 02:66:66:66:66:66
  ip -n wbs1$$ neigh flush all
  tcp_probe wbs1$$ wbs2$$ 10.38.0.3 && fail "spoofed MAC not dropped"
  cni $NODE DEL /run/netns/wbs1$$ s1 eth0 "$C" >/dev/null || fail "spoofchk DEL"
  ip netns exec $NODE nft list table bridge nat | grep >/dev/null 'macspoofchk-s1-eth0' && fail "spoofchk rules left"
  ip netns exec $NODE nft list table bridge nat | grep >/dev/null 'macspoofchk-s2-eth0' || fail "s2 rules removed too"
  ok "macspoofchk"
fi

# --- a host with IPv6 disabled: IPv4 configs work.
NODE6=wbo6$$; mkns $NODE6; mkns wbo6p$$
ip netns exec $NODE6 sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
C="{\"cniVersion\":\"1.0.0\",\"name\":\"nov6\",\"type\":\"bridge\",\"bridge\":\"v4br\",\"isDefaultGateway\":true,$(ipam 10.37.0.0/24)}"
cni $NODE6 ADD /run/netns/wbo6p$$ v1 eth0 "$C" >/dev/null || fail "ADD on IPv6-disabled host"
tcp_probe wbo6p$$ $NODE6 10.37.0.1 || fail "traffic on IPv6-disabled host"
ok "IPv6-disabled host"

# --- VLAN (access port), only where the kernel has bridge VLAN filtering.
if ip -n $NODE link add vprobe type bridge vlan_filtering 1 2>/dev/null; then
  ip -n $NODE link del vprobe
  mkns wbv$$
  C="{\"cniVersion\":\"1.0.0\",\"name\":\"vl\",\"type\":\"bridge\",\"bridge\":\"vbr0\",\"vlan\":100,\"ipam\":{}}"
  R=$(cni $NODE ADD /run/netns/wbv$$ v1 eth0 "$C") || fail "vlan ADD: $R"
  V=$(jq -r '.interfaces[1].name' <<<"$R")
  ip -n $NODE -j link show vbr0 -d | jq -e '.[0].linkinfo.info_data.vlan_filtering == 1' >/dev/null || fail "vlan_filtering"
  bridge -n $NODE -j vlan show dev $V | jq -e '[.[0].vlans[].vlan] == [100]' >/dev/null || fail "port vlans"
  ok "vlan"
else
  echo "note: kernel without bridge VLAN filtering (EOPNOTSUPP), VLAN not exercised"
fi
echo PASS
