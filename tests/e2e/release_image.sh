#!/usr/bin/env bash
# The release image (scripts/image) as a node uses it, offline: the OCI archive is loaded with
# `podman load` into private vfs storage under a temp dir (the machine's container storage is
# never touched); the init container of conf/kube-flannel.yml (its command and args, and the
# image's default command with --require-static) installs into a temporary host dir, after which
# every released plugin and the conflist are there, identical to the release, with the right
# modes, no temp file left, each plugin answering VERSION, and a second run changes nothing;
# weftd from the image prints the release's version, and one etcd-mode start in a node namespace
# (tests/e2e/overlay.bash: etcd in an underlay namespace, the container joins the node's network
# namespace) leases a subnet, writes subnet.env and creates flannel.1 there.
set -euo pipefail
export LC_ALL=C
WEFT_SRC=${WEFT_SRC:?} WEFT_BUILD=${WEFT_BUILD:?}
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root"; exit 77; }
for c in podman buildah jq python3; do command -v $c >/dev/null || { echo "skip: needs $c"; exit 77; }; done
T=$(mktemp -d /tmp/wr-image.XXXXXX)
P() { podman --root "$T/storage" --runroot "$T/run" --storage-driver vfs --cgroup-manager cgroupfs --events-backend file "$@"; }
# podman's default rlimits (nofile/nproc 1048576) exceed what this machine lets runc set, and
# runc then refuses to start the container; modest explicit limits always work.
ULIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
# Containers and their conmon go under a cgroup of the test's own (removed in finish): without a
# --cgroup-parent podman would leave /libpod_parent in every host hierarchy.
CG=wr-image-$$
ULIMITS+=(--cgroup-parent "/$CG")
WEFTD_CTR=wr-weftd-$$
export OV_ID=wr$$ OV_TMP=$T/ov OV_KEEP_TMP=1
finish() {
  P rm -f -t 2 "$WEFTD_CTR" >/dev/null 2>&1 || true
  ov_cleanup || true
  # the storage holds the image's vfs layers (and mounts, should a container be left)
  umount -R "$T/storage" 2>/dev/null || true
  local h
  for h in /sys/fs/cgroup/*/; do
    [ -d "$h$CG" ] && find "$h$CG" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  rm -rf "$T"
}

source "$(dirname "$0")/../checks.bash"

source "$WEFT_SRC/tests/e2e/overlay.bash"
trap finish EXIT
source "$WEFT_SRC/tests/netns/release_helpers.bash"
release_tarball
ARCHIVE=$RELEASE_DIST/weft-image-v$RELEASE_VERSION.oci.tar
if [ -z "${WEFT_RELEASE_DIST:-}" ] || [ ! "$ARCHIVE" -nt "$TARBALL" ]; then  # built before the tarball: stale
  "$WEFT_SRC/scripts/image" --build-dir "$RELEASE_BUILD" --dist-dir "$RELEASE_DIST" >"$T/image.log" 2>&1 ||
    { tail -20 "$T/image.log"; echo "FAIL: scripts/image"; exit 1; }
  tail -1 "$T/image.log"
fi
BASE=$(sed -n 's/^project(weft VERSION \([0-9.]*\).*/\1/p' "$WEFT_SRC/CMakeLists.txt")
TAG=localhost/weft:v$BASE
echo "archive: $ARCHIVE ($(stat -c %s "$ARCHIVE") bytes)"

# --- load, offline
out=$(P load -i "$ARCHIVE" 2>&1)
expect_has "$out" "$TAG" "podman load names the image"
expect_eq "$(P image inspect --format '{{index .Labels "org.opencontainers.image.version"}}' "$TAG")" "$RELEASE_VERSION" "image version label"
mapfile -t PLUGINS < <(tar -tzf "$TARBALL")
X=$T/tarball && mkdir -p "$X" && tar -C "$X" -xzf "$TARBALL"

# check_installed DIR LABEL: every plugin and the conflist, complete and live.
check_installed() {
  local d=$1 l=$2 p
  for p in "${PLUGINS[@]}"; do
    cmp -s "$X/$p" "$d/opt/cni/bin/$p" && ok || bad "$l: $p differs from the release"
    expect_eq "$(stat -c %a "$d/opt/cni/bin/$p" 2>&1)" 755 "$l: $p mode"
    [[ $(env -i CNI_COMMAND=VERSION "$d/opt/cni/bin/$p" </dev/null 2>&1) == *supportedVersions* ]] && ok || bad "$l: $p VERSION"
  done
  expect_eq "$(ls -A "$d/opt/cni/bin" | sort | tr '\n' ' ')" "$(printf '%s\n' "${PLUGINS[@]}" | sort | tr '\n' ' ')" "$l: bin dir holds the plugins only"
  cmp -s "$WEFT_SRC/conf/10-flannel.conflist" "$d/etc/cni/net.d/10-flannel.conflist" && ok || bad "$l: conflist"
  expect_eq "$(find "$d" -name '.*weft-install*' | wc -l)" 0 "$l: no temp file left"
}
host_mounts() { echo -v "$1/opt/cni/bin:/host/opt/cni/bin" -v "$1/etc/cni/net.d:/host/etc/cni/net.d"; }

# --- the image's default command (--require-static)
H1=$T/host1 && mkdir -p "$H1/opt/cni/bin" "$H1/etc/cni/net.d"
out=$(P run --rm "${ULIMITS[@]}" --network none $(host_mounts "$H1") "$TAG" 2>&1) || bad "default command failed: $out"
expect_eq "$(grep -c '^installed' <<<"$out")" $((${#PLUGINS[@]} + 1)) "default command installs every plugin and the conflist"
expect_eq "$(tail -1 <<<"$out")" "installed /host/etc/cni/net.d/10-flannel.conflist" "conflist installed last"
check_installed "$H1" "default command"
out=$(P run --rm "${ULIMITS[@]}" --network none $(host_mounts "$H1") "$TAG" 2>&1) || bad "second run failed: $out"
expect_eq "$(grep -c '^unchanged' <<<"$out")" $((${#PLUGINS[@]} + 1)) "second run changes nothing"

# --- the manifest's init container: its command and args, its ConfigMap's conflist
mapfile -t INIT < <(python3 - "$WEFT_SRC/conf/kube-flannel.yml" <<'PY'
import sys, yaml
ds = next(d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "DaemonSet")
init = ds["spec"]["template"]["spec"]["initContainers"][0]
for a in init["command"] + init.get("args", []):
    print(a)
PY
)
((${#INIT[@]})) && ok || bad "no init container in conf/kube-flannel.yml"
H2=$T/host2 && mkdir -p "$H2/opt/cni/bin" "$H2/etc/cni/net.d"
out=$(P run --rm "${ULIMITS[@]}" --network none $(host_mounts "$H2") -v "$WEFT_SRC/conf/10-flannel.conflist:/etc/kube-flannel/cni-conf.json:ro" \
  --entrypoint "${INIT[0]}" "$TAG" "${INIT[@]:1}" 2>&1) || bad "manifest init container failed: $out"
check_installed "$H2" "manifest init container"

# --- weftd from the image
out=$(P run --rm "${ULIMITS[@]}" --network none "$TAG" /weft/bin/weftd --version 2>&1)
expect_eq "$out" "$RELEASE_VERSION" "weftd --version"
expect_has "$(P run --rm "${ULIMITS[@]}" --network none "$TAG" iptables -V 2>&1)" "nf_tables" "iptables in the image"
expect_has "$(P run --rm "${ULIMITS[@]}" --network none "$TAG" nft --version 2>&1)" "nftables" "nft in the image"

rc=0; ov_init || rc=$?
trap finish EXIT  # ov_init sets its own EXIT trap; finish calls it and removes the rest
if [ $rc -ne 0 ]; then bad "overlay setup (rc $rc)"; else
  ov_etcd
  ov_config
  ov_node 1
  P run -d "${ULIMITS[@]}" --name "$WEFTD_CTR" --network "ns:/run/netns/$(n 1)" --privileged -v "$OV_TMP:$OV_TMP" "$TAG" \
    /weft/bin/weftd --etcd-endpoints "$OV_ETCD" --iface eth0 --subnet-file "$OV_TMP/n1/subnet.env" \
    --healthz-ip 127.0.0.1 --healthz-port 8471 >/dev/null
  if ov_wait_ready 1 2>"$T/ready.err"; then ok; else bad "weftd in the image not ready: $(cat "$T/ready.err"; P logs "$WEFTD_CTR" 2>&1 | tail -20)"; fi
  expect_has "$(cat "$OV_TMP/n1/subnet.env" 2>&1)" "FLANNEL_SUBNET=10.42." "subnet.env from the image's weftd"
  expect_has "$(ip -n "$(n 1)" -d link show flannel.1 2>&1)" "vxlan id 1" "flannel.1 in the node namespace"
  expect_has "$(ov_etcdctl get --prefix --keys-only "$OV_PREFIX/subnets" 2>&1)" "$OV_PREFIX/subnets/10.42." "lease in etcd"
  P rm -f -t 5 "$WEFTD_CTR" >/dev/null 2>&1 || true
fi

echo "$((checks - fails)) passed, $fails failed"
((fails == 0))
