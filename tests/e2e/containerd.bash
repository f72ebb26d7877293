# containerd pieces shared by tests/e2e/containerd_cri.sh (one CRI node) and tests/e2e/cluster.bash
# (kubelet nodes): the pause image and a containerd 1.6 config that keeps every path of the
# runtime private to the test's node. Facts behind the settings: shared/reference/kubelet.md §3.

CTD_PAUSE=weft.test/pause:1

# ctd_pause_image DIR: DIR/pause.tar, the static pause (tests/e2e/runtimes/pause.c) as $CTD_PAUSE.
ctd_pause_image() {
  gcc -static -O2 -o "$1/pause" "$WEFT_SRC/tests/e2e/runtimes/pause.c" &&
    python3 "$WEFT_SRC/tests/e2e/runtimes/oci_image.py" --name "$CTD_PAUSE" --out "$1/pause.tar" \
      --file /pause="$1/pause" --entrypoint /pause
}

# ctd_config FILE ROOT STATE SOCKET RUNC_ROOT OPT_DIR CNI_BIN_DIR CNI_CONF_DIR: a config with the
# CRI plugin on the native snapshotter, runc without systemd cgroups, OOM score adjustments
# restricted (no CAP_SYS_RESOURCE here), pod netns files under STATE, no apparmor, the stream
# server on 127.0.0.1, one conflist from CNI_CONF_DIR, $CTD_PAUSE as the sandbox image.
ctd_config() {
  cat >"$1" <<EOF
version = 2
root = "$2"
state = "$3"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "$4"
[ttrpc]
  address = "$4.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$6"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$CTD_PAUSE"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "$5"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$7"
    conf_dir = "$8"
    max_conf_num = 1
EOF
}
