#!/usr/bin/env bash
# Hostile input for the plugins that change kernel state (docs/reliability.md "Hostile input"):
# a table of malformed and adversarial bridge, portmap, loopback, tuning, bandwidth and firewall
# calls, each run by the built binary inside a throw-away node namespace (pods are throw-away
# namespaces too). Every row asserts the exit status, the exact CNI error code, a clear message,
# and that nothing changed: links, addresses, routes, forwarding sysctls, iptables/ip6tables/nft
# rules and qdiscs of the node, links and sysctls of the pod, and the whole dataDir (listing and
# contents). The host-local and flannel rows (no kernel state, NUL bytes in CNI_* values) are in
# tests/unit/hostile_inputs_test.cpp.
# HOSTILE_REF=1 also prints what the reference binaries answer to every row (not asserted).
set -euo pipefail
export LC_ALL=C
WEFT_BIN=${WEFT_BIN:?}
REF_BIN=${REF_BIN:-/usr/lib/cni}
for p in bridge portmap host-local loopback tuning bandwidth firewall; do [ -x "$WEFT_BIN/$p" ] || { echo "missing $WEFT_BIN/$p"; exit 1; }; done
if [ "$(id -u)" != 0 ] || ! ip netns add "whprobe$$" 2>/dev/null; then
  echo "SKIP: needs root and network namespaces"; exit 77
fi
ip netns del "whprobe$$"

source "$(dirname "$0")/node_pod.bash"
node_pod h hostile
ip -n "$POD" link set lo up
NSPATH=/var/run/netns/$POD
D=$T/data
mkdir -p "$D" "$T/bin-empty"
printf 'precious\n' >"$T/victim"

snap() {
  {
    ip -n "$NODE" -d -o link show | sed -E 's/[a-z_]+_timer +[0-9.]+//g'
    ip -n "$NODE" -o addr show
    ip -n "$NODE" route show table all
    ip -n "$NODE" -6 route show table all
    ip netns exec "$NODE" sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding net.ipv4.conf.all.route_localnet
    ip netns exec "$NODE" iptables-save | grep -v '^#' || true
    ip netns exec "$NODE" ip6tables-save | grep -v '^#' || true
    ip netns exec "$NODE" nft list ruleset
    ip netns exec "$NODE" tc qdisc show
    ip -n "$POD" -d -o link show | sed -E 's/[a-z_]+_timer +[0-9.]+//g'
    ip -n "$POD" -o addr show
    ip netns exec "$POD" sysctl -n net.core.somaxconn net.ipv4.conf.all.arp_filter
    (cd "$T" && find . -printf '%p %y %m %s %l\n' | sort && find . -type f -exec md5sum {} + | sort)
  } 2>&1 | if [ "${ROW_MODE:-}" = del ]; then grep -vE 'last_reserved_ip|\.weft-host-local|\./data/hnet( |/lock( |$))'; else cat; fi
}

# Waits (bounded) until the bridge, if there is one, has no port left and shows NO-CARRIER, which
# the kernel reports a moment after the last veth went away.
settle() {
  for _ in $(seq 50); do
    ip -n "$NODE" link show hbr0 2>/dev/null | grep -q 'UP,LOWER_UP\|BROADCAST,MULTICAST,UP>' || return 0
    sleep 0.1
  done
}

rows=0 fails=0
fail() { fails=$((fails + 1)); echo "FAIL [$1]: $2"; }

