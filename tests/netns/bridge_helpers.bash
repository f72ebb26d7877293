# Shared helpers of the bridge shell tests (sourced; not a test by itself). Everything happens in
# namespaces the caller created; nothing here touches the root namespace.

need_root() {
  if [ "$(id -u)" != 0 ] || ! ip netns add "wbprobe$$" 2>/dev/null; then
    echo "SKIP: needs root and network namespaces"; exit 77
  fi
  ip netns del "wbprobe$$"
}

fail() { echo "FAIL: $*" >&2; exit 1; }

# bridge_bin DIR: DIR holds our bridge and, for IPAM, our host-local when built, else the
# reference's ($REF_BIN); sets CNI_PATH=DIR and PLUGIN=DIR/bridge for cni().
bridge_bin() {
  mkdir -p "$1"
  ln -s "$WEFT_BIN/bridge" "$1/bridge"
  if [ -x "$WEFT_BIN/host-local" ]; then ln -s "$WEFT_BIN/host-local" "$1/host-local"
  else ln -s "$REF_BIN/host-local" "$1/host-local"; fi
  CNI_PATH=$1 PLUGIN=$1/bridge
}
ok() { echo "ok: $*"; }

# cni <node-ns> <cmd> <netns-path> <containerid> <ifname> <config> [extra env...]
cni() {
  local node=$1 cmd=$2 nsp=$3 cid=$4 ifn=$5 conf=$6; shift 6
  ip netns exec "$node" env -i PATH="$PATH" CNI_COMMAND="$cmd" CNI_CONTAINERID="$cid" \
    CNI_NETNS="$nsp" CNI_IFNAME="$ifn" CNI_PATH="$CNI_PATH" "$@" "$PLUGIN" <<<"$conf"
}

# tcp_probe <client-ns> <server-ns> <server-ip>: a TCP round trip from client to server.
tcp_probe() {
  local cns=$1 sns=$2 ip=$3 port=$((20000 + RANDOM % 20000))
  ip netns exec "$sns" /usr/bin/python3 - "$ip" "$port" 2>/dev/null <<'PY' &
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
s.settimeout(5)
c, _ = s.accept()
c.sendall(c.recv(64))
c.close()
PY
  local srv=$!
  local out
  out=$(ip netns exec "$cns" /usr/bin/python3 - "$ip" "$port" 2>/dev/null <<'PY'
import socket, sys, time
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
for _ in range(50):  # the server may not be listening yet: bounded retries
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
        break
    except ConnectionRefusedError:
        time.sleep(0.05)
else:
    sys.exit(1)
s.sendall(b"weft")
print(s.recv(64).decode())
PY
) || true
  wait $srv || true
  [ "$out" = weft ]
}
