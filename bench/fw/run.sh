#!/usr/bin/env bash
# bench/fw: time to add and to remove one per-container chain of 4 rules (and its jump from a
# shared chain) when the nat table already holds 10,000 rules, for each of weft's firewall
# backends, against the reference's way of doing it (go-iptables: one iptables process per
# step: -N, then -C and -A for every rule and for the jump; teardown -D, -F, -X), in the same run,
# each in its own throw-away namespace.
#   legacy    weft: libiptc in-process, one commit | reference: iptables-legacy per step
#   nft       weft: one iptables-restore (the read comes from the generation record while nobody
#             else changed the ruleset) | reference: iptables (nf_tables) per step
#   nftables  weft: libnftables, list + one batch (portmap's layout; 10,000 rules in the same table)
# Prints a markdown table of medians (ms). Usage: bench/fw/run.sh [weft-bin-dir] (env RUNS, RULES)
set -euo pipefail
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
WEFT_BIN=${1:-$HERE/../../build/bin}
BUILD=$(cd "$WEFT_BIN/.." && pwd)
RUNS=${RUNS:-15}; RULES=${RULES:-10000}
[ "$(id -u)" -eq 0 ] || { echo "needs root"; exit 1; }
for a in "$BUILD/libcni/libcni_fw.a" "$BUILD/libcni/libcni_core.a"; do
  [ -f "$a" ] || { echo "missing $a (build the cni_fw target)"; exit 1; }
done
T=$(mktemp -d "${BENCH_DIR:-/tmp}/weft-fwb.XXXXXX")
cleanup() {
  # every namespace newns made (it runs in a command substitution, so a list kept there would be
  # lost with the subshell)
  for n in $(ip netns list | awk -v pid="$$" '$1 ~ "^wfwb-.*-" pid "$" {print $1}'); do
    # the iptables-nft backend's "big table" marker and state record for this namespace
    # (see restore.cpp, gencache.h)
    ino=$(stat -L -c %i "/run/netns/$n" 2>/dev/null) &&
      rm -f /run/weft/fw-big-"$ino"-ipv4 /run/weft/fw-big-"$ino"-ipv6 /run/weft/fw-nft-"$ino"
    ip netns del "$n" 2>/dev/null || true
  done
  rm -rf "$T"
}
trap cleanup EXIT
g++ -std=c++20 -O2 -I"$HERE/../../libcni/include" -I/usr/include/nftables "$HERE/fwbench.cpp" -o "$T/fwbench" \
  "$BUILD/libcni/libcni_fw.a" "$BUILD/libcni/libcni_core.a" /usr/lib/x86_64-linux-gnu/libnettle.a \
  -lip4tc -lip6tc -lnetfilter_conntrack -ldl -lpthread

