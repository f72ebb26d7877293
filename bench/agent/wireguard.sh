#!/usr/bin/env bash
# bench: the wireguard backend against VXLAN in the same run, two nodes (tests/e2e/overlay.bash):
#  - lease -> first packet: node 1 runs; node 2's weftd starts; from the moment node 2's lease is
#    in etcd to the first answered HTTP request from a pod on node 1 to a pod on node 2 (polled
#    every 10 ms; for WireGuard this includes node 1 programming the peer and the handshake);
#  - pod-to-pod TCP throughput (iperf3, 5 s) over wireguard-go and over VXLAN;
#  - the same for vxlan and wireguard in dual stack (wireguard Mode separate; an IPv4+IPv6
#    underlay), measured to the pod's IPv6 address (flannel-v6.1 / flannel-wg-v6 over IPv6).
# Usage: sudo bench/agent/wireguard.sh [build/bin]   Prints a markdown table.
set -euo pipefail
WEFT_SRC=${WEFT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
WEFT_BIN=${1:-${WEFT_BIN:-$WEFT_SRC/build/bin}}
REF_BIN=${REF_BIN:-/usr/lib/cni}
export WEFT_SRC WEFT_BIN REF_BIN
command -v iperf3 >/dev/null || echo "iperf3 not installed: no throughput column" >&2
command -v wireguard-go >/dev/null || { echo "wireguard-go not installed" >&2; exit 77; }

run() {  # run NAME BACKEND-JSON ID [dual]: prints "NAME | first packet ms | Mbit/s"
  (
    OV_ID=$(( $$ % 10000 ))$3; OV_TMP=/tmp/wwg-bench-$OV_ID
    source "$WEFT_SRC/tests/e2e/overlay.bash"
    source "$WEFT_SRC/tests/e2e/wireguard.bash"   # wg_weftd: weftd with its key file and /run/wireguard
    wg_ns() { n "$1"; }
    wg_dir() { echo "$OV_TMP/n$1"; }
    wg_track() { OV_PIDS+=("$1"); }
    rc=0; ov_test_start || rc=$?; [ $rc -eq 0 ] || exit $rc
    mkdir -p /run/wireguard
    ov_etcd
    if [ "${4:-}" = dual ]; then
      ov_underlay6
      ov_etcdctl put "$OV_PREFIX/config" "{\"Network\":\"$OV_NET\",\"EnableIPv6\":true,\"IPv6Network\":\"fd42::/56\",\"Backend\":$2}" >/dev/null
      ov_node6 1; ov_node6 2
    else
      ov_config "$2"; ov_node 1; ov_node 2
    fi
    wg_weftd 1; ov_wait_ready 1
    ipa=$(ov_pod 1 a)
    wg_weftd 2
    # node 2's lease: the first key under subnets/ other than node 1's
    k1=$(sed -n 's/^FLANNEL_SUBNET=//p' "$OV_TMP/n1/subnet.env"); k1=${k1%.1/*}.0-24
    for _ in $(seq 1000); do
      k2=$(ov_etcdctl get --keys-only --prefix "$OV_PREFIX/subnets/" | grep -v "$k1" | grep . || true)
      [ -n "$k2" ] && break; sleep 0.005
    done
    t0=$(date +%s%N)
    ov_wait_ready 2
    ipb=$(ov_pod 2 b)
    [ "${4:-}" = dual ] && ipb="[$(ov_pod6 b)]"
    ip netns exec "wp-b-$OV_ID" python3 -m http.server 8080 --bind :: >/dev/null 2>&1 & OV_PIDS+=($!)
    for _ in $(seq 1000); do
      ip netns exec "wp-a-$OV_ID" curl -gsf -m 0.5 -o /dev/null "http://$ipb:8080/" && break
      sleep 0.01
    done
    t1=$(date +%s%N)
    mbps="n/a"
    command -v iperf3 >/dev/null || { echo "| $1 | $(( (t1 - t0) / 1000000 )) | $mbps |"; exit 0; }
    ip netns exec "wp-b-$OV_ID" iperf3 -s -1 >/dev/null 2>&1 & OV_PIDS+=($!)
    sleep 0.3
    mbps=$(ip netns exec "wp-a-$OV_ID" iperf3 -c "$(tr -d '[]' <<<"$ipb")" -t 5 -J | jq '.end.sum_received.bits_per_second / 1e6 | floor')
    echo "| $1 | $(( (t1 - t0) / 1000000 )) | $mbps |"
  )
}
echo "| backend | lease -> first HTTP answer (ms; includes node 2's pod set-up) | pod-to-pod TCP (Mbit/s) |"
echo "|---|---|---|"
run vxlan '{"Type":"vxlan"}' 1
run wireguard-go '{"Type":"wireguard"}' 2
run "vxlan dual stack (v6)" '{"Type":"vxlan"}' 3 dual
run "wireguard-go dual stack (v6)" '{"Type":"wireguard"}' 4 dual
