#!/usr/bin/env bash
# portmap GC (weft only; the reference has none): in a throw-away node namespace, ADD two
# containers of network "pmgc" and one of network "other", then GC "pmgc" with only the second
# container valid: the first container's CNI-DN- chain and its jump go, the valid one and the
# other network's chain stay, a second GC changes nothing.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "needs root"; exit 77; }
WEFT_BIN=${WEFT_BIN:?}; PM=$WEFT_BIN/portmap
[ -x "$PM" ] || { echo "weft portmap not built"; exit 1; }
N=wpmgc-$$
cleanup() { ip netns del $N 2>/dev/null || true; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; ip netns exec $N iptables-save -t nat | grep -v '^#'; exit 1; }
ip netns add $N
ip -n $N link set lo up
ip -n $N link add br0 type bridge
ip -n $N addr add 10.78.0.1/24 dev br0
ip -n $N link set br0 up
conf() { # net ip port
  echo "{\"cniVersion\":\"1.1.0\",\"name\":\"$1\",\"type\":\"portmap\",
   \"runtimeConfig\":{\"portMappings\":[{\"hostPort\":$3,\"containerPort\":80,\"protocol\":\"tcp\"}]},
   \"prevResult\":{\"cniVersion\":\"1.1.0\",\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/x\"}],
   \"ips\":[{\"interface\":0,\"address\":\"$2/24\"}],\"dns\":{}}}"
}
cni() { ip netns exec $N env CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=/x CNI_IFNAME=eth0 CNI_PATH=$WEFT_BIN "$PM" <<<"$3" >/dev/null; }
cni ADD ctrA "$(conf pmgc 10.78.0.2 8080)"
cni ADD ctrB "$(conf pmgc 10.78.0.3 8081)"
cni ADD ctrC "$(conf other 10.78.0.4 8082)"
chain() { python3 -c "import hashlib,sys; print(('CNI-DN-' + hashlib.sha512((sys.argv[1] + sys.argv[2]).encode()).hexdigest())[:28])" "$1" "$2"; }
A=$(chain pmgc ctrA); B=$(chain pmgc ctrB); C=$(chain other ctrC)
for c in $A $B $C; do ip netns exec $N iptables-save -t nat | grep -q ":$c " || fail "$c missing after ADD"; done
gc='{"cniVersion":"1.1.0","name":"pmgc","type":"portmap","cni.dev/valid-attachments":[{"containerID":"ctrB","ifname":"eth0"}]}'
ip netns exec $N env CNI_COMMAND=GC CNI_PATH=$WEFT_BIN "$PM" <<<"$gc"
ip netns exec $N env CNI_COMMAND=GC CNI_PATH=$WEFT_BIN "$PM" <<<"$gc"
s=$(ip netns exec $N iptables-save -t nat)
grep -q "$A" <<<"$s" && fail "stale chain $A kept"
grep -q ":$B " <<<"$s" || fail "valid chain $B removed"
grep -q ":$C " <<<"$s" || fail "other network's chain $C removed"
[ "$(grep -c -- "-j $B\$" <<<"$s")" = 1 ] || fail "jump to $B"
echo "portmap gc: OK"
