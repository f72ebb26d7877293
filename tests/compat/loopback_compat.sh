#!/usr/bin/env bash
# loopback through Debian's reference binary and through weft, each in its own throw-away node and
# pod namespaces: the same result JSON, the same lo state (flags, addresses) after ADD and after
# DEL, the same CHECK and error answers. One documented difference is normalised explicitly: the
# 1.1.1 reference prints its result in the 1.0.0 layout whatever the cniVersion (no "version"
# in ips[] for 0.3.x/0.4.0, interfaces/ips instead of ip4/ip6 for 0.1.0/0.2.0); weft converts
# to the config's version (docs/loopback.md). 1.1.0 is weft-only (the reference refuses it).
set -euo pipefail
. "$(dirname "$0")/../netns/bridge_helpers.bash"
need_root
WEFT_BIN=${WEFT_BIN:?} REF_BIN=${REF_BIN:-/usr/lib/cni}
[ -x "$REF_BIN/loopback" ] || { echo "SKIP: no reference loopback in $REF_BIN"; exit 77; }
T=$(mktemp -d /tmp/wpa-lc.XXXXXX)
NS_LIST=()
cleanup() { for n in "${NS_LIST[@]}"; do ip netns del "$n" 2>/dev/null || true; done; rm -rf "$T"; }
trap cleanup EXIT
mkns() { ip netns add "$1"; NS_LIST+=("$1"); }
CNI_PATH=/nonexistent
conf() { printf '{"cniVersion":"%s","name":"cni-loopback","type":"loopback"%s}' "$1" "${2:-}"; }
lo_state() { ip -n "$1" -j addr show lo | jq -cS '[.[0] | .flags, .operstate, [.addr_info[] | "\(.local)/\(.prefixlen)"]]'; }
# the reference's 1.0.0-layout result converted the way the spec converts it (weft's output)
spec_convert() {
  jq -cS 'if (.cniVersion|test("^0\\.[34]|^0\\.3")) then .ips |= map(.version = (if (.address|test(":")) then "6" else "4" end))
    elif (.cniVersion|test("^0\\.[12]")) then {cniVersion, dns,
      ip4: ([.ips[] | select(.address|test(":")|not) | {ip: .address}][0]),
      ip6: ([.ips[] | select(.address|test(":")) | {ip: .address}][0])} else . end'
}
N=0
# step <label> <cmd> <cniVersion> [extra-conf] [netns-override]: runs both sides, compares
step() {
  local label=$1 cmd=$2 v=$3 extra=${4:-} nsp=${5:-} side out
  for side in ref weft; do
    local B=$REF_BIN; [ $side = weft ] && B=$WEFT_BIN
    PLUGIN=$B/loopback
    set +e
    out=$(cni wpalcn$side$$ $cmd "${nsp:-/run/netns/wpalcp$side$$}" c1 eth0 "$(conf $v "$extra")")
    local rc=$?
    set -e
    out=${out//wpalcp$side$$/POD}
    if [ $side = ref ] && [ -n "$out" ] && jq -e .cniVersion >/dev/null 2>&1 <<<"$out"; then out=$(spec_convert <<<"$out"); fi
    [ -n "$out" ] && out=$(jq -cS . <<<"$out")
    echo "rc=$rc $out $(lo_state wpalcp$side$$)" >$T/$side
  done
  N=$((N + 1))
  if diff $T/ref $T/weft >/dev/null; then ok "compat $label: $(cat $T/weft)"
  else echo "- ref:  $(cat $T/ref)"; echo "+ weft: $(cat $T/weft)"; fail "compat $label differs"; fi
}
for side in ref weft; do mkns wpalcn$side$$; mkns wpalcp$side$$; done

for v in 1.0.0 0.4.0 0.3.1 0.3.0 0.2.0 0.1.0; do
  step "ADD $v" ADD $v
  step "CHECK $v" CHECK $v
  step "DEL $v" DEL $v
  step "CHECK $v after DEL" CHECK $v
done
prev='"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/x"}],"ips":[{"interface":0,"address":"10.9.0.2/24","gateway":"10.9.0.1"}],"dns":{}}'
step "ADD with prevResult" ADD 1.0.0 ",$prev"
step "ADD with prevResult 0.4.0" ADD 0.4.0 ",${prev/1.0.0/0.4.0}"
step "DEL" DEL 1.0.0
step "ADD with bad prevResult" ADD 1.0.0 ',"prevResult":{"ips":[{"address":"bogus"}]}'
step "ADD of a gone netns" ADD 1.0.0 "" /run/netns/wpa-gone$$
step "DEL of a gone netns" DEL 1.0.0 "" /run/netns/wpa-gone$$
step "CHECK of a gone netns" CHECK 1.0.0 "" /run/netns/wpa-gone$$
step "DEL without netns" DEL 1.0.0 "" ""
echo "PASS ($N steps)"
