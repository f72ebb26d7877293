#!/usr/bin/env bash
# The seed's tutorial on a real two-node Kubernetes 1.20 with weft alone (docs/testing-cluster.md):
# tests/e2e/cluster.bash brings up the control plane and two kubelet + containerd nodes; weft goes
# in the seed's way, `kubectl apply -f conf/kube-flannel.yml` with its image imported into each
# node's containerd (the init container installs the static plugins and the conflist, weftd runs
# --ip-masq --kube-subnet-mgr on its service-account token); then the seed's client pod on node 1
# asks a server pod on node 2 for the caller's address across flannel.1, and the lifecycle:
# weftd's pod deleted (no traffic gap > 1 s), the server pod deleted (nothing left on node 2),
# node 2 drained and deleted (node 1 forgets its route and FDB entry).
set -uo pipefail
: "${WEFT_SRC:?}"
KB_TMP=/tmp/wc-cluster-$$
. "$WEFT_SRC/tests/e2e/cluster.bash"
rc=0; cl_init || rc=$?; [ $rc -eq 0 ] || exit $rc
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

t0=$EPOCHREALTIME
kb_log "control plane and two nodes"
cl_up || fail "cluster up"
t_up=$(since "$t0")
pass "node1 and node2 registered ($t_up s)"

kb_log "weft, the seed's way: kubectl apply -f conf/kube-flannel.yml"
cl_deploy_weft 180 || fail "weft DaemonSet"
t_ds=$(since "$t0")
pass "DaemonSet kube-flannel-ds ready on both nodes ($t_ds s)"
for n in 1 2; do
  d=$KB_TMP/n$n
  cidr=$(kb_kubectl get node node$n -o jsonpath='{.spec.podCIDR}')
  [ -n "$cidr" ] || fail "node$n has no podCIDR"
  cond=$(kb_kubectl get node node$n -o jsonpath='{.status.conditions[?(@.type=="NetworkUnavailable")].status}')
  [ "$cond" = False ] || fail "node$n NetworkUnavailable=$cond"
  env=$(cl_exec $n cat /run/flannel/subnet.env) || fail "node$n: no /run/flannel/subnet.env"
  grep -qx "FLANNEL_SUBNET=${cidr%.0/24}.1/24" <<<"$env" || fail "node$n subnet.env does not match podCIDR $cidr: $env"
  grep -qx FLANNEL_NETWORK=10.42.0.0/16 <<<"$env" || fail "node$n subnet.env network: $env"
  for p in flannel bridge host-local portmap loopback; do
    [ -x "$d/cni-bin/$p" ] || fail "node$n: init container did not install $p"
    file -b "$d/cni-bin/$p" | grep -q 'statically linked' || fail "node$n: $p is not the static release binary"
  done
  cmp -s <(jq -S . "$d/net.d/10-flannel.conflist") \
    <(kb_kubectl -n kube-flannel get cm kube-flannel-cfg -o jsonpath='{.data.cni-conf\.json}' | jq -S .) ||
    fail "node$n: installed conflist differs from the ConfigMap's"
  ip -n "$(kb_node_ns $n)" -d link show flannel.1 | grep -q 'vxlan id 1 .*dstport 8472' || fail "node$n: no flannel.1 (vxlan 1, 8472)"
done
pass "podCIDRs, NetworkUnavailable=False, subnet.env, static plugins + conflist installed, flannel.1 on both nodes"
kb_kubectl -n kube-flannel get pods -o jsonpath='{range .items[*]}{.spec.containers[0].image} {.spec.serviceAccountName}{"\n"}{end}' |
  grep -vqx 'localhost/weft:v[0-9.]* flannel' && fail "a DaemonSet pod runs something else"

kb_log "the workload: client on node1, server on node2"
cl_workload || fail "workload pods"
t_pod=$(since "$t0")
pass "client and server Running ($t_pod s)"
cip=$(cl_pod_ip client); sip=$(cl_pod_ip server)
c1=$(kb_kubectl get node node1 -o jsonpath='{.spec.podCIDR}'); c2=$(kb_kubectl get node node2 -o jsonpath='{.spec.podCIDR}')
python3 -c "import ipaddress as i,sys; sys.exit(not (i.ip_address('$cip') in i.ip_network('$c1') and i.ip_address('$sip') in i.ip_network('$c2')))" ||
  fail "pod IPs $cip/$sip outside their nodes' podCIDRs $c1/$c2"

kb_in timeout 20 tcpdump -i br0 -nn -T vxlan -c 4 'udp port 8472' >"$KB_TMP/cap.txt" 2>/dev/null &
cap=$!
sleep 1
reply=$(cl_get client "$sip") || fail "client -> server request failed"

wait $cap
echo "$reply" | jq -c .
jq -e --arg ip "$cip" '.origin == $ip' <<<"$reply" >/dev/null || fail "reply does not show the client's IP $cip: $reply"
grep -A1 '198\.18\.42\.1\.[0-9]* > 198\.18\.42\.2\.8472: ' "$KB_TMP/cap.txt" | grep -q "IP $cip\.[0-9]* > $sip\.80: " ||
  fail "no VXLAN packet node1 -> node2 on the underlay: $(cat "$KB_TMP/cap.txt")"
pass "client $cip on node1 -> server $sip on node2: origin $cip, across UDP 8472 on the underlay"
hp=$(ip netns exec "$(kb_node_ns 1)" curl -sS -m 5 "http://198.18.42.2:$CL_HOSTPORT/cgi-bin/ip") || fail "hostPort"
jq -e '.origin == "198.18.42.1"' <<<"$hp" >/dev/null || fail "hostPort reply: $hp"
pass "hostPort $CL_HOSTPORT on node2 answers node1's address: $(jq -c . <<<"$hp")"

