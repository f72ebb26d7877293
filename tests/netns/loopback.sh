#!/usr/bin/env bash
# loopback in throw-away namespaces: a "node" namespace runs the plugin, the "pod" namespace gets
# lo set up. ADD's result in every spec version (lo, MAC 00:..:00, the sandbox, 127.0.0.1/8 and
# ::1/128, or the version's ip4/ip6 shape), prevResult pass-through, CHECK up and down, DEL (and
# DEL of a namespace that is gone), GC/STATUS, the own-namespace refusal (code 8) and a
# non-loopback address on lo. The root namespace is never touched.
set -euo pipefail
. "$(dirname "$0")/bridge_helpers.bash"
need_root
WEFT_BIN=${WEFT_BIN:?}
PLUGIN=$WEFT_BIN/loopback CNI_PATH=$WEFT_BIN
[ -x "$PLUGIN" ] || fail "missing $PLUGIN"
NODE=wpalnode$$ POD=wpalpod$$
cleanup() { ip netns del $POD 2>/dev/null || true; ip netns del $NODE 2>/dev/null || true; }
trap cleanup EXIT
ip netns add $NODE; ip netns add $POD
NSP=/run/netns/$POD
conf() { printf '{"cniVersion":"%s","name":"cni-loopback","type":"loopback"%s}' "$1" "${2:-}"; }
lo_up() { ip -n $POD -j link show lo | jq -e '.[0].flags | index("UP") != null' >/dev/null; }
lo_addrs() { ip -n $POD -j addr show lo | jq -c '[.[0].addr_info[] | "\(.local)/\(.prefixlen)"]'; }

! lo_up || fail "a new namespace has lo down"
want_1='{"cniVersion":"1.0.0","dns":{},"interfaces":[{"mac":"00:00:00:00:00:00","name":"lo","sandbox":"'$NSP'"}],"ips":[{"address":"127.0.0.1/8","interface":0},{"address":"::1/128","interface":0}]}'
for v in 1.1.0 1.0.0 0.4.0 0.3.1 0.3.0 0.2.0 0.1.0; do
  out=$(cni $NODE ADD $NSP c1 eth0 "$(conf $v)")
  lo_up || fail "ADD $v: lo is not up"
  [ "$(lo_addrs)" = '["127.0.0.1/8","::1/128"]' ] || fail "ADD $v: lo has $(lo_addrs)"
  case $v in
    1.*) want=$(jq -cS --arg v $v '.cniVersion = $v' <<<"$want_1") ;;
    0.3.*|0.4.0) want=$(jq -cS --arg v $v '.cniVersion = $v | .ips[0].version = "4" | .ips[1].version = "6"' <<<"$want_1") ;;
    *) want=$(jq -cnS --arg v $v '{cniVersion: $v, ip4: {ip: "127.0.0.1/8"}, ip6: {ip: "::1/128"}, dns: {}}') ;;
  esac
  [ "$(jq -cS . <<<"$out")" = "$want" ] || fail "ADD $v: result $out, want $want"
  [ "${out: -1}" = "}" ] && [[ "$out" == *$'\n    "'* ]] || fail "ADD $v: not 4-space indented without a trailing newline"
  ok "ADD $v: lo up, result $(jq -c '.ips // .ip4' <<<"$out")"
  rc=0; out=$(cni $NODE CHECK $NSP c1 eth0 "$(conf $v)") || rc=$?
  case $v in
    0.[123].*) [ $rc = 1 ] && [ "$(jq -r .msg <<<"$out")" = "config version does not allow CHECK" ] || fail "CHECK $v: $out" ;;
    *) [ $rc = 0 ] || fail "CHECK $v failed with lo up: $out" ;;
  esac
  cni $NODE DEL $NSP c1 eth0 "$(conf $v)" >/dev/null || fail "DEL $v failed"
  ! lo_up || fail "DEL $v: lo still up"
done
ok "CHECK passes with lo up (>= 0.4.0, refused below), DEL sets lo down, every version"

