#!/usr/bin/env bash
# Crash injection (kill -9 at system calls of ADD and DEL of host-local, bridge, portmap and
# flannel, then DEL, then GC when DEL could not finish): the driver is crash_kill.py (its
# docstring lists the checks). Runs in a throw-away node namespace with one throw-away pod
# namespace; state lives in a temp dir. WEFT_CRASH_POINTS (kill points per plugin and command,
# default 25; 0 = every system call) and WEFT_CRASH_PLUGINS select the run.
set -euo pipefail
WEFT_BIN=${WEFT_BIN:?WEFT_BIN must point at the build bin dir}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v strace >/dev/null || { echo "SKIP: needs strace"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
for p in bridge host-local portmap flannel; do
  [ -x "$WEFT_BIN/$p" ] || { echo "FAIL: $WEFT_BIN/$p not built"; exit 1; }
done
source "$(dirname "$0")/node_pod.bash"
node_pod k crash
# strace must be able to trace here (ptrace may be forbidden in some containers).
strace -qq -o /dev/null true 2>/dev/null || { echo "SKIP: ptrace not permitted"; exit 77; }
CRASH_NODE=$NODE CRASH_POD=$POD CRASH_DIR=$T WEFT_BIN=$WEFT_BIN \
  python3 "$(dirname "$0")/crash_kill.py"
