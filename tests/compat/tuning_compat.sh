#!/usr/bin/env bash
# tuning through Debian's reference binary (1.1.1) and through weft, each side in its own
# throw-away node and pod namespaces with the same pod interface (a veth eth0 with a fixed MAC):
# the same result JSON, the same link attributes and sysctls after ADD and after DEL, the same
# state file (path, mode, bytes), the same CHECK answers and errors; and each side's DEL restores
# what the other side's ADD saved (a node can switch with pods running). Documented differences
# (docs/tuning.md) are kept out of the compared rows: the reference's CHECK of IFNAME sysctls
# (broken in 1.1.1) and of a MAC written in another case or form, txQLen and the duplicate/allowlist checks (newer than 1.1.1), and the state
# file the reference leaves behind when the MAC is malformed.
set -euo pipefail
. "$(dirname "$0")/../netns/bridge_helpers.bash"
need_root
WEFT_BIN=${WEFT_BIN:?} REF_BIN=${REF_BIN:-/usr/lib/cni}
[ -x "$REF_BIN/tuning" ] || { echo "SKIP: no reference tuning in $REF_BIN"; exit 77; }
T=$(mktemp -d /tmp/wpa-tc.XXXXXX)
NS_LIST=()
cleanup() { for n in "${NS_LIST[@]}"; do ip netns del "$n" 2>/dev/null || true; done; rm -rf "$T"; }
trap cleanup EXIT
CNI_PATH=/nonexistent
N=0
bin() { [ "$1" = ref ] && echo "$REF_BIN/tuning" || echo "$WEFT_BIN/tuning"; }
# fresh <side>: new node and pod namespaces with eth0 02:00:00:00:aa:01 mtu 1500, empty state dir
fresh() {
  local s=$1
  ip netns del wptn$s$$ 2>/dev/null || true; ip netns del wptp$s$$ 2>/dev/null || true
  ip netns add wptn$s$$; ip netns add wptp$s$$; NS_LIST+=(wptn$s$$ wptp$s$$)
  ip -n wptn$s$$ link add wptv$s$$ type veth peer name eth0 netns wptp$s$$
  ip -n wptp$s$$ link set eth0 address 02:00:00:00:aa:01 mtu 1500
  rm -rf $T/$s; mkdir -p $T/$s
}
conf() {  # conf <side> <cniVersion> <extra> (the prevResult in that version's layout)
  local ver=''; [[ $2 == 0.* ]] && ver='"version":"4",'
  printf '{"cniVersion":"%s","name":"tnet","type":"tuning","dataDir":"%s/state"%s,"prevResult":{"cniVersion":"%s","interfaces":[{"name":"eth0","mac":"02:00:00:00:aa:01","sandbox":"/run/netns/wptp%s%s"}],"ips":[{%s"interface":0,"address":"10.1.0.2/24"}],"dns":{}}}' \
    "$2" "$T/$1" "$3" "$2" "$1" "$$" "$ver"
}
state() {  # everything tuning may change on side $1, normalised
  local s=$1
  ip -n wptp$s$$ -d -j link show eth0 | jq -c '.[0] | [.address, .mtu, .promiscuity, .allmulti, .txqlen]'
  ip netns exec wptp$s$$ sysctl -n net.core.somaxconn net.ipv4.conf.eth0.arp_filter net.ipv4.conf.eth0.arp_ignore | tr '\n' ' '; echo
  (cd $T/$s && find . -printf '%p %y %m\n' | sort && find . -type f -exec sh -c 'echo "== $1"; cat "$1"; echo' _ {} \;)
}
# call <side> <cmd> <cniVersion> <extra> [env...]: the answer and the state, normalised
call() {
  local s=$1 cmd=$2 v=$3 extra=$4 out rc=0; shift 4
  out=$(ip netns exec wptn$s$$ env -i CNI_COMMAND=$cmd CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/wptp$s$$ CNI_IFNAME=eth0 \
    CNI_PATH=$CNI_PATH "$@" "$(bin $s)" <<<"$(conf $s $v "$extra")") || rc=$?
  echo "$cmd rc=$rc ${out:+$(jq -cS . <<<"$out")}"
  state $s
}
# scenario <label> <cniVersion> <extra> [env...]: ADD, CHECK, DEL on both sides, compared
scenario() {
  local label=$1 v=$2 extra=$3 s; shift 3
  N=$((N + 1))
  for s in ref weft; do
    fresh $s
    { call $s ADD $v "$extra" "$@"; [ "$v" = 0.3.1 ] || [ -n "${NOCHECK:-}" ] || call $s CHECK $v "$extra" "$@"; call $s DEL $v "$extra" "$@"; } \
      | sed "s#$T/$s#DIR#g; s#wptp$s$$#POD#g" >$T/$s.out
  done
  if diff -u $T/ref.out $T/weft.out >$T/diff; then ok "compat $label: $(head -1 $T/weft.out | cut -c1-150)"
  else cat $T/diff; fail "compat $label differs (- reference, + weft)"; fi
}
ALL=',"sysctl":{"net.core.somaxconn":"511","net.ipv4.conf.eth0.arp_ignore":"1"},"mac":"c2:b0:57:49:47:f1","mtu":1400,"promisc":true,"allmulti":true'
scenario "all attributes 1.0.0" 1.0.0 "$ALL"
scenario "all attributes 0.4.0" 0.4.0 "$ALL"
scenario "all attributes 0.3.1" 0.3.1 "$ALL"
scenario "IFNAME sysctl (ADD/DEL)" 0.3.1 ',"sysctl":{"net.ipv4.conf.IFNAME.arp_filter":"1"}'
# (CHECK differs by design: the reference compares the MAC as text, so its CHECK fails here)
NOCHECK=1 scenario "mac upper case with dashes" 1.0.0 ',"mac":"C2-B0-57-49-47-F2"'
scenario "allmulti false, promisc false" 1.0.0 ',"allmulti":false,"promisc":false'
scenario "CNI_ARGS MAC" 1.0.0 ',"mac":"02:00:00:00:00:01"' CNI_ARGS="IgnoreUnknown=1;MAC=02:00:00:00:00:02"
scenario "runtimeConfig.mac over CNI_ARGS" 1.0.0 ',"capabilities":{"mac":true},"runtimeConfig":{"mac":"02:00:00:00:00:03"}' CNI_ARGS="MAC=02:00:00:00:00:02"
scenario "args.cni over everything" 1.0.0 ',"mac":"02:00:00:00:00:01","runtimeConfig":{"mac":"02:00:00:00:00:03"},"sysctl":{},"args":{"cni":{"mac":"02:00:00:00:00:04","mtu":1300,"promisc":true,"sysctl":{"net.core.somaxconn":"99"}}}'
scenario "no changes" 1.0.0 ''
# (1.1.1's CHECK reads any /proc/sys key; weft's refuses non-net keys in CHECK too, as v1.3.0+)
NOCHECK=1 scenario "kernel sysctl refused" 1.0.0 ',"sysctl":{"kernel.core_pattern":"x"}'
scenario "missing net sysctl" 1.0.0 ',"sysctl":{"net.ipv4.nonexistent":"1"}'
scenario "bad sysctl value" 1.0.0 ',"sysctl":{"net.ipv4.conf.eth0.arp_ignore":"x"}'
scenario "mtu too large (after the state file)" 1.0.0 ',"mtu":100000'
scenario "multicast MAC (EADDRNOTAVAIL)" 1.0.0 ',"mac":"01:00:00:00:00:01"'
scenario "mtu a string" 1.0.0 ',"mtu":"1400"'
scenario "args.cni.mtu a string" 1.0.0 ',"args":{"cni":{"mtu":"x"}}'
scenario "runtimeConfig.mac a number" 1.0.0 ',"runtimeConfig":{"mac":5}'
scenario "CNI_ARGS unknown key" 1.0.0 ',"mtu":1400' CNI_ARGS="FOO=1"

