#!/usr/bin/env bash
# bandwidth in a throw-away node namespace with a pod namespace behind a veth: ADD programs a tbf
# on the host veth and an ifb with its own tbf, CHECK passes and fails once a qdisc is gone, and
# shaping is in effect in both directions: bursts of UDP datagrams (200 of 1200 bytes, sent at once) that
# exceed the bucket make each tbf report overlimits, and the ifb's tbf carries the pod's
# traffic (the redirect works). No throughput is timed (that belongs in bench/). DEL removes the
# ifb and is idempotent; the `bandwidth` capability (runtimeConfig) works the same way.
set -euo pipefail
export LC_ALL=C
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
WEFT_BIN=${WEFT_BIN:?}
[ -x "$WEFT_BIN/bandwidth" ] || { echo "weft bandwidth not built"; exit 1; }
S=$$; NODE=wpb-bwt-n-$S; POD=wpb-bwt-p-$S
cleanup() { ip netns del $NODE 2>/dev/null || true; ip netns del $POD 2>/dev/null || true; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
ip netns add $NODE; ip netns add $POD
ip -n $NODE link set lo up; ip -n $POD link set lo up
ip -n $NODE link add wpbh0 type veth peer name eth0 netns $POD
ip -n $NODE addr add 10.69.0.1/24 dev wpbh0; ip -n $POD addr add 10.69.0.2/24 dev eth0
ip -n $NODE link set wpbh0 up; ip -n $POD link set eth0 up
MAC=$(ip -n $NODE -j link show wpbh0 | jq -r '.[0].address')

conf() {
  printf '{"cniVersion":"1.0.0","name":"wpbnet","type":"bandwidth",%s,"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"wpbh0","mac":"%s"},{"name":"eth0","sandbox":"/var/run/netns/%s"}],"ips":[{"interface":1,"address":"10.69.0.2/24"}]}}' "$1" "$MAC" "$POD"
}
cni() { # command config
  ip netns exec $NODE env CNI_COMMAND=$1 CNI_CONTAINERID=ctrT CNI_NETNS=/var/run/netns/$POD CNI_IFNAME=eth0 \
    CNI_PATH=/nonexistent "$WEFT_BIN/bandwidth" <<<"$2"
}
tbf_stat() { # dev field
  ip netns exec $NODE tc -s -j qdisc show dev "$1" | jq -r --arg f "$2" '[.[] | select(.kind == "tbf") | .[$f]] | first // empty'
}

# 800 kbit/s towards the pod, 400 kbit/s from it; buckets of 4000 and 3750 bytes (above the MTU).
LIMITS='"ingressRate":800000,"ingressBurst":32000,"egressRate":400000,"egressBurst":30000'
CFG=$(conf "$LIMITS")
out=$(cni ADD "$CFG") || { echo "$out"; fail "ADD failed"; }
IFB=$(jq -r '.interfaces[2].name' <<<"$out")
[[ "$IFB" == bwp* ]] && [ ${#IFB} = 15 ] || fail "result has no ifb: $out"
[ "$(jq -r '.interfaces[2].mac' <<<"$out")" = "$(ip -n $NODE -j link show "$IFB" | jq -r '.[0].address')" ] || fail "ifb MAC in the result"
ip -n $NODE link show "$IFB" | grep -q 'state UNKNOWN\|UP' || fail "ifb not up"
[ "$(tbf_stat wpbh0 handle)" = "1:" ] || fail "no tbf on the host veth"
[ "$(ip netns exec $NODE tc -j qdisc show dev wpbh0 | jq -r '.[] | select(.kind == "tbf") | .options.rate')" = 100000 ] || fail "veth tbf rate"
[ "$(ip netns exec $NODE tc -j qdisc show dev "$IFB" | jq -r '.[] | select(.kind == "tbf") | .options.rate')" = 50000 ] || fail "ifb tbf rate"
ip netns exec $NODE tc filter show dev wpbh0 ingress | grep -q "Egress Redirect to device $IFB" || fail "no redirect to the ifb"
cni CHECK "$CFG" >/dev/null || fail "CHECK after ADD failed"

# Shaping in effect: 200 UDP datagrams of 1200 bytes at once (240 KB) exceed both buckets.
blast() { # netns destination
  ip netns exec "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(200):
    try:
        s.sendto(b"x" * 1200, (sys.argv[1], 9))
    except OSError:
        pass
' "$2"
}
blast $NODE 10.69.0.2
blast $POD 10.69.0.1
over_in=$(tbf_stat wpbh0 overlimits); over_out=$(tbf_stat "$IFB" overlimits)
seen_out=$(( $(tbf_stat "$IFB" packets) + $(tbf_stat "$IFB" drops) ))
echo "veth tbf overlimits=$over_in, ifb tbf overlimits=$over_out packets+drops=$seen_out"
[ "${over_in:-0}" -gt 0 ] || fail "ingress tbf never throttled"
[ "${over_out:-0}" -gt 0 ] || fail "egress (ifb) tbf never throttled"
[ "$seen_out" -ge 200 ] || fail "the pod's traffic did not go through the ifb"

# CHECK notices a missing egress qdisc and another rate.
cni CHECK "$(conf "${LIMITS/800000/900000}")" >/dev/null && fail "CHECK with another rate passed"
ip netns exec $NODE tc qdisc del dev "$IFB" root
msg=$(cni CHECK "$CFG") && fail "CHECK without the ifb's tbf passed"
[ "$(jq -r .msg <<<"$msg")" = "Failed to find qdisc" ] || fail "CHECK message: $msg"

# DEL removes the ifb; twice is fine; a missing netns does not matter for DEL.
cni DEL "$CFG" || fail "DEL failed"
ip -n $NODE link show "$IFB" 2>/dev/null && fail "ifb left after DEL"
cni DEL "$CFG" || fail "second DEL failed"
ip netns exec $NODE env CNI_COMMAND=DEL CNI_CONTAINERID=ctrT CNI_NETNS=/var/run/netns/gone CNI_IFNAME=eth0 \
  CNI_PATH=/nonexistent "$WEFT_BIN/bandwidth" <<<"$CFG" || fail "DEL with a gone netns failed"

# The capability: runtimeConfig.bandwidth, egress only (kubelet's egress-bandwidth annotation).
ip netns exec $NODE tc qdisc del dev wpbh0 root; ip netns exec $NODE tc qdisc del dev wpbh0 ingress
RT=$(conf '"capabilities":{"bandwidth":true},"runtimeConfig":{"bandwidth":{"egressRate":1000000,"egressBurst":40000}}')
out=$(cni ADD "$RT") || { echo "$out"; fail "ADD with runtimeConfig failed"; }
[ -z "$(tbf_stat wpbh0 handle)" ] || fail "ingress tbf without ingress limits"
[ "$(ip netns exec $NODE tc -j qdisc show dev "$IFB" | jq -r '.[] | select(.kind == "tbf") | .options.rate')" = 125000 ] || fail "capability egress rate"
cni CHECK "$RT" >/dev/null || fail "CHECK (capability) failed"
cni DEL "$RT" || fail "DEL (capability) failed"
ip -n $NODE link show "$IFB" 2>/dev/null && fail "ifb left after DEL (capability)"
# The root namespace never saw any of it.
ip link show "$IFB" 2>/dev/null && fail "ifb in the root namespace"
echo "bandwidth traffic: OK"
