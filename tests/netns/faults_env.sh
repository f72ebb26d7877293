#!/usr/bin/env bash
# Faults around the plugins (docs/reliability.md "Faults"), each in throw-away namespaces:
#  1. the firewall lock held by another process: /run/xtables.lock on an iptables-legacy host
#     (bridge with ipMasq, portmap) and weft's per-namespace lock on an iptables-nft host
#     (portmap) give code 11 after the bounded 10 s wait (no hang); the failed bridge ADD releases
#     its address and the runtime's DEL leaves nothing. /run/xtables.lock is a private file
#     bind-mounted over it inside a private mount namespace, so the host's own iptables users are
#     never blocked.
#  2. a full file system under dataDir (a 1 MiB tmpfs, also private): host-local and flannel
#     fail with a clear "No space left on device" error, and leave nothing half-written: no
#     reservation, no temp file, no saved delegate config.
#  3. CNI_NETNS pointing at a plain file, or at a namespace deleted before the call: ADD fails
#     with a clear error and nothing allocated; DEL of a deleted namespace succeeds and releases
#     the address.
#  4. the bridge name taken by a link that is not a bridge: a clear error, the link untouched,
#     nothing allocated.
#  5. a missing delegate: flannel without its delegate (nothing saved), bridge without its IPAM
#     plugin (clear error; the runtime's DEL then leaves nothing).
set -euo pipefail
export LC_ALL=C
WEFT_BIN=${WEFT_BIN:?}
for p in bridge portmap host-local flannel; do [ -x "$WEFT_BIN/$p" ] || { echo "missing $WEFT_BIN/$p"; exit 1; }; done
if [ "$(id -u)" != 0 ] || ! ip netns add "wfprobe$$" 2>/dev/null || ! unshare -m true; then
  echo "SKIP: needs root, network and mount namespaces"; exit 77
fi
ip netns del "wfprobe$$"

HOLDER=
cleanup() {
  [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null || true
  node_pod_cleanup
}
source "$(dirname "$0")/node_pod.bash"
node_pod f faults
trap cleanup EXIT
NSPATH=/var/run/netns/$POD
D=$T/data
mkdir -p "$D" "$T/bin-no-bridge"
ln -s "$WEFT_BIN/host-local" "$T/bin-no-bridge/host-local"

fails=0 checks=0
check() {  # check NAME CONDITION-RESULT DETAIL
  checks=$((checks + 1))
  if [ "$2" != 0 ]; then fails=$((fails + 1)); echo "FAIL [$1]: $3"; else echo "ok: $1"; fi
}
expect_err() {  # expect_err NAME CODE MSG-SUBSTRING OUTPUT RC
  local code msg
  code=$(jq -r '.code // empty' <<<"$4" 2>/dev/null || true)
  msg=$(jq -r '(.msg // "") + " " + (.details // "")' <<<"$4" 2>/dev/null || true)
st=0;   [ "$5" = 1 ] && [ "$code" = "$2" ] && [[ "$msg" == *"$3"* ]] || st=1
  check "$1" $st "rc=$5 code=$code msg=[${msg:0:300}] want code $2 and [$3]"
  echo "   -> code $code: ${msg:0:200}"
}
# cni PLUGIN CMD ID NETNS CONF [VAR=VALUE...]: sets OUT and RC (runs in the node namespace)
cni() {
  local plugin=$1 cmd=$2 id=$3 nsp=$4 conf=$5; shift 5
  set +e
  OUT=$(ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND="$cmd" CNI_CONTAINERID="$id" CNI_NETNS="$nsp" \
    CNI_IFNAME=eth0 CNI_PATH="$WEFT_BIN" "$@" "$WEFT_BIN/$plugin" <<<"$conf" 2>>"$T/stderr")
  RC=$?
  set -e
}
reservations() { find "$D" -path '*/.weft-host-local' -prune -o -type f -name '10.*' -print | wc -l; }
pod_links() { ip -n "$POD" -o link show | grep -vc ': lo:' || true; }
veths() { ip -n "$NODE" -o link show type veth | wc -l; }

BRCONF='{"cniVersion":"1.0.0","name":"fnet","type":"bridge","bridge":"fbr0","isGateway":true,"ipMasq":true,
  "ipam":{"type":"host-local","dataDir":"'$D'","subnet":"10.78.0.0/24"}}'

