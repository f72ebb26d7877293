#!/usr/bin/env bash
# e2e: etcd + three weftd nodes on one underlay bridge, pods through the CNI chain, HTTP across
# the VXLAN overlay, a capture of UDP 8472, a lost lease race retried, watch reconnect and resync
# after a compaction, lease removal and start-up cleanup on the peers, the FDB entry of a peer's
# old MAC removed, /readyz reasons, /metrics counters that move with the events, and a weftd
# restart that keeps pod traffic flowing (measured gap < 1 s).
set -euo pipefail
source "$(dirname "$0")/overlay.bash"
ov_test_start || exit $?

ov_etcd
ov_config
for i in 1 2 3; do ov_node $i; done
# fake N (N in 101..199, above the first 100 subnets weftd picks from): the lease value of a
# node 198.18.0.N that does not exist, VtepMAC fmac N.
fmac() { echo "0e:00:00:00:01:$(($1 - 100))"; }
fake() {
  echo "{\"PublicIP\":\"198.18.0.$1\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"$(fmac "$1")\"}}"
}
remembers() { printf 'FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=%s\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n' "$2" >"$OV_TMP/n$1/subnet.env"; }
# nodes 1 and 2 both remember 10.42.200.0/24 from an old subnet.env: exactly one gets it back.
remembers 1 10.42.200.1/24; remembers 2 10.42.200.1/24
# node 3 remembers 10.42.177.0/24 and talks to etcd through tests/e2e/etcd_proxy.py, which puts a
# lease of another node on that key right before node 3's create transaction: node 3 always loses
# the race (flanneld exits 1 there) and must retry with another subnet.
remembers 3 10.42.177.1/24
ip netns exec "$(n 3)" python3 "$WEFT_SRC/tests/e2e/etcd_proxy.py" 23790 "$OV_ETCD" \
  --steal-first-create "$(fake 177)" --log "$OV_TMP/proxy.log" &
proxy=$!; OV_PIDS+=($proxy)
for _ in $(seq 100); do gq listening "$OV_TMP/proxy.log" 2>/dev/null && break; sleep 0.05; done
for i in 1 2; do ov_weftd $i --ip-masq; done
OV_ETCD=http://127.0.0.1:23790 ov_weftd 3 --ip-masq
for i in 1 2 3; do ov_wait_ready $i; done
pass "three weftd ready"
s1=$(ov_subnet 1); s2=$(ov_subnet 2)
[ "$s1" != "$s2" ] || fail "nodes 1 and 2 share $s1"
[ "$s1" = 10.42.200.1/24 ] || [ "$s2" = 10.42.200.1/24 ] || fail "neither node reused 10.42.200.0/24 ($s1, $s2)"
pass "previous subnet from subnet.env reused by exactly one node"
gq "stole $OV_PREFIX/subnets/10.42.177.0-24" "$OV_TMP/proxy.log" || fail "proxy did not take 10.42.177.0/24: $(cat "$OV_TMP/proxy.log")"
gq "lost the race for 10.42.177.0/24 (attempt 1), retrying" "$OV_TMP/n3/weftd.log" || fail "node 3 did not report the lost race"
[ "$(ov_subnet 3)" != 10.42.177.1/24 ] || fail "node 3 holds the subnet it lost"
kill -0 "${OV_WEFTD[3]}" || fail "weftd on node 3 exited after the lost race"
[ "$(ov_etcdctl get --print-value-only "$OV_PREFIX/subnets/10.42.177.0-24")" = "$(fake 177)" ] || fail "the race winner's lease was overwritten"
pass "lost lease race retried: node 3 took $(ov_subnet 3)"
ov_etcdctl del "$OV_PREFIX/subnets/10.42.177.0-24" >/dev/null

# subnet.env exactly as flanneld writes it
for i in 1 2 3; do
  env=$OV_TMP/n$i/subnet.env
  [ "$(sed -n 1p "$env")" = "FLANNEL_NETWORK=10.42.0.0/16" ] || fail "subnet.env line 1: $(cat "$env")"
  sed -n 2p "$env" | gq -xE 'FLANNEL_SUBNET=10\.42\.[0-9]+\.1/24' || fail "subnet.env line 2"
  [ "$(sed -n 3,4p "$env")" = $'FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true' ] || fail "subnet.env MTU/IPMASQ"
  [ "$(wc -l <"$env")" -eq 4 ] || fail "subnet.env has extra lines"
  [ "$(stat -c %a "$env")" = 644 ] || fail "subnet.env mode"
