#!/usr/bin/env bash
# e2e: weftd's nftables mode (EnableNFTables, flannel §4.4) in etcd mode, dual stack, in node
# namespaces. The tables `ip flannel-ipv4` and `ip6 flannel-ipv6` are compared line for line
# with flanneld's layout written out here from the reference (comments, base chains, the six
# postrtg rules with the `saddr != <pod>` difference, the two forward rules); fully-random
# follows nft's own dry run and --ip-masq-fully-random-disable; pod -> outside traffic is really
# masqueraded (an HTTP server in the underlay sees the node's address, v4 and v6); a flushed
# chain and a deleted chain come back by the periodic resync; switching a node from iptables
# mode to nftables mode and back leaves nothing of the other mode (flanneld's FLANNEL-FWD quirk
# not copied: both chains and their jumps go); libnftables is mapped into weftd itself (no nft
# process). IPv6 only makes the ip6 table alone. The
# br_netfilter check: with /proc/sys/net/bridge hidden (a tmpfs in weftd's own mount namespace)
# iptables mode exits 1 with flanneld's message per family, nftables mode starts.
set -euo pipefail
WEFT_SRC=${WEFT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
WEFT_BIN=${WEFT_BIN:-$WEFT_SRC/build/bin}
REF_BIN=${REF_BIN:-/usr/lib/cni}
export WEFT_SRC WEFT_BIN REF_BIN
OV_ID=wnf$$
source "$WEFT_SRC/tests/e2e/overlay.bash"
rc=0; ov_test_start || rc=$?; [ $rc -eq 0 ] || exit $rc
[ -x "$WEFT_BIN/flannel" ] || fail "our flannel plugin is not built (the v6 delegate needs it)"
command -v nft >/dev/null || { echo "nft not installed" >&2; exit 77; }
command -v unshare >/dev/null || { echo "unshare not installed" >&2; exit 77; }

ov_underlay6
ov_etcd
NET4=10.46.0.0/16 NET6=fd46::/56
ipt_config() { ov_etcdctl put "$OV_PREFIX/config" "{\"Network\":\"$NET4\",\"EnableIPv6\":true,\"IPv6Network\":\"$NET6\",\"Backend\":{\"Type\":\"vxlan\"}}" >/dev/null; }
nft_config() { ov_etcdctl put "$OV_PREFIX/config" "{\"Network\":\"$NET4\",\"EnableIPv6\":true,\"IPv6Network\":\"$NET6\",\"EnableNFTables\":true,\"Backend\":{\"Type\":\"vxlan\"}}" >/dev/null; }
stop() { kill "${OV_WEFTD[$1]}"; wait "${OV_WEFTD[$1]}" 2>/dev/null || true; }
sub4() { local s; s=$(ov_subnet "$1"); echo "${s%.1/*}.0/24"; }
sub6() { local s; s=$(ov_subnet6 "$1"); echo "${s%1/64}/64"; }
nx() { ip netns exec "$(n "$1")" nft "${@:2}"; }
flannel_ipt() { ip netns exec "$(n "$1")" iptables-save; ip netns exec "$(n "$1")" ip6tables-save; }

# flanneld's tables as `nft list table` prints them (flannel §4.4): FAMILY(ip|ip6) NAME NET POD MASQ
# MULTICAST; MASQ is "masquerade fully-random" or "masquerade".
want_table() {
  local f=$1 name=$2 net=$3 pod=$4 masq=$5 mc=$6
  printf '%s\n' "table $f $name {" \
    "	comment \"rules for $name\"" \
    "	chain postrtg {" \
    "		comment \"chain to manage traffic masquerading by flannel\"" \
    "		type nat hook postrouting priority srcnat; policy accept;" \
    "		meta mark 0x00004000 return" \
    "		$f saddr $pod $f daddr $net return" \
    "		$f saddr $net $f daddr $pod return" \
    "		$f saddr != $pod $f daddr $net return" \
    "		$f saddr $net $f daddr != $mc $masq" \
    "		$f saddr != $net $f daddr $net $masq" \
    "	}" "" \
    "	chain forward {" \
    "		comment \"chain to accept flannel traffic\"" \
    "		type filter hook forward priority filter; policy accept;" \
    "		$f saddr $net accept" \
    "		$f daddr $net accept" \
    "	}" "}"
}
# check_tables N MASQ: node N's two tables are exactly flanneld's.
check_tables() {
  local got want
  got=$(nx "$1" list table ip flannel-ipv4) || fail "node $1 has no table ip flannel-ipv4"
  want=$(want_table ip flannel-ipv4 "$NET4" "$(sub4 "$1")" "$2" 224.0.0.0/4)
  [ "$got" = "$want" ] || fail "node $1 table ip flannel-ipv4:"$'\n'"$got"$'\n'"want:"$'\n'"$want"
  got=$(nx "$1" list table ip6 flannel-ipv6) || fail "node $1 has no table ip6 flannel-ipv6"
  want=$(want_table ip6 flannel-ipv6 "$NET6" "$(sub6 "$1")" "$2" ff00::/8)
  [ "$got" = "$want" ] || fail "node $1 table ip6 flannel-ipv6:"$'\n'"$got"$'\n'"want:"$'\n'"$want"
}

# ---- node 1 in iptables mode first: its chains are the leftovers nftables mode must remove ----
ipt_config
ov_node6 1; ov_node6 2
ov_weftd 1 --ip-masq --iptables-resync 1
ov_wait_ready 1
[ "$(flannel_ipt 1 | grep -c 'FLANNEL-')" -ge 12 ] || fail "iptables mode made no FLANNEL chains: $(flannel_ipt 1)"
stop 1

# ---- nftables mode, dual stack ----
nft_config
for i in 1 2; do ov_weftd $i --ip-masq --iptables-resync 1; done
for i in 1 2; do ov_wait_ready $i; done
# fully-random as nft's own dry run in node 1 answers (flanneld's masqueradeTest probe)
if nx 1 -c -f - <<<'add table ip wnfprobe
add chain ip wnfprobe t { type nat hook postrouting priority srcnat ; }
add rule ip wnfprobe t ip saddr != 127.0.0.1 masquerade fully-random'; then MASQ="masquerade fully-random"; else MASQ=masquerade; fi
for i in 1 2; do check_tables $i "$MASQ"; done
left=$(flannel_ipt 1 | grep 'FLANNEL-' || true)
[ -z "$left" ] || fail "iptables leftovers on node 1 in nftables mode: $left"
gq "starting in nftables mode" "$OV_TMP/n1/weftd.log" || fail "no nftables mode log line"
# in-process: libnftables is mapped into weftd (ip netns exec execs weftd, so the pid is its own);
# a WEFT_STATIC weftd (the release build, no dlopen of libnftables) runs nft instead, as documented
if grep -qa 'libnftables\.so\.1' "$WEFT_BIN/weftd"; then
  gq 'libnftables\.so' "/proc/${OV_WEFTD[1]}/maps" || fail "libnftables not loaded in weftd (pid ${OV_WEFTD[1]})"
else
  echo "note: WEFT_STATIC weftd: nft runs as a process, libnftables not checked" >&2
fi
pass "nftables mode: ip flannel-ipv4 and ip6 flannel-ipv6 exactly flanneld's ($MASQ); node 1's iptables chains and jumps removed"

# masquerade really applied: the underlay (outside the overlay) sees the node's address
ip netns exec "$OV_U" python3 -c '
import http.server, socket
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers()
        self.wfile.write(self.client_address[0].removeprefix("::ffff:").encode())
    def log_message(self, *a): pass
S(("::", 8090), H).serve_forever()' >/dev/null 2>&1 &
OV_PIDS+=($!)
a4=$(ov_pod 1 a); a6=$(ov_pod6 a)
[ -n "$a6" ] || fail "pod a has no IPv6 address"
seen() {  # seen URL: the client address the underlay server saw, retried for 5 s
  for _ in $(seq 50); do
    ip netns exec "wp-a-$OV_ID" curl -sf -m 1 -g "$1" && return 0
    sleep 0.1
  done
  return 1
}
[ "$(seen http://198.18.0.254:8090/)" = 198.18.0.1 ] || fail "pod $a4 -> underlay not masqueraded to 198.18.0.1: $(seen http://198.18.0.254:8090/ || true)"
[ "$(seen "http://[fd18::254]:8090/")" = fd18::1 ] || fail "pod $a6 -> underlay not masqueraded to fd18::1: $(seen "http://[fd18::254]:8090/" || true)"
pass "pod $a4 / $a6 -> underlay server: seen as 198.18.0.1 and fd18::1 (masqueraded by postrtg)"

# resync: a flushed chain and a deleted base chain come back in order
nx 1 flush chain ip flannel-ipv4 postrtg
nx 1 delete chain ip6 flannel-ipv6 forward
back=0
for _ in $(seq 100); do
  if nx 1 list chain ip flannel-ipv4 postrtg 2>/dev/null | gq 'meta mark' && nx 1 list chain ip6 flannel-ipv6 forward >/dev/null 2>&1; then back=1; break; fi
  sleep 0.05
done
[ $back = 1 ] || fail "flushed/deleted chains not restored: $(tail -5 "$OV_TMP/n1/weftd.log")"
check_tables 1 "$MASQ"
gq "nftables rules were missing" "$OV_TMP/n1/weftd.log" || fail "no log line for the restore"
pass "nft flush chain postrtg / delete chain forward: restored by the resync, tables exactly flanneld's again"

# --ip-masq-fully-random-disable: plain masquerade; node 2 restarted keeps its subnet
stop 2
ov_weftd 2 --ip-masq --iptables-resync 1 --ip-masq-fully-random-disable
ov_wait_ready 2
check_tables 2 masquerade
pass "--ip-masq-fully-random-disable: plain masquerade"

# no --ip-masq: only the forward chain (flanneld adds postrtg only with --ip-masq)
stop 2
ov_weftd 2 --iptables-resync 1
ov_wait_ready 2
nx 2 list table ip flannel-ipv4 | gq postrtg && fail "postrtg without --ip-masq: $(nx 2 list table ip flannel-ipv4)"
nx 2 list chain ip flannel-ipv4 forward | gq "ip saddr $NET4 accept" || fail "forward chain without --ip-masq: $(nx 2 list table ip flannel-ipv4)"
pass "without --ip-masq: forward chain only, the previous run's postrtg gone"
stop 2

# ---- back to iptables mode: the nftables tables go, the chains come back ----
stop 1
ipt_config
ov_weftd 1 --ip-masq --iptables-resync 1
ov_wait_ready 1
nx 1 list tables | gq flannel && fail "nft tables left in iptables mode: $(nx 1 list tables)"
ip netns exec "$(n 1)" iptables -t nat -S FLANNEL-POSTRTG | gq -- "-s $NET4 ! -d 224.0.0.0/4" || fail "iptables chain not back"
ip netns exec "$(n 1)" ip6tables -t nat -S FLANNEL-POSTRTG | gq -- "-s $NET6 ! -d ff00::/8" || fail "ip6tables chain not back"
pass "iptables mode again: tables ip flannel-ipv4 / ip6 flannel-ipv6 deleted, FLANNEL-POSTRTG back in both families"
stop 1

# ---- br_netfilter: /proc/sys/net/bridge hidden in weftd's own mount namespace ----
printf '%s\n' '#!/bin/sh' 'mount -t tmpfs none /proc/sys/net/bridge && exec "$@"' >"$OV_TMP/hide-bridge.sh"
ov_node6 3
OV_WRAP="unshare -m --propagation private sh $OV_TMP/hide-bridge.sh" ov_weftd 3
st=0; wait "${OV_WEFTD[3]}" || st=$?
[ $st = 1 ] || fail "iptables mode without br_netfilter: exit $st, want 1: $(tail -3 "$OV_TMP/n3/weftd.log")"
gq "Failed to check br_netfilter: stat /proc/sys/net/bridge/bridge-nf-call-iptables: no such file or directory" "$OV_TMP/n3/weftd.log" \
  || fail "br_netfilter message: $(tail -3 "$OV_TMP/n3/weftd.log")"
[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] || fail "the host's /proc/sys/net/bridge changed"
nft_config
OV_WRAP="unshare -m --propagation private sh $OV_TMP/hide-bridge.sh" ov_weftd 3 --ip-masq
ov_wait_ready 3
check_tables 3 "$MASQ"
stop 3
pass "br_netfilter missing: iptables mode exits 1 with flanneld's message, nftables mode starts"

# ---- IPv6 only, nftables mode: the ip6 table alone ----
OV_PREFIX=/weftnf6/network
ov_etcdctl put "$OV_PREFIX/config" '{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd47::/56","EnableNFTables":true,"Backend":{"Type":"vxlan"}}' >/dev/null
ov_node6 4
OV_WRAP="unshare -m --propagation private sh $OV_TMP/hide-bridge.sh" ov_weftd 4 --etcd-prefix "$OV_PREFIX" --ip-masq
ov_wait_ready 4
nx 4 list table ip flannel-ipv4 >/dev/null 2>&1 && fail "IPv6-only node made table ip flannel-ipv4"
got=$(nx 4 list table ip6 flannel-ipv6)
want=$(want_table ip6 flannel-ipv6 fd47::/56 "$(sub6 4)" "$MASQ" ff00::/8)
[ "$got" = "$want" ] || fail "IPv6-only table:"$'\n'"$got"$'\n'"want:"$'\n'"$want"
stop 4
ipt6() { ov_etcdctl put "$OV_PREFIX/config" '{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd47::/56","Backend":{"Type":"vxlan"}}' >/dev/null; }
ipt6
OV_WRAP="unshare -m --propagation private sh $OV_TMP/hide-bridge.sh" ov_weftd 4 --etcd-prefix "$OV_PREFIX"
st=0; wait "${OV_WEFTD[4]}" || st=$?
[ $st = 1 ] || fail "IPv6-only iptables mode without br_netfilter: exit $st"
gq "Failed to check br_netfilter: stat /proc/sys/net/bridge/bridge-nf-call-ip6tables: no such file or directory" "$OV_TMP/n4/weftd.log" \
  || fail "v6 br_netfilter message: $(tail -3 "$OV_TMP/n4/weftd.log")"
pass "IPv6 only: table ip6 flannel-ipv6 alone (nftables, no br_netfilter needed); iptables mode exits 1 naming bridge-nf-call-ip6tables"