# --- 1. the firewall lock held by another process --------------------------------------------
# iptables-legacy hosts (`iptables` resolves to xtables-legacy-multi): libiptc under
# /run/xtables.lock. iptables-nft hosts: weft's per-namespace lock /run/weft/fw-nft-<netns inode>
# (iptables-nft itself takes no lock). Both are held by a `sleep` here.
mkdir -p "$T/legacy-bin"
ln -s /usr/sbin/xtables-legacy-multi "$T/legacy-bin/iptables"
ln -s /usr/sbin/xtables-legacy-multi "$T/legacy-bin/ip6tables"
: >"$T/xtables.lock"
[ -e /run/xtables.lock ] || : >/run/xtables.lock  # iptables creates this same empty file
mkdir -p /run/weft
NFT_LOCK=/run/weft/fw-nft-$(stat -L -c %i "/var/run/netns/$NODE")
PMCONF='{"cniVersion":"1.0.0","name":"fnet","type":"portmap",
  "runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]},
  "prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"'$NSPATH'"}],"ips":[{"interface":0,"address":"10.78.0.9/24"}]}}'
cat >"$T/lock-test.sh" <<'EOF'
set -euo pipefail
# lock_case NAME LOCKFILE PLUGIN ID PATH CONF: runs the plugin while LOCKFILE is held
lock_case() {
  ( flock 9; exec sleep 60 ) 9>>"$2" &
  local holder=$! start
  for _ in $(seq 100); do ! flock -n "$2" true && break; sleep 0.05; done
  start=$(date +%s%N)
  ip netns exec "$NODE" env -i PATH="$5" CNI_COMMAND=ADD CNI_CONTAINERID="$4" CNI_NETNS="$NSPATH" CNI_IFNAME=eth0 \
    CNI_PATH="$WEFT_BIN" "$WEFT_BIN/$3" <<<"$6" >"$T/lock-$1.out" 2>>"$T/stderr" && echo 0 >"$T/lock-$1.rc" || echo $? >"$T/lock-$1.rc"
  echo $(( ($(date +%s%N) - start) / 1000000 )) >"$T/lock-$1.ms"
  kill "$holder"
  wait "$holder" 2>/dev/null || true
}
mount --bind "$T/xtables.lock" /run/xtables.lock
lock_case legacy-bridge "$T/xtables.lock" bridge lock1 "$T/legacy-bin:$PATH" "$BRCONF"
lock_case legacy-portmap "$T/xtables.lock" portmap lock2 "$T/legacy-bin:$PATH" "$PMCONF"
lock_case nft-portmap "$NFT_LOCK" portmap lock3 "$PATH" "$PMCONF"
EOF
export NODE NSPATH WEFT_BIN T BRCONF PMCONF NFT_LOCK
timeout 120 unshare -m --propagation private bash "$T/lock-test.sh"
for c in legacy-bridge legacy-portmap nft-portmap; do
  lockfile=/run/xtables.lock; [ "$c" = nft-portmap ] && lockfile=$NFT_LOCK
  expect_err "firewall lock held ($c): code 11" 11 "timed out waiting for lock $lockfile" \
    "$(cat "$T/lock-$c.out")" "$(cat "$T/lock-$c.rc")"
  ms=$(cat "$T/lock-$c.ms")
  st=0; [ "$ms" -ge 9000 ] && [ "$ms" -lt 30000 ] || st=1
  check "firewall lock held ($c): waited the bounded 10 s (${ms} ms)" $st "waited ${ms} ms"
done
st=0; [ "$(reservations)" = 0 ] || st=1
check "firewall lock held: the failed bridge ADD released its address" $st "reservations=$(reservations)"
# As in the reference, the veth pair stays until the runtime's DEL, which must clean up fully.
cni bridge DEL lock1 "$NSPATH" "$BRCONF" PATH="$T/legacy-bin:$PATH"
st=0; [ "$RC" = 0 ] && [ "$(reservations)" = 0 ] && [ "$(pod_links)" = 0 ] && [ "$(veths)" = 0 ] || st=1
check "firewall lock held: the runtime's DEL after the failed ADD leaves nothing" $st \
  "rc=$RC out=$OUT reservations=$(reservations) pod links=$(pod_links) veths=$(veths)"
st=0; [ -z "$(ip netns exec "$NODE" iptables-legacy-save 2>/dev/null | grep -E '^-A' || true)" ] &&
  [ -z "$(ip netns exec "$NODE" iptables-save 2>/dev/null | grep -E '^-A' || true)" ] || st=1
