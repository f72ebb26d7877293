#!/usr/bin/env bash
# The same bridge scenarios through Debian's reference bridge and through weft's, each in its own
# throw-away node namespace with the reference host-local as IPAM on both sides: the result JSON
# (MACs and veth names normalised), the links, addresses and routes of node and pod, the ipMasq
# rules and the errors must be the same. Known, documented differences of the 1.1.1 reference are
# normalised explicitly below (never silently).
set -euo pipefail
. "$(dirname "$0")/../netns/bridge_helpers.bash"
need_root
WEFT_BIN=${WEFT_BIN:?} REF_BIN=${REF_BIN:-/usr/lib/cni}
[ -x "$REF_BIN/bridge" ] && [ -x "$REF_BIN/host-local" ] || { echo "SKIP: no reference plugins"; exit 77; }
T=/tmp/wbc$$
NS_LIST=()
cleanup() {
  for n in "${NS_LIST[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf $T
}
trap cleanup EXIT
mkdir -p $T/ref $T/weft
ln -s "$REF_BIN/bridge" $T/ref/bridge; ln -s "$REF_BIN/host-local" $T/ref/host-local
ln -s "$WEFT_BIN/bridge" $T/weft/bridge; ln -s "$REF_BIN/host-local" $T/weft/host-local
mkns() { ip netns add "$1"; ip -n "$1" link set lo up; NS_LIST+=("$1"); }

# normalise a result: MACs and host veth names are random on both sides.
norm_result() { jq -S 'if has("interfaces") then (.interfaces[] | select(.mac) | .mac) |= "MAC"
  | (.interfaces[] | select(.name|test("^veth[0-9a-f]{8}$")) | .name) |= "vethX" else . end'; }
# links of a namespace: the fields both plugins control.
norm_links() {
  ip -n "$1" -d -j link show | jq -S '[.[] | select(.ifname != "lo") | {
    name: (if (.ifname|test("^veth[0-9a-f]{8}$")) then "vethX" else .ifname end),
    mtu, up: (.flags|index("UP") != null), promisc: (.flags|index("PROMISC") != null),
    master, kind: .linkinfo.info_kind,
    hairpin: .linkinfo.info_slave_data.hairpin, isolated: .linkinfo.info_slave_data.isolated,
    learning: .linkinfo.info_slave_data.learning}] | sort_by(.name)'
}
norm_addrs() {
  ip -n "$1" -j addr show | jq -S '[.[] | .ifname as $i | .addr_info[]
    | select(.scope != "link") | {i: $i, a: "\(.local)/\(.prefixlen)", b: .broadcast}] | sort_by(.a)'
}
# (`anycast`: the kernel's subnet-router anycast routes of a forwarding bridge appear once its v6
# addresses leave DAD, at once with ours (no DAD on the bridge), ~1-2 s later with the reference's.)
norm_routes() {
  { ip -n "$1" -4 route show table all; ip -n "$1" -6 route show table all; } \
    | { grep -v -e '^fe80' -e '^local' -e '^anycast' -e '^multicast' -e '^broadcast' -e 'fe80::/64' || true; } \
    | sed -E 's/veth[0-9a-f]{8}/vethX/g; s/ pref medium//' | sort
}
norm_ipt() { ip netns exec "$1" "$2" -t nat -S; }

