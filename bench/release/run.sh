#!/usr/bin/env bash
# bench/release/run.sh: what the static release plugins (scripts/release, WEFT_STATIC) cost or
# save against the dynamic development build, same run, same machine:
#   start-up   `CNI_COMMAND=VERSION <plugin>`: exec, loader (dynamic only), static constructors
#   bridge     one ADD + DEL with ipMasq (veth, IPAM by exec of host-local, the masquerade chain)
#              in a throw-away node namespace, on each iptables flavour: iptables-nft (both builds
#              run one iptables-restore) and iptables-legacy (dynamic: libiptc in-process; static:
#              one iptables-legacy-restore, the reference's way), chosen by which `iptables` is
#              first on PATH, as DetectIptablesKind sees it.
# Usage: bench/release/run.sh DYNAMIC_BIN STATIC_BIN [RUNS]   (root; medians in ms)
set -euo pipefail
DYN=${1:?dynamic bin dir} STA=${2:?static bin dir} RUNS=${3:-30}
[ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "needs hyperfine" >&2; exit 1; }
S=$$ NODE=wr-bnode-$S POD=wr-bpod-$S
T=$(mktemp -d /tmp/wr-bench.XXXXXX)
cleanup() { ip netns del "$POD" 2>/dev/null || true; ip netns del "$NODE" 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT

echo "| plugin | dynamic start-up ms | static start-up ms |"
echo "|---|---|---|"
for p in host-local bridge portmap flannel; do
  [ -x "$DYN/$p" ] && [ -x "$STA/$p" ] || continue
  hyperfine -N --warmup 10 --runs $((RUNS * 5)) --export-json "$T/$p.json" \
    "env -i CNI_COMMAND=VERSION $DYN/$p" "env -i CNI_COMMAND=VERSION $STA/$p" >/dev/null 2>&1
  read -r d s < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(" ".join("%.2f" % (x["median"]*1e3) for x in r))' "$T/$p.json")
  echo "| $p | $d | $s |"
done

ip netns add "$NODE"
ip netns add "$POD"
ip -n "$NODE" link set lo up
mkdir -p "$T/legacy"
for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -s /usr/sbin/xtables-legacy-multi "$T/legacy/$t"
done
CONF='{"cniVersion":"1.0.0","name":"wr-bench","type":"bridge","bridge":"wrbb0","isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","subnet":"10.98.0.0/24","dataDir":"'$T'/ipam"}}'
# cycle BIN PATH: median ms of RUNS bridge ADD+DEL pairs
cycle() {
  local bin=$1 path=$2 i t0 t1 ts=()
  for ((i = 0; i < RUNS + 3; i++)); do
    t0=$(date +%s%N)
    for cmd in ADD DEL; do
      ip netns exec "$NODE" env -i PATH="$path" CNI_COMMAND=$cmd CNI_CONTAINERID=wrb$i CNI_NETNS=/run/netns/$POD \
        CNI_IFNAME=eth0 CNI_PATH="$bin" "$bin/bridge" <<<"$CONF" >/dev/null || { echo "bridge $cmd failed ($bin, $path)" >&2; exit 1; }
    done
    t1=$(date +%s%N)
    ((i < 3)) || ts+=($(((t1 - t0) / 1000)))
  done
  printf '%s\n' "${ts[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}
std=/usr/sbin:/usr/bin:/sbin:/bin
echo
echo "| bridge ADD+DEL (ipMasq) | dynamic ms | static ms |"
echo "|---|---|---|"
echo "| iptables-nft | $(cycle "$DYN" "$std") | $(cycle "$STA" "$std") |"
echo "| iptables-legacy | $(cycle "$DYN" "$T/legacy:$std") | $(cycle "$STA" "$T/legacy:$std") |"
echo
echo "(RUNS=$RUNS, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ))"
