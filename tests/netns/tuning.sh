#!/usr/bin/env bash
# tuning in throw-away namespaces: the plugin runs in a "node" namespace, the pod namespace has
# eth0 (a veth whose peer stays in the node). ADD changes sysctls (IFNAME substituted, also for an
# interface name with a dot), MAC, MTU, promisc, allmulti and txqueuelen, writes the reference's
# state file and puts the new MAC into the prevResult; CHECK agrees and then notices a change; DEL
# restores every attribute and removes the file; the mac/mtu capabilities and args.cni override
# the config; DEL of a pod whose namespace is gone removes the file; the sysctl safety checks
# (net.* only, duplicates, the allowlist file in a private mount namespace) refuse before any
# change. The node's own sysctls and links are compared before and after: the plugin must only
# touch the pod.
set -euo pipefail
. "$(dirname "$0")/bridge_helpers.bash"
need_root
WEFT_BIN=${WEFT_BIN:?}
PLUGIN=$WEFT_BIN/tuning CNI_PATH=$WEFT_BIN
[ -x "$PLUGIN" ] || fail "missing $PLUGIN"
. "$(dirname "$0")/node_pod.bash"
node_pod pat tuning
NSP=/run/netns/$POD D=$T/state
K=0
mkpod() {  # a fresh pod interface <name>
  ip -n $POD link del "$1" 2>/dev/null || true
  K=$((K + 1))
  ip -n $NODE link add wpt$$k$K type veth peer name "$1" netns $POD
}
node_snap() { ip -n $NODE -o link show | grep -v " wpt$$k"; ip netns exec $NODE sysctl -n net.core.somaxconn net.ipv4.conf.all.arp_filter; }
link_attrs() {  # mac mtu promisc allmulti qlen of pod interface $1
  ip -n $POD -d -j link show "$1" | jq -c '.[0] | [.address, .mtu, .promiscuity, .allmulti, .txqlen]'
}
prev() { printf '"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"%s","mac":"aa:aa:aa:aa:aa:aa","sandbox":"%s"},{"name":"veth0"}],"ips":[{"interface":0,"address":"10.1.0.2/24"}],"dns":{}}' "$1" "$NSP"; }
conf() { printf '{"cniVersion":"%s","name":"tnet","type":"tuning","dataDir":"%s"%s}' "${V:-1.0.0}" "$D" "$1"; }
node_before=$(node_snap)

# --- ADD with every attribute, CHECK, DEL restores
mkpod eth0
orig=$(link_attrs eth0)
C=$(conf ',"sysctl":{"net.ipv4.conf.IFNAME.arp_filter":"1","net.core.somaxconn":"511"},"mac":"c2:b0:57:49:47:f1","mtu":1400,"promisc":true,"allmulti":true,"txQLen":77,'"$(prev eth0)")
out=$(cni $NODE ADD $NSP c1 eth0 "$C")
[ "$(jq -c '.interfaces' <<<"$out")" = '[{"name":"eth0","mac":"c2:b0:57:49:47:f1","sandbox":"'$NSP'"},{"name":"veth0"}]' ] || fail "ADD result: $out"
[ "$(jq -cS 'del(.interfaces)' <<<"$out")" = "$(jq -cS '.prevResult | del(.interfaces)' <<<"$C")" ] || fail "ADD result lost prevResult fields: $out"
[ "$(link_attrs eth0)" = '["c2:b0:57:49:47:f1",1400,1,1,77]' ] || fail "ADD: eth0 is $(link_attrs eth0)"
[ "$(ip netns exec $POD sysctl -n net.ipv4.conf.eth0.arp_filter net.core.somaxconn | tr '\n' ' ')" = "1 511 " ] || fail "ADD: sysctls not set"
want_state=$(jq -n --argjson o "$orig" '{mac: $o[0], promisc: false, mtu: $o[1], allmulti: false, txQLen: $o[4]}' | sed 's/^  / /')
[ "$(cat $D/c1_eth0.json)" = "$want_state" ] || fail "state file: $(cat $D/c1_eth0.json), want $want_state"
[ "$(stat -c %a $D/c1_eth0.json)" = 600 ] || fail "state file mode $(stat -c %a $D/c1_eth0.json)"
ok "ADD: sysctls, mac, mtu, promisc, allmulti, txqlen set; result has the new MAC; state file $(tr -d '\n ' <$D/c1_eth0.json)"
cni $NODE CHECK $NSP c1 eth0 "$C" >/dev/null || fail "CHECK after ADD failed"
ip -n $POD link set eth0 mtu 1300
out=$(cni $NODE CHECK $NSP c1 eth0 "$C") && fail "CHECK missed an MTU change"
[ "$(jq -r .msg <<<"$out")" = "Error: Tuning configured MTU of eth0 is 1400, current value is 1300" ] || fail "CHECK mtu: $out"
ip netns exec $POD sysctl -qw net.core.somaxconn=100
out=$(cni $NODE CHECK $NSP c1 eth0 "$C") && fail "CHECK missed a sysctl change"
[ "$(jq -r .msg <<<"$out")" = "Error: Tuning configured value of /proc/sys/net/core/somaxconn is 511, current value is 100" ] || fail "CHECK sysctl: $out"
ok "CHECK passes after ADD and reports a changed MTU / sysctl"
cni $NODE DEL $NSP c1 eth0 "$C" >/dev/null || fail "DEL failed"
[ "$(link_attrs eth0)" = "$orig" ] || fail "DEL: eth0 is $(link_attrs eth0), was $orig"
[ ! -e $D/c1_eth0.json ] || fail "DEL left the state file"
cni $NODE DEL $NSP c1 eth0 "$C" >/dev/null || fail "second DEL failed"
ok "DEL restores $orig and removes the state file; a second DEL succeeds"

