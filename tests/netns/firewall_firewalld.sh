#!/usr/bin/env bash
# firewall's backend choice against a real D-Bus: a private dbus-daemon (its socket in a temp
# dir, pointed at with DBUS_SYSTEM_BUS_ADDRESS) stands in for the system bus. While a client owns
# org.fedoraproject.FirewallD1 there (what firewalld does; no firewalld is installed here, so the
# name's owner is a python3-dbus stand-in), the automatic choice would be firewalld as in the
# reference: weft's ADD and CHECK refuse with a clear error and write nothing, `backend:
# iptables` still works, and DEL succeeds (cleanup must never get stuck). Without an owner, or
# without any bus, the automatic choice is iptables. All rules land in a throw-away node namespace.
set -euo pipefail
export LC_ALL=C
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
WEFT_BIN=${WEFT_BIN:?}
[ -x "$WEFT_BIN/firewall" ] || { echo "weft firewall not built"; exit 1; }
command -v dbus-daemon >/dev/null || { echo "SKIP: dbus-daemon not installed"; exit 77; }
/usr/bin/python3 -c 'import dbus' 2>/dev/null || { echo "SKIP: python3-dbus not installed"; exit 77; }
S=$$; NODE=wpb-fwd-n-$S; T=$(mktemp -d /tmp/wpb-fwd.XXXXXX)
BUS_PID= OWNER_PID=
cleanup() {
  [ -n "$OWNER_PID" ] && kill "$OWNER_PID" 2>/dev/null || true
  [ -n "$BUS_PID" ] && kill "$BUS_PID" 2>/dev/null || true
  ip netns del $NODE 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
ip netns add $NODE

cat >"$T/bus.conf" <<XML
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$T/bus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>
XML
dbus-daemon --config-file="$T/bus.conf" --nofork --nopidfile 2>"$T/bus.log" &
BUS_PID=$!
for _ in $(seq 50); do [ -S "$T/bus.sock" ] && break; sleep 0.1; done
[ -S "$T/bus.sock" ] || fail "private bus did not start"
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/bus.sock

conf() {
  printf '{"cniVersion":"1.0.0","name":"wpbnet","type":"firewall"%s,"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"br0"},{"name":"eth0","sandbox":"/x"}],"ips":[{"interface":1,"address":"10.72.0.2/24"}]}}' "$1"
}
cni() { ip netns exec $NODE env CNI_COMMAND=$1 CNI_CONTAINERID=ctrF CNI_NETNS=/var/run/netns/$NODE \
  CNI_NETNS_OVERRIDE=1 CNI_IFNAME=eth0 CNI_PATH=/nonexistent "$WEFT_BIN/firewall" <<<"$2"; }
rules() { ip netns exec $NODE iptables-save -t filter | grep -c 10.72.0.2 || true; }

# A bus without firewalld: automatic = iptables.
cni ADD "$(conf '')" >/dev/null || fail "automatic ADD without firewalld failed"
[ "$(rules)" = 2 ] || fail "no iptables rules from the automatic choice"
cni DEL "$(conf '')" || fail "DEL"

# firewalld (its bus name) appears.
/usr/bin/python3 -c '
import dbus, sys, time
bus = dbus.bus.BusConnection(sys.argv[1])
bus.request_name("org.fedoraproject.FirewallD1")
print("owned", flush=True)
time.sleep(120)
' "$DBUS_SYSTEM_BUS_ADDRESS" >"$T/owner.out" &
OWNER_PID=$!
for _ in $(seq 50); do grep -q owned "$T/owner.out" 2>/dev/null && break; sleep 0.1; done
grep -q owned "$T/owner.out" || fail "stand-in did not get the name"

out=$(cni ADD "$(conf '')") && fail "automatic ADD with firewalld running succeeded"
[[ "$(jq -r .msg <<<"$out")" == "firewalld is running (org.fedoraproject.FirewallD1 on the system bus)"* ]] || fail "message: $out"
[ "$(rules)" = 0 ] || fail "rules written although ADD failed"
out=$(cni CHECK "$(conf '')") && fail "automatic CHECK with firewalld running succeeded"
cni DEL "$(conf '')" || fail "DEL with firewalld running failed"
cni DEL "$(conf ',"backend":"firewalld"')" || fail "DEL with backend firewalld failed"
out=$(cni ADD "$(conf ',"backend":"firewalld"')") && fail "ADD with backend firewalld succeeded"
[[ "$(jq -r .msg <<<"$out")" == "the firewalld backend is not supported: "* ]] || fail "message: $out"
cni ADD "$(conf ',"backend":"iptables"')" >/dev/null || fail "explicit iptables ADD with firewalld running failed"
[ "$(rules)" = 2 ] || fail "explicit iptables: no rules"
cni DEL "$(conf ',"backend":"iptables"')" || fail "DEL (explicit iptables)"
[ "$(rules)" = 0 ] || fail "rules left"

# No bus at all: iptables again.
kill "$OWNER_PID"; OWNER_PID=
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/none.sock cni ADD "$(conf '')" >/dev/null || fail "ADD without a bus failed"
echo "firewall firewalld choice: OK"