N=0
# scenario <label> <config> <ifname> [CNI_ARGS]
scenario() {
  local label=$1 conf=$2 ifn=$3 cargs=${4:-}
  N=$((N + 1))
  local side out=()
  for side in ref weft; do
    local node=wc${side:0:1}n$$x$N pod=wc${side:0:1}p$$x$N
    mkns $node; mkns $pod
    local c=${conf//@DATA@/$T/$side/data$N}
    CNI_PATH=$T/$side PLUGIN=$T/$side/bridge
    set +e
    cni $node ADD /run/netns/$pod ctr$N "$ifn" "$c" ${cargs:+CNI_ARGS=$cargs} >$T/$side.res$N
    local rc=$?
    set -e
    {
      echo "== result rc=$rc"; norm_result <$T/$side.res$N
      echo "== node links"; norm_links $node; echo "== pod links"; norm_links $pod
      echo "== node addrs"; norm_addrs $node; echo "== pod addrs"; norm_addrs $pod
      echo "== node routes"; norm_routes $node; echo "== pod routes"; norm_routes $pod
      echo "== nat"; norm_ipt $node iptables; norm_ipt $node ip6tables
    } >$T/$side.state$N
    # DEL, then the node must be back to bridge-only state (no veth, no masq chain).
    cni $node DEL /run/netns/$pod ctr$N "$ifn" "$c" >$T/$side.del$N || true
    { echo "== del"; cat $T/$side.del$N; echo; norm_links $pod; norm_ipt $node iptables; } >>$T/$side.state$N
    sed -i "s#$pod#POD#g; s#$node#NODE#g" $T/$side.state$N
  done
  # Documented 1.1.1 differences: the reference's hairpin/promisc message ends in "."; the
  # reference gives both veth ends txqueuelen 0 (not compared); 1.1.1 bridges follow their first
  # port's MAC (MACs are normalised).
  sed -i 's/at the same time\."/at the same time"/' $T/ref.state$N
  if diff -u $T/ref.state$N $T/weft.state$N >$T/diff$N; then ok "compat: $label"
  else cat $T/diff$N; fail "compat: $label differs (- reference, + weft)"; fi
}

BASE='"name":"cmpnet","type":"bridge","bridge":"cbr0"'
IPAM4='"ipam":{"type":"host-local","dataDir":"@DATA@","ranges":[[{"subnet":"10.88.1.0/24"}]],"routes":[{"dst":"0.0.0.0/0"}]}'
IPAM46='"ipam":{"type":"host-local","dataDir":"@DATA@","ranges":[[{"subnet":"10.88.2.0/24"}],[{"subnet":"fd88::/64"}]],"routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}]}'
IPAMNR='"ipam":{"type":"host-local","dataDir":"@DATA@","ranges":[[{"subnet":"10.88.3.0/24"}]]}'

for v in 0.3.1 0.4.0 1.0.0; do
  scenario "v$v gateway+masq dual stack" "{\"cniVersion\":\"$v\",$BASE,\"isGateway\":true,\"ipMasq\":true,$IPAM46}" eth0
done
scenario "0.2.0 gateway v4" "{\"cniVersion\":\"0.2.0\",$BASE,\"isGateway\":true,$IPAM4}" eth0
scenario "isDefaultGateway without IPAM routes" "{\"cniVersion\":\"1.0.0\",$BASE,\"isDefaultGateway\":true,$IPAMNR}" eth0
scenario "mtu, hairpin, MAC from CNI_ARGS" "{\"cniVersion\":\"1.0.0\",$BASE,\"mtu\":1300,\"hairpinMode\":true,\"isGateway\":true,$IPAM4}" eth0 "IgnoreUnknown=1;MAC=02:00:00:00:00:42"
scenario "promiscMode" "{\"cniVersion\":\"1.0.0\",$BASE,\"promiscMode\":true,$IPAM4}" net1
scenario "no gateway" "{\"cniVersion\":\"1.0.0\",$BASE,$IPAM4}" eth0
scenario "L2" "{\"cniVersion\":\"1.0.0\",$BASE,\"ipam\":{}}" eth0
scenario "L2 on 0.2.0 fails to convert" "{\"cniVersion\":\"0.2.0\",$BASE,\"ipam\":{}}" eth0
scenario "hairpin+promisc error" "{\"cniVersion\":\"1.0.0\",$BASE,\"hairpinMode\":true,\"promiscMode\":true,$IPAM4}" eth0
scenario "invalid vlan" "{\"cniVersion\":\"1.0.0\",$BASE,\"vlan\":5000,$IPAM4}" eth0
scenario "bad mtu type" "{\"cniVersion\":\"1.0.0\",$BASE,\"mtu\":\"x\",$IPAM4}" eth0
echo PASS
