#!/usr/bin/env bash
# cnitool end to end: a bridge + host-local + portmap conflist is added, checked, deleted and
# garbage-collected through $WEFT_BIN/cnitool, with cnitool running inside a throw-away "node"
# namespace and the pod in another one. Checks the result, the pod's interface, the host-local
# reservation, the portmap DNAT rule, the libcni result cache field by field (key order, modes,
# base64 config, cniArgs, capabilityArgs, result), exit codes, and that DEL/GC undo everything.
# Plugins come from $WEFT_BIN where built, else from $REF_BIN (the script says which).
set -euo pipefail

WEFT_BIN=${WEFT_BIN:?WEFT_BIN must point at the build bin dir}
REF_BIN=${REF_BIN:-/usr/lib/cni}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -x "$WEFT_BIN/cnitool" ] || { echo "FAIL: $WEFT_BIN/cnitool not built"; exit 1; }
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

BR=wcbr$$
NET=cnitest$$
SUBNET_OCTET=$(( $$ % 200 + 20 ))
fail() { echo "FAIL: $*"; exit 1; }
source "$(dirname "$0")/node_pod.bash"
node_pod c cnitool

# Plugin selection: ours where built.
mkdir -p "$T/bin" "$T/net.d" "$T/cache" "$T/empty"
ALL_OURS=1
for p in bridge host-local portmap; do
  if [ -x "$WEFT_BIN/$p" ]; then src=$WEFT_BIN/$p; else src=$REF_BIN/$p; ALL_OURS=0; fi
  [ -x "$src" ] || { echo "SKIP: no $p plugin in $WEFT_BIN or $REF_BIN"; exit 77; }
  ln -s "$src" "$T/bin/$p"
  echo "plugin $p: $src"
done
# Debian's reference plugins stop at 1.0.0; ours speak 1.1.0 (GC, STATUS).
if [ $ALL_OURS = 1 ]; then VER=1.1.0; else VER=1.0.0; fi