echo "timings: cluster up ${t_up} s, DaemonSet ready ${t_ds} s, first workload pod Running ${t_pod} s (from start)"

kb_log "lifecycle: node2's weftd pod deleted, the DaemonSet restarts it"
n1=$(kb_node_ns 1); n2=$(kb_node_ns 2)
env_before=$(cl_exec 2 cat /run/flannel/subnet.env)
routes_before=$(ip -n "$n2" route show | sort)
old=$(kb_kubectl -n kube-flannel get pods --field-selector spec.nodeName=node2 -o jsonpath='{.items[0].metadata.name}')
# node1 asks the server pod every 0.1 s (through the overlay) and logs the time of each answer
ip netns exec "$n1" bash -c 'for ((i = 0; i < 600; i++)); do
    curl -s -m 0.5 -o /dev/null "http://$1/cgi-bin/ip" && echo "$EPOCHREALTIME"; sleep 0.1
  done' probe "$sip" >"$KB_TMP/probe.txt" &
probe=$!
sleep 1
kb_kubectl -n kube-flannel delete pod "$old" --wait=false >/dev/null || fail "delete weftd pod"
new_ready() {
  local p
  p=$(kb_kubectl -n kube-flannel get pods --field-selector spec.nodeName=node2 \
        -o jsonpath='{range .items[?(@.status.containerStatuses[0].ready==true)]}{.metadata.name}{"\n"}{end}')
  [ -n "$p" ] && [ "$p" != "$old" ]
}
cl_wait 90 new_ready || fail "DaemonSet did not restart weftd on node2"
sleep 3
kill $probe 2>/dev/null; wait $probe 2>/dev/null
gap=$(awk 'NR > 1 { g = $1 - p; if (g > m) m = g } { p = $1 } END { printf "%.2f", m }' "$KB_TMP/probe.txt")
answers=$(wc -l <"$KB_TMP/probe.txt")
((answers > 20)) || fail "only $answers answers while weftd restarted"
awk -v g="$gap" 'BEGIN { exit !(g <= 1.0) }' || fail "traffic gap of $gap s while weftd restarted"
[ "$(cl_exec 2 cat /run/flannel/subnet.env)" = "$env_before" ] || fail "subnet.env changed across the restart"
[ "$(ip -n "$n2" route show | sort)" = "$routes_before" ] || fail "node2's routes changed across the restart:
$(ip -n "$n2" route show)"
pass "weftd pod $old replaced ($(kb_kubectl -n kube-flannel get pods --field-selector spec.nodeName=node2 -o jsonpath='{.items[0].metadata.name}')): subnet.env and routes unchanged, $answers answers, largest gap $gap s"

kb_log "lifecycle: the server pod deleted"
pod_veths() { ip -n "$n2" -o link show type veth | awk -F': ' '{ print $2 }' | cut -d@ -f1 | grep -vx eth0; }
hostveth=$(pod_veths)
[ -n "$hostveth" ] || fail "no veth for the server pod on node2"
[ -e "$KB_TMP/n2/cni-state/networks/cbr0/$sip" ] || fail "no reservation of $sip on node2"
ip netns exec "$n2" iptables-save | grep -q "$sip" || fail "no rule naming $sip on node2 (hostPort)"
kb_kubectl delete pod server --wait=true --timeout=60s >/dev/null || fail "delete server pod"
gone() {
  [ -z "$(pod_veths)" ] && [ ! -e "$KB_TMP/n2/cni-state/networks/cbr0/$sip" ] &&
    ! ip netns exec "$n2" iptables-save | grep -q -e "$sip" -e 'CNI-DN-'
}
cl_wait 30 gone || fail "left on node2 after the pod's deletion: $(pod_veths)
$(ls "$KB_TMP/n2/cni-state/networks/cbr0")
$(ip netns exec "$n2" iptables-save | grep -e "$sip" -e CNI-DN-)"
pass "server pod deleted: veth $hostveth, reservation of $sip and its hostPort rules gone on node2"

kb_log "lifecycle: node2 drained and deleted"
route_to() { ip -n "$n1" route show "$c2" | grep -q 'dev flannel.1'; }
route_to || fail "node1 has no route to node2's $c2 via flannel.1"
[ -n "$(ip -n "$n1" -4 neigh show dev flannel.1 "${c2%/24}")" ] || fail "node1 has no neighbour entry for ${c2%/24}"
vtep=$(bridge -n "$n1" fdb show dev flannel.1 | grep -c 'dst 198.18.42.2')
((vtep > 0)) || fail "node1 has no FDB entry for node2"
kb_kubectl drain node2 --ignore-daemonsets --force --timeout=60s >/dev/null 2>&1 || fail "drain node2"
kill "${CL_PID[kubelet2]}"; wait "${CL_PID[kubelet2]}" 2>/dev/null; unset "CL_PID[kubelet2]"
kb_kubectl delete node node2 >/dev/null || fail "delete node2"
forgot() { ! route_to && ! bridge -n "$n1" fdb show dev flannel.1 | grep -q 'dst 198.18.42.2'; }
cl_wait 30 forgot || fail "node1 still routes to node2: $(ip -n "$n1" route show; bridge -n "$n1" fdb show dev flannel.1)"
pass "node2 deleted: node1 dropped its route to $c2 and the FDB entry for 198.18.42.2"
