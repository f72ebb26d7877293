# Shared by the netns shell tests that run plugins in one throw-away node namespace with one
# throw-away pod namespace (sourced; not a test by itself). `node_pod TAG NAME` makes a temp dir
# $T (/tmp/weft-NAME.XXXXXX), the node namespace $NODE=wTAGnode$$ (lo up) and the pod namespace
# $POD=wTAGpod$$, and sets an EXIT trap running node_pod_cleanup, which removes all three (a test
# with more to undo traps its own function that calls it). Exit 77 when namespaces can't be made.
# Nothing here touches the root namespace.

node_pod() {
  T=$(mktemp -d "/tmp/weft-$2.XXXXXX")
  NODE=w$1node$$
  POD=w$1pod$$
  trap node_pod_cleanup EXIT
  ip netns add "$NODE" || { echo "SKIP: cannot create namespaces"; exit 77; }
  ip netns add "$POD"
  ip -n "$NODE" link set lo up
}

node_pod_cleanup() {
  ip netns del "$POD" 2>/dev/null || true
  ip netns del "$NODE" 2>/dev/null || true
  rm -rf "$T"
}
