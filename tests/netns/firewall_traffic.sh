#!/usr/bin/env bash
# firewall in a throw-away node namespace whose FORWARD policy is DROP, with two bridges and a
# pod namespace on each (addresses set by hand; the plugin only reads prevResult). The rules are
# shown to be in effect with TCP connections between the pods (bounded by a 1 s timeout):
# refused before ADD, allowed once the client's rules exist, refused again after its DEL, and
# refused across bridges with ingressPolicy same-bridge. Also: CHECK, and that DEL removes only
# that container's rules while the shared chains stay.
set -euo pipefail
export LC_ALL=C
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
WEFT_BIN=${WEFT_BIN:?}
[ -x "$WEFT_BIN/firewall" ] || { echo "weft firewall not built"; exit 1; }
S=$$; NODE=wpb-fwt-n-$S; PA=wpb-fwt-a-$S; PB=wpb-fwt-b-$S
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  for n in $NODE $PA $PB; do ip netns del $n 2>/dev/null || true; done
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
for n in $NODE $PA $PB; do ip netns add $n; ip -n $n link set lo up; done
ip netns exec $NODE sysctl -qw net.ipv4.ip_forward=1
ip netns exec $NODE iptables -P FORWARD DROP
pod() { # ns bridge subnet-prefix host-veth
  ip -n $NODE link show "$2" >/dev/null 2>&1 || {
    ip -n $NODE link add "$2" type bridge; ip -n $NODE addr add "$3.1/24" dev "$2"; ip -n $NODE link set "$2" up; }
  ip -n $NODE link add "$4" type veth peer name eth0 netns "$1"
  ip -n $NODE link set "$4" master "$2" up
  ip -n "$1" addr add "$3.2/24" dev eth0; ip -n "$1" link set eth0 up
  ip -n "$1" route add default via "$3.1"
}
pod $PA wpbbr0 10.70.0 wpbva
pod $PB wpbbr1 10.71.0 wpbvb

conf() { # bridge ip extra
  printf '{"cniVersion":"1.0.0","name":"wpbnet","type":"firewall"%s,"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"%s"},{"name":"veth"},{"name":"eth0","sandbox":"/x"}],"ips":[{"interface":2,"address":"%s/24"}]}}' "$3" "$1" "$2"
}
cni() { # command id config
  ip netns exec $NODE env CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=/var/run/netns/$PA CNI_IFNAME=eth0 \
    CNI_PATH=/nonexistent "$WEFT_BIN/firewall" <<<"$3"
}
# A TCP server in pod B for the whole test; connect() from pod A with a 1 s timeout.
ip netns exec $PB python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080)); s.listen(16)
while True:
    c, _ = s.accept(); c.close()
' &
SERVER_PID=$!
connects() { ip netns exec $PA python3 -c '
import socket, sys
try:
    socket.create_connection(("10.71.0.2", 8080), timeout=1).close()
except OSError:
    sys.exit(1)
'; }
for _ in $(seq 50); do ip netns exec $PB ss -ltn | grep -q ':8080 ' && break; sleep 0.1; done

connects && fail "A reached B before any firewall ADD (FORWARD policy DROP)"
A=$(conf wpbbr0 10.70.0.2 ''); B=$(conf wpbbr1 10.71.0.2 '')
cni ADD ctrA "$A" >/dev/null || fail "ADD A"
cni ADD ctrB "$B" >/dev/null || fail "ADD B"
connects || fail "A cannot reach B with both containers' rules"
cni CHECK ctrA "$A" || fail "CHECK A"
cni DEL ctrA "$A" || fail "DEL A"
connects && fail "A still reaches B after A's DEL"
ip netns exec $NODE iptables -S CNI-FORWARD | grep -q 10.71.0.2 || fail "B's rules went with A's DEL"
ip netns exec $NODE iptables -S FORWARD | grep -q 'CNI-FORWARD' || fail "the FORWARD jump went with DEL"
msg=$(cni CHECK ctrA "$A") && fail "CHECK after DEL passed"
[[ "$(jq -r .msg <<<"$msg")" == "expected rule [-d 10.70.0.2/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT] not found" ]] || fail "CHECK message: $msg"

# same-bridge: both containers allowed, but traffic from bridge 0 into bridge 1 is dropped.
SA=$(conf wpbbr0 10.70.0.2 ',"ingressPolicy":"same-bridge"'); SB=$(conf wpbbr1 10.71.0.2 ',"ingressPolicy":"same-bridge"')
cni ADD ctrA "$SA" >/dev/null || fail "ADD A same-bridge"
cni ADD ctrB "$SB" >/dev/null || fail "ADD B same-bridge"
connects && fail "A reached B across bridges with ingressPolicy same-bridge"
[ "$(ip netns exec $NODE iptables -S FORWARD | sed -n 2p)" = '-A FORWARD -m comment --comment "CNI firewall plugin rules (ingressPolicy: same-bridge)" -j CNI-ISOLATION-STAGE-1' ] \
  || fail "isolation jump is not first in FORWARD"
for c in A B; do cni DEL ctr$c "$(eval echo \$S$c)" || fail "DEL $c"; done
[ -z "$(ip netns exec $NODE iptables -S CNI-FORWARD | grep -- '-s \|-d ')" ] || fail "address rules left after DEL"
# The root namespace's firewall is untouched by all of this (the chains are only in the node).
ip netns exec $NODE iptables -S CNI-ISOLATION-STAGE-1 >/dev/null || fail "isolation chain missing in the node"
echo "firewall traffic: OK"
