#!/usr/bin/env bash
# scripts/install (the kube-flannel init container) into temp dirs, never the real
# /opt/cni/bin: --dry-run changes nothing; a first run installs plugins (0755) and the conflist
# (0644) with identical content; a second run touches nothing (same inodes); a changed plugin is
# replaced by rename while a process is executing it (an in-place copy fails with "Text file
# busy", the installer must not); a broken or missing source changes nothing on the node and
# leaves no temp files; a plugin for another architecture, and with --require-static a dynamic
# or non-ELF one, is refused before anything is copied; and conf/kube-flannel.yml ships the same conflist and net-conf as conf/
# and runs the installer in its init container.
set -euo pipefail
export LC_ALL=C
REF_BIN=${REF_BIN:-/usr/lib/cni} WEFT_SRC=${WEFT_SRC:?}
INSTALL=$WEFT_SRC/scripts/install
for p in bridge host-local portmap; do [ -x "$REF_BIN/$p" ] || { echo "skip: no $REF_BIN/$p"; exit 77; }; done
T=$(mktemp -d /tmp/weft-fl-install.XXXXXX)
BUSY_PID=""
cleanup() { [ -z "$BUSY_PID" ] || kill "$BUSY_PID" 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
source "$(dirname "$0")/../checks.bash"

# Sources: real CNI plugins (they answer VERSION), one per name the installer ships.
SRC=$T/src
mkdir -p "$SRC"
cp "$REF_BIN/bridge" "$REF_BIN/host-local" "$REF_BIN/portmap" "$SRC/"
cp "$REF_BIN/host-local" "$SRC/flannel"
BIN=$T/opt/cni/bin NETD=$T/etc/cni/net.d
args=(--source-dir "$SRC" --bin-dir "$BIN" --conf-dir "$NETD")
listing() { (cd "$T" && find opt etc -printf '%p %m %i\n' 2>/dev/null | sort); }

out=$("$INSTALL" "${args[@]}" --dry-run)
expect_eq "$(grep -c '^would install' <<<"$out")" 5 "dry-run lists 5 files"
[ ! -e "$T/opt" ] && [ ! -e "$T/etc" ] && ok || bad "dry-run created files"

out=$("$INSTALL" "${args[@]}")
expect_eq "$(grep -c '^installed' <<<"$out")" 5 "first run installs 5 files"
for p in flannel bridge host-local portmap; do
  cmp -s "$SRC/$p" "$BIN/$p" && ok || bad "$p content"
  expect_eq "$(stat -c %a "$BIN/$p")" 755 "$p mode"
done
cmp -s "$WEFT_SRC/conf/10-flannel.conflist" "$NETD/10-flannel.conflist" && ok || bad "conflist content"
expect_eq "$(stat -c %a "$NETD/10-flannel.conflist")" 644 "conflist mode"
# The conflist is installed after the plugins (so the runtime never sees it without them).
expect_eq "$(tail -1 <<<"$out")" "installed $NETD/10-flannel.conflist" "conflist last"

before=$(listing)
out=$("$INSTALL" "${args[@]}")
expect_eq "$(grep -c '^unchanged' <<<"$out")" 5 "second run changes nothing"
expect_eq "$(listing)" "$before" "same files, modes and inodes"

# Replace bridge while it is executing: skel blocks reading stdin from a pipe we keep open.
mkfifo "$T/fifo"
env -i CNI_COMMAND=ADD CNI_CONTAINERID=x CNI_NETNS=/nonexistent CNI_IFNAME=eth0 CNI_PATH="$BIN" "$BIN/bridge" <"$T/fifo" >/dev/null 2>&1 &
BUSY_PID=$!
exec 9>"$T/fifo"
for _ in $(seq 50); do [ "$(readlink "/proc/$BUSY_PID/exe" 2>/dev/null)" == "$BIN/bridge" ] && break; sleep 0.1; done
expect_eq "$(readlink "/proc/$BUSY_PID/exe")" "$BIN/bridge" "bridge is executing"
if cp "$REF_BIN/portmap" "$BIN/bridge" 2>"$T/cp.err"; then bad "in-place copy over a running binary succeeded (test is moot)"; else expect_has "$(cat "$T/cp.err")" "Text file busy" "in-place copy fails"; fi
cp "$REF_BIN/portmap" "$SRC/bridge"
old_inode=$(stat -c %i "$BIN/bridge")
out=$("$INSTALL" "${args[@]}")
expect_eq "$(grep '^installed' <<<"$out")" "installed $BIN/bridge" "only the changed plugin is installed"
cmp -s "$SRC/bridge" "$BIN/bridge" && ok || bad "new bridge content"
[ "$(stat -c %i "$BIN/bridge")" != "$old_inode" ] && ok || bad "bridge was rewritten in place"
kill -0 "$BUSY_PID" 2>/dev/null && ok || bad "running bridge was disturbed"
exec 9>&-
kill "$BUSY_PID" 2>/dev/null || true
wait "$BUSY_PID" 2>/dev/null || true
BUSY_PID=""

# Broken sources change nothing and leave no temp files.
before=$(listing)
printf 'not a plugin' >"$SRC/portmap.new" && chmod +x "$SRC/portmap.new" && mv "$SRC/portmap.new" "$SRC/portmap"
if out=$("$INSTALL" "${args[@]}" 2>&1); then bad "installing a broken plugin succeeded"; else expect_has "$out" "does not run here" "broken plugin rejected"; fi
rm "$SRC/flannel"
if out=$("$INSTALL" "${args[@]}" 2>&1); then bad "missing plugin accepted"; else expect_has "$out" "missing plugin $SRC/flannel" "missing plugin"; fi
if out=$("$INSTALL" "${args[@]}" --bogus 2>&1); then bad "unknown flag accepted"; else expect_has "$out" "unknown argument: --bogus" "unknown flag"; fi
cp "$REF_BIN/host-local" "$SRC/flannel"
# A binary for another architecture (the ELF machine field says aarch64) is refused, and with
# --require-static a dynamic one too, before anything is copied.
cp "$REF_BIN/portmap" "$SRC/portmap"
cp "$REF_BIN/loopback" "$SRC/wr-arm" 2>/dev/null || cp "$REF_BIN/portmap" "$SRC/wr-arm"
printf '\xb7\x00' | dd of="$SRC/wr-arm" bs=1 seek=18 conv=notrunc status=none
if out=$("$INSTALL" "${args[@]}" 2>&1); then bad "other-architecture plugin accepted"; else expect_has "$out" "is for another architecture (ELF machine 183" "other architecture"; fi
rm "$SRC/wr-arm"
# Debian's plugins are dynamic executables (the release's static ones pass: tests/e2e/release_image.sh).
if out=$("$INSTALL" "${args[@]}" --require-static 2>&1); then bad "dynamic plugin accepted with --require-static"; else expect_has "$out" "$SRC/flannel is not static" "--require-static"; fi
printf '#!/bin/sh\n' >"$SRC/wr-script" && chmod +x "$SRC/wr-script"
if out=$("$INSTALL" "${args[@]}" --require-static --plugins wr-script 2>&1); then bad "script accepted with --require-static"; else expect_has "$out" "is not an ELF executable" "--require-static, script"; fi
rm "$SRC/wr-script"
expect_eq "$(listing)" "$before" "failed runs changed nothing"
expect_eq "$(find "$T/opt" "$T/etc" -name '.*weft-install*' | wc -l)" 0 "no temp files left"

# The manifest ships conf/'s files and runs the installer.
if python3 -c 'import yaml' 2>/dev/null; then
  python3 - "$WEFT_SRC" <<'PY' && ok || bad "kube-flannel.yml is not consistent with conf/"
import json, sys, yaml
src = sys.argv[1]
docs = [d for d in yaml.safe_load_all(open(src + "/conf/kube-flannel.yml")) if d]
kinds = [d["kind"] for d in docs]
assert kinds == ["Namespace", "ClusterRole", "ClusterRoleBinding", "ServiceAccount", "ConfigMap", "DaemonSet"], kinds
cm = next(d for d in docs if d["kind"] == "ConfigMap")
assert json.loads(cm["data"]["cni-conf.json"]) == json.load(open(src + "/conf/10-flannel.conflist"))
assert json.loads(cm["data"]["net-conf.json"]) == json.load(open(src + "/conf/net-conf.json"))
pod = next(d for d in docs if d["kind"] == "DaemonSet")["spec"]["template"]["spec"]
init = pod["initContainers"]
assert len(init) == 1 and init[0]["command"] == ["/weft/scripts/install"], init
assert "--conflist=/etc/kube-flannel/cni-conf.json" in init[0]["args"], init[0]["args"]
mounts = {m["name"]: m["mountPath"] for m in init[0]["volumeMounts"]}
vols = {v["name"]: v for v in pod["volumes"]}
assert vols["cni-plugin"]["hostPath"]["path"] == "/opt/cni/bin" and mounts["cni-plugin"] == "/host/opt/cni/bin"
assert vols["cni"]["hostPath"]["path"] == "/etc/cni/net.d" and mounts["cni"] == "/host/etc/cni/net.d"
main = pod["containers"][0]
assert "--kube-subnet-mgr" in main["args"] and "--ip-masq" in main["args"]
assert any(m["mountPath"] == "/run/flannel" for m in main["volumeMounts"])
PY
else
  echo "note: python3-yaml missing, manifest check not run"
fi

echo "flannel install: $checks checks, $fails failures"
[ "$fails" -eq 0 ]