newns() { local n=wfwb-$1-$$; ip netns add "$n"; echo "$n"; }
# RULES unrelated rules in nat (chain FILL, jumped to from PREROUTING), loaded in one restore.
fill_ipt() { # ns save-flavour
  python3 - "$RULES" >"$T/fill" <<'PY'
import sys
n = int(sys.argv[1])
print("*nat\n:FILL - [0:0]\n-A PREROUTING -j FILL")
for i in range(n):
    print("-A FILL -s 10.%d.%d.%d/32 -p tcp -m tcp --dport 80 -j RETURN" % (1 + i // 65536, (i // 256) % 256, i % 256))
print("COMMIT")
PY
  ip netns exec "$1" "$2" --noflush <"$T/fill"
}
fill_nft() {
  python3 - "$RULES" >"$T/fill.nft" <<'PY'
import sys
n = int(sys.argv[1])
print("add table ip cni_hostport\nadd chain ip cni_hostport hostports")
for i in range(n):
    print("add rule ip cni_hostport hostports ip daddr 10.%d.%d.%d tcp dport 80 dnat to 10.200.0.1:80 comment \"other-%d\"" % (1 + i // 65536, (i // 256) % 256, i % 256, i))
PY
  ip netns exec "$1" nft -f "$T/fill.nft"
}

# The reference's steps for one chain, each a process (go-iptables appends --wait).
ref_add() { # ns iptables-binary i
  local ns=$1 ipt=$2 c=BENCH-DN-$3
  ip netns exec $ns $ipt -t nat -S $c 1 --wait >/dev/null 2>&1 || ip netns exec $ns $ipt -t nat -N $c --wait
  for r in "-p tcp --dport 8080 -s 10.99.0.2/24 -j MARK --set-xmark 0x2000/0x2000" \
           "-p tcp --dport 8080 -s 127.0.0.1 -j MARK --set-xmark 0x2000/0x2000" \
           "-p tcp --dport 8080 -j DNAT --to-destination 10.99.0.2:80" \
           "-p tcp --dport 8081 -j DNAT --to-destination 10.99.0.2:81"; do
    ip netns exec $ns $ipt -t nat -C $c $r --wait 2>/dev/null || ip netns exec $ns $ipt -t nat -A $c $r --wait
  done
  local e=(-m comment --comment "bench $3" -m multiport -p tcp --destination-ports 8080,8081 -j $c)
  ip netns exec $ns $ipt -t nat -C BENCH-HOSTPORT-DNAT "${e[@]}" --wait 2>/dev/null || \
    ip netns exec $ns $ipt -t nat -A BENCH-HOSTPORT-DNAT "${e[@]}" --wait
}
ref_del() {
  local ns=$1 ipt=$2 c=BENCH-DN-$3
  ip netns exec $ns $ipt -t nat -D BENCH-HOSTPORT-DNAT -m comment --comment "bench $3" -m multiport -p tcp --destination-ports 8080,8081 -j $c --wait
  ip netns exec $ns $ipt -t nat -F $c --wait
  ip netns exec $ns $ipt -t nat -X $c --wait
}
now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) printf "%.1f", a[(NR+1)/2]; else printf "%.1f", (a[NR/2]+a[NR/2+1])/2}'; }

echo "| backend | weft add (ms) | weft remove (ms) | reference add (ms) | reference remove (ms) | speed-up add+remove |"
echo "|---|---|---|---|---|---|"
for backend in legacy nft nftables; do
  ns=$(newns $backend)
  case $backend in
    legacy) save=iptables-legacy-restore; ipt=iptables-legacy ;;
    nft) save=iptables-restore; ipt=iptables ;;
    nftables) ipt="" ;;
  esac
  if [ -n "$ipt" ]; then
    fill_ipt "$ns" "$save"
    ip netns exec $ns $ipt -t nat -N BENCH-HOSTPORT-DNAT
  else
    fill_nft "$ns"
  fi
  ip netns exec "$ns" "$T/fwbench" $backend "$RUNS" >"$T/weft.$backend"
  wa=$(awk '{print $1}' "$T/weft.$backend" | median); wr=$(awk '{print $2}' "$T/weft.$backend" | median)
  if [ -n "$ipt" ]; then
    : >"$T/ref.$backend"
    for i in $(seq 1 "$RUNS"); do
      t0=$(now); ref_add $ns $ipt $i; t1=$(now); ref_del $ns $ipt $i; t2=$(now)
      echo "$(( (t1 - t0) / 1000 )) $(( (t2 - t1) / 1000 ))" >>"$T/ref.$backend"
    done
    ra=$(awk '{print $1/1000}' "$T/ref.$backend" | median); rr=$(awk '{print $2/1000}' "$T/ref.$backend" | median)
    x=$(awk -v a="$wa" -v b="$wr" -v c="$ra" -v d="$rr" 'BEGIN {printf "%.1fx", (c+d)/(a+b)}')
  else
    ra="n/a (knftables runs \`nft -f -\`)"; rr="n/a"; x="-"
  fi
  echo "| $backend | $wa | $wr | $ra | $rr | $x |"
done
echo
echo "$RULES unrelated rules in the table, $RUNS runs each, medians; each backend in its own namespace."
