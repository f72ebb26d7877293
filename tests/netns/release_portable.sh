#!/usr/bin/env bash
# The released plugins need nothing from the host (tests issue 17's portability goal): every
# plugin of the release tarball (scripts/release) runs chrooted into a root filesystem that holds
# only the tarball's files in /opt/cni/bin, /proc, /sys, /dev/null, /run/netns and the plugins'
# data dirs, inside a private mount namespace and a throw-away "node" network namespace.
# Phase A, a root with no library and no loader at all: each plugin answers VERSION, and
# bridge -> host-local ADD/CHECK/DEL works (no firewall). Phase B, the same root plus the host's
# iptables/nft tools and their own libraries (what a node running the reference has, since the
# reference execs them too): the shipped conf/10-flannel.conflist (flannel -> bridge ->
# host-local, then portmap with a hostPort) ADD/CHECK/DEL, checked against the kernel's links
# and the node's nat table, and bridge with ipMasq on the nftables backend (the host's nft) and on iptables-legacy (the
# host's iptables-legacy-restore). A plugin that needs a host library fails in phase A.
set -euo pipefail
export LC_ALL=C
WEFT_SRC=${WEFT_SRC:?} WEFT_BUILD=${WEFT_BUILD:?}
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root"; exit 77; }
for c in jq unshare chroot ldd; do command -v $c >/dev/null || { echo "skip: needs $c"; exit 77; }; done

