#!/usr/bin/env bash
# portmap compat: the same ADD (v4+v6 prevResult, tcp/udp, hostIP of either family, 17 ports to
# exercise multiport chunking, custom conditions) through the reference /usr/lib/cni/portmap and
# weft's, each in its own throw-away "node" namespace; `iptables-save -t nat` and
# `ip6tables-save -t nat` must be identical (minus the timestamp comments), and so must the
# result JSON, route_localnet, the CHECK outcome, and the tables after DEL (and after a second DEL).
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "needs root"; exit 77; }
WEFT_BIN=${WEFT_BIN:?}; REF_BIN=${REF_BIN:-/usr/lib/cni}
[ -x "$REF_BIN/portmap" ] || { echo "reference portmap missing"; exit 77; }
[ -x "$WEFT_BIN/portmap" ] || { echo "weft portmap not built"; exit 1; }
S=$$; T=$(mktemp -d /tmp/weft-pmc.XXXXXX)
NS_REF=wpmc-ref-$S; NS_OURS=wpmc-ours-$S
cleanup() { ip netns del $NS_REF 2>/dev/null || true; ip netns del $NS_OURS 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

for ns in $NS_REF $NS_OURS; do
  ip netns add $ns
  ip -n $ns link set lo up
  ip -n $ns link add rsbr0 type bridge
  ip -n $ns addr add 10.199.0.1/24 dev rsbr0
  ip -n $ns addr add fd99::1/64 dev rsbr0 nodad
  ip -n $ns link set rsbr0 up
done

ports17=$(python3 -c 'import json; print(",".join(json.dumps({"hostPort":20000+i,"containerPort":i+1,"protocol":"tcp"}) for i in range(17)))')
conf() { # $1 = cniVersion, $2 = extra keys
cat <<JSON
{"cniVersion":"$1","name":"rsnet","type":"portmap","snat":true $2,
 "runtimeConfig":{"portMappings":[
  {"hostPort":8080,"containerPort":80,"protocol":"tcp"},
  {"hostPort":8081,"containerPort":81,"protocol":"udp"},
  {"hostPort":9090,"containerPort":90,"protocol":"tcp","hostIP":"192.168.55.1"},
  {"hostPort":9091,"containerPort":91,"protocol":"tcp","hostIP":"fd55::1"},
  {"hostPort":9092,"containerPort":92,"protocol":"tcp","hostIP":"0.0.0.0"},
  $ports17]},
 "prevResult":{"cniVersion":"$1",
  "interfaces":[{"name":"rsbr0","mac":"02:00:00:00:00:01"},{"name":"eth0","mac":"02:00:00:00:00:02","sandbox":"/var/run/netns/pod"}],
  "ips":[{"version":"4","interface":0,"address":"10.199.0.9/24"},{"version":"4","interface":1,"address":"10.199.0.2/24","gateway":"10.199.0.1"},
         {"version":"6","interface":1,"address":"fd99::2/64","gateway":"fd99::1"}],
  "dns":{}}}
JSON
}

run() { # ns plugin command config -> stdout+status in files
  local ns=$1 bin=$2 cmd=$3 cfg=$4 out=$5
  set +e
  ip netns exec $ns env CNI_COMMAND=$cmd CNI_CONTAINERID=ctrA CNI_NETNS=/var/run/netns/pod \
    CNI_IFNAME=eth0 CNI_PATH=/nonexistent $bin <<<"$cfg" >"$out" 2>"$out.err"
  echo $? >"$out.rc"
  set -e
}

dump() { ip netns exec $1 iptables-save -t nat | grep -v '^#'; echo ---; ip netns exec $1 ip6tables-save -t nat | grep -v '^#'; }

compare_step() { # name
  local name=$1
  diff -u "$T/ref.$name" "$T/ours.$name" >/dev/null || { diff -u "$T/ref.$name" "$T/ours.$name" || true; fail "$name output differs"; }
  diff -u "$T/ref.$name.rc" "$T/ours.$name.rc" >/dev/null || fail "$name exit status differs"
  dump $NS_REF >"$T/ref.$name.tables"; dump $NS_OURS >"$T/ours.$name.tables"
  diff -u "$T/ref.$name.tables" "$T/ours.$name.tables" || fail "tables differ after $name"
}

for ver in 1.0.0 0.4.0; do
  cfg=$(conf $ver ', "conditionsV4":["-s","1.2.3.0/24"]')
  run $NS_REF "$REF_BIN/portmap" ADD "$cfg" "$T/ref.add$ver"
  run $NS_OURS "$WEFT_BIN/portmap" ADD "$cfg" "$T/ours.add$ver"
  [ "$(cat "$T/ours.add$ver.rc")" = 0 ] || { cat "$T/ours.add$ver.err" "$T/ours.add$ver"; fail "weft ADD failed"; }
  compare_step add$ver
  grep -q -- '-A CNI-HOSTPORT-DNAT -s 1.2.3.0/24 -p tcp -m comment' "$T/ours.add$ver.tables" || fail "conditions missing"
  [ "$(grep -c 'multiport --dports' "$T/ours.add$ver.tables")" -ge 3 ] || fail "multiport chunking"
  for ns in $NS_REF $NS_OURS; do
    [ "$(ip netns exec $ns cat /proc/sys/net/ipv4/conf/rsbr0/route_localnet)" = 1 ] || fail "route_localnet in $ns"
  done
  # Re-ADD adds nothing.
  run $NS_OURS "$WEFT_BIN/portmap" ADD "$cfg" "$T/ours.readd"
  dump $NS_OURS >"$T/ours.readd.tables"
  diff -u "$T/ours.add$ver.tables" "$T/ours.readd.tables" || fail "second ADD changed the tables"
  # CHECK: HEAD semantics (each family checked against its own tables) pass for weft.
  run $NS_OURS "$WEFT_BIN/portmap" CHECK "$cfg" "$T/ours.check"
  [ "$(cat "$T/ours.check.rc")" = 0 ] || { cat "$T/ours.check"; fail "weft CHECK failed"; }
  cfg_bad=$(echo "$cfg" | sed 's/"hostPort":8080/"hostPort":8089/')
  run $NS_OURS "$WEFT_BIN/portmap" CHECK "$cfg_bad" "$T/ours.checkbad"
  [ "$(cat "$T/ours.checkbad.rc")" != 0 ] || fail "CHECK with a different hostPort passed"
  grep -q 'could not check ipv4 dnat: rule \[\[' "$T/ours.checkbad" || { cat "$T/ours.checkbad"; fail "CHECK message"; }
  # DEL, twice; DEL without prevResult works too (same result).
  for i in 1 2; do
    run $NS_REF "$REF_BIN/portmap" DEL "$cfg" "$T/ref.del$ver$i"
    run $NS_OURS "$WEFT_BIN/portmap" DEL "$cfg" "$T/ours.del$ver$i"
    compare_step del$ver$i
  done
  grep -q CNI-DN- "$T/ours.del${ver}1.tables" && fail "CNI-DN chain left after DEL"
done

# snat:false and a different markMasqBit: same tables as the reference (a later duplicate key wins,
# as in Go).
for extra in ', "snat":false' ', "markMasqBit":5'; do  # masqAll is newer than Debian's 1.1.1
  cfg=$(conf 1.0.0 "$extra")
  run $NS_REF "$REF_BIN/portmap" ADD "$cfg" "$T/ref.x"
  run $NS_OURS "$WEFT_BIN/portmap" ADD "$cfg" "$T/ours.x"
  compare_step x
  run $NS_REF "$REF_BIN/portmap" DEL "$cfg" "$T/ref.y"
  run $NS_OURS "$WEFT_BIN/portmap" DEL "$cfg" "$T/ours.y"
  compare_step y
done

# Validation errors: identical JSON.
for bad in '"markMasqBit":40' '"markMasqBit":1, "externalSetMarkChain":"X"'; do
  cfg=$(conf 1.0.0 ", $bad")
  run $NS_REF "$REF_BIN/portmap" ADD "$cfg" "$T/ref.err"
  run $NS_OURS "$WEFT_BIN/portmap" ADD "$cfg" "$T/ours.err"
  diff -u "$T/ref.err" "$T/ours.err" || fail "error for $bad differs"
done
echo "portmap compat: OK"