# --- only what was asked is saved and restored; promisc false is not a change
mkpod eth0; orig=$(link_attrs eth0)
C=$(conf ',"mtu":1280,'"$(prev eth0)")
cni $NODE ADD $NSP c2 eth0 "$C" >/dev/null
[ "$(tr -d '\n ' <$D/c2_eth0.json)" = "{\"mtu\":$(jq '.[1]' <<<"$orig")}" ] || fail "mtu-only state: $(cat $D/c2_eth0.json)"
ip -n $POD link set eth0 address 02:00:00:00:00:33   # not tuning's business: DEL must not undo it
cni $NODE DEL $NSP c2 eth0 "$C" >/dev/null
[ "$(link_attrs eth0 | jq -c '.[0:2]')" = "[\"02:00:00:00:00:33\",$(jq '.[1]' <<<"$orig")]" ] || fail "mtu-only DEL: $(link_attrs eth0)"
ok "mtu only: state {mtu}, DEL restores the MTU and nothing else"

# --- capabilities and args: runtimeConfig.mac over CNI_ARGS MAC over mac; args.cni over all
mkpod eth0
C=$(conf ',"mac":"02:00:00:00:00:01","mtu":1400,"capabilities":{"mac":true,"mtu":true},"runtimeConfig":{"mac":"02:00:00:00:00:03","mtu":1350},'"$(prev eth0)")
out=$(cni $NODE ADD $NSP c3 eth0 "$C" CNI_ARGS="IgnoreUnknown=1;MAC=02:00:00:00:00:02")
[ "$(link_attrs eth0 | jq -c '.[0:2]')" = '["02:00:00:00:00:03",1350]' ] || fail "runtimeConfig: $(link_attrs eth0)"
[ "$(jq -r .interfaces[0].mac <<<"$out")" = 02:00:00:00:00:03 ] || fail "runtimeConfig result: $out"
cni $NODE DEL $NSP c3 eth0 "$C" >/dev/null
out=$(cni $NODE ADD $NSP c3 eth0 "$(conf ',"mac":"02:00:00:00:00:01","args":{"cni":{"mac":"02:00:00:00:00:04","mtu":1300,"promisc":true,"sysctl":{"net.ipv4.conf.IFNAME.arp_filter":"1"}}},'"$(prev eth0)")" CNI_ARGS="MAC=02:00:00:00:00:02")
[ "$(link_attrs eth0 | jq -c '.[0:3]')" = '["02:00:00:00:00:04",1300,1]' ] || fail "args.cni: $(link_attrs eth0)"
[ "$(ip netns exec $POD sysctl -n net.ipv4.conf.eth0.arp_filter)" = 1 ] || fail "args.cni.sysctl not applied"
cni $NODE DEL $NSP c3 eth0 "$(conf ',"args":{"cni":{"mac":"x"}}')" >/dev/null
ok "runtimeConfig.mac/mtu override CNI_ARGS and config; args.cni overrides all (incl. sysctl)"

