#!/usr/bin/env bash
# flannel drop-in compat, through the built binary. The reference flannel binary is not packaged
# in Debian, so the oracle is the reference's verified json.Marshal output for the shipped
# kube-flannel conflist (flannel.md §1.4, [VERIFIED: Go encoding/json output]), copied below
# verbatim. Checks, with a recording fake "bridge" on CNI_PATH:
#  - ADD with the §1.4 inputs: the saved <dataDir>/<containerID> and the delegate's stdin are
#    both exactly the oracle bytes (sorted keys, compact, no newline), mode 0600, dataDir 0700;
#  - state written by the reference (the same bytes) is replayed unchanged by our DEL and the
#    file removed (an upgrade from the Go plugin can DEL what it ADDed), a second DEL succeeds;
#  - the kubelet-visible error texts: missing subnet.env (code 11 here, 999 in the reference,
#    same text), incomplete subnet.env, delegate validation, delegate binary missing.
set -euo pipefail
export LC_ALL=C
WEFT_BIN=${WEFT_BIN:?}
PLUGIN=$WEFT_BIN/flannel
[ -x "$PLUGIN" ] || { echo "missing $PLUGIN"; exit 1; }
command -v jq >/dev/null || { echo "skip: needs jq"; exit 77; }
T=$(mktemp -d /tmp/weft-fl-compat.XXXXXX)
trap 'rm -rf "$T"' EXIT
source "$(dirname "$0")/../checks.bash"

ORACLE='{"cniVersion":"0.3.1","hairpinMode":true,"ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.244.1.0/24"}]],"routes":[{"dst":"10.244.0.0/16"}],"type":"host-local"},"isDefaultGateway":true,"isGateway":true,"mtu":1450,"name":"cbr0","runtimeConfig":{"portMappings":[]},"type":"bridge"}'

mkdir -p "$T/bin"
cat >"$T/bin/bridge" <<'SH'
#!/bin/sh
cat > "$FAKE_DIR/stdin.$CNI_COMMAND"
[ "$CNI_COMMAND" = ADD ] && printf '{"cniVersion":"0.3.1","ips":[{"version":"4","address":"10.244.1.2/24","gateway":"10.244.1.1"}],"dns":{}}'
exit 0
SH
chmod +x "$T/bin/bridge"
printf 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n' >"$T/subnet.env"

# The flannel entry of kube-flannel.yml's cni-conf.json as libcni hands it over (list name and
# version added), with the runtimeConfig of §1.4.
conf() {
  printf '{"cniVersion":"0.3.1","name":"cbr0","type":"flannel","subnetFile":"%s","dataDir":"%s","delegate":{"hairpinMode":true,"isDefaultGateway":true},"runtimeConfig":{"portMappings":[]}%s}' \
    "$T/subnet.env" "$T/data" "${1:-}"
}
# run CMD ID CONF [CNI_PATH] -> OUT, RC
run() {
  set +e
  OUT=$(printf '%s' "$3" | env -i PATH="$PATH" FAKE_DIR="$T" CNI_COMMAND="$1" CNI_CONTAINERID="$2" \
    CNI_NETNS=/var/run/netns/weft-fl-absent CNI_IFNAME=eth0 CNI_PATH="${4:-$T/bin}" "$PLUGIN" 2>"$T/stderr")
  RC=$?
  set -e
}

run ADD 3c05350c "$(conf)"
expect_eq "$RC" 0 "ADD rc"
expect_eq "$(cat "$T/data/3c05350c")" "$ORACLE" "saved file = reference bytes"
expect_eq "$(cat "$T/stdin.ADD")" "$ORACLE" "delegate stdin = reference bytes"
expect_eq "$(tail -c1 "$T/data/3c05350c" | od -An -c | tr -d ' ')" "}" "no trailing newline"
expect_eq "$(stat -c %a "$T/data/3c05350c")" 600 "saved file mode"
expect_eq "$(stat -c %a "$T/data")" 700 "dataDir mode"
expect_eq "$(jq -c . <<<"$OUT")" '{"cniVersion":"0.3.1","ips":[{"version":"4","address":"10.244.1.2/24","gateway":"10.244.1.1"}],"dns":{}}' "ADD prints the delegate result"

# A file the Go plugin saved is replayed byte for byte.
printf '%s' "$ORACLE" >"$T/data/go-saved"
run DEL go-saved "$(conf)"
expect_eq "$RC" 0 "DEL rc"
expect_eq "$(cat "$T/stdin.DEL")" "$ORACLE" "DEL replays the saved bytes"
[ ! -e "$T/data/go-saved" ] && ok || bad "saved file kept after a successful DEL"
run DEL go-saved "$(conf)"
expect_eq "$RC" 0 "second DEL rc"

# Error texts (kubelet shows them as: plugin type="flannel" failed (add): <msg>).
run ADD c2 "$(conf | sed "s|$T/subnet.env|$T/absent.env|")"
expect_eq "$(jq -c . <<<"$OUT")" "$(jq -nc --arg m "failed to load flannel 'subnet.env' file: open $T/absent.env: no such file or directory. Check the flannel pod log for this node." '{code:11,msg:$m}')" "missing subnet.env"
printf 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\n' >"$T/partial.env"
run ADD c2 "$(conf | sed "s|$T/subnet.env|$T/partial.env|")"
expect_eq "$(jq -r .msg <<<"$OUT")" "failed to load flannel 'subnet.env' file: $T/partial.env is missing FLANNEL_MTU, FLANNEL_IPMASQ. Check the flannel pod log for this node." "incomplete subnet.env"
run ADD c2 "$(conf | sed 's|"delegate":{|"delegate":{"name":"x",|')"
expect_eq "$(jq -c . <<<"$OUT")" '{"code":999,"msg":"'"'delegate' dictionary must not have 'name' field, it'll be set by flannel"'"}' "delegate name"
run ADD c2 "$(conf)" /nonexistent/bin
expect_eq "$(jq -r .msg <<<"$OUT")" 'failed to delegate add: failed to find plugin "bridge" in path [/nonexistent/bin]' "delegate binary missing"

echo "flannel compat: $checks checks, $fails failures"
[ "$fails" -eq 0 ]