check "firewall lock held: no rule was written" $st "$(ip netns exec "$NODE" iptables-legacy-save; ip netns exec "$NODE" iptables-save)"
[ -z "$(ip -n "$NODE" link show fbr0 2>/dev/null)" ] || ip -n "$NODE" link del fbr0

# --- 2. a full file system under dataDir ------------------------------------------------------
cat >"$T/full-test.sh" <<EOF
set -euo pipefail
mkdir -p "$T/full"
mount -t tmpfs -o size=1m,nr_inodes=64 weft-faults "$T/full"
mkdir -p "$T/full/data/flannel"
printf 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n' >"$T/full/subnet.env"
# flannel's delegate is a fake that only records a call (the real bridge must never run here)
mkdir -p "$T/fakebin"
printf '#!/bin/sh\necho called >>"$T/fake-called"\nprintf "{\\"code\\":999,\\"msg\\":\\"fake\\"}"\nexit 1\n' >"$T/fakebin/bridge"
chmod +x "$T/fakebin/bridge"
# the store directory exists (the network was used before), then the disk fills up
env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID=warm CNI_NETNS=/nonexistent CNI_IFNAME=eth0 CNI_PATH="$WEFT_BIN" \
  "$WEFT_BIN/host-local" <<<'{"cniVersion":"1.0.0","name":"full","ipam":{"type":"host-local","dataDir":"$T/full/data","subnet":"10.79.0.0/24"}}' >/dev/null
dd if=/dev/zero of="$T/full/filler" bs=4k 2>/dev/null || true
env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID=full1 CNI_NETNS=/nonexistent CNI_IFNAME=eth0 CNI_PATH="$WEFT_BIN" \
  "$WEFT_BIN/host-local" <<<'{"cniVersion":"1.0.0","name":"full","ipam":{"type":"host-local","dataDir":"$T/full/data","subnet":"10.79.0.0/24"}}' \
  >"$T/full-hl.out" 2>>"$T/stderr" && echo 0 >"$T/full-hl.rc" || echo \$? >"$T/full-hl.rc"
env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID=full2 CNI_NETNS=/nonexistent CNI_IFNAME=eth0 CNI_PATH="$T/fakebin" \
  "$WEFT_BIN/flannel" <<<'{"cniVersion":"1.0.0","name":"cbr0","type":"flannel","subnetFile":"$T/full/subnet.env","dataDir":"$T/full/data/flannel"}' \
  >"$T/full-fl.out" 2>>"$T/stderr" && echo 0 >"$T/full-fl.rc" || echo \$? >"$T/full-fl.rc"
(cd "$T/full/data" && find . -path ./.weft-host-local -prune -o -print | sort) >"$T/full-listing"
cat "$T/full/data/full/10.79.0.2" >"$T/full-warm" || true
EOF
timeout 60 unshare -m --propagation private bash "$T/full-test.sh"
expect_err "full disk: host-local ADD fails clearly" 999 "No space left on device" "$(cat "$T/full-hl.out")" "$(cat "$T/full-hl.rc")"
expect_err "full disk: flannel ADD fails clearly" 999 "No space left on device" "$(cat "$T/full-fl.out")" "$(cat "$T/full-fl.rc")"
want=$'.\n./flannel\n./full\n./full/10.79.0.2\n./full/last_reserved_ip.0\n./full/lock'
st=0; [ "$(cat "$T/full-listing")" = "$want" ] || st=1
check "full disk: nothing half-written (only the earlier reservation remains)" $st "listing: $(cat "$T/full-listing")"
st=0; [ "$(cat "$T/full-warm")" = $'warm\r\neth0' ] || st=1
check "full disk: the earlier reservation is intact" $st "$(od -c "$T/full-warm" | head -3)"
st=0; [ ! -e "$T/fake-called" ] || st=1
check "full disk: flannel never ran its delegate" $st "the delegate was called"

# --- 3. CNI_NETNS is a plain file, or a deleted namespace -------------------------------------
BR2='{"cniVersion":"1.0.0","name":"fnet","type":"bridge","bridge":"fbr0",
  "ipam":{"type":"host-local","dataDir":"'$D'","subnet":"10.78.0.0/24"}}'