done
pass "subnet.env format"

# leases in etcd, byte-for-byte flanneld's value
for i in 1 2 3; do
  key="$OV_PREFIX/subnets/$(net_of $i | tr / -)"
  val=$(ov_etcdctl get --print-value-only "$key")
  mac=$(ip -n "$(n $i)" -j link show flannel.1 | jq -r '.[0].address')
  [ "$val" = "{\"PublicIP\":\"198.18.0.$i\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"$mac\"}}" ] ||
    fail "lease value of node $i: $val"
  ov_etcdctl get -w json "$key" | jq -e '.kvs[0].lease > 0' >/dev/null || fail "lease $key has no etcd lease"
done
pass "lease keys/values and etcd leases"

# the VXLAN device as flanneld creates it
ip -n "$(n 1)" -d -j link show flannel.1 | jq -e '.[0].mtu == 1450 and .[0].linkinfo.info_data.id == 1
   and .[0].linkinfo.info_data.local == "198.18.0.1" and .[0].linkinfo.info_data.port == 8472
   and (.[0].linkinfo.info_data.learning | not)' >/dev/null || fail "flannel.1 attributes"
ip -n "$(n 1)" -4 addr show dev flannel.1 | gq "inet $(gw_of 1)/32" || fail "flannel.1 address"
pass "flannel.1 device and /32 address"

# per-peer ARP, FDB and onlink route on every node
for i in 1 2 3; do for j in 1 2 3; do
  [ $i = $j ] && continue
  ov_wait_route $i "$(net_of $j)"
  macj=$(ip -n "$(n $j)" -j link show flannel.1 | jq -r '.[0].address')
  ip -n "$(n $i)" route show "$(net_of $j)" | gq "via $(gw_of $j) dev flannel.1 onlink" || fail "route $i->$j"
  ip -n "$(n $i)" neigh show dev flannel.1 | gq "$(gw_of $j) lladdr $macj PERMANENT" || fail "arp $i->$j"
  bridge -n "$(n $i)" fdb show dev flannel.1 | gq "$macj dst 198.18.0.$j self permanent" || fail "fdb $i->$j"
done; done
pass "routes, ARP and FDB entries for every peer"

# flanneld's iptables chains
ip netns exec "$(n 1)" iptables -t nat -S FLANNEL-POSTRTG | gq -- "-s $(net_of 1) -d 10.42.0.0/16 -m comment --comment \"flanneld masq\" -j RETURN" ||
  fail "FLANNEL-POSTRTG: $(ip netns exec "$(n 1)" iptables -t nat -S FLANNEL-POSTRTG 2>&1)"
ip netns exec "$(n 1)" iptables -S FLANNEL-FWD | gq -- '-A FLANNEL-FWD -s 10.42.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT' ||
  fail "FLANNEL-FWD"
ip netns exec "$(n 1)" iptables -t nat -D FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN
for _ in $(seq 100); do
  ip netns exec "$(n 1)" iptables -t nat -S FLANNEL-POSTRTG 2>/dev/null | gq 'mark 0x4000/0x4000' && break; sleep 0.1
done
ip netns exec "$(n 1)" iptables -t nat -S FLANNEL-POSTRTG | sed -n 2p | gq 'mark 0x4000/0x4000' || fail "deleted masq rule not restored in order"
pass "FLANNEL-POSTRTG / FLANNEL-FWD present and re-created"

# pods through the CNI chain, HTTP between nodes
[ "$(ov_cni_path)" = "$WEFT_BIN" ] || echo "note: bridge/host-local/portmap from $REF_BIN (ours not built)"
[ -x "$WEFT_BIN/flannel" ] || echo "note: flannel plugin not built; its delegate conf is built by ov_flannel_emulate"
ip1=$(ov_pod 1 a); ip2=$(ov_pod 2 b); ip3=$(ov_pod 3 c)
ov_serve b c
ip netns exec "$OV_U" tcpdump -ni br0 -c 6 -l 'udp port 8472' >"$OV_TMP/capture.txt" 2>/dev/null &
cap=$!
sleep 0.5
# (retried: the servers are python processes that may take a moment to listen on a busy box)
[ "$(ov_http a "$ip2")" = "hello from weft" ] || fail "HTTP pod a -> pod b"
[ "$(ov_http a "$ip3")" = "hello from weft" ] || fail "HTTP pod a -> pod c"
[ "$(ov_http b "$ip3")" = "hello from weft" ] || fail "HTTP pod b -> pod c"
pass "HTTP between pods on different nodes ($ip1 -> $ip2, $ip3)"
for _ in $(seq 30); do kill -0 $cap 2>/dev/null || break; sleep 0.1; done
kill $cap 2>/dev/null || true; wait $cap 2>/dev/null || true
grep -qE '198\.18\.0\.[0-9]+\.[0-9]+ > 198\.18\.0\.[0-9]+\.8472: .*(VXLAN|OTV).*instance 1' "$OV_TMP/capture.txt" ||
  fail "no VXLAN on UDP 8472 in capture: $(cat "$OV_TMP/capture.txt")"
