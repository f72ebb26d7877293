#!/usr/bin/env python3
"""An HTTP proxy in front of etcd's JSON gateway for the weftd e2e tests: it lets a test
interfere with one weftd's view of etcd deterministically.

  etcd_proxy.py LISTEN_PORT UPSTREAM_URL [--steal-first-create VALUE] [--log FILE]

--steal-first-create VALUE: before forwarding the first create transaction (compare VERSION == 0),
    put VALUE on that key directly in etcd, so the weftd behind the proxy loses the creation
    race every time, not only when two nodes happen to collide.
SIGUSR1: "etcd unreachable": open watch streams are cut, every request is answered 503.
SIGUSR2: reachable again; the first watch afterwards asks etcd for revision 1, as a client
    resuming after a compaction would, so etcd answers "compacted" and weftd must list again.
"""
import base64
import http.client
import http.server
import json
import signal
import socket
import sys
import threading
import urllib.parse


class State:
    def __init__(self, upstream, steal_value, log):
        u = urllib.parse.urlsplit(upstream)
        self.host, self.port = u.hostname, u.port or 2379
        self.steal_value = steal_value
        self.log_file = log
        self.lock = threading.Lock()
        self.down = False
        self.old_revision_once = False
        self.streams = []  # (client socket, upstream connection)

    def log(self, msg):
        with self.lock:
            if not self.log_file:
                print(msg, file=sys.stderr, flush=True)
                return
            with open(self.log_file, "a") as f:
                print(msg, file=f, flush=True)

    def post(self, path, body):
        c = http.client.HTTPConnection(self.host, self.port, timeout=5)
        c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data


STATE = None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, data):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        st = STATE
        if st.down:
            self.reply(503, b'{"error":"etcd_proxy: down","message":"etcd_proxy: down"}')
            return
        if self.path == "/v3/kv/txn" and st.steal_value is not None:
            req = json.loads(body or b"{}")
            cmp = (req.get("compare") or [{}])[0]
            if cmp.get("target") == "VERSION":
                value, st.steal_value = st.steal_value, None
                key = cmp["key"]
                st.post("/v3/kv/put", {"key": key, "value": base64.b64encode(value.encode()).decode()})
                st.log("stole " + base64.b64decode(key).decode())
        if self.path == "/v3/watch" and st.old_revision_once:
            st.old_revision_once = False
            req = json.loads(body)
            req["create_request"]["start_revision"] = "1"
            body = json.dumps(req).encode()
            st.log("watch resumed from revision 1")
        headers = {"Content-Type": "application/json"}
        if "Authorization" in self.headers:
            headers["Authorization"] = self.headers["Authorization"]
        up = http.client.HTTPConnection(st.host, st.port, timeout=None)
        try:
            up.request("POST", self.path, body, headers)
            resp = up.getresponse()
            if self.path != "/v3/watch":
                self.reply(resp.status, resp.read())
                return
            # a stream: copied line by line until either side closes (or SIGUSR1 cuts it)
            self.send_response(resp.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            entry = (self.connection, up)
            with st.lock:
                st.streams.append(entry)
            try:
                while True:
                    line = resp.readline()
                    if not line:
                        break
                    self.wfile.write(line)
                    self.wfile.flush()
            finally:
                with st.lock:
                    if entry in st.streams:
                        st.streams.remove(entry)
        except (OSError, http.client.HTTPException):
            self.close_connection = True
        finally:
            up.close()


def cut(signum, frame):
    STATE.down = True
    with STATE.lock:
        streams, STATE.streams = STATE.streams, []
    for client, up in streams:
        for s in (client, up.sock):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except (OSError, AttributeError):
                pass
    STATE.log("down")


def restore(signum, frame):
    STATE.old_revision_once = True
    STATE.down = False
    STATE.log("up")


def main():
    global STATE
    args = sys.argv[1:]
    port, upstream = int(args[0]), args[1]
    steal = args[args.index("--steal-first-create") + 1] if "--steal-first-create" in args else None
    log = args[args.index("--log") + 1] if "--log" in args else None
    STATE = State(upstream, steal, log)
    signal.signal(signal.SIGUSR1, cut)
    signal.signal(signal.SIGUSR2, restore)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    STATE.log("listening")
    server.serve_forever(poll_interval=0.1)


if __name__ == "__main__":
    main()