# prevResult is passed through unchanged (in the config's version); lo still goes up.
prev='"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","mac":"02:00:00:00:00:01","sandbox":"'$NSP'"}],"ips":[{"interface":0,"address":"10.9.0.2/24","gateway":"10.9.0.1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{"nameservers":["10.9.0.10"]}}'
out=$(cni $NODE ADD $NSP c1 eth0 "$(conf 1.0.0 ",$prev")")
[ "$(jq -cS . <<<"$out")" = "$(jq -cS .prevResult <<<"{${prev}}")" ] || fail "prevResult not passed through: $out"
lo_up || fail "ADD with prevResult: lo not up"
out=$(cni $NODE ADD $NSP c1 eth0 "$(conf 0.3.1 ",${prev/1.0.0/0.3.1}")")
[ "$(jq -c '.ips[0].version' <<<"$out")" = '"4"' ] || fail "prevResult in 0.3.1: $out"
ok "prevResult passed through"
out=$(cni $NODE ADD $NSP c1 eth0 "$(conf 1.0.0 ',"prevResult":{"ips":[{"address":"bogus"}]}')") && fail "bad prevResult accepted"
[ "$(jq -r .code <<<"$out")" = 999 ] && [[ "$(jq -r .msg <<<"$out")" == "failed to parse prevResult: could not parse prevResult: "* ]] || fail "bad prevResult: $out"
ok "bad prevResult: $(jq -r .msg <<<"$out")"

# CHECK with lo down fails with the reference's message.
cni $NODE DEL $NSP c1 eth0 "$(conf 1.0.0)" >/dev/null
out=$(cni $NODE CHECK $NSP c1 eth0 "$(conf 1.0.0)") && fail "CHECK passed with lo down"
[ "$(jq -c . <<<"$out")" = '{"code":999,"msg":"loopback interface is down"}' ] || fail "CHECK lo down: $out"
ok "CHECK with lo down: $(jq -c . <<<"$out")"

# DEL of a namespace that is gone, or without CNI_NETNS, succeeds; ADD fails with pkg/ns's text.
out=$(cni $NODE DEL /run/netns/wpa-gone-$$ c1 eth0 "$(conf 1.0.0)") || fail "DEL of a missing netns failed: $out"
out=$(cni $NODE DEL "" c1 eth0 "$(conf 1.0.0)") || fail "DEL without CNI_NETNS failed: $out"
out=$(cni $NODE ADD /run/netns/wpa-gone-$$ c1 eth0 "$(conf 1.0.0)") && fail "ADD of a missing netns succeeded"
[ "$(jq -r .msg <<<"$out")" = "failed to Statfs \"/run/netns/wpa-gone-$$\": no such file or directory" ] || fail "ADD missing netns: $out"
ok "DEL of a gone netns succeeds; ADD: $(jq -r .msg <<<"$out")"

# GC and STATUS (spec 1.1.0) have nothing to do: exit 0, no output; older versions refuse them.
for c in GC STATUS; do
  out=$(ip netns exec $NODE env -i CNI_COMMAND=$c CNI_PATH=$WEFT_BIN $PLUGIN <<<"$(conf 1.1.0)") || fail "$c: $out"
  [ -z "$out" ] || fail "$c printed $out"
  out=$(ip netns exec $NODE env -i CNI_COMMAND=$c CNI_PATH=$WEFT_BIN $PLUGIN <<<"$(conf 1.0.0)") && fail "$c 1.0.0 accepted"
  [ "$(jq -r .code <<<"$out")" = 1 ] || fail "$c 1.0.0: $out"
done
ok "GC/STATUS: silent success at 1.1.0, code 1 below"

# CNI_NETNS equal to the plugin's own namespace is refused before any change (code 8).
out=$(cni $NODE ADD /run/netns/$NODE c1 eth0 "$(conf 1.0.0)") && fail "own netns accepted"
[ "$(jq -r .code <<<"$out")" = 8 ] || fail "own netns: $out"
ip -n $NODE -j link show lo | jq -e '.[0].flags | index("UP") == null' >/dev/null || fail "own netns: the node's lo was set up"
out=$(cni $NODE ADD /run/netns/$NODE c1 eth0 "$(conf 1.0.0)" CNI_NETNS_OVERRIDE=1) || fail "CNI_NETNS_OVERRIDE=1: $out"
ok "own netns refused with code 8 (and allowed with CNI_NETNS_OVERRIDE=1)"

# A non-loopback address on lo is reported, as the reference does.
ip -n $POD addr add 10.250.0.1/32 dev lo
out=$(cni $NODE ADD $NSP c1 eth0 "$(conf 1.0.0)") && fail "non-loopback address accepted"
[ "$(jq -r .msg <<<"$out")" = 'loopback interface found with non-loopback address "10.250.0.1"' ] || fail "non-loopback: $out"
ok "non-loopback address: $(jq -r .msg <<<"$out")"
echo "PASS"
