#!/usr/bin/env bash
# weftd's rule check cost, iptables mode against nftables mode (EnableNFTables), dual stack
# with --ip-masq, inside throw-away namespaces (tests/e2e/overlay.bash): one node checks its
# rules every second (--iptables-resync 1); over 30 s the CPU time of weftd and of the children
# it waited for (iptables-save in iptables mode) is read from /proc/<pid>/stat, and printed as
# CPU milliseconds per check, together with the wall time of the first apply as weftd sees it
# (start to ready). Usage: bench/agent/firewall_modes.sh [seconds]
set -euo pipefail
WEFT_SRC=${WEFT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
WEFT_BIN=${WEFT_BIN:-$WEFT_SRC/build/bin}
REF_BIN=/usr/lib/cni
export WEFT_SRC WEFT_BIN REF_BIN
SECS=${1:-30}
source "$WEFT_SRC/tests/e2e/overlay.bash"
rc=0; ov_init || rc=$?; [ $rc -eq 0 ] || exit $rc
ov_underlay6
ov_etcd
ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }   # utime stime cutime cstime
hz=$(getconf CLK_TCK)
i=0
for mode in iptables nftables; do
  i=$((i + 1))
  nft=false; [ $mode = nftables ] && nft=true
  OV_PREFIX=/bench-$mode/network
  ov_etcdctl put "$OV_PREFIX/config" "{\"Network\":\"10.46.0.0/16\",\"EnableIPv6\":true,\"IPv6Network\":\"fd46::/56\",\"EnableNFTables\":$nft,\"Backend\":{\"Type\":\"vxlan\"}}" >/dev/null
  ov_node6 $i
  t0=$(date +%s.%N)
  ov_weftd $i --etcd-prefix "$OV_PREFIX" --ip-masq --iptables-resync 1
  ov_wait_ready $i
  t1=$(date +%s.%N)
  # the weftd process itself (ip netns exec execs it, so the pid is weftd's)
  pid=${OV_WEFTD[$i]}
  a=$(ticks "$pid"); sleep "$SECS"; b=$(ticks "$pid")
  python3 -c "print(f'$mode: start to ready {$t1 - $t0:.2f} s; {($b - $a) * 1000 / $hz / $SECS:.2f} ms CPU per check ({$SECS} checks, weftd + children)')"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
