// weftd's /healthz and /readyz server on 127.0.0.1: flanneld's texts, the not-ready reason, 404s.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "agent/healthz.h"

using namespace weft::agent;

namespace {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  close(fd);
  return ntohs(sa.sin_port);
}

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
