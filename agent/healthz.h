// /healthz, /readyz and /metrics for weftd (flanneld's --healthz-ip/--healthz-port): a tiny
// blocking HTTP server on its own thread. /healthz is 200 "flanneld is running"; /readyz is 200
// "flanneld is ready", or 503 "flanneld is not ready yet: <reason>" (flanneld gives no reason);
// /metrics is the Prometheus text of agent/metrics.h (flanneld has none).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "cni/files.h"

namespace weft::agent {

class HealthServer {
 public:
  /// `not_ready` returns nullopt when ready, else the reason; `metrics` renders /metrics (404
  /// without it). Throws when bind fails.
  HealthServer(const std::string& ip, int port, std::function<std::optional<std::string>()> not_ready,
               std::function<std::string()> metrics = {});
  ~HealthServer();

 private:
  void Serve();
  cni::UniqueFd fd_;
  std::function<std::optional<std::string>()> not_ready_;
  std::function<std::string()> metrics_;
  std::thread thread_;
};

}  // namespace weft::agent