# Missing prevResult (the conf helper always adds one, so this row builds its own config).
for s in ref weft; do
  fresh $s
  { ip netns exec wptn$s$$ env -i CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/wptp$s$$ CNI_IFNAME=eth0 CNI_PATH=/x \
      "$(bin $s)" <<<'{"cniVersion":"1.0.0","name":"tnet","type":"tuning","mtu":1400}' || true; state $s; } \
    | sed "s#$T/$s#DIR#g" >$T/$s.out
done
diff -u $T/ref.out $T/weft.out || fail "compat missing prevResult differs"
ok "compat missing prevResult: $(head -c 80 $T/weft.out | tr -d '\n')"

# Switching implementations with pods running: one side's ADD, the other side's DEL.
for pair in "ref weft" "weft ref"; do
  set -- $pair
  fresh x
  add=$(ip netns exec wptnx$$ env -i CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/wptpx$$ CNI_IFNAME=eth0 CNI_PATH=/x \
    "$(bin $1)" <<<"$(conf x 1.0.0 "$ALL")")
  saved=$(cat $T/x/state/c1_eth0.json)
  ip netns exec wptnx$$ env -i CNI_COMMAND=DEL CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/wptpx$$ CNI_IFNAME=eth0 CNI_PATH=/x \
    "$(bin $2)" <<<"$(conf x 1.0.0 "$ALL")" >/dev/null
  got=$(ip -n wptpx$$ -d -j link show eth0 | jq -c '.[0] | [.address, .mtu, .promiscuity, .allmulti]')
  [ "$got" = '["02:00:00:00:aa:01",1500,0,0]' ] || fail "ADD by $1, DEL by $2: eth0 is $got (saved $saved)"
  [ ! -e $T/x/state/c1_eth0.json ] || fail "ADD by $1, DEL by $2: state file left"
  ok "ADD by $1, DEL by $2: eth0 restored to $got, state file removed"
done
echo "PASS ($N scenarios)"