# --- an interface name with a dot: IFNAME is substituted after dots became slashes
mkpod eth0.7
cni $NODE ADD $NSP c4 eth0.7 "$(conf ',"sysctl":{"net.ipv4.conf.IFNAME.arp_filter":"1"},'"$(prev eth0.7)")" >/dev/null
[ "$(ip netns exec $POD cat /proc/sys/net/ipv4/conf/eth0.7/arp_filter)" = 1 ] || fail "eth0.7 sysctl not set"
cni $NODE CHECK $NSP c4 eth0.7 "$(conf ',"sysctl":{"net.ipv4.conf.IFNAME.arp_filter":"1"},'"$(prev eth0.7)")" >/dev/null || fail "CHECK eth0.7"
ok "sysctl on eth0.7 through IFNAME (ADD and CHECK)"

# --- 0.3.1 result keeps its version fields; the MAC is updated
mkpod eth0
out=$(V=0.3.1 cni $NODE ADD $NSP c5 eth0 "$(V=0.3.1 conf ',"mac":"02:00:00:00:00:05",'"$(prev eth0 | sed 's/1.0.0/0.3.1/')")")
[ "$(jq -c '[.cniVersion, .interfaces[0].mac, .ips[0].version]' <<<"$out")" = '["0.3.1","02:00:00:00:00:05","4"]' ] || fail "0.3.1: $out"
ok "0.3.1 result with the new MAC"

# --- DEL when the pod's namespace is gone removes the state file (the reference leaks it)
ip netns add wpatgone$$
ip -n $NODE link add wpatg$$ type veth peer name eth0 netns wpatgone$$
cni $NODE ADD /run/netns/wpatgone$$ c6 eth0 "$(conf ',"mtu":1400,'"$(prev eth0)")" >/dev/null
[ -e $D/c6_eth0.json ] || fail "no state file for c6"
ip netns del wpatgone$$
cni $NODE DEL /run/netns/wpatgone$$ c6 eth0 "$(conf '')" >/dev/null || fail "DEL of a gone netns failed"
[ ! -e $D/c6_eth0.json ] || fail "DEL of a gone netns left the state file"
ok "DEL of a gone namespace succeeds and removes the state file"

