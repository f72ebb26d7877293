#!/usr/bin/env bash
# host-local scale benchmark: one ADD+DEL pair of a new container against a store that already
# holds N reservations in a /16 (N = 100, 1,000, 10,000, 60,000), for Debian's reference
# /usr/lib/cni/host-local and weft's, measured in the same run on identical copies of the same
# state (files in the reference's format, as a node would have them).
#
# weft's first call on a store it has not seen (or that another program changed) rebuilds its
# index from a directory scan; that cost is reported separately as "first call". The steady
# state is the median of many pairs; each pair is spawn to exit of both calls, as a runtime sees
# it. For scale: spawning /bin/true twice costs about 0.5 ms on the same machine (printed below).
#
# Usage: bench/host-local/run.sh [weft-bin-dir] [sizes...]
#   env REF_BIN (default /usr/lib/cni), BENCH_DIR (default a temp dir under /var/tmp).
set -euo pipefail
export LC_ALL=C
WEFT_BIN=${1:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(100 1000 10000 60000)
REF=${REF_BIN:-/usr/lib/cni}/host-local
OURS=$WEFT_BIN/host-local
[ -x "$OURS" ] || { echo "missing $OURS (build the host-local target)"; exit 1; }
[ -x "$REF" ] || { echo "missing reference $REF (apt-get install containernetworking-plugins)"; exit 1; }
B=$(mktemp -d "${BENCH_DIR:-/var/tmp}/weft-hl-bench.XXXXXX")
trap 'rm -rf "$B"' EXIT

# Fills <dir>/bench with n reservations 10.200.0.2, ... and last_reserved_ip.0 (reference format).
make_state() {
  python3 - "$1/bench" "$2" <<'EOF'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
open(os.path.join(d, "lock"), "w").close()
last = None
for i in range(n):
    v = 2 + i
    ip = "10.200.%d.%d" % (v >> 8, v & 255)
    with open(os.path.join(d, ip), "w") as f:
        f.write("pod-%d\r\neth0" % i)
    last = ip
if last:
    with open(os.path.join(d, "last_reserved_ip.0"), "w") as f:
        f.write(last)
EOF
}

# The driver (pair.cpp) spawns the plugin like a runtime does; built on the fly.
c++ -O2 -std=c++20 -o "$B/pair" "$(dirname "$0")/pair.cpp"

# pairs BIN DATADIR PREFIX N: N ADD+DEL pairs; prints one duration (us) per line.
pairs() {
  printf '{"cniVersion":"1.0.0","name":"bench","ipam":{"type":"host-local","dataDir":"%s","subnet":"10.200.0.0/16"}}' \
    "$2" >"$B/conf.json"
  "$B/pair" "$1" "$B/conf.json" "$3" "$4"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { awk -v us="$1" 'BEGIN {printf "%.2f", us/1000}'; }

echo "host-local ADD+DEL pair, $(nproc) CPUs, $(uname -r), store on $(df -T "$B" | awk 'NR==2{print $2}')"
true_us=$(printf '{}' >"$B/empty.json"; "$B/pair" /bin/true "$B/empty.json" t 20 2>/dev/null | median || true)
echo "baseline: two spawns of /bin/true take $(ms "${true_us:-0}") ms"
echo
echo "| reservations | reference median (ms) | weft first call (ms) | weft median (ms) | speed-up |"
echo "|---:|---:|---:|---:|---:|"
for n in "${SIZES[@]}"; do
  rm -rf "$B/state" "$B/ref" "$B/weft"
  make_state "$B/state" "$n"
  cp -a "$B/state" "$B/ref"
  cp -a "$B/state" "$B/weft"
  ref_iters=20; [ "$n" -ge 10000 ] && ref_iters=5; [ "$n" -ge 60000 ] && ref_iters=3
  ref_med=$(pairs "$REF" "$B/ref" ref "$ref_iters" | median)
  first=$(pairs "$OURS" "$B/weft" weft-first 1)
  weft_med=$(pairs "$OURS" "$B/weft" weft 50 | median)
  # The stores must still hold exactly the n original reservations.
  for d in ref weft; do
    left=$(find "$B/$d/bench" -maxdepth 1 -name '10.200.*' | wc -l)
    [ "$left" -eq "$n" ] || { echo "store $d holds $left reservations, want $n" >&2; exit 1; }
  done
  printf '| %s | %s | %s | %s | %sx |\n' "$n" "$(ms "$ref_med")" "$(ms "$first")" "$(ms "$weft_med")" \
    "$(awk -v a="$ref_med" -v b="$weft_med" 'BEGIN {printf "%.0f", a/b}')"
done
