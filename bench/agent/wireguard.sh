#!/usr/bin/env bash
# bench: the wireguard backend against VXLAN in the same run, two nodes (tests/e2e/overlay.bash):
#  - lease -> first packet: node 1 runs; node 2's weftd starts; from the moment node 2's lease is
#    in etcd to the first answered HTTP request from a pod on node 1 to a pod on node 2 (polled
#    every 10 ms; for WireGuard this includes node 1 programming the peer and the handshake);
#  - pod-to-pod TCP throughput (iperf3, 5 s) over wireguard-go and over VXLAN.
# Usage: sudo bench/agent/wireguard.sh [build/bin]   Prints a markdown table.
set -euo pipefail
WEFT_SRC=${WEFT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
WEFT_BIN=${1:-${WEFT_BIN:-$WEFT_SRC/build/bin}}
REF_BIN=${REF_BIN:-/usr/lib/cni}
export WEFT_SRC WEFT_BIN REF_BIN
command -v iperf3 >/dev/null || { echo "iperf3 not installed" >&2; exit 77; }
command -v wireguard-go >/dev/null || { echo "wireguard-go not installed" >&2; exit 77; }

run() {  # run NAME BACKEND-JSON ID: prints "NAME | first packet ms | Mbit/s"
  (
    OV_ID=$(( $$ % 10000 ))$3; OV_TMP=/tmp/wwg-bench-$OV_ID
    source "$WEFT_SRC/tests/e2e/overlay.bash"
    rc=0; ov_test_start || rc=$?; [ $rc -eq 0 ] || exit $rc
    mkdir -p /run/wireguard
    start() {
      local n=$1; mkdir -p "$OV_TMP/n$n/wgrun"
      ip netns exec "$(n "$n")" env WIREGUARD_KEY_FILE="$OV_TMP/n$n/wgkey" \
        sh -c 'mount --bind "$0" /run/wireguard && exec "$@"' "$OV_TMP/n$n/wgrun" \
        "$WEFT_BIN/weftd" --etcd-endpoints "$OV_ETCD" --iface eth0 --subnet-file "$OV_TMP/n$n/subnet.env" \
        --healthz-ip 127.0.0.1 --healthz-port 8471 >>"$OV_TMP/n$n/weftd.log" 2>&1 &
      OV_PIDS+=($!)
    }
    ov_etcd; ov_config "$2"
    ov_node 1; ov_node 2
    start 1; ov_wait_ready 1
    ipa=$(ov_pod 1 a)
    start 2
    # node 2's lease: the first key under subnets/ other than node 1's
    k1=$(sed -n 's/^FLANNEL_SUBNET=//p' "$OV_TMP/n1/subnet.env"); k1=${k1%.1/*}.0-24
    for _ in $(seq 1000); do
      k2=$(ov_etcdctl get --keys-only --prefix "$OV_PREFIX/subnets/" | grep -v "$k1" | grep . || true)
      [ -n "$k2" ] && break; sleep 0.005
    done
    t0=$(date +%s%N)
    ov_wait_ready 2
    ipb=$(ov_pod 2 b)
    ip netns exec "wp-b-$OV_ID" python3 -m http.server 8080 --bind 0.0.0.0 >/dev/null 2>&1 & OV_PIDS+=($!)
    for _ in $(seq 1000); do
      ip netns exec "wp-a-$OV_ID" curl -sf -m 0.5 -o /dev/null "http://$ipb:8080/" && break
      sleep 0.01
    done
    t1=$(date +%s%N)
    ip netns exec "wp-b-$OV_ID" iperf3 -s -1 >/dev/null 2>&1 & OV_PIDS+=($!)
    sleep 0.3
    mbps=$(ip netns exec "wp-a-$OV_ID" iperf3 -c "$ipb" -t 5 -J | jq '.end.sum_received.bits_per_second / 1e6 | floor')
    echo "| $1 | $(( (t1 - t0) / 1000000 )) | $mbps |"
  )
}
echo "| backend | lease -> first HTTP answer (ms; includes node 2's pod set-up) | pod-to-pod TCP (Mbit/s) |"
echo "|---|---|---|"
run vxlan '{"Type":"vxlan"}' 1
run wireguard-go '{"Type":"wireguard"}' 2