S=$$
NODE=wr-node-$S POD=wr-pod-$S
T=$(mktemp -d /tmp/wr-portable.XXXXXX)
cleanup() {
  for ns in "$POD" "$NODE"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT

source "$WEFT_SRC/tests/netns/release_helpers.bash"
release_tarball
echo "tarball: $TARBALL"

source "$(dirname "$0")/../checks.bash"

ROOT=$T/root
mkdir -p "$ROOT"/{opt/cni/bin,proc,sys,dev,run/netns,run/flannel,var/lib/cni,tmp,etc}
touch "$ROOT/dev/null"
tar -C "$ROOT/opt/cni/bin" -xzf "$TARBALL"
mapfile -t PLUGINS < <(tar -tzf "$TARBALL")
((${#PLUGINS[@]} >= 4)) && ok || bad "tarball holds ${#PLUGINS[*]}"
for p in bridge host-local portmap flannel; do
  [ -x "$ROOT/opt/cni/bin/$p" ] && ok || bad "tarball lacks $p"
done

# enter: one plugin call, chrooted, in a private mount namespace (the mounts vanish with it).
cat >"$T/enter" <<EOF
#!/bin/bash
set -e
mount --rbind /proc "$ROOT/proc"
mount --rbind /sys "$ROOT/sys"
mount --bind /dev/null "$ROOT/dev/null"
mount --rbind /run/netns "$ROOT/run/netns"
exec chroot "$ROOT" "\$@"
EOF
chmod +x "$T/enter"

ip netns add "$NODE" || { echo "skip: cannot create namespaces"; exit 77; }
ip netns add "$POD"
ip -n "$NODE" link set lo up

# plugin CMD ID CONF -> OUT, RC: runs /opt/cni/bin/<type> of CONF in the node, chrooted.
plugin() {
  local type
  type=$(jq -r .type <<<"$3")
  set +e
  OUT=$(ip netns exec "$NODE" unshare -m --propagation private env -i PATH="${PLUGIN_PATH:-/usr/sbin:/usr/bin:/sbin:/bin}" \
    CNI_COMMAND="$1" CNI_CONTAINERID="$2" CNI_NETNS="/run/netns/$POD" CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin \
    "$T/enter" "/opt/cni/bin/$type" <<<"$3" 2>>"$T/stderr")
  RC=$?
  set -e
}

# --- Phase A: no loader, no library in the root.
[ ! -e "$ROOT/lib64" ] && [ ! -e "$ROOT/usr" ] && [ ! -e "$ROOT/lib" ] && ok || bad "phase A root has libraries"
for p in "${PLUGINS[@]}"; do
  set +e
  out=$(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND=VERSION unshare -m --propagation private "$T/enter" "/opt/cni/bin/$p" </dev/null 2>&1)
  rc=$?
  set -e
  [ $rc -eq 0 ] && [[ $out == *supportedVersions* ]] && ok || bad "$p VERSION in an empty root: rc $rc: $out"
done

BR='{"cniVersion":"1.0.0","name":"wr-a","type":"bridge","bridge":"wrbr0","isGateway":true,"ipMasq":false,"ipam":{"type":"host-local","subnet":"10.99.7.0/24"}}'
plugin ADD wa1 "$BR"
expect_eq "$RC" 0 "bridge ADD in an empty root ($OUT)"
ADD_A=$OUT
expect_has "$(jq -r '.ips[0].address' <<<"$ADD_A")" "10.99.7." "bridge ADD address"
expect_has "$(ip -n "$POD" -4 addr show eth0 2>&1)" "inet 10.99.7." "pod eth0 address"
expect_has "$(ip -n "$NODE" -4 addr show wrbr0 2>&1)" "inet 10.99.7.1/24" "bridge gateway address"
[ -n "$(ls "$ROOT/var/lib/cni/networks/wr-a" | grep '^10\.99\.7\.' || true)" ] && ok || bad "host-local reservation in the root's /var/lib/cni"
plugin CHECK wa1 "$(jq -c --argjson p "$ADD_A" '. + {prevResult: $p}' <<<"$BR")"
expect_eq "$RC" 0 "bridge CHECK in an empty root ($OUT)"
plugin DEL wa1 "$BR"
expect_eq "$RC" 0 "bridge DEL in an empty root ($OUT)"
expect_eq "$(ip -n "$POD" -o link show eth0 2>/dev/null || true)" "" "pod eth0 after DEL"
expect_eq "$(ip -n "$NODE" -o link show master wrbr0 2>/dev/null || true)" "" "veths after DEL"
expect_eq "$(ls "$ROOT/var/lib/cni/networks/wr-a" | grep '^10\.' || true)" "" "reservations after DEL"

# --- Phase B: the host's iptables/nft tools and their libraries, as a node has them.
ln -s usr/lib "$ROOT/lib"
ln -s usr/lib64 "$ROOT/lib64"
ln -s usr/sbin "$ROOT/sbin"
ln -s usr/bin "$ROOT/bin"
mkdir -p "$ROOT/usr/lib" "$ROOT/usr/lib64" "$ROOT/usr/sbin" "$ROOT/usr/bin"
put() { [ -e "$ROOT$1" ] || cp -L --parents "$1" "$ROOT"; }
tools=()
for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore \
  iptables-legacy iptables-legacy-save iptables-legacy-restore ip6tables-legacy ip6tables-legacy-save \
  ip6tables-legacy-restore nft; do
  path=$(command -v "$t" 2>/dev/null) || continue
  real=$(readlink -f "$path")
  put "$real"
  [ "$real" == "/usr/sbin/$t" ] || ln -sf "$(basename "$real")" "$ROOT/usr/sbin/$t"
  tools+=("$real")
done
libs=("${tools[@]}")
xt=/usr/lib/x86_64-linux-gnu/xtables
[ -d "$xt" ] && for f in "$xt"/*.so; do put "$f"; libs+=("$f"); done
for f in $(ldd "${libs[@]}" 2>/dev/null | grep -o '/[^ :]*' | sort -u); do put "$f"; done
for f in /etc/protocols /etc/services /etc/ethertypes; do [ -f "$f" ] && put "$f"; done
echo "phase B tools: $(printf "%s\n" "${tools[@]}" | sort -u | tr "\n" " ")"

CONFLIST=$(cat "$WEFT_SRC/conf/10-flannel.conflist")
printf 'FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=10.42.9.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n' >"$ROOT/run/flannel/subnet.env"
CAP='[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]'
# conf INDEX PREV CNIVERSION: what libcni gives plugin INDEX of the shipped conflist.
conf() {
  jq -c --argjson i "$1" --argjson prev "$2" --arg v "$3" --argjson cap "$CAP" '
    . as $l | $l.plugins[$i] + {name: $l.name, cniVersion: $v}
    | if $prev != null then . + {prevResult: $prev} else . end
    | if (.capabilities.portMappings == true) then . + {runtimeConfig: {portMappings: $cap}} else . end' <<<"$CONFLIST"
}
V=1.0.0
plugin ADD wb1 "$(conf 0 null $V)"
expect_eq "$RC" 0 "flannel ADD ($OUT)"
R0=$OUT
plugin ADD wb1 "$(conf 1 "$R0" $V)"
expect_eq "$RC" 0 "portmap ADD ($OUT)"
R1=$OUT
expect_has "$(jq -r '.ips[0].address' <<<"$R1")" "10.42.9." "chain result address"
expect_has "$(ip -n "$NODE" -4 addr show cni0 2>&1)" "inet 10.42.9.1/24" "cni0 gateway"
expect_has "$(ip -n "$POD" link show eth0 2>&1)" "mtu 1450" "pod MTU from subnet.env"
[ -f "$ROOT/var/lib/cni/flannel/wb1" ] && ok || bad "flannel's saved delegate config in the root's /var/lib/cni"
nat=$(ip netns exec "$NODE" iptables-save -t nat)
expect_has "$nat" "--dport 8080" "portmap DNAT rule"
expect_has "$nat" "CNI-DN-" "portmap per-container chain"
plugin CHECK wb1 "$(conf 0 "$R1" $V)"
expect_eq "$RC" 0 "flannel CHECK ($OUT)"
plugin CHECK wb1 "$(conf 1 "$R1" $V)"
expect_eq "$RC" 0 "portmap CHECK ($OUT)"
plugin DEL wb1 "$(conf 1 null $V)"
expect_eq "$RC" 0 "portmap DEL ($OUT)"
plugin DEL wb1 "$(conf 0 null $V)"
expect_eq "$RC" 0 "flannel DEL ($OUT)"
nat=$(ip netns exec "$NODE" iptables-save -t nat)
expect_lacks "$nat" "--dport 8080" "portmap rules after DEL"
expect_lacks "$nat" "CNI-DN-" "portmap chains after DEL"
expect_eq "$(ip -n "$POD" -o link show eth0 2>/dev/null || true)" "" "pod eth0 after DEL"
expect_eq "$(ip -n "$NODE" -o link show master cni0 2>/dev/null || true)" "" "veths after DEL"
[ ! -e "$ROOT/var/lib/cni/flannel/wb1" ] && ok || bad "saved delegate config after DEL"
expect_eq "$(ls "$ROOT/var/lib/cni/networks/cbr0" | grep '^10\.' || true)" "" "reservations after DEL"

# masq_cycle ID CONF WHAT LIST RULE: ADD, CHECK and DEL of the ipMasq bridge CONF as container ID;
# RULE must be in the output of LIST (a function printing WHAT's rules) after ADD, and nothing of
# ID after DEL.
masq_cycle() {
  local id=$1 conf=$2 what=$3 list=$4 rule=$5 add
  plugin ADD "$id" "$conf"
  expect_eq "$RC" 0 "bridge ADD, $what ipMasq ($OUT)"
  add=$OUT
  expect_has "$($list)" "$rule" "$what masquerade rule"
  plugin CHECK "$id" "$(jq -c --argjson p "$add" '. + {prevResult: $p}' <<<"$conf")"
  expect_eq "$RC" 0 "bridge CHECK, $what ipMasq ($OUT)"
  plugin DEL "$id" "$conf"
  expect_eq "$RC" 0 "bridge DEL, $what ipMasq ($OUT)"
  expect_lacks "$($list)" "$id" "$what rule after DEL"
}

# The nftables backend of a static build runs the host's nft (no libnftables): bridge ipMasq.
if [ -x "$ROOT/usr/sbin/nft" ]; then
  nft_rules() { ip netns exec "$NODE" nft list ruleset 2>&1; }
  masq_cycle wn1 '{"cniVersion":"1.0.0","name":"wr-n","type":"bridge","bridge":"wrbr1","isGateway":true,"ipMasq":true,"ipMasqBackend":"nftables","ipam":{"type":"host-local","subnet":"10.99.8.0/24"}}' \
    nftables nft_rules "id: wn1"
fi

# iptables-legacy (an `iptables` that is xtables-legacy-multi first on PATH): a static build
# runs the host's iptables-legacy-restore instead of libiptc.
if [ -x "$ROOT/usr/sbin/xtables-legacy-multi" ]; then
  mkdir -p "$ROOT/legacy"
  for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -s /usr/sbin/xtables-legacy-multi "$ROOT/legacy/$t"
  done
  legacy_nat() { ip netns exec "$NODE" iptables-legacy-save -t nat 2>&1; }
  PLUGIN_PATH=/legacy:/usr/sbin:/usr/bin:/sbin:/bin
  masq_cycle wl1 '{"cniVersion":"1.0.0","name":"wr-l","type":"bridge","bridge":"wrbr2","isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","subnet":"10.99.9.0/24"}}' \
    iptables-legacy legacy_nat 'id: \"wl1\"'
  unset PLUGIN_PATH
fi

if ((fails)); then
  echo "--- plugin stderr"; cat "$T/stderr" 2>/dev/null || true
fi
echo "$((checks - fails)) passed, $fails failed"
((fails == 0))
