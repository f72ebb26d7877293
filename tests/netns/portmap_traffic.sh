#!/usr/bin/env bash
# portmap with real traffic, all inside throw-away namespaces: a "node" namespace with a bridge
# and two pods behind it, and a "client" namespace acting as a second host on a point-to-point
# link to the node. Checks TCP and UDP from the client to nodeIP:hostPort, 127.0.0.1:hostPort
# from the node (route_localnet + masquerade), hairpin from the pod to nodeIP:hostPort, a
# hostIP-bound mapping (reachable on its address only), a UDP host port moved to a new pod while
# the client keeps sending from the same source port (stale conntrack entry deleted), and that
# DEL removes every per-container rule and the forwarding stops; once with the iptables backend the
# host uses and once with native nftables.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "needs root"; exit 77; }
WEFT_BIN=${WEFT_BIN:?}
PM=$WEFT_BIN/portmap
[ -x "$PM" ] || { echo "weft portmap not built"; exit 1; }
PY=$(command -v python3) || { echo "python3 missing"; exit 77; }
S=$$; T=$(mktemp -d /tmp/weft-pmt.XXXXXX)
N=wpmt-node-$S; C=wpmt-cli-$S; PA=wpmt-pa-$S; PB=wpmt-pb-$S
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for ns in $N $C $PA $PB; do ip netns del $ns 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
fail() {
  echo "FAIL ($BACKEND): $*"
  ip netns exec $N iptables-save -t nat 2>/dev/null | grep -v '^#' || true
  ip netns exec $N nft list ruleset 2>/dev/null || true
  exit 1
}

cat >"$T/net.py" <<'PYEOF'
import socket, sys
mode = sys.argv[1]
if mode in ("tcp-server", "udp-server"):
    host, port, tag = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    if mode == "tcp-server":
        s = socket.socket(fam, socket.SOCK_STREAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port)); s.listen(16)
        while True:
            c, a = s.accept()
            try:
                c.recv(100); c.sendall(f"{tag} {a[0]}".encode())
            finally:
                c.close()
    s = socket.socket(fam, socket.SOCK_DGRAM); s.bind((host, port))
    while True:
        d, a = s.recvfrom(100); s.sendto(f"{tag} {a[0]}".encode(), a)
