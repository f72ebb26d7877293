#!/usr/bin/env bash
# bench/portmap/floor.cpp (bench/run's floor under portmap's ADD and DEL rows) makes the same
# firewall changes as a real portmap ADD, so "weft ÷ floor" compares like with like: one portmap
# ADD (tcp+udp mappings, snat) in a node namespace, a snapshot of everything it changed (the whole
# iptables-save without counters, route_localnet of the bridge), its DEL, then the harness's ADD
# (--keep) with the same conf and container id, which must give the same snapshot; and the
# harness's timed ADD+DEL pairs must leave what portmap's DEL leaves. The same for a TCP-only conf
# without snat. No timing is asserted. Everything happens in a namespace made here; the root
# namespace is never touched.
set -euo pipefail
. "$(dirname "$0")/bridge_helpers.bash"
need_root
WEFT_BIN=${WEFT_BIN:?} WEFT_BUILD=${WEFT_BUILD:-$WEFT_BIN/..}
PM=$WEFT_BIN/portmap FLOOR=$WEFT_BUILD/bench/portmap-floor
[ -x "$PM" ] || fail "missing $PM"
[ -x "$FLOOR" ] || fail "missing $FLOOR (the portmap-floor target)"
command -v iptables-save >/dev/null || { echo "SKIP: no iptables-save"; exit 77; }
NODE=wpfnode$$
cleanup() { ip netns del $NODE 2>/dev/null || true; }
trap cleanup EXIT
ip netns add $NODE
ip -n $NODE link set lo up
ip -n $NODE link add wpfbr type bridge
ip -n $NODE addr add 10.213.0.1/16 dev wpfbr
ip -n $NODE link set wpfbr up

conf() { # $1 = mappings, $2 = extra keys
cat <<JSON
{"cniVersion":"1.0.0","name":"pmfloor","type":"portmap"$2,
 "runtimeConfig":{"portMappings":[$1]},
 "prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/var/run/netns/x"}],
   "ips":[{"interface":0,"address":"10.213.0.5/16","gateway":"10.213.0.1"}],"dns":{}}}
JSON
}
pm() { # cmd conf
  ip netns exec $NODE env -i PATH="$PATH" CNI_COMMAND=$1 CNI_CONTAINERID=c1 CNI_NETNS=/var/run/netns/x \
    CNI_IFNAME=eth0 CNI_PATH=$WEFT_BIN "$PM" <<<"$2" >/dev/null
}
snapshot() {
  ip netns exec $NODE iptables-save | sed -E '/^#/d; s/\[[0-9]+:[0-9]+\]/[C]/'
  echo "route_localnet=$(ip netns exec $NODE cat /proc/sys/net/ipv4/conf/wpfbr/route_localnet)"
}

check() { # what conf floor-args...
  local what=$1 c=$2; shift 2
  pm ADD "$c"
  local want; want=$(snapshot)
  # the snapshot really holds the ADD's changes
  grep -q '^:CNI-DN-' <<<"$want" || fail "$what: no CNI-DN- chain in portmap's snapshot"
  grep -q -- '--dport 8080 -j DNAT --to-destination 10.213.0.5:80' <<<"$want" || fail "$what: no DNAT rule in the snapshot"
  pm DEL "$c"
  local after_del; after_del=$(snapshot)
  ip netns exec $NODE "$FLOOR" --id c1 --localnet wpfbr --keep <<<"$c"
  diff -u <(echo "$want") <(snapshot) || fail "$what: portmap-floor's ADD differs from portmap ADD (diff above)"
  ok "$what: portmap-floor's ADD makes the same iptables-save state as portmap ADD"
  pm DEL "$c"
  local line; line=$(ip netns exec $NODE "$FLOOR" --id c1 --localnet wpfbr --runs 2 <<<"$c")
  [ "$(wc -l <<<"$line")" = 2 ] || fail "$what: --runs 2 printed: $line"
  grep -Eqx '([0-9]+ ){3}[0-9]+' <<<"$(head -1 <<<"$line")" || fail "$what: timing line: $line"
  diff -u <(echo "$after_del") <(snapshot) || fail "$what: portmap-floor's DEL leaves a different state (diff above)"
  ok "$what: portmap-floor ADD+DEL leaves what portmap DEL leaves"
}

check "tcp+udp, snat" "$(conf '{"hostPort":8080,"containerPort":80,"protocol":"tcp"},
  {"hostPort":8053,"containerPort":53,"protocol":"udp"}' '')"
check "tcp only, no snat" "$(conf '{"hostPort":8080,"containerPort":80,"protocol":"tcp"}' ',"snat":false')"
