// Health endpoints (see healthz.h). One request per connection, answered and closed; a
// 2-second receive timeout keeps a stuck client from blocking the next probe for long.
#include "agent/healthz.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/metrics.h"
#include "cni/error.h"

namespace weft::agent {

HealthServer::HealthServer(const std::string& ip, int port,
                           std::function<std::optional<std::string>()> not_ready,
                           std::function<std::string()> metrics)
    : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)), not_ready_(std::move(not_ready)), metrics_(std::move(metrics)) {
  if (!fd_) throw cni::Error::Errno(errno, "healthz socket");
  int one = 1;
  setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, ip.c_str(), &sa.sin_addr) != 1)
    throw cni::Error(cni::kInvalidEnvironment, "invalid --healthz-ip " + ip);
  if (bind(fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(fd_.get(), 16) != 0)
    throw cni::Error::Errno(errno, "healthz listen on " + ip + ":" + std::to_string(port));
  thread_ = std::thread([this] { Serve(); });
}

HealthServer::~HealthServer() {
  shutdown(fd_.get(), SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
}

void HealthServer::Serve() {
  for (;;) {
    cni::UniqueFd c(accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // shut down
    }
    timeval tv{2, 0};
    setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[1024];
    ssize_t n = recv(c.get(), buf, sizeof buf - 1, 0);
    if (n <= 0) continue;
    std::string req(buf, static_cast<size_t>(n));
    std::string path = req.substr(0, req.find("\r\n"));
    int status = 404;
    std::string body = "404 page not found\n";
    std::string_view type = "text/plain; charset=utf-8";
    if (path.rfind("GET /healthz ", 0) == 0) {
      status = 200;
      body = "flanneld is running\n";
    } else if (path.rfind("GET /readyz ", 0) == 0) {
      auto reason = not_ready_();
      status = reason ? 503 : 200;
      body = reason ? "flanneld is not ready yet: " + *reason + "\n" : "flanneld is ready\n";
    } else if (metrics_ && path.rfind("GET /metrics ", 0) == 0) {
      status = 200;
      body = metrics_();
      type = kMetricsContentType;
    }
    std::string resp = "HTTP/1.1 " + std::to_string(status) +
                       (status == 200 ? " OK" : status == 503 ? " Service Unavailable" : " Not Found") +
                       "\r\nContent-Type: " + std::string(type) + "\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    (void)!send(c.get(), resp.data(), resp.size(), MSG_NOSIGNAL);
  }
}

}  // namespace weft::agent
