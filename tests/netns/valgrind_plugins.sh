#!/usr/bin/env bash
# valgrind memcheck over one ADD, CHECK and DEL of each plugin (host-local, bridge, portmap,
# flannel), each run in a throw-away node namespace with a throw-away pod namespace, with
# --leak-check=full: any invalid access, use of uninitialised memory, definite, indirect or
# possible leak, or fd the plugin opened and left open at exit fails the test (exit code 97
# from valgrind, log printed). Each run must also succeed as a CNI call, and DEL must leave the
# host-local store empty. Delegates (host-local under bridge, bridge under flannel) run natively;
# each is checked as a plugin of its own. Skipped in a sanitizer build (valgrind cannot run ASan
# binaries; that build has its own leak checker).
set -euo pipefail
WEFT_BIN=${WEFT_BIN:?WEFT_BIN must point at the build bin dir}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v valgrind >/dev/null || { echo "SKIP: needs valgrind"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: needs jq"; exit 77; }
if [ -n "${WEFT_BUILD:-}" ] && grep -q '^WEFT_SANITIZE:BOOL=ON' "$WEFT_BUILD/CMakeCache.txt" 2>/dev/null; then
  echo "SKIP: sanitizer build (valgrind runs in the normal build's pass)"; exit 77
fi
for p in host-local bridge portmap flannel; do
  [ -x "$WEFT_BIN/$p" ] || { echo "FAIL: $WEFT_BIN/$p not built"; exit 1; }
done
fail() { echo "FAIL: $*"; exit 1; }
source "$(dirname "$0")/node_pod.bash"
node_pod v valgrind
# portmap's snat needs a route to its container address.
ip -n "$NODE" link add wvpm0 type bridge
ip -n "$NODE" addr add 10.96.0.1/24 dev wvpm0
ip -n "$NODE" link set wvpm0 up
printf 'FLANNEL_NETWORK=10.97.0.0/16\nFLANNEL_SUBNET=10.97.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n' > "$T/subnet.env"

ipam() { echo "{\"type\":\"host-local\",\"dataDir\":\"$T/ipam\",\"ranges\":[[{\"subnet\":\"$1\"}]]}"; }
conf() { # plugin -> its netconf
  case $1 in
  host-local) echo "{\"cniVersion\":\"1.1.0\",\"name\":\"vghl\",\"ipam\":$(ipam 10.95.0.0/24)}" ;;
  bridge) echo "{\"cniVersion\":\"1.1.0\",\"name\":\"vgbr\",\"type\":\"bridge\",\"bridge\":\"wvbr0\",
    \"isGateway\":true,\"ipMasq\":true,\"ipam\":$(ipam 10.95.1.0/24)}" ;;
  portmap) echo '{"cniVersion":"1.1.0","name":"vgpm","type":"portmap","snat":true,
    "runtimeConfig":{"portMappings":[{"hostPort":18090,"containerPort":80,"protocol":"tcp"}]},
    "prevResult":{"cniVersion":"1.1.0","interfaces":[{"name":"eth0","sandbox":"/x"}],
      "ips":[{"interface":0,"address":"10.96.0.5/24"}],"dns":{}}}' ;;
  flannel) echo "{\"cniVersion\":\"1.1.0\",\"name\":\"vgfl\",\"type\":\"flannel\",\"subnetFile\":\"$T/subnet.env\",
    \"dataDir\":\"$T/flannel\",\"delegate\":{\"bridge\":\"wvfl0\"},\"ipam\":{\"dataDir\":\"$T/ipam\"}}" ;;
  esac
}
vg() { # plugin command config-on-stdin; prints the plugin's stdout
  local p=$1 cmd=$2 rc=0
  ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND="$cmd" CNI_CONTAINERID="vg-$p" \
    CNI_NETNS="/var/run/netns/$POD" CNI_IFNAME=eth0 CNI_PATH="$WEFT_BIN" \
    valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible --track-fds=yes --error-exitcode=97 \
    --log-file="$T/vg.$p.$cmd" "$WEFT_BIN/$p" > "$T/out.$p.$cmd" || rc=$?
  # An fd open at exit that the plugin opened itself (not inherited) is a leak too.
  if [ $rc = 97 ] || grep -q '== ERROR SUMMARY: [1-9]' "$T/vg.$p.$cmd" ||
     grep -A1 '== Open file descriptor' "$T/vg.$p.$cmd" | grep -v -e 'Open file descriptor' -e '^--$' |
       grep -q -v 'inherited from parent'; then
    cat "$T/vg.$p.$cmd"; fail "valgrind found errors in $p $cmd"
  fi
  [ $rc = 0 ] || { cat "$T/out.$p.$cmd" "$T/vg.$p.$cmd"; fail "$p $cmd exited $rc"; }
}

runs=0
for p in host-local bridge portmap flannel; do
  c=$(conf "$p")
  vg "$p" ADD <<<"$c"
  jq -e '.ips[0].address' "$T/out.$p.ADD" >/dev/null || fail "$p ADD printed no address: $(cat "$T/out.$p.ADD")"
  # CHECK gets the ADD result as prevResult, as a runtime sends it.
  jq -c --slurpfile r "$T/out.$p.ADD" '.prevResult = $r[0]' <<<"$c" > "$T/check.$p"
  vg "$p" CHECK < "$T/check.$p"
  vg "$p" DEL <<<"$c"
  runs=$((runs + 3))
  echo "ok: $p ADD/CHECK/DEL clean under valgrind"
done
left=$(find "$T/ipam" -type f -name '10.*' -printf '%f ' 2>/dev/null || true)
[ -z "$left" ] || fail "reservations left after DEL: $left"
[ -z "$(ls -A "$T/flannel")" ] || fail "flannel saved files left: $(ls -A "$T/flannel")"
echo "PASS: $runs plugin runs under valgrind memcheck, no error, no leak, no stray fd"
