#!/usr/bin/env bash
# firewall compat: the same sequence of calls through the reference /usr/lib/cni/firewall and
# weft's, each in its own throw-away node namespace. After every step the result JSON, the exit
# status and `iptables-save`/`ip6tables-save` of the filter table (without comments and
# counters) must be identical: two containers (v4+v6, one v4-only), ingressPolicy same-bridge on
# two bridges, a custom iptablesAdminChainName, CHECK (also of the other implementation's
# state, and after a rule was deleted), DEL of one container by the other implementation, DEL
# twice, DEL without prevResult, and the reference's errors. The whole sequence runs twice: with
# the host's iptables (nf_tables on Debian 12) and with iptables-legacy first on PATH for both
# implementations (weft then uses libiptc in-process).
set -euo pipefail
export LC_ALL=C
[ "$(id -u)" -eq 0 ] || { echo "needs root"; exit 77; }
WEFT_BIN=${WEFT_BIN:?}; REF_BIN=${REF_BIN:-/usr/lib/cni}
[ -x "$REF_BIN/firewall" ] || { echo "reference firewall missing"; exit 77; }
[ -x "$WEFT_BIN/firewall" ] || { echo "weft firewall not built"; exit 1; }
S=$$; T=$(mktemp -d /tmp/wpb-fwc.XXXXXX)
NS_REF=wpb-fwc-r-$S; NS_OURS=wpb-fwc-o-$S
cleanup() { ip netns del $NS_REF 2>/dev/null || true; ip netns del $NS_OURS 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
ip netns add $NS_REF; ip netns add $NS_OURS
checks=0

conf() { # version bridge ips-json extra
cat <<JSON
{"cniVersion":"$1","name":"wpbnet","type":"firewall"$4,
 "prevResult":{"cniVersion":"$1","interfaces":[{"name":"$2","mac":"02:00:00:00:bb:01"},{"name":"veth0"},
   {"name":"eth0","sandbox":"/var/run/netns/pod"}],"ips":[$3],"dns":{}}}
JSON
}
IPS_A='{"version":"4","interface":2,"address":"10.67.0.2/24","gateway":"10.67.0.1"},{"version":"6","interface":2,"address":"fd67::2/64"}'
IPS_B='{"version":"4","interface":2,"address":"10.68.0.5/24","gateway":"10.68.0.1"}'

run() { # which command id config out [swap]
  local which=$1 cmd=$2 id=$3 cfg=$4 out=$5 ns bin
  if [ $which = ref ]; then ns=$NS_REF bin=$REF_BIN; else ns=$NS_OURS bin=$WEFT_BIN; fi
  [ "${6:-}" = swap ] && { if [ $which = ref ]; then bin=$WEFT_BIN; else bin=$REF_BIN; fi; }
  set +e
  ip netns exec $ns env CNI_COMMAND=$cmd CNI_CONTAINERID=$id CNI_NETNS=/var/run/netns/pod \
    CNI_IFNAME=eth0 CNI_PATH=/nonexistent $bin/firewall <<<"$cfg" >"$out" 2>"$out.err"
  echo $? >"$out.rc"
  set -e
}

dump() { ip netns exec $1 iptables-save -t filter | grep -v '^#'; echo ---; ip netns exec $1 ip6tables-save -t filter | grep -v '^#'; }

step() { # name cmd id config [swap]
  run ref $2 $3 "$4" "$T/ref.$1" ${5:-}; run ours $2 $3 "$4" "$T/ours.$1" ${5:-}
  sed -i 's/ \\"1.1.0\\"//' "$T/ours.$1"  # weft also speaks spec 1.1.0
  diff -u "$T/ref.$1" "$T/ours.$1" || fail "$1: output differs"
  diff -u "$T/ref.$1.rc" "$T/ours.$1.rc" || fail "$1: exit status differs"
  dump $NS_REF >"$T/ref.$1.tables"; dump $NS_OURS >"$T/ours.$1.tables"
  diff -u "$T/ref.$1.tables" "$T/ours.$1.tables" || fail "$1: tables differ"
  checks=$((checks + 3))
}
rc() { cat "$T/ours.$1.rc"; }

A=$(conf 1.0.0 wpbbr0 "$IPS_A" ',"ingressPolicy":"same-bridge"')
B=$(conf 0.4.0 wpbbr1 "$IPS_B" ',"ingressPolicy":"same-bridge"')
step addA ADD ctrA "$A"; [ "$(rc addA)" = 0 ] || { cat "$T/ours.addA"; fail "ADD A failed"; }
step addB ADD ctrB "$B"; [ "$(rc addB)" = 0 ] || { cat "$T/ours.addB"; fail "ADD B failed"; }
grep -q -- '-A CNI-ISOLATION-STAGE-2 -o wpbbr1 .* -j DROP' "$T/ours.addB.tables" || fail "no isolation rule for wpbbr1"
grep -q -- '-A CNI-FORWARD -s fd67::2/128 -j ACCEPT' "$T/ours.addB.tables" || fail "no v6 rule"
step readdA ADD ctrA "$A"   # idempotent
step checkA CHECK ctrA "$A"; [ "$(rc checkA)" = 0 ] || { cat "$T/ours.checkA"; fail "CHECK failed"; }
step checkAx CHECK ctrA "$A" swap; [ "$(rc checkAx)" = 0 ] || fail "cross CHECK failed"
# a rule deleted behind the plugins' backs: both CHECKs fail with the same message
for ns in $NS_REF $NS_OURS; do ip netns exec $ns iptables -D CNI-FORWARD -s 10.68.0.5/32 -j ACCEPT; done
step checkB CHECK ctrB "$B"; [ "$(rc checkB)" = 1 ] || fail "CHECK of a missing rule passed"
step readdB ADD ctrB "$B"   # repairs it
step checkB2 CHECK ctrB "$B" swap
# DEL: one container's rules only, by the other implementation; twice; without prevResult
step delA DEL ctrA "$A" swap
grep -q '10.67.0.2' "$T/ours.delA.tables" && fail "A's rules left after DEL"
grep -q '10.68.0.5' "$T/ours.delA.tables" || fail "B's rules removed by A's DEL"
step delA2 DEL ctrA "$A"
step delnoprev DEL ctrB '{"cniVersion":"1.0.0","name":"wpbnet","type":"firewall"}'
step delB DEL ctrB "$B"
# admin chain name, open policy
C=$(conf 1.0.0 wpbbr0 "$IPS_B" ',"iptablesAdminChainName":"WPB-ADMIN","ingressPolicy":"open"')
step addC ADD ctrC "$C"
step checkC CHECK ctrC "$C" swap
step delC DEL ctrC "$C" swap
# errors
step noprev ADD ctrD '{"cniVersion":"1.0.0","name":"wpbnet","type":"firewall"}'
step badtype ADD ctrD "$(conf 1.0.0 wpbbr0 "$IPS_B" ',"backend":5')"
step v031 ADD ctrD "$(conf 0.3.1 wpbbr0 "$IPS_B" '')"
echo "firewall compat (${WPB_FW_MODE:-default iptables}): OK ($checks comparisons)"
if [ -z "${WPB_FW_MODE:-}" ] && [ -x /usr/sbin/xtables-legacy-multi ]; then
  L=$T/legacy-bin; mkdir -p "$L"
  for t in iptables ip6tables iptables-save ip6tables-save iptables-restore ip6tables-restore; do
    ln -s /usr/sbin/xtables-legacy-multi "$L/$t"
  done
  PATH="$L:$PATH" WPB_FW_MODE=iptables-legacy bash "$0"
fi
