// weftd's /healthz, /readyz and /metrics server on 127.0.0.1: flanneld's texts, the not-ready
// reason, 404s, and the Prometheus text of the metrics.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "agent/healthz.h"
#include "agent/metrics.h"
#include "support.h"

using namespace weft::agent;

namespace {

using weft::test::FreePort;

// One HTTP/1.1 GET; returns the whole response.
std::string Get(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return "connect failed";
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
  (void)!send(fd, req.data(), req.size(), 0);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

std::string Body(const std::string& resp) { return resp.substr(resp.find("\r\n\r\n") + 4); }

}  // namespace

TEST_CASE("agent healthz: /healthz, /readyz with the reason, 404", "[agent][healthz]") {
  int port = FreePort();
  std::mutex mu;
  std::optional<std::string> reason = "waiting for the network config /coreos.com/network/config";
  HealthServer server("127.0.0.1", port, [&] {
    std::lock_guard<std::mutex> l(mu);
    return reason;
  });
  std::string r = Get(port, "/healthz");
  CHECK(r.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(Body(r) == "flanneld is running\n");
  r = Get(port, "/readyz");
  CHECK(r.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0) == 0);
  CHECK(Body(r) == "flanneld is not ready yet: waiting for the network config /coreos.com/network/config\n");
  {
    std::lock_guard<std::mutex> l(mu);
    reason.reset();
  }
  r = Get(port, "/readyz");
  CHECK(r.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(Body(r) == "flanneld is ready\n");
  r = Get(port, "/metrics");
  CHECK(r.rfind("HTTP/1.1 404", 0) == 0);
  CHECK(r.find("Content-Length: 19\r\n") != std::string::npos);
}

TEST_CASE("agent healthz: a bad address or a taken port is an error", "[agent][healthz]") {
  CHECK_THROWS(HealthServer("not-an-ip", FreePort(), [] { return std::optional<std::string>(); }));
  int port = FreePort();
  HealthServer first("127.0.0.1", port, [] { return std::optional<std::string>(); });
  CHECK_THROWS(HealthServer("127.0.0.1", port, [] { return std::optional<std::string>(); }));
}

TEST_CASE("agent metrics: Prometheus text of every family", "[agent][healthz][metrics]") {
  Metrics m;
  std::string t = m.Render();
  // families exist before anything happened, with HELP and TYPE lines
  CHECK(t.find("# TYPE weftd_peers_known gauge\nweftd_peers_known 0\n") != std::string::npos);
  CHECK(t.find("# TYPE weftd_event_to_kernel_seconds histogram\n") != std::string::npos);
  CHECK(t.find("weftd_event_to_kernel_seconds_bucket{le=\"+Inf\"} 0\n") != std::string::npos);
  CHECK(t.find("# TYPE weftd_store_request_errors_total counter\n") != std::string::npos);
  CHECK(t.find("weftd_store_request_errors_total{") == std::string::npos);
  CHECK(t.find("weftd_ready 0\n") != std::string::npos);

  m.RegisterStore("etcd");
  m.SetPeers(3, 2);
  m.ObserveEventToKernel(std::chrono::microseconds(300));  // <= 0.0005
  m.ObserveEventToKernel(std::chrono::milliseconds(3));    // <= 0.005
  m.ObserveEventToKernel(std::chrono::seconds(10));        // only +Inf
  m.StoreRequestError("etcd");
  m.StoreRequestError("etcd");
  m.StoreRequestError("kube");
  m.WatchRestart("etcd", "disconnected");
  m.WatchRestart("etcd", "compacted");
  m.WatchRestart("etcd", "disconnected");
  m.DataplaneRepairs(4);
  m.DataplaneRepairs(1);
  m.IptablesRepair();
  m.SetReady(true);
  t = m.Render();
  auto has = [&](const std::string& line) { return t.find("\n" + line + "\n") != std::string::npos; };
  CHECK(has("weftd_ready 1"));
  CHECK(has("weftd_peers_known 3"));
  CHECK(has("weftd_peers_programmed 2"));
  CHECK(has("weftd_event_to_kernel_seconds_bucket{le=\"0.0005\"} 1"));
  CHECK(has("weftd_event_to_kernel_seconds_bucket{le=\"0.0025\"} 1"));
  CHECK(has("weftd_event_to_kernel_seconds_bucket{le=\"0.005\"} 2"));  // cumulative
  CHECK(has("weftd_event_to_kernel_seconds_bucket{le=\"2.5\"} 2"));
  CHECK(has("weftd_event_to_kernel_seconds_bucket{le=\"+Inf\"} 3"));
  CHECK(has("weftd_event_to_kernel_seconds_sum 10.0033"));
  CHECK(has("weftd_event_to_kernel_seconds_count 3"));
  CHECK(has("weftd_store_request_errors_total{store=\"etcd\"} 2"));
  CHECK(has("weftd_store_request_errors_total{store=\"kube\"} 1"));
  CHECK(has("weftd_store_watch_restarts_total{store=\"etcd\",reason=\"compacted\"} 1"));
  CHECK(has("weftd_store_watch_restarts_total{store=\"etcd\",reason=\"disconnected\"} 2"));
  CHECK(has("weftd_dataplane_repairs_total 5"));
  CHECK(has("weftd_iptables_repairs_total 1"));
  // every line is a comment or "name[{labels}] value", and the text ends with a newline
  REQUIRE(t.back() == '\n');
  size_t pos = 0;
  while (pos < t.size()) {
    size_t nl = t.find('\n', pos);
    std::string line = t.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
    INFO(line);
    CHECK(line.rfind("weftd_", 0) == 0);
    size_t sp = line.rfind(' ');
    REQUIRE(sp != std::string::npos);
    CHECK(line.find_first_not_of("0123456789.e+-", sp + 1) == std::string::npos);
  }
}

TEST_CASE("agent healthz: /metrics serves the Prometheus text", "[agent][healthz][metrics]") {
  int port = FreePort();
  Metrics m;
  m.SetPeers(2, 2);
  HealthServer server("127.0.0.1", port, [] { return std::optional<std::string>(); }, [&] { return m.Render(); });
  std::string r = Get(port, "/metrics");
  CHECK(r.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(r.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") != std::string::npos);
  CHECK(Body(r) == m.Render());
  CHECK(r.find("Content-Length: " + std::to_string(m.Render().size()) + "\r\n") != std::string::npos);
  CHECK(Body(r).find("\nweftd_peers_programmed 2\n") != std::string::npos);
  CHECK(Body(Get(port, "/healthz")) == "flanneld is running\n");
}
