#!/usr/bin/env bash
# portmap interop on one iptables-nft table: weft writes its rules in-process (one nf_tables
# batch, libcni/src/fw/nftwrite.h) and the reference writes them through iptables; each must
# clean up after the other. In one throw-away "node" namespace (v4+v6, snat, tcp+udp, 17 ports
# for multiport chunking, a hostIP, conditions): reference ADD then weft DEL, and weft ADD then
# reference DEL, must leave exactly the tables a reference ADD+DEL leaves; weft's ADD must give
# the reference's iptables-save text and weft's CHECK must pass on the reference's rules; and with the tables in place, weft's ADD and DEL must not start iptables-restore
# (strace), i.e. really be the in-process path.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "needs root"; exit 77; }
WEFT_BIN=${WEFT_BIN:?}; REF_BIN=${REF_BIN:-/usr/lib/cni}
[ -x "$REF_BIN/portmap" ] || { echo "reference portmap missing"; exit 77; }
[ -x "$WEFT_BIN/portmap" ] || { echo "weft portmap not built"; exit 1; }
command -v strace >/dev/null || { echo "strace missing"; exit 77; }
case "$(readlink -f "$(command -v iptables)")" in *nft*) ;; *) echo "iptables is not iptables-nft"; exit 77 ;; esac
S=$$; T=$(mktemp -d /tmp/weft-pmi.XXXXXX)
NS=wpmi-$S
cleanup() { ip netns del $NS 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

ip netns add $NS
ip -n $NS link set lo up
ip -n $NS link add pmibr0 type bridge
ip -n $NS addr add 10.199.0.1/24 dev pmibr0
ip -n $NS addr add fd99::1/64 dev pmibr0 nodad
ip -n $NS link set pmibr0 up

ports17=$(python3 -c 'import json; print(",".join(json.dumps({"hostPort":20000+i,"containerPort":i+1,"protocol":"tcp"}) for i in range(17)))')
cfg=$(cat <<JSON
{"cniVersion":"1.0.0","name":"pminet","type":"portmap","snat":true,"conditionsV4":["!","-i","lo+"],
 "runtimeConfig":{"portMappings":[
  {"hostPort":8080,"containerPort":80,"protocol":"tcp"},
  {"hostPort":8081,"containerPort":81,"protocol":"udp"},
  {"hostPort":9090,"containerPort":90,"protocol":"tcp","hostIP":"192.168.55.1"},
  $ports17]},
 "prevResult":{"cniVersion":"1.0.0",
  "interfaces":[{"name":"eth0","mac":"02:00:00:00:00:02","sandbox":"/var/run/netns/pod"}],
  "ips":[{"interface":0,"address":"10.199.0.2/24","gateway":"10.199.0.1"},
         {"interface":0,"address":"fd99::2/64","gateway":"fd99::1"}],
  "dns":{}}}
JSON
)

run() { # bin command out [strace-log]
  local bin=$1 cmd=$2 out=$3 trace=${4:-}
  local pre=()
  # (LeakSanitizer cannot run under ptrace: an ASan build's traced calls go without the leak
  # check, the untraced ones keep it)
  [ -n "$trace" ] && pre=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq -e trace=execve -o "$trace")
  ip netns exec $NS env CNI_COMMAND=$cmd CNI_CONTAINERID=ctrA CNI_NETNS=/var/run/netns/pod \
    CNI_IFNAME=eth0 CNI_PATH=/nonexistent "${pre[@]}" $bin <<<"$cfg" >"$out" 2>"$out.err" ||
    { cat "$out.err" "$out"; fail "$bin $cmd failed"; }
}
dump() { ip netns exec $NS iptables-save -t nat | grep -v '^#'; echo ---; ip netns exec $NS ip6tables-save -t nat | grep -v '^#'; }

# What the reference leaves: ADD then DEL (the shared chains stay, as the reference keeps them).
run "$REF_BIN/portmap" ADD "$T/r1"
dump >"$T/ref.added"
run "$REF_BIN/portmap" DEL "$T/r2"
dump >"$T/ref.deleted"
grep -q 'CNI-DN-' "$T/ref.added" || fail "reference ADD wrote no CNI-DN chain"
! grep -q 'CNI-DN-' "$T/ref.deleted" || fail "reference DEL left a CNI-DN chain"

# reference ADD, weft CHECK and DEL (in-process: the tables exist now)
run "$REF_BIN/portmap" ADD "$T/r3"
run "$WEFT_BIN/portmap" CHECK "$T/w0"
run "$WEFT_BIN/portmap" DEL "$T/w1" "$T/w1.trace"
! grep -q 'restore' "$T/w1.trace" || { cat "$T/w1.trace"; fail "weft DEL ran iptables-restore"; }
dump >"$T/mixed1"
diff -u "$T/ref.deleted" "$T/mixed1" || fail "reference ADD + weft DEL left other tables than the reference's ADD + DEL"

# weft ADD (same text as the reference's), reference DEL (the reference's own CHECK fails on a
# dual-stack prevResult whatever wrote the rules: it looks for the v4 rules in the v6 table)
run "$WEFT_BIN/portmap" ADD "$T/w2" "$T/w2.trace"
! grep -q 'restore' "$T/w2.trace" || { cat "$T/w2.trace"; fail "weft ADD ran iptables-restore"; }
dump >"$T/ours.added"
diff -u "$T/ref.added" "$T/ours.added" || fail "weft ADD wrote other tables than the reference's ADD"
run "$REF_BIN/portmap" DEL "$T/r5"
dump >"$T/mixed2"
diff -u "$T/ref.deleted" "$T/mixed2" || fail "weft ADD + reference DEL left other tables than the reference's ADD + DEL"
echo "portmap nft interop: OK"