# row NAME PLUGIN CODE MSG [VAR=VALUE...] <<<CONFIG   ("@D@" in CONFIG and MSG is the dataDir)
row() {
  local name=$1 plugin=$2 code=$3 msg=${4//@D@/$D}; shift 4
  local conf out rc before after got_code got_msg
  conf=$(cat); conf=${conf//@D@/$D}
  rows=$((rows + 1))
  before=$(snap)
  set +e
  out=$(ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID=hc$rows CNI_NETNS="$NSPATH" \
    CNI_IFNAME=eth0 CNI_PATH="$WEFT_BIN" "$@" "$WEFT_BIN/$plugin" <<<"$conf" 2>"$T.stderr")
  rc=$?
  set -e
  if [ "${ROW_MODE:-}" = del ]; then
    # bridge fails after creating the veth pair (and after its early IPAM call): the runtime's
    # DEL must bring everything back, except host-local's bookkeeping (last_reserved_ip, index).
    # When the IPAM config itself is broken, that DEL fails too (as the reference's), and the
    # veth pair goes away with the pod's namespace: deleting the pod's eth0 stands for that.
    ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND=DEL CNI_CONTAINERID=hc$rows CNI_NETNS="$NSPATH" \
      CNI_IFNAME=eth0 CNI_PATH="$WEFT_BIN" "$@" "$WEFT_BIN/$plugin" <<<"$conf" >/dev/null 2>&1 || true
    ip -n "$POD" link del eth0 2>/dev/null || true
    settle
  fi
  after=$(snap)
  got_code=$(jq -r '.code // empty' <<<"$out" 2>/dev/null || true)
  got_msg=$(jq -r '(.msg // "") + " " + (.details // "")' <<<"$out" 2>/dev/null | tr -d '\0' || true)
  if [ "$rc" != 1 ]; then
    fail "$name" "exit status $rc, output: ${out:0:300}"
    # undo an unexpected success so that the next rows start from the same state
    ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND=DEL CNI_CONTAINERID=hc$rows CNI_NETNS="$NSPATH" \
      CNI_IFNAME=eth0 CNI_PATH="$WEFT_BIN" "$@" "$WEFT_BIN/$plugin" <<<"$conf" >/dev/null 2>&1 || true
  fi
  [ "$got_code" = "$code" ] || fail "$name" "code [$got_code] want [$code]: ${out:0:300}"
  [[ "$got_msg" == *"$msg"* ]] || fail "$name" "message [${got_msg:0:300}] lacks [$msg]"
  if [ "$before" != "$after" ]; then
    fail "$name" "state changed:"
    diff <(echo "$before") <(echo "$after") | head -20 || true
  fi
  if [ "${HOSTILE_REF:-}" = 1 ] && [ -x "$REF_BIN/$plugin" ]; then
    local ref
    ref=$(ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID=hr$rows CNI_NETNS="$NSPATH" \
      CNI_IFNAME=eth0 CNI_PATH="$REF_BIN" "$@" "$REF_BIN/$plugin" <<<"$conf" 2>&1 | tr -d '\n' | cut -c1-300) || true
    echo "ref [$name]: $ref"
    ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND=DEL CNI_CONTAINERID=hr$rows CNI_NETNS="$NSPATH" \
      CNI_IFNAME=eth0 CNI_PATH="$REF_BIN" "$@" "$REF_BIN/$plugin" <<<"$conf" >/dev/null 2>&1 || true
  fi
}

BR='{"cniVersion":"1.0.0","name":"hnet","type":"bridge","bridge":"hbr0","ipam":{"type":"host-local","dataDir":"@D@","subnet":"10.77.0.0/24"}'
br() { printf '%s%s}' "$BR" "$1"; }  # br EXTRA-KEYS -> a bridge config

# The network was used before: one good ADD and DEL leave the bridge and the store directory,
# which every row then finds in place.
for cmd in ADD DEL; do
  ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND=$cmd CNI_CONTAINERID=warm CNI_NETNS="$NSPATH" \
    CNI_IFNAME=eth0 CNI_PATH="$WEFT_BIN" "$WEFT_BIN/bridge" <<<"$(c=$(br ''); echo "${c//@D@/$D}")" >/dev/null
done
settle

# --- bridge: wrong types and out-of-range values (refused before any link is made)
row "bridge: mtu a string" bridge 999 "failed to load netconf: json: cannot unmarshal string into Go struct field NetConf.mtu of type int" <<<"$(br ',"mtu":"1500"')"
# (Go quotes the literal "1e10" where weft prints the parsed value "10000000000.0")
row "bridge: mtu 1e10" bridge 999 "into Go struct field NetConf.mtu of type int" <<<"$(br ',"mtu":1e10')"
row "bridge: mtu 2^63" bridge 999 "cannot unmarshal number 9223372036854775808 into Go struct field NetConf.mtu of type int" <<<"$(br ',"mtu":9223372036854775808')"
row "bridge: isGateway a string" bridge 999 "cannot unmarshal string into Go struct field NetConf.isGateway of type bool" <<<"$(br ',"isGateway":"yes"')"
row "bridge: vlan 5000" bridge 999 "invalid VLAN ID 5000 (must be between 0 and 4094)" <<<"$(br ',"vlan":5000')"
row "bridge: vlan -1" bridge 999 "invalid VLAN ID -1 (must be between 0 and 4094)" <<<"$(br ',"vlan":-1')"
row "bridge: vlanTrunk a string" bridge 999 "cannot unmarshal string into Go struct field NetConf.vlanTrunk" <<<"$(br ',"vlanTrunk":"1-5"')"
row "bridge: vlanTrunk minID 0" bridge 999 "incorrect trunk minID parameter" <<<"$(br ',"vlanTrunk":[{"minID":0,"maxID":5}]')"
row "bridge: vlanTrunk min > max" bridge 999 "minID is greater than maxID in trunk parameter" <<<"$(br ',"vlanTrunk":[{"minID":9,"maxID":5}]')"
row "bridge: ipMasqBackend bogus" bridge 999 'unknown ipmasq backend "bogus"' <<<"$(br ',"ipMasq":true,"ipMasqBackend":"bogus"')"
row "bridge: hairpin and promisc" bridge 999 "cannot set hairpin mode and promiscuous mode at the same time" <<<"$(br ',"hairpinMode":true,"promiscMode":true')"
row "bridge: IPAM with disableContainerInterface" bridge 999 "cannot use IPAM when DisableContainerInterface flag is set" <<<"$(br ',"disableContainerInterface":true')"
row "bridge: ipam a string" bridge 999 "failed to load netconf: json: cannot unmarshal string into Go struct field NetConf.ipam of type types.IPAM" \
  <<<'{"cniVersion":"1.0.0","name":"hnet","type":"bridge","bridge":"hbr0","ipam":"host-local"}'
row "bridge: CNI_ARGS unknown key" bridge 999 'ARGS: unknown args ["FOO=1"]' CNI_ARGS="FOO=1" <<<"$(br '')"
row "bridge: container id ../../x" bridge 4 "invalid characters in containerID" CNI_CONTAINERID="../../x" <<<"$(br '')"
row "bridge: ifname 16 chars" bridge 4 "interface name is too long" CNI_IFNAME="eth0123456789abc" <<<"$(br '')"
row "bridge: ifname a/b" bridge 4 "interface name contains / or : or whitespace characters" CNI_IFNAME="a/b" <<<"$(br '')"
row "bridge: cniVersion 2.0.0" bridge 1 "incompatible CNI versions" <<<"${BR/1.0.0/2.0.0}}"
row "bridge: name ../x" bridge 7 "invalid characters found in network name" <<<"${BR/\"hnet\"/\"../x\"}}"
row "bridge: nesting 20000 deep" bridge 6 "exceeded max depth" <<<"$(br ",\"x\":$(printf '%.0s[' {1..20000})$(printf '%.0s]' {1..20000})")"
# --- bridge: the IPAM plugin fails or answers garbage: the node is left as it was
ROW_MODE=del row "bridge: ipam subnet bogus" bridge 999 "invalid CIDR address: bogus" \
  <<<'{"cniVersion":"1.0.0","name":"hnet","type":"bridge","bridge":"hbr0","ipam":{"type":"host-local","dataDir":"@D@","subnet":"bogus"}}'
ROW_MODE=del row "bridge: ipam plugin missing" bridge 999 'failed to find plugin "host-local" in path' CNI_PATH="$T/bin-empty" <<<"$(br '')"
ROW_MODE=del row "bridge: ipam type ../../bin/true" bridge 999 'invalid plugin name: ../../../../../bin/true' \
  <<<'{"cniVersion":"1.0.0","name":"hnet","type":"bridge","bridge":"hbr0","ipam":{"type":"../../../../../bin/true"}}'
ROW_MODE=del row "bridge: ipam type with NUL" bridge 999 'failed to find plugin' \
  <<<'{"cniVersion":"1.0.0","name":"hnet","type":"bridge","bridge":"hbr0","ipam":{"type":"host-local\u0000x","dataDir":"@D@","subnet":"10.77.0.0/24"}}'
ROW_MODE=del row "bridge: MAC garbage in CNI_ARGS" bridge 999 "invalid MAC address" CNI_ARGS="IgnoreUnknown=1;MAC=zz:zz" <<<"$(br '')"
ROW_MODE=del row "bridge: bridge name 16 chars" bridge 999 "hbr0123456789abc" <<<"${BR/hbr0/hbr0123456789abc}}"
ROW_MODE=del row "bridge: bridge name a/b" bridge 999 "a/b" <<<"${BR/hbr0/a\/b}}"

# --- portmap: chained after bridge, so it needs a prevResult
PREV='"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"'$NSPATH'"}],"ips":[{"interface":0,"address":"10.77.0.5/24"}]}'
pm() { printf '{"cniVersion":"1.0.0","name":"hnet","type":"portmap","capabilities":{"portMappings":true},%s,%s}' "$PREV" "$1"; }
maps() { printf '"runtimeConfig":{"portMappings":[%s]}' "$1"; }
row "portmap: hostPort 0" portmap 999 "Invalid host port number: 0" <<<"$(pm "$(maps '{"hostPort":0,"containerPort":80,"protocol":"tcp"}')")"
row "portmap: containerPort -1" portmap 999 "Invalid container port number: -1" <<<"$(pm "$(maps '{"hostPort":8080,"containerPort":-1,"protocol":"tcp"}')")"
row "portmap: hostPort a string" portmap 999 "cannot unmarshal string" <<<"$(pm "$(maps '{"hostPort":"80","containerPort":80}')")"
row "portmap: hostPort 1e400" portmap 6 "error unmarshall network config: json: cannot unmarshal number 1e400" <<<"$(pm "$(maps '{"hostPort":1e400,"containerPort":80}')")"
row "portmap: portMappings an object" portmap 999 "cannot unmarshal object" <<<"$(pm '"runtimeConfig":{"portMappings":{"hostPort":80}}')"
big=$(for i in $(seq 1 20000); do printf '{"hostPort":%d,"containerPort":80,"protocol":"tcp"},' $((1024 + i % 60000)); done)
row "portmap: 20000 mappings, the last invalid" portmap 999 "Invalid host port number: 0" <<<"$(pm "$(maps "${big}"'{"hostPort":0,"containerPort":80}')")"
row "portmap: markMasqBit 40" portmap 999 "MasqMarkBit must be between 0 and 31" <<<"$(pm '"markMasqBit":40')"
row "portmap: markMasqBit with externalSetMarkChain" portmap 999 "Cannot specify externalSetMarkChain and markMasqBit" <<<"$(pm '"markMasqBit":5,"externalSetMarkChain":"X"')"
row "portmap: backend bogus" portmap 999 'unrecognized backend "bogus"' <<<"$(pm '"backend":"bogus"')"
row "portmap: iptables backend with nftables options" portmap 999 "iptables backend was requested but configuration contains nftables-specific options" \
  <<<"$(pm '"backend":"iptables","conditionsV4":["ip","saddr","1.2.3.4"]')"
row "portmap: prevResult garbage" portmap 999 "could not parse prevResult" \
  <<<'{"cniVersion":"1.0.0","name":"hnet","type":"portmap","prevResult":{"ips":[{"address":"zz"}]},"runtimeConfig":{"portMappings":[{"hostPort":80,"containerPort":80}]}}'
row "portmap: snat a string" portmap 999 "cannot unmarshal string" <<<"$(pm '"snat":"yes"')"

# --- loopback: nothing may change in the pod (lo stays down) or the node
lb() { printf '{"cniVersion":"1.0.0","name":"lo","type":"loopback"%s}' "$1"; }
row "loopback: prevResult garbage" loopback 999 "failed to parse prevResult: could not parse prevResult" <<<"$(lb ',"prevResult":{"ips":[{"address":"zz"}]}')"
row "loopback: prevResult a string" loopback 999 "failed to parse network config: json: cannot unmarshal string into Go struct field NetConf.prevResult of type map[string]interface {}" <<<"$(lb ',"prevResult":"x"')"
row "loopback: netns missing" loopback 999 'failed to Statfs "/var/run/netns/whnope": no such file or directory' CNI_NETNS=/var/run/netns/whnope <<<"$(lb '')"
row "loopback: netns a regular file" loopback 999 "unknown FS magic on" CNI_NETNS="$T/victim" <<<"$(lb '')"
row "loopback: the node's own netns" loopback 8 "plugin's netns and netns from CNI_NETNS should not be the same" CNI_NETNS=/var/run/netns/$NODE <<<"$(lb '')"
row "loopback: cniVersion 0.0.9" loopback 1 "incompatible CNI versions" <<<'{"cniVersion":"0.0.9","name":"lo","type":"loopback"}'

# --- tuning: refused before any sysctl, link or state file changes (the pod has no eth0 here,
# so every row must fail before the link is looked up)
TPREV='"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"'$NSPATH'"}],"ips":[{"interface":0,"address":"10.77.0.5/24"}]}'
tu() { printf '{"cniVersion":"1.0.0","name":"hnet","type":"tuning","dataDir":"%s/tuning",%s,%s}' "$D" "$TPREV" "$1"; }
row "tuning: kernel sysctl" tuning 999 'invalid net sysctl key: "kernel.core_pattern"' <<<"$(tu '"sysctl":{"net.core.somaxconn":"7","kernel.core_pattern":"|/bin/sh"}')"
row "tuning: IFNAME with CNI_IFNAME .." tuning 4 "interface name is . or .." CNI_IFNAME=.. <<<"$(tu '"sysctl":{"net.ipv4.conf.IFNAME.arp_filter":"1"}')"
row "tuning: sysctl net itself" tuning 999 'invalid net sysctl key: "net"' <<<"$(tu '"sysctl":{"net":"1"}')"
row "tuning: duplicated sysctl" tuning 999 "duplicated sysctl keys are not allowed" <<<"$(tu '"sysctl":{"net.core.somaxconn":"7","net.core.somaxconn":"8"}')"
row "tuning: sysctl value a number" tuning 999 "cannot unmarshal number into Go struct field TuningConf.sysctl of type string" <<<"$(tu '"sysctl":{"net.core.somaxconn":7}')"
row "tuning: sysctl an array" tuning 999 "cannot unmarshal array into Go struct field TuningConf.sysctl of type map[string]string" <<<"$(tu '"sysctl":["a"]')"
row "tuning: MAC garbage" tuning 999 "invalid args zz:zz for MAC addr: address zz:zz: invalid MAC address" <<<"$(tu '"sysctl":{"net.core.somaxconn":"7"},"mac":"zz:zz"')"
row "tuning: MAC mixed separators" tuning 999 "invalid MAC address" <<<"$(tu '"mac":"02:00-00:00:00:01"')"
row "tuning: mtu a string" tuning 999 "cannot unmarshal string into Go struct field TuningConf.mtu of type int" <<<"$(tu '"mtu":"1400"')"
row "tuning: mtu 2^63" tuning 999 "cannot unmarshal number 9223372036854775808" <<<"$(tu '"mtu":9223372036854775808')"
row "tuning: allmulti a string" tuning 999 "cannot unmarshal string into Go struct field TuningConf.allmulti of type bool" <<<"$(tu '"allmulti":"yes"')"
row "tuning: args.cni.txQLen a string" tuning 999 "cannot unmarshal string into Go struct field IPAMArgs.args.cni.txQLen of type int" <<<"$(tu '"args":{"cni":{"txQLen":"1"}}')"
row "tuning: CNI_ARGS unknown key" tuning 999 'ARGS: unknown args ["FOO=1"]' CNI_ARGS="FOO=1" <<<"$(tu '"mtu":1400')"
row "tuning: no prevResult" tuning 999 "Required prevResult missing" <<<'{"cniVersion":"1.0.0","name":"hnet","type":"tuning","sysctl":{"net.core.somaxconn":"7"},"mtu":1400}'
row "tuning: netns missing" tuning 999 'failed to Statfs "/var/run/netns/whnope"' CNI_NETNS=/var/run/netns/whnope <<<"$(tu '"sysctl":{"net.core.somaxconn":"7"}')"
row "tuning: the node's own netns" tuning 8 "should not be the same" CNI_NETNS=/var/run/netns/$NODE <<<"$(tu '"sysctl":{"net.core.somaxconn":"7"},"mtu":1400')"
row "tuning: 20000 sysctls, the last outside net" tuning 999 'invalid net sysctl key: "vm.x"' \
  <<<"$(tu "\"sysctl\":{$(for i in $(seq 20000); do printf '"net.core.k%d":"1",' $i; done)\"vm.x\":\"1\"}")"

# --- bandwidth: chained after bridge; the pod's eth0 is not a veth here (there is none)
BWPREV='"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"hveth0"},{"name":"eth0","sandbox":"'$NSPATH'"}],"ips":[{"interface":1,"address":"10.77.0.5/24"}]}'
bw() { printf '{"cniVersion":"1.0.0","name":"hnet","type":"bandwidth",%s,%s}' "$BWPREV" "$1"; }
row "bandwidth: rate a string" bandwidth 999 "failed to parse network configuration: json: cannot unmarshal string into Go struct field PluginConf.ingressRate of type uint64" <<<"$(bw '"ingressRate":"1M","ingressBurst":1')"
row "bandwidth: rate without burst" bandwidth 999 "if rate is set, burst must also be set" <<<"$(bw '"egressRate":1000')"
row "bandwidth: burst without rate" bandwidth 999 "if burst is set, rate must also be set" <<<"$(bw '"ingressBurst":1000')"
row "bandwidth: burst of 4 GiB" bandwidth 999 "burst cannot be more than 4GB" <<<"$(bw '"ingressRate":1000,"ingressBurst":34359738360')"
row "bandwidth: negative runtime rate" bandwidth 999 "cannot unmarshal number -1 into Go struct field BandwidthEntry.runtimeConfig.bandwidth.egressRate of type uint64" <<<"$(bw '"runtimeConfig":{"bandwidth":{"egressRate":-1,"egressBurst":1}}')"
row "bandwidth: rate 2^64" bandwidth 999 "cannot unmarshal number" <<<"$(bw '"ingressRate":18446744073709551616,"ingressBurst":1')"
row "bandwidth: runtimeConfig a string" bandwidth 999 "cannot unmarshal string into Go struct field PluginConf.runtimeConfig" <<<"$(bw '"runtimeConfig":"fast"')"
row "bandwidth: no prevResult" bandwidth 999 "must be called as chained plugin" <<<'{"cniVersion":"1.0.0","name":"hnet","type":"bandwidth","ingressRate":1000,"ingressBurst":1000}'
row "bandwidth: no interfaces" bandwidth 999 "no interfaces provided" <<<'{"cniVersion":"1.0.0","name":"hnet","type":"bandwidth","ingressRate":1000,"ingressBurst":1000,"prevResult":{"cniVersion":"1.0.0","ips":[{"address":"10.77.0.5/24"}]}}'
row "bandwidth: container interface missing" bandwidth 999 'container interface eth0 has no veth peer: could not look up "eth0": Link not found' <<<"$(bw '"ingressRate":1000,"ingressBurst":1000')"
row "bandwidth: netns gone" bandwidth 999 "failed to open netns" CNI_NETNS=/var/run/netns/whnone$$ <<<"$(bw '"ingressRate":1000,"ingressBurst":1000')"
row "bandwidth: cniVersion 0.2.0" bandwidth 1 "incompatible CNI versions" <<<'{"cniVersion":"0.2.0","name":"hnet","type":"bandwidth"}'
row "bandwidth: prevResult garbage" bandwidth 999 "could not parse prevResult" <<<'{"cniVersion":"1.0.0","name":"hnet","type":"bandwidth","prevResult":{"ips":[{"address":"zz"}]}}'

# --- firewall
FWPREV='"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"hbr0"},{"name":"hveth0"},{"name":"eth0","sandbox":"'$NSPATH'"}],"ips":[{"interface":2,"address":"10.77.0.5/24"},{"interface":2,"address":"fd77::5/64"}]}'
fw() { printf '{"cniVersion":"1.0.0","name":"hnet","type":"firewall",%s,%s}' "$FWPREV" "$1"; }
row "firewall: unknown ingress policy (nothing written first)" firewall 999 'unknown ingress policy: "bogus"' <<<"$(fw '"ingressPolicy":"bogus"')"
row "firewall: firewalld backend" firewall 999 "firewalld backend is not supported" <<<"$(fw '"backend":"firewalld"')"
row "firewall: backend a number" firewall 999 "failed to load netconf: json: cannot unmarshal number into Go struct field FirewallNetConf.backend of type string" <<<"$(fw '"backend":1')"
row "firewall: admin chain injection" firewall 999 "iptablesAdminChainName: invalid chain name" <<<"$(fw '"iptablesAdminChainName":"X\n-P FORWARD ACCEPT"')"
row "firewall: admin chain too long" firewall 999 "iptablesAdminChainName: invalid chain name" <<<"$(fw '"iptablesAdminChainName":"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123"')"
row "firewall: bridge name injection" firewall 999 "invalid interface name" \
  <<<'{"cniVersion":"1.0.0","name":"hnet","type":"firewall","ingressPolicy":"same-bridge","prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"hbr0\n-A INPUT -j DROP"}],"ips":[{"address":"10.77.0.5/24"}]}}'
row "firewall: same-bridge without interfaces" firewall 999 'interface needs to be set for ingress policy "same-bridge"' \
  <<<'{"cniVersion":"1.0.0","name":"hnet","type":"firewall","ingressPolicy":"same-bridge","prevResult":{"cniVersion":"1.0.0","ips":[{"address":"10.77.0.5/24"}]}}'
row "firewall: no prevResult" firewall 999 "missing prevResult from earlier plugin" <<<'{"cniVersion":"1.0.0","name":"hnet","type":"firewall"}'
row "firewall: cniVersion 0.3.1" firewall 1 "incompatible CNI versions" <<<'{"cniVersion":"0.3.1","name":"hnet","type":"firewall"}'
row "firewall: prevResult garbage" firewall 999 "could not parse prevResult" <<<'{"cniVersion":"1.0.0","name":"hnet","type":"firewall","prevResult":{"ips":[{"address":"10.1.2.3"}]}}'

echo "$rows rows, $fails failures"
[ "$fails" = 0 ]
