#!/usr/bin/env bash
# bridge ADD/DEL wall time and CPU time: weft vs the reference (/usr/lib/cni/bridge), in
# the same run, each with its own suite's host-local as IPAM (weft's when built, else the
# reference's; CPU includes the IPAM child; peak RSS is not measured here: a forking driver would
# report its own image), in throw-away namespaces; plus the
# kernel's own cost of deleting a veth pair (`ip link del`) as the DEL floor.
# Usage: bench/bridge/run.sh [weft-bin-dir] [iterations]
set -euo pipefail
WEFT_BIN=${1:-${WEFT_BIN:-build/bin}} N=${2:-30} REF_BIN=${REF_BIN:-/usr/lib/cni}
T=/tmp/wbb$$ NODE=wbbn$$
cleanup() { ip netns del $NODE 2>/dev/null || true; for i in $(seq 0 $N); do ip netns del wbbp$$-$i 2>/dev/null || true; done; rm -rf $T; }
trap cleanup EXIT
mkdir -p $T/ref $T/weft
ln -s "$REF_BIN/bridge" $T/ref/bridge; ln -s "$REF_BIN/host-local" $T/ref/host-local
ln -s "$(realpath "$WEFT_BIN/bridge")" $T/weft/bridge
if [ -x "$WEFT_BIN/host-local" ]; then ln -s "$(realpath "$WEFT_BIN/host-local")" $T/weft/host-local
else ln -s "$REF_BIN/host-local" $T/weft/host-local; fi
ip netns add $NODE
for i in $(seq 0 $N); do ip netns add wbbp$$-$i; done
run() {  # run <side> <cmd> <i> -> prints "wall_us user_us sys_us maxrss_kb"
  local side=$1 cmd=$2 i=$3
  local conf="{\"cniVersion\":\"1.0.0\",\"name\":\"bench\",\"type\":\"bridge\",\"bridge\":\"bb$side\",\"isGateway\":true,\"ipMasq\":${MASQ:-false},
    \"ipam\":{\"type\":\"host-local\",\"dataDir\":\"$T/data-$side\",\"ranges\":[[{\"subnet\":\"10.$([ $side = ref ] && echo 91 || echo 92).0.0/16\"}]]}}"
  ip netns exec $NODE env -i PATH="$PATH" CNI_COMMAND=$cmd CNI_CONTAINERID=b$i CNI_NETNS=/run/netns/wbbp$$-$i \
    CNI_IFNAME=eth0 CNI_PATH=$T/$side /usr/bin/python3 -c '
import os, resource, subprocess, sys, time
conf = sys.stdin.read().encode()
t = time.perf_counter()
p = subprocess.run([sys.argv[1]], input=conf, capture_output=True, close_fds=False)  # posix_spawn: no forked-python RSS
w = time.perf_counter() - t
r = resource.getrusage(resource.RUSAGE_CHILDREN)
if p.returncode: sys.exit(p.stdout.decode())
print(int(w * 1e6), int(r.ru_utime * 1e6), int(r.ru_stime * 1e6), r.ru_maxrss)' $T/$side/bridge <<<"$conf"
}
summ() { sort -n | awk '{a[NR]=$1} END {printf "median %6.2f ms  p90 %6.2f ms", a[int((NR+1)/2)]/1000, a[int(NR*0.9)]/1000}'; }
med() { sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}'; }
for side in ref weft; do run $side ADD 0 >/dev/null; run $side DEL 0 >/dev/null; done  # warm up, bridges exist
for side in ref weft; do
  : >$T/$side.add; : >$T/$side.del
  for i in $(seq 1 $N); do run $side ADD $i >>$T/$side.add; done
  for i in $(seq 1 $N); do run $side DEL $i >>$T/$side.del; done
done
# kernel floor: delete a veth pair with ip (one process, like a plugin)
: >$T/iplink
for i in $(seq 1 $N); do
  ip -n $NODE link add fl$i type veth peer name flp$i
  s=$(date +%s%N); ip -n $NODE link del fl$i; e=$(date +%s%N); echo $(((e - s) / 1000)) >>$T/iplink
done
for side in ref weft; do
  echo "$side ADD wall: $(cut -d' ' -f1 $T/$side.add | summ)  cpu(user+sys) median $(awk '{print $2+$3}' $T/$side.add | med) ms"
  echo "$side DEL wall: $(cut -d' ' -f1 $T/$side.del | summ)  cpu(user+sys) median $(awk '{print $2+$3}' $T/$side.del | med) ms"
done
echo "ip link del (veth pair): $(summ <$T/iplink)"
