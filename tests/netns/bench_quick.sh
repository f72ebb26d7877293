#!/usr/bin/env bash
# Runs `bench/run --quick` so the benchmark harness cannot rot: it must finish, clean up its
# namespaces, and produce a well-formed report (every section, a measured figure with a pairwise
# ratio in each reference-vs-weft table, no failed plugin call) and SVG plots. It asserts no timing
# goal: those are read from the report, not tested.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "bench_quick: needs root"; exit 77; }
SRC=${WEFT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${WEFT_BIN:-$SRC/build/bin}
OUT=$(mktemp -d /tmp/weft-bench-quick.XXXXXX)
cleanup() { rm -rf "$OUT"; }
trap cleanup EXIT

before=$(ip netns list | grep -c '^wb[0-9]' || true)
start=$(date +%s)
python3 "$SRC/bench/run" --quick --no-components --bin "$BIN" --out "$OUT/results.md" \
  --json "$OUT/raw.json" 2>"$OUT/log" || { cat "$OUT/log"; echo "bench_quick: bench/run failed"; exit 1; }
elapsed=$(( $(date +%s) - start ))
echo "bench/run --quick took ${elapsed}s"

fail() { echo "bench_quick: $*"; cat "$OUT/log"; exit 1; }
R=$OUT/results.md
[ -s "$R" ] || fail "no report"
for h in "# weft benchmark results" "## Floors" "## Process start and single plugins" "## Pod lifecycle" \
         "## host-local at scale" "## portmap at scale" "## CPU time and peak memory" "## Binary sizes"; do
  grep -qxF "$h" "$R" || fail "section '$h' missing"
done
# The floors were measured.
grep -Eq '^\| ip link add/del veth pair .*\| veth del \| [0-9.]+ \([0-9.]+–[0-9.]+\) \|$' "$R" || fail "veth floor row"
grep -Eq '^\| iptables-restore: .*\| fw del \| [0-9.]+ ' "$R" || fail "firewall floor row"
grep -Eq '^\| process start: .*\| static \| [0-9.]+ ' "$R" || fail "static process start floor row"
grep -Eq '^\| bridge-floor: .*\| bridge add \| [0-9.]+ ' "$R" || fail "bridge-floor row (is <build>/bench/bridge-floor built?)"
# The reference column holds a measured median with its spread in every comparison that ran.
grep -Eq '^\| host-local \| ADD \| [0-9.]+ \([0-9.]+–[0-9.]+\) \|' "$R" || fail "host-local ADD row"
grep -Eq '^\| bridge \+ host-local, ipMasq on \| DEL \| [0-9.]+ \(' "$R" || fail "bridge ipMasq DEL row"
grep -Eq '^\| portmap \(tcp\+udp mapping\), 1000 rules in nat \| ADD\+DEL \| [0-9.]+ \(' "$R" || fail "portmap scale row"
grep -Eq '^\| host-local, 1000 reservations \| ADD\+DEL \| [0-9.]+ \(' "$R" || fail "host-local scale row"
grep -Eq '^\| bridge → host-local, portmap: 10 pods in parallel \| ADD \| [0-9.]+ \(' "$R" || fail "parallel pods row"
# Every weft plugin that is built was measured, with a pairwise ratio.
for p in host-local bridge portmap; do
  if [ -x "$BIN/$p" ]; then
    grep -Eq "^\| $p VERSION \| VERSION \| [0-9.]+ .*\| [0-9.]+ .*\| \*\*[0-9.]+×\*\* " "$R" || fail "$p VERSION has no ratio"
  else
    grep -Eq "^\| $p VERSION \| VERSION \| .*\*not built\*" "$R" || fail "$p not built but not marked"
  fi
done
# No plugin call failed, on either side.
if grep -n '\*failed:' "$R"; then fail "a plugin call failed (see the cells above)"; fi
# Raw data is consistent: every measured side has as many samples as runs.
python3 - "$OUT/raw.json" <<'PY' || fail "raw data inconsistent"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["groups"], "no groups"
for g in d["groups"]:
    for side, s in g["sides"].items():
        if isinstance(s, dict):
            for m, v in s.items():
                assert len(v["wall"]) == g["runs"], (g["id"], side, m, len(v["wall"]), g["runs"])
                assert all(x > 0 for x in v["wall"]), (g["id"], side, m)
PY
# Plots: SVG files that the report links.
for p in pods reservations rules; do
  f=$OUT/plots/$p.svg
  [ -s "$f" ] && grep -q '<svg' "$f" || fail "plot $p.svg missing"
  grep -qF "(plots/$p.svg)" "$R" || fail "report does not link plots/$p.svg"
done
# Namespaces were cleaned up.
after=$(ip netns list | grep -c '^wb[0-9]' || true)
[ "$after" -le "$before" ] || fail "bench/run left namespaces behind: $(ip netns list | grep '^wb[0-9]')"
[ "$elapsed" -lt 120 ] || echo "note: --quick took ${elapsed}s, over its 2-minute budget (loaded machine?)"
echo "bench_quick: ok"