CONF=$T/net.d/10-$NET.conflist
cat > "$CONF" <<JSON
{
  "cniVersion": "$VER",
  "name": "$NET",
  "plugins": [
    {"type": "bridge", "bridge": "$BR", "isGateway": true, "ipMasq": true,
     "ipam": {"type": "host-local", "dataDir": "$T/ipam",
              "ranges": [[{"subnet": "10.$SUBNET_OCTET.7.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}
  ]
}
JSON
# A decoy list of another network, sorted first: must not be picked.
echo '{"cniVersion":"1.0.0","name":"other","plugins":[{"type":"nope"}]}' > "$T/net.d/00-other.conflist"

export NETCONFPATH=$T/net.d CNI_PATH=$T/bin WEFT_CNI_CACHE_DIR=$T/cache
export CAP_ARGS='{"portMappings":[{"hostPort":18080,"containerPort":80,"protocol":"tcp"}]}'
export CNI_ARGS='IgnoreUnknown=1;K8S_POD_NAME=web-0'
NS=/var/run/netns/$POD
CID=cnitool-$(printf '%s' "$NS" | sha512sum | cut -c1-20)
CACHE=$T/cache/results/$NET-$CID-eth0
tool() { ip netns exec "$NODE" "$WEFT_BIN/cnitool" "$@"; }

# Usage errors exit 2, operation failures exit 1.
set +e
tool >/dev/null 2>&1; [ $? = 2 ] || fail "no command: want exit 2"
tool add >/dev/null 2>&1; [ $? = 2 ] || fail "add without arguments: want exit 2"
tool add nosuchnet "$NS" >/dev/null 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q "no net configuration with name \"nosuchnet\"" "$T/err" || fail "unknown network: rc=$rc $(cat "$T/err")"
CNI_PATH=$T/empty tool add "$NET" "$NS" >/dev/null 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q 'plugin type="bridge" failed (add): failed to find plugin "bridge"' "$T/err" ||
  fail "missing plugin: rc=$rc $(cat "$T/err")"
CNI_ARGS='K8S_POD_NAME' tool add "$NET" "$NS" >/dev/null 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q 'invalid CNI_ARGS pair' "$T/err" || fail "bad CNI_ARGS: rc=$rc"
set -e
[ ! -e "$CACHE" ] || fail "failed ADDs must not write the cache"

# ADD
tool add "$NET" "$NS" > "$T/add.json" || fail "add failed"
python3 - "$T/add.json" "$SUBNET_OCTET" "$NS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ip = r["ips"][0]
assert ip["address"] == "10.%s.7.2/24" % sys.argv[2], ip
assert ip["gateway"] == "10.%s.7.1" % sys.argv[2], ip
eth0 = r["interfaces"][ip["interface"]]
assert eth0["name"] == "eth0" and eth0["sandbox"] == sys.argv[3], eth0
PY
ip -n "$POD" -4 addr show eth0 | grep -q "inet 10.$SUBNET_OCTET.7.2/24" || fail "pod has no address"
[ -e "$T/ipam/$NET/10.$SUBNET_OCTET.7.2" ] || fail "no host-local reservation"
rules() { { ip netns exec "$NODE" iptables-save -t nat 2>/dev/null; ip netns exec "$NODE" nft list ruleset 2>/dev/null; } | grep -c 18080 || true; }
[ "$(rules)" -gt 0 ] || fail "no DNAT rule for hostPort 18080 in the node namespace"

# The cache, field by field.
[ "$(stat -c %a "$CACHE")" = 600 ] || fail "cache file mode $(stat -c %a "$CACHE")"
[ "$(stat -c %a "$T/cache/results")" = 700 ] || fail "cache dir mode"
python3 - "$CACHE" "$CONF" "$T/add.json" "$CID" "$NET" "$NS" <<'PY'
import base64, json, sys
path, conf, add, cid, net, ns = sys.argv[1:]
raw = open(path).read()
c = json.loads(raw)
assert list(c.keys()) == ["kind", "containerId", "config", "ifName", "networkName", "netns",
                          "cniArgs", "capabilityArgs", "result"], list(c.keys())
assert "\n" not in raw and ": " not in raw, "not compact"
assert c["kind"] == "cniCacheV1"
assert c["containerId"] == cid, c["containerId"]
assert base64.b64decode(c["config"]) == open(conf, "rb").read(), "config is not the list bytes"
assert c["ifName"] == "eth0"
assert c["networkName"] == net
assert c["netns"] == ns
assert c["cniArgs"] == [["IgnoreUnknown", "1"], ["K8S_POD_NAME", "web-0"]], c["cniArgs"]
assert c["capabilityArgs"] == {"portMappings": [{"containerPort": 80, "hostPort": 18080, "protocol": "tcp"}]}
assert raw.index('"containerPort"') < raw.index('"hostPort"'), "capabilityArgs keys not sorted"
assert c["result"] == json.load(open(add)), "cached result differs from the ADD output"
assert list(c["result"].keys()) == sorted(c["result"].keys()), "result keys not sorted"
PY

# CHECK (the cached result is prevResult).
set +e
tool check "$NET" "$NS" 2>"$T/err"; rc=$?
set -e
if [ $rc != 0 ]; then
  # Debian's reference portmap 1.1.1 fails CHECK on a node without ip6tables chains (fixed upstream
  # later); accept that only for the reference binary, and only with the plugin named.
  if [ "$(readlink "$T/bin/portmap")" = "$REF_BIN/portmap" ] && [ $rc = 1 ] &&
     grep -q 'plugin type="portmap" failed (check)' "$T/err"; then
    echo "note: reference portmap CHECK failed as known: $(cat "$T/err")"
  else
    fail "check: rc=$rc $(cat "$T/err")"
  fi
fi
if [ $VER = 1.1.0 ]; then tool status "$NET" || fail "status"; fi
tool version "$NET" | grep -q '^bridge ' || fail "version does not list bridge"

# DEL undoes everything and drops the cache; a second DEL succeeds.
tool del "$NET" "$NS" --cache-dir "$T/cache" || fail "del failed"
[ ! -e "$CACHE" ] || fail "cache file left after DEL"
! ip -n "$POD" link show eth0 >/dev/null 2>&1 || fail "eth0 left in the pod"
[ ! -e "$T/ipam/$NET/10.$SUBNET_OCTET.7.2" ] || fail "reservation left after DEL"
[ "$(rules)" = 0 ] || fail "DNAT rule left after DEL"
tool del "$NET" "$NS" || fail "second del failed"

# GC as upstream cnitool: every cached attachment of the network is DEL'd.
CNI_IFNAME=net1 tool add "$NET" "$NS" >/dev/null || fail "re-add failed"
[ -e "$T/cache/results/$NET-$CID-net1" ] || fail "no cache for net1"
tool gc "$NET" --keep-live || fail "gc --keep-live"
[ -e "$T/cache/results/$NET-$CID-net1" ] || fail "gc --keep-live removed a live attachment"
tool gc "$NET" "$NS" || fail "gc failed"
[ ! -e "$T/cache/results/$NET-$CID-net1" ] || fail "gc left the cache entry"
! ip -n "$POD" link show net1 >/dev/null 2>&1 || fail "gc left net1 in the pod"
[ -z "$(ls "$T/ipam/$NET" | grep -v -e lock -e last_reserved)" ] || fail "gc left reservations: $(ls "$T/ipam/$NET")"
echo "PASS: cnitool add/check/del/gc (list version $VER)"