else:  # tcp-client / udp-client host port [srcport]: prints the reply or "ERR <reason>"
    host, port = sys.argv[2], int(sys.argv[3])
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        s = socket.socket(fam, socket.SOCK_STREAM if mode == "tcp-client" else socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if len(sys.argv) > 4: s.bind(("", int(sys.argv[4])))
        s.settimeout(1.5)
        s.connect((host, port)); s.send(b"hi"); print(s.recv(100).decode())
    except Exception as e:
        print("ERR", type(e).__name__)
PYEOF
net() { "$PY" "$T/net.py" "$@"; }

# Node, client, pods.
for ns in $N $C $PA $PB; do ip netns add $ns; ip -n $ns link set lo up; done
ip -n $N link add br0 type bridge
ip -n $N addr add 10.77.0.1/24 dev br0
ip -n $N link set br0 up
ip netns exec $N sysctl -qw net.ipv4.ip_forward=1
i=0
for pod in $PA $PB; do
  i=$((i + 1))
  ip -n $N link add vp$i type veth peer name eth0 netns $pod
  ip -n $N link set vp$i master br0
  ip -n $N link set vp$i type bridge_slave hairpin on
  ip -n $N link set vp$i up
  ip -n $pod addr add 10.77.0.$((i + 1))/24 dev eth0
  ip -n $pod link set eth0 up
  ip -n $pod route add default via 10.77.0.1
done
ip -n $N link add up0 type veth peer name eth0 netns $C
ip -n $N addr add 192.168.77.1/24 dev up0
ip -n $N addr add 192.168.78.1/24 dev up0
ip -n $N link set up0 up
ip -n $C addr add 192.168.77.2/24 dev eth0
ip -n $C addr add 192.168.78.2/24 dev eth0
ip -n $C link set eth0 up

start() { ip netns exec "$1" "$PY" "$T/net.py" "${@:2}" & pids+=($!); }
start $PA tcp-server 10.77.0.2 80 podA
start $PA udp-server 10.77.0.2 81 podA
start $PB tcp-server 10.77.0.3 80 podB
start $PB udp-server 10.77.0.3 81 podB

BACKEND=iptables
conf() { # $1 = pod ip
cat <<JSON
{"cniVersion":"1.0.0","name":"pmtest","type":"portmap","backend":"$BACKEND",
 "runtimeConfig":{"portMappings":[
   {"HostPort":8080,"ContainerPort":80,"Protocol":"tcp"},
   {"hostPort":8081,"containerPort":81,"protocol":"udp"},
   {"hostPort":9090,"containerPort":80,"protocol":"tcp","hostIP":"192.168.77.1"}]},
 "prevResult":{"cniVersion":"1.0.0",
   "interfaces":[{"name":"eth0","sandbox":"/var/run/netns/x"}],
   "ips":[{"interface":0,"address":"$1/24","gateway":"10.77.0.1"}],"dns":{}}}
JSON
}
cni() { # ns cmd id conf
  ip netns exec $N env CNI_COMMAND=$2 CNI_CONTAINERID=$3 CNI_NETNS=/var/run/netns/$1 CNI_IFNAME=eth0 \
    CNI_PATH=$WEFT_BIN "$PM" <<<"$4"
}
expect() { # ns what expected-prefix args...
  local ns=$1 what=$2 want=$3 got=""; shift 3
  for _ in 1 2 3 4 5 6 7 8 9 10; do  # servers start asynchronously: bounded retries
    got=$(ip netns exec $ns "$PY" "$T/net.py" "$@")
    [[ $got == $want* ]] && { echo "ok: $what -> $got"; return 0; }
    [[ $want == ERR* ]] && break
    sleep 0.2
  done
  fail "$what: got '$got', want '$want'"
}

suite() {
  cni $PA ADD ctrA "$(conf 10.77.0.2)" >/dev/null
  expect $C "tcp client->nodeIP:8080" "podA 192.168.77.2" tcp-client 192.168.77.1 8080
  expect $C "udp client->nodeIP:8081" "podA 192.168.77.2" udp-client 192.168.77.1 8081
  expect $N "tcp node->127.0.0.1:8080 (masqueraded)" "podA 10.77.0.1" tcp-client 127.0.0.1 8080
  expect $PA "hairpin pod->nodeIP:8080 (masqueraded)" "podA 10.77.0.1" tcp-client 192.168.77.1 8080
  expect $C "hostIP-bound 192.168.77.1:9090" "podA" tcp-client 192.168.77.1 9090
  expect $C "hostIP-bound mapping not on 192.168.78.1:9090" "ERR" tcp-client 192.168.78.1 9090
  expect $C "unbound mapping on 192.168.78.1:8080" "podA" tcp-client 192.168.78.1 8080
  cni $PA CHECK ctrA "$(conf 10.77.0.2)"

  # UDP from a fixed source port keeps one conntrack entry alive; move the host port to pod B.
  expect $C "udp from fixed port 40000" "podA" udp-client 192.168.77.1 8081 40000
  ip netns exec $N conntrack -L -p udp 2>/dev/null | grep -q "dport=8081" || fail "no conntrack entry to start with"
  cni $PA DEL ctrA "$(conf 10.77.0.2)"
  ip netns exec $N conntrack -L -p udp 2>/dev/null | grep -q "dport=8081" && fail "DEL left the UDP conntrack entry"
  expect $C "tcp after DEL" "ERR" tcp-client 192.168.77.1 8080
  cni $PB ADD ctrB "$(conf 10.77.0.3)" >/dev/null
  expect $C "udp same source port reaches the new pod" "podB" udp-client 192.168.77.1 8081 40000
  expect $C "tcp to the new pod" "podB" tcp-client 192.168.77.1 8080

  # Stale entry on ADD: keep a flow to pod B, re-point the port to pod A without a DEL in between
  # (as after a crashed runtime): ADD must flush the entry too.
  expect $C "udp fixed port 40001 to pod B" "podB" udp-client 192.168.77.1 8081 40001
  cni $PA ADD ctrA "$(conf 10.77.0.2)" >/dev/null
  cni $PB DEL ctrB "$(conf 10.77.0.3)"
  expect $C "udp fixed port 40001 after re-ADD" "podA" udp-client 192.168.77.1 8081 40001

  cni $PA DEL ctrA "$(conf 10.77.0.2)"
  cni $PA DEL ctrA "$(conf 10.77.0.2)"  # idempotent
  if [ $BACKEND = iptables ]; then
    left=$(ip netns exec $N iptables-save -t nat | grep -c 'CNI-DN-' || true)
    ip netns exec $N iptables-save -t nat | grep -q ':CNI-HOSTPORT-DNAT' || fail "shared chain removed"
  else
    left=$(ip netns exec $N nft list table ip cni_hostport | grep -c 'comment "ctr' || true)
    ip netns exec $N nft list chain ip cni_hostport hostports >/dev/null || fail "skeleton removed"
  fi
  [ "$left" = 0 ] || fail "per-container rules left after DEL: $left"
  expect $C "udp after final DEL" "ERR" udp-client 192.168.77.1 8081
  echo "portmap traffic ($BACKEND): OK"
}

for BACKEND in iptables nftables; do
  # The shared iptables chains stay after the iptables run; drop them so only nft rules act.
  [ $BACKEND = nftables ] && ip netns exec $N iptables -t nat -F && ip netns exec $N iptables -t nat -X
  suite
done