# --- refusals before any change
mkpod eth0
pod_before=$(link_attrs eth0; ip netns exec $POD sysctl -n net.core.somaxconn net.ipv4.conf.eth0.arp_filter; ls $D)
refuse() {  # refuse <label> <message> <config-extra> [env...]
  local label=$1 msg=$2 extra=$3 out; shift 3
  out=$(cni $NODE ADD $NSP r1 eth0 "$(conf ',"mtu":1400,"sysctl":{"net.core.somaxconn":"77"'"$extra"'},'"$(prev eth0)")" "$@") && fail "$label: accepted"
  [ "$(jq -r .code <<<"$out")" = 999 ] && [ "$(jq -r .msg <<<"$out")" = "$msg" ] || fail "$label: $out"
  [ "$(link_attrs eth0; ip netns exec $POD sysctl -n net.core.somaxconn net.ipv4.conf.eth0.arp_filter; ls $D)" = "$pod_before" ] || fail "$label: pod changed"
  ok "refused, nothing changed: $label: $msg"
}
refuse "kernel sysctl" 'invalid net sysctl key: "kernel.core_pattern"' ',"kernel.core_pattern":"|/tmp/x"'
# dots become slashes, so ".." cannot survive in a key: a slash-form "../" stays under net/
core=$(cat /proc/sys/kernel/core_pattern)
out=$(cni $NODE ADD $NSP r1 eth0 "$(conf ',"sysctl":{"net/../kernel/core_pattern":"|/tmp/wpa-x"},'"$(prev eth0)")") && fail "traversal accepted"
[ "$(jq -r .msg <<<"$out")" = "open /proc/sys/net/kernel/core_pattern: no such file or directory" ] || fail "traversal: $out"
[ "$(cat /proc/sys/kernel/core_pattern)" = "$core" ] || fail "core_pattern changed"
ok "traversal stays under /proc/sys/net: $(jq -r .msg <<<"$out")"
refuse "net itself" 'invalid net sysctl key: "net"' ',"net":"1"'
refuse "duplicate key" 'duplicated sysctl keys are not allowed' ',"net.core.somaxconn":"78"'
refuse "bad MAC" 'invalid args 02:00:zz for MAC addr: address 02:00:zz: invalid MAC address' '},"mac":"02:00:zz","x":{'
refuse "sysctl not a string" 'failed to load netconf: json: cannot unmarshal number into Go struct field TuningConf.sysctl of type string' ',"net.ipv4.ip_forward":1'
out=$(cni $NODE ADD $NSP r1 eth0 "$(conf ',"mtu":1400,"prevResult":null')") && fail "no prevResult: accepted"
[ "$(jq -r .msg <<<"$out")" = "Required prevResult missing" ] || fail "no prevResult: $out"
[ "$(link_attrs eth0; ip netns exec $POD sysctl -n net.core.somaxconn net.ipv4.conf.eth0.arp_filter; ls $D)" = "$pod_before" ] || fail "no prevResult: pod changed"
ok "refused, nothing changed: Required prevResult missing"
# the allowlist file, seen only by the plugin (a private mount namespace over /etc/cni/tuning)
cat >$T/allowlist.conf <<'AL'
^net\.core\.somaxconn$
  ^net\.ipv4\.conf\.IFNAME\.[a-z_]+$
AL
# /etc/cni/tuning may not exist on this machine: the private mount namespace gets a tmpfs over
# /etc/cni (only the plugin's view changes).
[ -d /etc/cni ] || fail "/etc/cni does not exist (needed as a mount point for the allowlist test)"
allow() {
  unshare -m --propagation private sh -c 'mount -t tmpfs wpa-allow /etc/cni && mkdir /etc/cni/tuning &&
    cp "$0" /etc/cni/tuning/allowlist.conf && exec "$@"' $T/allowlist.conf "$@"
}
out=$(allow ip netns exec $NODE env -i CNI_COMMAND=ADD CNI_CONTAINERID=r2 CNI_NETNS=$NSP CNI_IFNAME=eth0 CNI_PATH=$WEFT_BIN $PLUGIN <<<"$(conf ',"sysctl":{"net.core.somaxconn":"77","net.ipv4.ip_forward":"1"},'"$(prev eth0)")") && fail "allowlist: accepted"
[ "$(jq -r .msg <<<"$out")" = 'Sysctl net.ipv4.ip_forward is not allowed. Only the following sysctls are allowed: [^net\.core\.somaxconn$ ^net\.ipv4\.conf\.IFNAME\.[a-z_]+$]' ] || fail "allowlist: $out"
[ "$(link_attrs eth0; ip netns exec $POD sysctl -n net.core.somaxconn net.ipv4.conf.eth0.arp_filter; ls $D)" = "$pod_before" ] || fail "allowlist: pod changed"
out=$(allow ip netns exec $NODE env -i CNI_COMMAND=ADD CNI_CONTAINERID=r2 CNI_NETNS=$NSP CNI_IFNAME=eth0 CNI_PATH=$WEFT_BIN $PLUGIN <<<"$(conf ',"sysctl":{"net.core.somaxconn":"77","net.ipv4.conf.IFNAME.arp_filter":"1"},'"$(prev eth0)")") || fail "allowlist: allowed keys refused: $out"
[ "$(ip netns exec $POD sysctl -n net.core.somaxconn net.ipv4.conf.eth0.arp_filter | tr '\n' ' ')" = "77 1 " ] || fail "allowlist: allowed keys not applied"
ok "allowlist: a key outside it is refused (nothing changed), keys inside are applied"
[ "$(node_snap)" = "$node_before" ] || { diff <(echo "$node_before") <(node_snap); fail "the node namespace changed"; }
ok "node namespace unchanged"
echo PASS