: >"$T/plain-file"
cni bridge ADD nsfile "$T/plain-file" "$BR2"
expect_err "CNI_NETNS a plain file: bridge ADD fails" 999 "$T/plain-file" "$OUT" "$RC"
ip netns add "${POD}x"
GONE=/var/run/netns/${POD}x
ip netns del "${POD}x"
cni bridge ADD nsgone "$GONE" "$BR2"
expect_err "CNI_NETNS deleted: bridge ADD fails" 999 "$GONE" "$OUT" "$RC"
cni portmap ADD nsgone "$GONE" '{"cniVersion":"1.0.0","name":"fnet","type":"portmap",
  "runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]},
  "prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"'$GONE'"}],"ips":[{"interface":0,"address":"10.78.0.9/24"}]}}'
portmap_rc=$RC portmap_out=$OUT
st=0; [ "$(reservations)" = 0 ] && [ "$(veths)" = 0 ] || st=1
check "CNI_NETNS bad: nothing allocated, no veth" $st "reservations=$(reservations) veths=$(veths)"
# A pod whose namespace vanished after ADD: DEL still succeeds and releases the address.
ip netns add "${POD}y"
cni bridge ADD nsdel "/var/run/netns/${POD}y" "$BR2"
check "deleted-later pod: ADD" "$RC" "$OUT"
ip netns del "${POD}y"
cni bridge DEL nsdel "/var/run/netns/${POD}y" "$BR2"
# The kernel tears a deleted namespace down asynchronously (cleanup_net on a workqueue): the
# host end of the veth goes with it, up to a few seconds later on a busy machine.
for _ in $(seq 100); do [ "$(veths)" = 0 ] && break; sleep 0.05; done
st=0; [ "$RC" = 0 ] && [ "$(reservations)" = 0 ] && [ "$(veths)" = 0 ] || st=1
check "deleted-later pod: DEL succeeds, releases the address, no veth left" $st "rc=$RC out=$OUT reservations=$(reservations) veths=$(veths)"
echo "portmap ADD with a deleted namespace: rc=$portmap_rc $portmap_out"
ip -n "$NODE" link del fbr0 2>/dev/null || true
ip netns exec "$NODE" nft flush ruleset

# --- 4. the bridge name is taken by a link that is not a bridge (a veth) -----------------------
ip -n "$NODE" link add fbr0 type veth peer name fbr0peer
before=$(ip -n "$NODE" -d -o link show fbr0)
cni bridge ADD taken "$NSPATH" "$BR2"
expect_err "bridge name taken by a veth: ADD fails" 999 '"fbr0" already exists but is not a bridge' "$OUT" "$RC"
st=0; [ "$(ip -n "$NODE" -d -o link show fbr0)" = "$before" ] && [ "$(reservations)" = 0 ] && [ "$(veths)" = 2 ] && [ "$(pod_links)" = 0 ] || st=1
check "bridge name taken: the veth is untouched, nothing allocated" $st \
  "reservations=$(reservations) veths=$(veths) pod=$(pod_links) link=$(ip -n "$NODE" -d -o link show fbr0)"
ip -n "$NODE" link del fbr0

# --- 5. a missing delegate -------------------------------------------------------------------
mkdir -p "$T/fl"
printf 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n' >"$T/fl/subnet.env"
FL='{"cniVersion":"1.0.0","name":"cbr0","type":"flannel","subnetFile":"'$T'/fl/subnet.env","dataDir":"'$T'/fl/data"}'
cni flannel ADD nodeleg "$NSPATH" "$FL" CNI_PATH="$T/bin-no-bridge"
expect_err "flannel without its delegate: ADD fails" 999 "failed to delegate add: failed to find plugin \"bridge\" in path [$T/bin-no-bridge]" "$OUT" "$RC"
st=0; [ -z "$(ls -A "$T/fl/data" 2>/dev/null)" ] || st=1
check "flannel without its delegate: no saved config left behind" $st "$(ls -la "$T/fl/data")"
cni bridge ADD noipam "$NSPATH" "$BR2" CNI_PATH="$T/bin-empty-$$"
expect_err "bridge without its IPAM plugin: ADD fails" 999 'failed to find plugin "host-local"' "$OUT" "$RC"
# As in the reference, the veth pair made before IPAM ran stays until the runtime's DEL.
cni bridge DEL noipam "$NSPATH" "$BR2"
st=0; [ "$RC" = 0 ] && [ "$(veths)" = 0 ] && [ "$(pod_links)" = 0 ] && [ "$(reservations)" = 0 ] || st=1
check "bridge without its IPAM plugin: the runtime's DEL leaves nothing" $st "rc=$RC veths=$(veths) pod=$(pod_links)"

echo "$checks checks, $fails failures"
[ "$fails" = 0 ]
