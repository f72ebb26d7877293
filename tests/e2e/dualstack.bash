# Shared by the dual-stack e2e tests (overlay.bash sources it for etcd mode, weftd_kube_dualstack.sh in
# Kubernetes mode): pod-side helpers that work on a pod's network namespace by name, whichever
# harness (overlay.bash, kube.bash) made it. Callers track the server's pid themselves ($! after
# ds_serve) so their own cleanup stops it.

# ds_pod6 NS: the pod's global IPv6 address on eth0
ds_pod6() { ip -n "$1" -6 addr show dev eth0 scope global | awk '/inet6/ {sub("/.*", "", $2); print $2; exit}'; }

# ds_serve NS BODY: HTTP on [::]:8080 (v4 and v6) in the pod, answering BODY; in the background.
ds_serve() {
  ip netns exec "$1" python3 -c '
import http.server, socket, sys
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(sys.argv[1].encode())
    def log_message(self, *a): pass
S(("::", 8080), H).serve_forever()' "$2" >/dev/null 2>&1 &
}

# ds_get NS URL: the body, retried for 5 s
ds_get() {
  for _ in $(seq 50); do
    ip netns exec "$1" curl -sf -m 1 -g "$2" && return 0
    sleep 0.1
  done
  return 1
}

# ds_wait_route6 NS DST: until namespace NS has an IPv6 route to DST (5 s), else fail
ds_wait_route6() {
  for _ in $(seq 100); do
    ip -n "$1" -6 route show "$2" | grep . >/dev/null && return 0
    sleep 0.05
  done
  fail "$1 has no route to $2: $(ip -n "$1" -6 route)"
}
