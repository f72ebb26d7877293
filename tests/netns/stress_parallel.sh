#!/usr/bin/env bash
# Concurrency stress: ROUNDS (default 10) rounds of PODS (default 64) pods ADDed in parallel on one
# network (bridge + host-local + portmap, weft's plugins from $WEFT_BIN, run by weft's cnitool as a
# runtime would), then DELed in parallel, all inside a throw-away "node" namespace with one
# throw-away namespace per pod. Every round: every ADD exits 0 with a distinct address that the
# pod really holds, one reservation / veth / DNAT chain per pod exists; after the DELs no
# reservation, veth, per-container rule or chain, or cached result is left, and the node's
# ruleset equals the one after the first round (nothing accumulates). The bridge is deleted
# between rounds so that every round also races 64 "ensure bridge" calls.
# WEFT_STRESS_ROUNDS / WEFT_STRESS_PODS override the size.
set -euo pipefail
WEFT_BIN=${WEFT_BIN:?WEFT_BIN must point at the build bin dir}
ROUNDS=${WEFT_STRESS_ROUNDS:-10}
PODS=${WEFT_STRESS_PODS:-64}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for p in cnitool bridge host-local portmap; do
  [ -x "$WEFT_BIN/$p" ] || { echo "FAIL: $WEFT_BIN/$p not built"; exit 1; }
done
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

T=$(mktemp -d /tmp/weft-stress.XXXXXX)
NODE=wsnode$$
PFX=wsp$$-
BR=wsbr$$
NET=stress$$
OCT=$(( $$ % 200 + 20 ))
cleanup() {
  local i
  for ((i = 0; i < PODS; i++)); do ip netns del "$PFX$i" 2>/dev/null || true; done
  ip netns del "$NODE" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
ip netns add "$NODE" || { echo "SKIP: cannot create namespaces"; exit 77; }
ip -n "$NODE" link set lo up
for ((i = 0; i < PODS; i++)); do ip netns add "$PFX$i"; done

mkdir -p "$T/net.d" "$T/cache" "$T/out"
cat > "$T/net.d/10-$NET.conflist" <<JSON
{"cniVersion": "1.1.0", "name": "$NET", "plugins": [
  {"type": "bridge", "bridge": "$BR", "isGateway": true, "ipMasq": true,
   "ipam": {"type": "host-local", "dataDir": "$T/ipam", "ranges": [[{"subnet": "10.$OCT.64.0/24"}]]}},
  {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}]}
JSON
export NETCONFPATH=$T/net.d CNI_PATH=$WEFT_BIN WEFT_CNI_CACHE_DIR=$T/cache

tool() { # <cmd> <pod index>
  CAP_ARGS="{\"portMappings\":[{\"hostPort\":$((21000 + $2)),\"containerPort\":80,\"protocol\":\"tcp\"}]}" \
    ip netns exec "$NODE" "$WEFT_BIN/cnitool" "$1" "$NET" "/var/run/netns/$PFX$2"
}
# Runs <cmd> for every pod at once; fails listing every pod whose call did not exit 0.
parallel() {
  local cmd=$1 i pids=() bad=""
  for ((i = 0; i < PODS; i++)); do
    tool "$cmd" $i > "$T/out/$cmd.$i" 2> "$T/out/$cmd.$i.err" &
    pids+=($!)
  done
  for ((i = 0; i < PODS; i++)); do
    wait "${pids[$i]}" || bad+=" $i($(tail -c 300 "$T/out/$cmd.$i.err"))"
  done
  [ -z "$bad" ] || fail "round $r: $cmd failed for pods:$bad"
}
ruleset() { # the node's rules without counters; chain names with their policies
  local v4 v6
  v4=$(ip netns exec "$NODE" iptables-save)
  v6=$(ip netns exec "$NODE" ip6tables-save)
  sed -e '/^#/d' -e 's/ \[[0-9]*:[0-9]*\]$//' <<<"$v4$v6"
}
veths() { ip -n "$NODE" -o link show type veth | wc -l; }

baseline=""
start=$SECONDS
for ((r = 1; r <= ROUNDS; r++)); do
  parallel add
  # Distinct addresses, each held by its pod; one reservation, veth and DNAT chain per pod.
  python3 - "$T/out" "$PODS" "10.$OCT.64." <<'PY' > "$T/addrs" || fail "round $r: results ($(head -c 300 "$T/out/add.0"))"
import json, sys
out, n, pfx = sys.argv[1], int(sys.argv[2]), sys.argv[3]
addrs = []
for i in range(n):
    res = json.load(open(f"{out}/add.{i}"))
    a = res["ips"][0]["address"]
    assert a.startswith(pfx) and a.endswith("/24"), a
    addrs.append(a)
dup = {a for a in addrs if addrs.count(a) > 1}
assert not dup, f"duplicate addresses {sorted(dup)}"
for i, a in enumerate(addrs):
    print(i, a)
PY
  while read -r i a; do
    grep -q " $a " <<<"$(ip -n "$PFX$i" -o -4 addr show dev eth0)" || fail "round $r: pod $i does not hold $a"
  done < "$T/addrs"
  n=$(find "$T/ipam/$NET" -maxdepth 1 -name "10.*" | wc -l)
  [ "$n" = "$PODS" ] || fail "round $r: $n reservations after $PODS ADDs"
  [ "$(veths)" = "$PODS" ] || fail "round $r: $(veths) veths after $PODS ADDs"
  n=$(ip netns exec "$NODE" iptables-save -t nat | grep -c '^:CNI-DN-' || true)
  [ "$n" = "$PODS" ] || fail "round $r: $n DNAT chains after $PODS ADDs"
  n=$(ip netns exec "$NODE" iptables-save -t nat | grep -c -E '^:CNI-[0-9a-f]{24} ' || true)
  [ "$n" = "$PODS" ] || fail "round $r: $n masquerade chains after $PODS ADDs"
  n=$(ls "$T/cache/results" | wc -l)
  [ "$n" = "$PODS" ] || fail "round $r: $n cached results after $PODS ADDs"

  parallel del
  left=$(find "$T/ipam/$NET" -maxdepth 1 -type f ! -name lock ! -name 'last_reserved_ip.*' -printf '%f ')
  [ -z "$left" ] || fail "round $r: reservations left after DEL: $left"
  [ "$(veths)" = 0 ] || fail "round $r: veths left after DEL: $(ip -n "$NODE" -o link show type veth)"
  for ((i = 0; i < PODS; i++)); do
    ! ip -n "$PFX$i" link show eth0 >/dev/null 2>&1 || fail "round $r: eth0 left in pod $i"
  done
  [ -z "$(ls -A "$T/cache/results")" ] || fail "round $r: cached results left: $(ls "$T/cache/results")"
  rs=$(ruleset)
  if grep -E -e "10\.$OCT\.64\.[0-9]+[^/]" -e '^:CNI-DN-' -e "^:CNI-[0-9a-f]{24}" -e "dpt:21[0-9]{3}" <<<"$rs"; then
    fail "round $r: per-container rules left after DEL"
  fi
  if [ -z "$baseline" ]; then baseline=$rs
  elif [ "$rs" != "$baseline" ]; then
    diff <(echo "$baseline") <(echo "$rs") || true
    fail "round $r: the ruleset changed between rounds"
  fi
  ip -n "$NODE" link del "$BR"
  echo "round $r: $PODS parallel ADDs and DELs clean ($((SECONDS - start)) s so far)"
done
echo "PASS: $ROUNDS rounds x $PODS pods in parallel (bridge+host-local+portmap) in $((SECONDS - start)) s"