pass "underlay capture shows VXLAN on UDP 8472 (VNI 1)"

# kernel state removed behind weftd's back is restored by the periodic check (--iptables-resync,
# 5 s): a peer route and ARP entry on node 1, and node 2's whole VXLAN device (re-created with the
# same MAC, its peers replayed).
mac2=$(ip -n "$(n 2)" -j link show flannel.1 | jq -r '.[0].address')
ip -n "$(n 1)" route del "$(net_of 3)"
ip -n "$(n 1)" neigh del "$(gw_of 2)" dev flannel.1
ip -n "$(n 2)" link del flannel.1
restored() {
  ip -n "$(n 1)" route show "$(net_of 3)" | gq "via $(gw_of 3) dev flannel.1 onlink" &&
  ip -n "$(n 1)" neigh show dev flannel.1 | gq "$(gw_of 2) lladdr $mac2 PERMANENT" &&
  [ "$(ip -n "$(n 2)" -j link show flannel.1 2>/dev/null | jq -r '.[0].address')" = "$mac2" ] &&
  ip -n "$(n 2)" -4 addr show dev flannel.1 | gq "inet $(gw_of 2)/32" &&
  ip -n "$(n 2)" route show "$(net_of 1)" | gq "via $(gw_of 1) dev flannel.1 onlink" &&
  bridge -n "$(n 2)" fdb show dev flannel.1 | gq "dst 198.18.0.3 self permanent"
}
for _ in $(seq 200); do restored && break; sleep 0.05; done
restored || fail "kernel entries not restored: $(tail -3 "$OV_TMP/n2/weftd.log")"
[ "$(ov_http a "$ip2")" = "hello from weft" ] || fail "HTTP a -> b after flannel.1 was re-created"
gq "data plane drifted" "$OV_TMP/n1/weftd.log" || fail "node 1 did not log the repair"
pass "deleted route, ARP entry and VXLAN device restored (same VtepMAC)"
# metric N NAME: the value of one sample of node N's /metrics (empty when absent)
metric() { ip netns exec "$(n "$1")" curl -s -m 1 http://127.0.0.1:8471/metrics | awk -v k="$2" '$1 == k {print $2}'; }
r1=$(metric 1 weftd_dataplane_repairs_total)
[ "${r1:-0}" -ge 2 ] || fail "node 1 /metrics: weftd_dataplane_repairs_total=$r1 after a route and an ARP entry were restored"
[ "$(metric 1 weftd_peers_known)" = 2 ] && [ "$(metric 1 weftd_peers_programmed)" = 2 ] ||
  fail "node 1 /metrics peers: $(metric 1 weftd_peers_known) known, $(metric 1 weftd_peers_programmed) programmed"
[ "$(metric 1 weftd_ready)" = 1 ] || fail "node 1 /metrics: not ready"
ipt1=$(metric 1 weftd_iptables_repairs_total)
[ "${ipt1:-0}" -ge 1 ] || fail "node 1 /metrics: weftd_iptables_repairs_total=$ipt1 after the masq rule was restored"
pass "/metrics on node 1: 2 peers known and programmed, $r1 data-plane and $ipt1 iptables repairs"

# restart of weftd on node 2 while pod a talks to pod b: gap < 1 s, nothing torn down
ip netns exec "wp-a-$OV_ID" python3 "$WEFT_SRC/tests/e2e/http_gap.py" "http://$ip2:8080/index.txt" 4 >"$OV_TMP/probe.out" &
probe=$!
sleep 1
sub2=$(ov_subnet 2)
lease_of() {  # the etcd lease id of a key, hex (jq would round the 64-bit number)
  ov_etcdctl get -w json "$1" | python3 -c 'import json, sys; print("%x" % json.load(sys.stdin)["kvs"][0]["lease"])'
}
old_lease2=$(lease_of "$OV_PREFIX/subnets/$(net_of 2 | tr / -)")
kill -TERM "${OV_WEFTD[2]}"; wait "${OV_WEFTD[2]}" 2>/dev/null || true
ip -n "$(n 2)" link show flannel.1 >/dev/null || fail "flannel.1 removed on exit"
ip -n "$(n 2)" route show "$(net_of 1)" | gq flannel.1 || fail "routes removed on exit"
ov_weftd 2 --ip-masq
ov_wait_ready 2
wait $probe
read -r gap okn <"$OV_TMP/probe.out"
[ "$(ov_subnet 2)" = "$sub2" ] || fail "node 2 changed subnet on restart"
python3 -c "import sys; sys.exit(0 if float('$gap') < 1.0 and int('$okn') > 10 else 1)" ||
  fail "traffic gap during restart ${gap}s ($okn requests)"
grep -q "reusing own lease" "$OV_TMP/n2/weftd.log" || fail "restart did not reuse own lease"
[ "$(lease_of "$OV_PREFIX/subnets/$(net_of 2 | tr / -)")" != "$old_lease2" ] || fail "restart kept the old etcd lease"
ov_etcdctl lease timetolive "$old_lease2" | gq "already expired" || fail "the previous run's etcd lease was not revoked"
pass "weftd restart: same lease, longest gap ${gap}s over $okn requests"

# /readyz tells why it is not ready
ip netns exec "$(n 3)" "$WEFT_BIN/weftd" --etcd-endpoints "$OV_ETCD" --etcd-prefix /weft/missing --iface eth0 \
  --subnet-file "$OV_TMP/n3/missing.env" --healthz-ip 127.0.0.1 --healthz-port 8473 >"$OV_TMP/n3/missing.log" 2>&1 &
miss=$!
for _ in $(seq 100); do
  ip netns exec "$(n 3)" curl -s -m 1 http://127.0.0.1:8473/readyz >"$OV_TMP/readyz.txt" 2>/dev/null && gq "not found" "$OV_TMP/readyz.txt" && break
  sleep 0.05
done
code=$(ip netns exec "$(n 3)" curl -s -o /dev/null -w '%{http_code}' -m 1 http://127.0.0.1:8473/readyz)
kill $miss; wait $miss 2>/dev/null || true
[ "$code" = 503 ] && [ "$(cat "$OV_TMP/readyz.txt")" = "flanneld is not ready yet: waiting for the network config /weft/missing/config: flannel config not found in etcd store. Did you create your config using etcdv3 API?" ] &&
  gq "not ready: waiting for the network config /weft/missing/config: flannel config not found" "$OV_TMP/n3/missing.log" ||
  fail "readyz: $code $(cat "$OV_TMP/readyz.txt")"
# a network whose three subnets are all taken: not ready, and the reason says so
ov_etcdctl put /weft/full/config '{"Network":"10.99.0.0/28","Backend":{"Type":"vxlan"}}' >/dev/null
for s in 4 8 12; do ov_etcdctl put "/weft/full/subnets/10.99.0.$s-30" "$(fake 150)" >/dev/null; done
ip netns exec "$(n 3)" "$WEFT_BIN/weftd" --etcd-endpoints "$OV_ETCD" --etcd-prefix /weft/full --iface eth0 \
  --subnet-file "$OV_TMP/n3/full.env" --healthz-ip 127.0.0.1 --healthz-port 8474 >"$OV_TMP/n3/full.log" 2>&1 &
full=$!
for _ in $(seq 100); do
  ip netns exec "$(n 3)" curl -s -m 1 http://127.0.0.1:8474/readyz >"$OV_TMP/readyz.txt" 2>/dev/null && gq "lease" "$OV_TMP/readyz.txt" && break
  sleep 0.05
done
kill $full; wait $full 2>/dev/null || true
[ "$(cat "$OV_TMP/readyz.txt")" = "flanneld is not ready yet: failed to acquire lease: out of subnets" ] ||
  fail "readyz when out of subnets: $(cat "$OV_TMP/readyz.txt")"
gq "not ready: failed to acquire lease: out of subnets" "$OV_TMP/n3/full.log" || fail "log does not say why: $(cat "$OV_TMP/n3/full.log")"
[ ! -e "$OV_TMP/n3/full.env" ] || fail "subnet.env written without a lease"
[ "$(ip netns exec "$(n 1)" curl -s -m 1 http://127.0.0.1:8471/readyz)" = "flanneld is ready" ] || fail "readyz ready text"
[ "$(ip netns exec "$(n 1)" curl -s -m 1 http://127.0.0.1:8471/healthz)" = "flanneld is running" ] || fail "healthz text"
pass "/readyz: 503 with the reason, 200 when ready"

# watch reconnect and resync: etcd becomes unreachable for node 3 (the proxy cuts its watch and
# answers 503) while one lease is deleted, another created and etcd compacted. When etcd is back,
# node 3's resumed watch is told that its revision was compacted; it lists again and converges.
ov_etcdctl put "$OV_PREFIX/subnets/10.42.188.0-24" "$(fake 188)" >/dev/null
ov_wait_route 3 10.42.188.0/24
kill -USR1 $proxy
for _ in $(seq 100); do gq '^down' "$OV_TMP/proxy.log" && break; sleep 0.05; done
ov_etcdctl del "$OV_PREFIX/subnets/10.42.188.0-24" >/dev/null
ov_etcdctl put "$OV_PREFIX/subnets/10.42.199.0-24" "$(fake 199)" >/dev/null
ov_etcdctl compaction "$(ov_etcdctl get / -w json | jq -r .header.revision)" >/dev/null
ov_wait_route 1 10.42.199.0/24
sleep 0.3
ip -n "$(n 3)" route show 10.42.188.0/24 | gq . || fail "node 3 saw the deletion although etcd was unreachable"
ip -n "$(n 3)" route show 10.42.199.0/24 | gq . && fail "node 3 saw the creation although etcd was unreachable"
kill -USR2 $proxy
synced() {
  ! ip -n "$(n 3)" route show 10.42.188.0/24 | gq . && ! ip -n "$(n 3)" neigh show dev flannel.1 | gq '10.42.188.0 ' &&
  ! bridge -n "$(n 3)" fdb show dev flannel.1 | gq $(fmac 188) &&
  ip -n "$(n 3)" route show 10.42.199.0/24 | gq "via 10.42.199.0 dev flannel.1 onlink" &&
  bridge -n "$(n 3)" fdb show dev flannel.1 | gq "$(fmac 199) dst 198.18.0.199"
}
for _ in $(seq 200); do synced && break; sleep 0.05; done
synced || fail "node 3 did not resync after the watch came back: $(tail -5 "$OV_TMP/n3/weftd.log")"
# the list after the reconnect already converged; the compacted answer to the resumed watch
# (and weftd's second list) follow within milliseconds
for _ in $(seq 100); do gq "was compacted; listing again" "$OV_TMP/n3/weftd.log" && break; sleep 0.05; done
gq "watch resumed from revision 1" "$OV_TMP/proxy.log" || fail "the resumed watch did not start from a compacted revision"
gq "was compacted; listing again" "$OV_TMP/n3/weftd.log" || fail "node 3 did not report the compaction: $(tail -5 "$OV_TMP/n3/weftd.log")"
ov_etcdctl del "$OV_PREFIX/subnets/10.42.199.0-24" >/dev/null
pass "watch reconnect: missed delete/create applied after the outage and a compaction"
# node 3's /metrics counted the outage: failed requests, the cut and the compacted watch, and the
# events it programmed (the 10.42.199.0/24 lease is gone again: 2 peers)
for _ in $(seq 100); do [ "$(metric 3 weftd_peers_known)" = 2 ] && break; sleep 0.05; done
errs=$(metric 3 'weftd_store_request_errors_total{store="etcd"}')
cut=$(metric 3 'weftd_store_watch_restarts_total{store="etcd",reason="disconnected"}')
compacted=$(metric 3 'weftd_store_watch_restarts_total{store="etcd",reason="compacted"}')
events=$(metric 3 weftd_event_to_kernel_seconds_count)
inf=$(metric 3 'weftd_event_to_kernel_seconds_bucket{le="+Inf"}')
[ "${errs:-0}" -ge 1 ] && [ "${cut:-0}" -ge 1 ] && [ "${compacted:-0}" -ge 1 ] ||
  fail "node 3 /metrics after the outage: errors=$errs disconnected=$cut compacted=$compacted"
# events: the first list, fake 188 added, the relists, 199 deleted, at least
[ "${events:-0}" -ge 4 ] && [ "$inf" = "$events" ] || fail "node 3 /metrics: $events events, +Inf bucket $inf"
[ "$(metric 3 weftd_peers_known)" = 2 ] && [ "$(metric 3 weftd_peers_programmed)" = 2 ] ||
  fail "node 3 /metrics peers: $(metric 3 weftd_peers_known) known, $(metric 3 weftd_peers_programmed) programmed"
pass "/metrics on node 3: $errs etcd errors, watch restarts $cut disconnected + $compacted compacted, $events events programmed"

# node 3 leaves: weftd stopped, lease deleted -> node 2 drops routes/ARP/FDB live; node 1 was
# down meanwhile and cleans the stale entries when it starts again.
mac3=$(ip -n "$(n 3)" -j link show flannel.1 | jq -r '.[0].address')
kill -TERM "${OV_WEFTD[3]}" "${OV_WEFTD[1]}"; wait "${OV_WEFTD[3]}" "${OV_WEFTD[1]}" 2>/dev/null || true
ov_etcdctl del "$OV_PREFIX/subnets/$(net_of 3 | tr / -)" >/dev/null
gone() {  # node $1 has nothing left for node 3
  ! ip -n "$(n $1)" route show "$(net_of 3)" | gq . &&
  ! ip -n "$(n $1)" neigh show dev flannel.1 | gq "$(gw_of 3) " &&
  ! bridge -n "$(n $1)" fdb show dev flannel.1 | gq "$mac3"
}
for _ in $(seq 100); do gone 2 && break; sleep 0.05; done
gone 2 || fail "node 2 kept node 3's entries"
ip -n "$(n 1)" route show "$(net_of 3)" | gq . || fail "node 1 lost the route while weftd was down"
ov_weftd 1 --ip-masq
ov_wait_ready 1
for _ in $(seq 100); do gone 1 && break; sleep 0.05; done
gone 1 || fail "node 1 did not clean the entries of node 3, which vanished while it was down"
[ "$(ov_http a "$ip2")" = "hello from weft" ] || fail "HTTP a -> b after node 3 left"
pass "vanished peer removed live (node 2) and at start-up (node 1)"

# a peer's new VtepMAC replaces its old FDB entry (flanneld leaves the old one behind)
key2="$OV_PREFIX/subnets/$(net_of 2 | tr / -)"
mac2=$(ip -n "$(n 2)" -j link show flannel.1 | jq -r '.[0].address')
ov_etcdctl put "$key2" "{\"PublicIP\":\"198.18.0.2\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"0e:00:00:00:00:42\"}}" >/dev/null
for _ in $(seq 100); do bridge -n "$(n 1)" fdb show dev flannel.1 | gq 0e:00:00:00:00:42 && break; sleep 0.05; done
bridge -n "$(n 1)" fdb show dev flannel.1 | gq "0e:00:00:00:00:42 dst 198.18.0.2" || fail "new MAC FDB entry missing"
bridge -n "$(n 1)" fdb show dev flannel.1 | gq "$mac2" && fail "old MAC FDB entry kept"
ip -n "$(n 1)" neigh show dev flannel.1 | gq "$(gw_of 2) lladdr 0e:00:00:00:00:42" || fail "ARP not replaced"
pass "FDB entry of the old VtepMAC removed"
# the own lease deleted while weftd runs: it takes the same subnet again (flanneld exits 0)
ov_etcdctl del "$key2" >/dev/null
want="{\"PublicIP\":\"198.18.0.2\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"$mac2\"}}"
for _ in $(seq 100); do [ "$(ov_etcdctl get --print-value-only "$key2")" = "$want" ] && break; sleep 0.05; done
[ "$(ov_etcdctl get --print-value-only "$key2")" = "$want" ] || fail "node 2 did not take its lease back"
ov_etcdctl get -w json "$key2" | jq -e '.kvs[0].lease > 0' >/dev/null || fail "re-acquired lease has no TTL"
kill -0 "${OV_WEFTD[2]}" || fail "weftd on node 2 exited"
for _ in $(seq 100); do bridge -n "$(n 1)" fdb show dev flannel.1 | gq "$mac2 dst 198.18.0.2" && break; sleep 0.05; done
[ "$(ov_http a "$ip2")" = "hello from weft" ] || fail "HTTP a -> b after re-acquire"
pass "own lease deleted: re-acquired with the same subnet, peers updated"
echo "all weftd e2e checks passed"
